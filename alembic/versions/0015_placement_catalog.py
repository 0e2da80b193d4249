"""placements: the catalog of where each tenant lives, and a tenant trail writer per target

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 22:00:00

- `tenant_placement` (catalog, in the home database): per tenant only what routing needs:
  slug, tier, region, cluster, database, schema, state, version, the target's revision.
  No name, no email, no goal: no personal data of any tenant (tests read its columns).
  A dedicated cluster's owner URL is stored encrypted (`owner_url_enc`).
- `tenant_sso_domain` (catalog): the email domains whose sign-in continues with a tenant's
  single sign-on (an organisation's domains, not people), kept by the SSO settings page.
- `tenant.placement_version` / `tenant.placement_state` (in every target): the fence the
  one door checks in the same round trip as the tenant context, so a process holding a
  stale placement can never use it (see `tenancy.placement`).
- `append_audit_event` moves from the shared `app` schema into the target's own data schema
  (`public`, or a schema tenant's schema), with unqualified table names resolved through
  the function's pinned search_path: a schema tenant's trail lives in its own schema.
- Runtime roles read the catalog only through SECURITY DEFINER look-ups of one tenant or
  one slug (`app.placement_of`, `app.placement_for_slug`); the console's role reads it all.
- Existing tenants become pool tenants of the home region (where their rows are).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from pms_dashboard.audit import chain
from pms_dashboard.db.targets import migration_target

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_APPEND = "app.append_audit_event(uuid, text, text, uuid, jsonb, boolean, text)"
APPEND = "append_audit_event(uuid, text, text, uuid, jsonb, boolean, text)"

PLACEMENT_COLUMNS = """
    tenant_id uuid, slug text, tier text, region text, cluster text, host text, port integer,
    database text, schema text, state text, version integer
