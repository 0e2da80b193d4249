"""domain claims, password change: an SSO email domain belongs to at most one organisation,
proved by DNS; a session may end because its person changed their password

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 01:20:00

- `sso_config.verification_token` / `sso_config.verified_domains` (every target): the token
  a tenant admin publishes as a DNS TXT record (`pms-domain-verification=<token>`) and the
  allowed domains whose record has been found. Only verified domains sign people in.
- `tenant_sso_domain` (catalog): one organisation per domain (the primary key is the
  domain). Its rows so far were never proved, so they are removed: each organisation
  verifies its domains once, and sign-in by domain resumes for it.
- `app.set_sso_domains` now fails (unique violation) on a domain another organisation
  holds; `app.sso_domains_claimed_elsewhere` names those of a list held by another
  organisation (the settings page refuses them before saving).
- `auth_session.revoked_reason` (every target) also takes `password_changed`: a person's
  other sessions end when they change their password on their profile page.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pms_dashboard.db.targets import migration_target

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = "'sign_out', 'sign_out_everywhere', 'idle', 'rotated', 'deactivated'"
REASON_CHECK = "ck_auth_session_revoked_reason_valid"


def _reasons(extra: str) -> None:
    op.drop_constraint(op.f(REASON_CHECK), "auth_session", type_="check")
    op.create_check_constraint(op.f(REASON_CHECK), "auth_session", f"revoked_reason IN ({extra})")


def upgrade() -> None:
    _reasons(f"{REASONS}, 'password_changed'")
    op.add_column(
        "sso_config",
        sa.Column("verification_token", sa.String(length=64), server_default="", nullable=False),
    )
    op.add_column(
        "sso_config",
        sa.Column(
            "verified_domains",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
    )
    if not migration_target().owns_database:
        return  # a schema tenant's schema holds tenant data only
    op.execute("DELETE FROM tenant_sso_domain")  # never proved: verified again, once
    op.drop_constraint(op.f("pk_tenant_sso_domain"), "tenant_sso_domain", type_="primary")
    op.create_primary_key(op.f("pk_tenant_sso_domain"), "tenant_sso_domain", ["domain"])
    op.create_index(
        op.f("ix_tenant_sso_domain_tenant_id"), "tenant_sso_domain", ["tenant_id"], unique=False
    )
    op.execute(
        """
        CREATE FUNCTION app.sso_domains_claimed_elsewhere(p_domains text[]) RETURNS SETOF text
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
            SELECT d.domain FROM public.tenant_sso_domain AS d
             WHERE d.domain = ANY (SELECT lower(x) FROM unnest(p_domains) AS x)
               AND d.tenant_id IS DISTINCT FROM app.current_tenant_id()
             ORDER BY d.domain
            $$;
        REVOKE ALL ON FUNCTION app.sso_domains_claimed_elsewhere(text[]) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION app.sso_domains_claimed_elsewhere(text[]) TO pms_app;
        """
    )


def downgrade() -> None:
    if migration_target().owns_database:
        op.execute("DROP FUNCTION IF EXISTS app.sso_domains_claimed_elsewhere(text[])")
        op.drop_index(op.f("ix_tenant_sso_domain_tenant_id"), table_name="tenant_sso_domain")
        op.drop_constraint(op.f("pk_tenant_sso_domain"), "tenant_sso_domain", type_="primary")
        op.create_primary_key(
            op.f("pk_tenant_sso_domain"), "tenant_sso_domain", ["domain", "tenant_id"]
        )
    op.execute(
        "UPDATE auth_session SET revoked_reason = NULL WHERE revoked_reason = 'password_changed'"
    )
    _reasons(REASONS)
    op.drop_column("sso_config", "verified_domains")
    op.drop_column("sso_config", "verification_token")
