"""person time zone: the IANA zone a person reads dates and times in

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 10:00:00

- `app_user.time_zone` (every target: the catalog, a pool, a tenant database, a schema
  tenant's schema all hold the table): the zone a person chose on their profile page
  (`auth.zones.TIME_ZONES`), NULL for none (their organisation's zone, else UTC). Read
  with the session check, so showing it costs no statement.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("app_user", "time_zone")
