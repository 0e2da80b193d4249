"""SQL for tenant isolation in the database, used by migrations and checked by tests.

The tenant policies read the tenant from the transaction-local setting with built-in
functions only: `tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid`.
`nullif(..., '')` makes "no context" read as NULL (no rows) rather than a cast error on a
pooled connection whose transaction-local setting has been reset to ''.

Why not a sub-select of a SQL function (`(SELECT app.current_tenant_id())`, an InitPlan),
as revisions 0001-0010 had it (migration 0011 and `bench/rls_overhead.py`): every table
reference then carries a sub-query to plan, and the function body is parsed and inlined
again for each one, which is what made row-level security cost 11-20 % on the dashboard's
team queries. The built-in expression plans like a constant, and it is still evaluated once
per scan, not once per row, because of two rules this schema keeps and tests hold:

- the app names `tenant_id = :t` in every statement as well (application-level scoping), so
  PostgreSQL puts both in one equivalence class, scans with `:t` and checks the policy as a
  one-time filter (`tests/test_query_plan.py` reads the plans);
- every index leads with `tenant_id`, so a statement without the app's filter still uses the
  policy as an index condition, computed once per index scan.

Only a sequential scan of a statement that lacks the app's own filter evaluates it per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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

CTX = f"nullif(current_setting('{TENANT_SETTING}', true), '')::uuid"
# The policies' form until revision 0011: kept for the revisions that created them.
SUBSELECT_CTX = "(SELECT app.current_tenant_id())"


def enable_rls(
    table: str, *, column: str = "tenant_id", roles: str = "pms_app", ctx: str = CTX
) -> Iterator[str]:
    """Statements that turn on forced RLS for `table` with the tenant policy for `roles`."""
    yield f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"
    yield f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"
    yield (
        f"CREATE POLICY tenant_isolation ON {table} FOR ALL TO {roles} "
        f"USING ({column} = {ctx}) WITH CHECK ({column} = {ctx})"
    )


# The tables that carry the tenant policy, as the catalog has them.
TENANT_POLICY_TABLES = (
    "SELECT tablename FROM pg_policies WHERE schemaname = 'public'"
    " AND policyname = 'tenant_isolation' ORDER BY tablename"
)


def set_policy_expression(tables: Iterable[str], ctx: str) -> Iterator[str]:
    """Statements that make every tenant policy (those of `tables` and the tenant table's
    own-row policies) read the tenant through `ctx`."""
    for table in tables:
        yield (
            f"ALTER POLICY tenant_isolation ON {table} "
            f"USING (tenant_id = {ctx}) WITH CHECK (tenant_id = {ctx})"
        )
    yield f"ALTER POLICY tenant_self ON tenant USING (id = {ctx})"
    yield f"ALTER POLICY tenant_self_update ON tenant USING (id = {ctx}) WITH CHECK (id = {ctx})"
