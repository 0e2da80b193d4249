"""tenant logo: an organisation's uploaded logo, re-encoded, in its own rows

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 02:00:00

Tenant table in every target (pool, schema and database tenants alike; moved with the
tenant): `tenant_logo`, one row per tenant with the re-encoded image (`data`, PNG or
WebP), its type, width and height and its version (a hash of the bytes, which the served
address and ETag carry). Forced row-level security with the `tenant_isolation` policy;
`pms_app` reads and writes it, `pms_auditor` gets nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pms_dashboard.tenancy import rls

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "tenant_logo"
MAX_STORED_BYTES = 8 * 1024 * 1024  # as the model's check (a migration keeps its own copy)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tenant_logo")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_tenant_logo_tenant_id")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_tenant_logo_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "content_type IN ('image/png', 'image/webp')",
            name=op.f("ck_tenant_logo_content_type_valid"),
        ),
        sa.CheckConstraint(
            f"octet_length(data) BETWEEN 1 AND {MAX_STORED_BYTES}",
            name=op.f("ck_tenant_logo_data_size_valid"),
        ),
        sa.CheckConstraint(
            "width BETWEEN 1 AND 1024 AND height BETWEEN 1 AND 1024",
            name=op.f("ck_tenant_logo_size_valid"),
        ),
    )  # fmt: skip
    for statement in rls.enable_rls(TABLE):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLE} TO pms_app")


def downgrade() -> None:
    op.drop_table(TABLE)
