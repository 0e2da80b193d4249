"""cycle rating scale: each review cycle keeps the rating scale it launched with

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 10:00:00

- `review_cycle.rating_scale` (every target holding tenant data: a pool, a tenant
  database, a schema tenant's schema; the catalog holds the table too): the scale a cycle
  launched with, as `RatingScale` serialises it ({"low", "high", "labels"}), so its ratings,
  labels, charts and exports keep their meaning when the organisation's scale changes
  later. NULL while a draft (a draft reads the organisation's current scale).
- Backfill: every cycle past draft gets its tenant's current scale (`tenant.settings`'
  `rating_scale`, else the default 1-5 scale), per target, so a plain UPDATE ... FROM
  tenant works in each.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The default scale as `RatingScale()` serialises it (a migration keeps its own copy).
DEFAULT_SCALE = {
    "low": 1,
    "high": 5,
    "labels": {
        "1": "Below expectations",
        "2": "Partially meets",
        "3": "Meets expectations",
        "4": "Exceeds expectations",
        "5": "Outstanding",
    },
}


def upgrade() -> None:
    op.add_column(
        "review_cycle",
        sa.Column("rating_scale", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.execute(
        sa.text(
            """
            UPDATE review_cycle AS c
               SET rating_scale = coalesce(t.settings -> 'rating_scale', CAST(:default AS jsonb))
              FROM tenant AS t
             WHERE t.id = c.tenant_id AND c.status <> 'draft'
            """
        ).bindparams(default=json.dumps(DEFAULT_SCALE))
    )


def downgrade() -> None:
    op.drop_column("review_cycle", "rating_scale")