"""


def upgrade() -> None:
    target = migration_target()
    op.add_column(
        "tenant",
        sa.Column("placement_version", sa.Integer(), server_default="1", nullable=False),
    )
    op.add_column(
        "tenant",
        sa.Column(
            "placement_state",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            server_default="active",
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_tenant_placement_state_valid"),
        "tenant",
        "placement_state IN ('active', 'read_only', 'moved')",
    )
    op.create_table(
        "tenant_placement",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("cluster", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("database", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
        sa.Column("schema", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
        sa.Column("owner_url_enc", sa.Text(), nullable=True),
        sa.Column(
            "state",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            server_default="active",
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("revision", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "tier IN ('pool', 'schema', 'database')", name=op.f("ck_tenant_placement_tier_valid")
        ),
        sa.CheckConstraint(
            "state IN ('active', 'read_only', 'moving')",
            name=op.f("ck_tenant_placement_state_valid"),
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name=op.f("ck_tenant_placement_slug_format")
        ),
        sa.CheckConstraint(
            "(tier = 'pool') = (database IS NULL AND schema IS NULL)",
            name=op.f("ck_tenant_placement_pool_has_no_target"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_placement")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenant_placement_slug")),
    )
    op.create_table(
        "tenant_sso_domain",
        sa.Column("domain", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant_placement.tenant_id"],
            name=op.f("fk_tenant_sso_domain_tenant_id_tenant_placement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("domain", "tenant_id", name=op.f("pk_tenant_sso_domain")),
    )
    op.execute("GRANT SELECT ON tenant_placement, tenant_sso_domain TO pms_auditor")
    op.execute("GRANT SELECT (placement_version, placement_state) ON tenant TO pms_auditor")
    op.execute(
        f"""
        CREATE FUNCTION app.placement_of(p_tenant uuid) RETURNS TABLE ({PLACEMENT_COLUMNS})
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$ SELECT p.tenant_id, p.slug, p.tier, p.region, p.cluster, p.host, p.port,
                         p.database, p.schema, p.state, p.version
                    FROM public.tenant_placement AS p WHERE p.tenant_id = p_tenant $$;
        CREATE FUNCTION app.placement_for_slug(p_slug text) RETURNS TABLE ({PLACEMENT_COLUMNS})
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$ SELECT p.tenant_id, p.slug, p.tier, p.region, p.cluster, p.host, p.port,
                         p.database, p.schema, p.state, p.version
                    FROM public.tenant_placement AS p WHERE p.slug = lower(p_slug) $$;
        REVOKE ALL ON FUNCTION app.placement_of(uuid) FROM PUBLIC;
        REVOKE ALL ON FUNCTION app.placement_for_slug(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION app.placement_of(uuid) TO pms_app, pms_auditor;
        GRANT EXECUTE ON FUNCTION app.placement_for_slug(text) TO pms_app, pms_auditor;
        CREATE FUNCTION app.set_sso_domains(p_domains text[]) RETURNS void
            LANGUAGE plpgsql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
        DECLARE v_tenant uuid := app.current_tenant_id();
        BEGIN
            IF v_tenant IS NULL THEN
                RAISE EXCEPTION 'SSO domains need a tenant context' USING ERRCODE = '42501';
            END IF;
            DELETE FROM public.tenant_sso_domain WHERE tenant_id = v_tenant;
            INSERT INTO public.tenant_sso_domain (domain, tenant_id)
            SELECT DISTINCT lower(d), v_tenant FROM unnest(p_domains) AS d
             WHERE d IS NOT NULL AND d <> ''
               AND EXISTS (SELECT 1 FROM public.tenant_placement WHERE tenant_id = v_tenant);
        END
        $$;
        REVOKE ALL ON FUNCTION app.set_sso_domains(text[]) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION app.set_sso_domains(text[]) TO pms_app;
        CREATE OR REPLACE FUNCTION app.sso_slugs_for_domain(p_domain text) RETURNS SETOF text
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
            SELECT p.slug FROM public.tenant_sso_domain AS d
              JOIN public.tenant_placement AS p ON p.tenant_id = d.tenant_id
             WHERE d.domain = lower(p_domain)
             ORDER BY p.slug LIMIT 10
            $$;
        """
    )
    op.execute(chain.CREATE_LOCAL_APPEND_FUNCTION.format(schema="public"))
    op.execute(f"GRANT EXECUTE ON FUNCTION {APPEND} TO pms_app, pms_auditor")
    op.execute(f"DROP FUNCTION {OLD_APPEND}")
    # Every tenant so far lives in this database's pool: record it so (home region only;
    # other databases' tenant tables are empty at this revision).
    op.execute(
        sa.text(
            "INSERT INTO tenant_placement (tenant_id, slug, tier, region, cluster, revision)"
            " SELECT id, slug, 'pool', :region, :region, :revision FROM tenant"
        ).bindparams(region=target.region, revision=revision)
    )
    op.execute(
        sa.text("UPDATE tenant SET isolation_tier = 'pool', region = :region").bindparams(
            region=target.region
        )
    )
    op.execute(
        "INSERT INTO tenant_sso_domain (domain, tenant_id)"
        " SELECT DISTINCT lower(d), c.tenant_id FROM sso_config AS c,"
        " unnest(c.allowed_domains) AS d WHERE c.enabled"
    )


def downgrade() -> None:
    op.execute(chain.CREATE_APPEND_FUNCTION)
    op.execute(f"GRANT EXECUTE ON FUNCTION {OLD_APPEND} TO pms_app, pms_auditor")
    op.execute(f"DROP FUNCTION IF EXISTS public.{APPEND}")
    op.execute("DROP FUNCTION IF EXISTS app.set_sso_domains(text[])")
    op.execute("DROP FUNCTION IF EXISTS app.placement_of(uuid)")
    op.execute("DROP FUNCTION IF EXISTS app.placement_for_slug(text)")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION app.sso_slugs_for_domain(p_domain text) RETURNS SETOF text
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
            SELECT t.slug FROM public.sso_config AS c JOIN public.tenant AS t ON t.id = c.tenant_id
             WHERE c.enabled AND lower(p_domain) = ANY (c.allowed_domains)
             ORDER BY t.slug LIMIT 10
            $$;
        """
    )
    op.drop_table("tenant_sso_domain")
    op.drop_table("tenant_placement")
    op.drop_constraint(op.f("ck_tenant_placement_state_valid"), "tenant")
    op.drop_column("tenant", "placement_state")
    op.drop_column("tenant", "placement_version")
