"""customer-managed keys: a tenant's key configuration and its wrapped data keys

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:00:00

Tenant tables in every target (pool, schema and database tenants alike; moved with the
tenant): `tenant_key_config` (the opt-in: provider, address, key name, the customer's
credential encrypted, the current data-key version, a rotation under way) and
`tenant_data_key` (each data-key version as its provider wrapped it). Forced row-level
security with the `tenant_isolation` policy; `pms_auditor` gets nothing.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pms_dashboard.tenancy import rls

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_columns(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f(f"fk_{table}_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    ]  # fmt: skip


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def _text(name: str, length: int | None = None) -> sa.Column:
    """A NOT NULL text column (varchar(length), or text without one)."""
    kind = sa.Text() if length is None else sa.String(length=length)
    return sa.Column(name, kind, nullable=False)


def upgrade() -> None:
    op.create_table(
        "tenant_key_config",
        *_tenant_columns("tenant_key_config"),
        _text("provider", 16),
        _text("address", 500),
        _text("key_name", 300),
        _text("region", 32),
        _text("credential_enc"),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column(
            "rotation", postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"), nullable=False,
        ),
        _timestamp("last_unwrap_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "provider IN ('platform', 'openbao', 'aws-kms')",
            name=op.f("ck_tenant_key_config_provider_valid"),
        ),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_tenant_key_config_tenant_id")),
    )  # fmt: skip
    op.create_table(
        "tenant_data_key",
        *_tenant_columns("tenant_data_key"),
        sa.Column("version", sa.Integer(), nullable=False),
        _text("provider", 16),
        _text("wrapped"),
        _text("kms_key_version", 300),
        _timestamp("created_at"),
        _timestamp("rewrapped_at", nullable=True),
        sa.UniqueConstraint(
            "tenant_id", "version", name=op.f("uq_tenant_data_key_tenant_id_version")
        ),
    )
    for table in ("tenant_key_config", "tenant_data_key"):
        for statement in rls.enable_rls(table):
            op.execute(statement)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO pms_app")


def downgrade() -> None:
    op.drop_table("tenant_data_key")
    op.drop_table("tenant_key_config")
