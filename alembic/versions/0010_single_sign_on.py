"""single sign-on: a tenant's OpenID Connect provider and its sign-ins under way

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pms_dashboard.tenancy import rls

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Email domain -> the slugs of the tenants whose enabled SSO accepts it, for the sign-in
# page's "continue with SSO" before any tenant context exists. Reveals only which
# organisations sign in that domain's people by SSO (what the button must know), nothing else.
CREATE_DOMAIN_LOOKUP = """
CREATE OR REPLACE FUNCTION app.sso_slugs_for_domain(p_domain text) RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT t.slug FROM public.sso_config AS c JOIN public.tenant AS t ON t.id = c.tenant_id
     WHERE c.enabled AND lower(p_domain) = ANY (c.allowed_domains)
     ORDER BY t.slug LIMIT 10
    $$;
REVOKE ALL ON FUNCTION app.sso_slugs_for_domain(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.sso_slugs_for_domain(text) TO pms_app;
"""


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=None if nullable else sa.text("now()"),
        nullable=nullable,
    )


def _tenant_columns() -> list[sa.Column]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sso_config",
        *_tenant_columns(),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("allowed_domains", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("default_role", sa.String(length=20), nullable=False),
        sa.Column("provision_users", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "default_role IN ('employee', 'manager')", name=op.f("ck_sso_config_default_role_valid")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_sso_config_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sso_config")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_sso_config_tenant_id")),
    )  # fmt: skip
    op.create_table(
        "sso_login",
        *_tenant_columns(),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        _timestamp("created_at"),
        _timestamp("used_at", nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_sso_login_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sso_login")),
        sa.UniqueConstraint("tenant_id", "state", name=op.f("uq_sso_login_tenant_id_state")),
    )  # fmt: skip
    for table, privileges in (
        ("sso_config", "SELECT, INSERT, UPDATE"),
        ("sso_login", "SELECT, INSERT, UPDATE (used_at), DELETE"),
    ):
        for statement in rls.enable_rls(table, ctx=rls.SUBSELECT_CTX):
            op.execute(statement)
        op.execute(f"GRANT {privileges} ON {table} TO pms_app")
    op.execute(CREATE_DOMAIN_LOOKUP)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.sso_slugs_for_domain(text)")
    op.drop_table("sso_login")
    op.drop_table("sso_config")
