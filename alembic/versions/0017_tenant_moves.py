"""moves: the catalog's record of online tenant moves, and the write freeze's time limit

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 23:30:00

- `tenant.placement_frozen_until` (every target): while a move freezes writes the source's
  row is `read_only` until this time; past it the door lets writes resume by itself (a
  mover that died never leaves a tenant read-only), and the move's fence refuses to run.
- `tenant_move` (catalog): one row per move, its state machine (`copying`, `frozen`,
  `fenced`, `flipped`, `done`, `rolled_back`), who asked and why, where from and to (a
  dedicated target's owner URL encrypted), timings and checksums. No personal data.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from pms_dashboard.db.targets import migration_target

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenant", sa.Column("placement_frozen_until", sa.DateTime(timezone=True), nullable=True)
    )
    if not migration_target().owns_database:
        return  # a schema tenant's schema holds tenant data only
    op.execute("GRANT SELECT (placement_frozen_until) ON tenant TO pms_auditor")
    op.create_table(
        "tenant_move",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("admin_id", sa.Uuid(), nullable=True),
        sa.Column("from_placement", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("to_tier", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("to_region", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("to_schema", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
        sa.Column("to_database", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
        sa.Column("to_url_enc", sa.Text(), nullable=True),
        sa.Column("to_dedicated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "state IN ('copying', 'frozen', 'fenced', 'flipped', 'done', 'rolled_back')",
            name=op.f("ck_tenant_move_state_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_move")),
    )
    op.create_index(
        op.f("ix_tenant_move_tenant_id_started_at"),
        "tenant_move",
        ["tenant_id", "started_at"],
        unique=False,
    )
    op.execute("GRANT SELECT ON tenant_move TO pms_auditor")


def downgrade() -> None:
    if migration_target().owns_database:
        op.drop_index(op.f("ix_tenant_move_tenant_id_started_at"), table_name="tenant_move")
        op.drop_table("tenant_move")
    op.drop_column("tenant", "placement_frozen_until")
