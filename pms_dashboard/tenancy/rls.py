"""SQL for tenant isolation in the database, used by migrations and checked by tests.

The policy reads the tenant through a STABLE function wrapped in a sub-select, so PostgreSQL
evaluates it once per statement (an InitPlan) instead of once per row; `nullif(..., '')`
makes "no context" read as NULL (no rows) rather than a cast error on a pooled connection
whose transaction-local setting has been reset to ''.
"""

from __future__ import annotations

from collections.abc import Iterator

TENANT_SETTING = "app.current_tenant_id"

CREATE_CONTEXT_FUNCTION = f"""
CREATE SCHEMA IF NOT EXISTS app;
CREATE OR REPLACE FUNCTION app.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('{TENANT_SETTING}', true), '')::uuid $$;
"""

# Slug -> id for sign-in, before any tenant context exists. SECURITY DEFINER with a pinned
# search_path; reveals only the id of an exact slug, never the list of tenants.
CREATE_SLUG_LOOKUP = """
CREATE OR REPLACE FUNCTION app.tenant_id_for_slug(p_slug text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT t.id FROM public.tenant AS t WHERE t.slug = lower(p_slug) $$;
REVOKE ALL ON FUNCTION app.tenant_id_for_slug(text) FROM PUBLIC;
"""

CTX = "(SELECT app.current_tenant_id())"


def enable_rls(table: str, *, column: str = "tenant_id", roles: str = "pms_app") -> Iterator[str]:
    """Statements that turn on forced RLS for `table` with the tenant policy for `roles`."""
    yield f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"
    yield f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"
    yield (
        f"CREATE POLICY tenant_isolation ON {table} FOR ALL TO {roles} "
        f"USING ({column} = {CTX}) WITH CHECK ({column} = {CTX})"
    )
