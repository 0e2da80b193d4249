"""The schema as PostgreSQL's catalog sees it (read as the migration/owner role): every
tenant-owned table is keyed, constrained, indexed and row-level-secured by tenant_id, the
runtime roles cannot escape RLS, and the models agree with the migrations (DESIGN.md §2)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from pms_dashboard import models
from pms_dashboard.db import engine as db_engine
from pms_dashboard.db.metadata import metadata

RUNTIME_ROLES = ("pms_app", "pms_auditor")
PLATFORM_TABLES = {m.__tablename__ for m in models.PLATFORM_MODELS}
NOT_TENANT_OWNED = {"tenant", "alembic_version"} | PLATFORM_TABLES
# The tenant policies' expression as PostgreSQL prints it (pms_dashboard.tenancy.rls.CTX).
CTX = "(NULLIF(current_setting('app.current_tenant_id'::text, true), ''::text))::uuid"


@pytest.fixture(scope="module")
def owner(database: str) -> Iterator[Connection]:
    with db_engine.owner_engine().connect() as conn:
        yield conn
        conn.rollback()


def _public_tables(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT relname FROM pg_class"
                " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
                " ORDER BY relname"
            )
        ).scalars()
    )


@pytest.fixture(scope="module")
def tenant_tables(owner: Connection) -> list[str]:
    tables = [t for t in _public_tables(owner) if t not in NOT_TENANT_OWNED]
    assert tables, "no tenant-owned tables found"
    return tables


def _unspace(sql: str | None) -> str:
    """pg_get_expr prints `( SELECT ...`; normalise to `(SELECT ...`."""
    return re.sub(r"\(\s+", "(", sql or "")


def test_catalog_tables_are_exactly_the_models(owner: Connection) -> None:
    expected = {m.__tablename__ for m in models.TENANT_MODELS} | NOT_TENANT_OWNED
    assert set(_public_tables(owner)) == expected


def test_every_tenant_table_has_not_null_uuid_tenant_id_referencing_tenant(
    owner: Connection, tenant_tables: list[str]
) -> None:
    rows = owner.execute(
        text(
            """
            SELECT c.relname,
                   a.atttypid = 'uuid'::regtype AS is_uuid,
                   a.attnotnull,
                   EXISTS (
                       SELECT 1 FROM pg_constraint f
                       WHERE f.conrelid = c.oid AND f.contype = 'f'
                         AND f.confrelid = 'public.tenant'::regclass
                         AND f.conkey = ARRAY[a.attnum]
                         AND f.confkey = ARRAY[(
                             SELECT attnum FROM pg_attribute
                             WHERE attrelid = 'public.tenant'::regclass AND attname = 'id')]
                   ) AS references_tenant
            FROM pg_class c
            LEFT JOIN pg_attribute a
                   ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
            WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(:tables)
            """
        ),
        {"tables": tenant_tables},
    ).all()
    assert {r.relname for r in rows} == set(tenant_tables)
    bad = [r for r in rows if not (r.is_uuid and r.attnotnull and r.references_tenant)]
    assert bad == []


def test_rls_enabled_and_forced_on_every_table_including_tenant(
    owner: Connection, tenant_tables: list[str]
) -> None:
    rows = owner.execute(
        text(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND relname = ANY(:tables)"
        ),
        {"tables": [*tenant_tables, "tenant"]},
    ).all()
    assert len(rows) == len(tenant_tables) + 1
    assert [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity)] == []


def test_platform_tables_are_closed_to_the_app_role(owner: Connection) -> None:
    # Super-admins and their sessions are no tenant's data: pms_app has no privilege at all.
    for table in PLATFORM_TABLES:
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            assert not owner.execute(
                text("SELECT has_table_privilege('pms_app', :t, :p)"),
                {"t": f"public.{table}", "p": privilege},
            ).scalar_one(), (table, privilege)


def test_alembic_version_is_not_readable_by_runtime_roles(owner: Connection) -> None:
    # The one public table without RLS must at least be invisible to the app roles.
    for role in RUNTIME_ROLES:
        assert not owner.execute(
            text("SELECT has_table_privilege(:r, 'public.alembic_version', 'SELECT')"),
            {"r": role},
        ).scalar_one()


def test_every_tenant_table_has_the_tenant_policy_for_pms_app(
    owner: Connection, tenant_tables: list[str]
) -> None:
    policies = owner.execute(
        text(
            "SELECT tablename, policyname, roles, cmd, permissive, qual, with_check"
            " FROM pg_policies WHERE schemaname = 'public'"
        )
    ).all()
    expected = f"(tenant_id = {CTX})"
    for table in tenant_tables:
        mine = [p for p in policies if p.tablename == table and "pms_app" in p.roles]
        assert mine, f"{table}: no policy for pms_app"
        full = [
            p
            for p in mine
            if p.cmd == "ALL"
            and _unspace(p.qual) == expected
            and _unspace(p.with_check) == expected
        ]
        assert full, f"{table}: {[(p.cmd, p.qual, p.with_check) for p in mine]}"
    tenant_policies = [p for p in policies if p.tablename == "tenant" and "pms_app" in p.roles]
    own_row = f"(id = {CTX})"
    assert sorted((p.cmd, _unspace(p.qual), _unspace(p.with_check)) for p in tenant_policies) == [
        ("SELECT", own_row, ""),
        ("UPDATE", own_row, own_row),
    ]


def test_no_policy_applying_to_app_roles_escapes_the_tenant_expression(
    owner: Connection,
) -> None:
    """Permissive policies are OR-ed: one `USING (true)` for pms_app would undo the rest."""
    rows = owner.execute(
        text(
            "SELECT tablename, policyname, roles, qual, with_check FROM pg_policies"
            " WHERE schemaname = 'public' AND permissive = 'PERMISSIVE'"
            "   AND roles && ARRAY['pms_app', 'public']::name[]"
        )
    ).all()
    assert rows
    for r in rows:
        for expr in (r.qual, r.with_check):
            if expr is not None:
                assert re.fullmatch(
                    r"\((tenant_id|id) = " + re.escape(CTX) + r"\)", _unspace(expr)
                ), (r.tablename, r.policyname, expr)


def test_every_key_and_foreign_key_of_tenant_tables_includes_tenant_id(
    owner: Connection, tenant_tables: list[str]
) -> None:
    rows = owner.execute(
        text(
            """
            SELECT c.conname, c.contype, c.conrelid::regclass::text AS tbl,
                   c.confrelid::regclass::text AS ref,
                   ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                         ORDER BY k.i) AS cols,
                   ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                         ORDER BY k.i) AS refcols
            FROM pg_constraint c
            WHERE c.contype IN ('p', 'u', 'f', 'x')
              AND c.conrelid = ANY(
                  SELECT oid FROM pg_class
                  WHERE relnamespace = 'public'::regnamespace AND relname = ANY(:tables))
            """
        ),
        {"tables": tenant_tables},
    ).all()
    assert {r.tbl for r in rows if r.contype == "p"} == set(tenant_tables)
    problems = []
    fks = 0
    for r in rows:
        if "tenant_id" not in r.cols:
            problems.append((r.conname, "tenant_id missing", r.cols))
            continue
        if r.contype != "f":
            continue
        fks += 1
        if r.ref == "tenant":
            if (r.cols, r.refcols) != (["tenant_id"], ["id"]):
                problems.append((r.conname, r.cols, r.refcols))
        else:
            # composite, and tenant_id must point at the referenced row's tenant_id
            pairs = dict(zip(r.cols, r.refcols, strict=True))
            if len(r.cols) < 2 or pairs["tenant_id"] != "tenant_id":
                problems.append((r.conname, r.cols, r.refcols))
    assert problems == []
    assert fks > len(tenant_tables)  # the tenant FKs plus the composite ones


def test_every_index_on_tenant_tables_leads_with_tenant_id(
    owner: Connection, tenant_tables: list[str]
) -> None:
    rows = owner.execute(
        text(
            """
            SELECT i.indexrelid::regclass::text AS idx, a.attname AS first_col
            FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY(:tables)
            """
        ),
        {"tables": tenant_tables},
    ).all()
    # pk + unique + explicit indexes: more than one per table
    assert len(rows) > len(tenant_tables)
    assert [(r.idx, r.first_col) for r in rows if r.first_col != "tenant_id"] == []


@pytest.mark.parametrize("role", RUNTIME_ROLES)
def test_runtime_role_plans_every_statement_for_the_tenant_at_hand(role: str) -> None:
    """A session of the role starts with custom plans forced (db.roles.RUNTIME_SETTINGS):
    a generic plan, made for no tenant in particular, must never serve a large one."""
    engine = db_engine.app_engine() if role == "pms_app" else db_engine.auditor_engine()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == role
        assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
        conn.rollback()


@pytest.mark.parametrize("role", RUNTIME_ROLES)
def test_runtime_role_is_neither_superuser_nor_bypassrls(owner: Connection, role: str) -> None:
    row = owner.execute(
        text(
            "SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb"
            " FROM pg_roles WHERE rolname = :r"
        ),
        {"r": role},
    ).one()
    assert (row.rolsuper, row.rolbypassrls, row.rolcreaterole, row.rolcreatedb) == (
        False,
        False,
        False,
        False,
    )
    assert row.rolcanlogin is True


@pytest.mark.parametrize("role", RUNTIME_ROLES)
def test_runtime_role_owns_nothing(owner: Connection, role: str) -> None:
    owned = owner.execute(
        text(
            """
            SELECT 'relation', relname::text FROM pg_class
             WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = :r)
            UNION ALL
            SELECT 'function', proname::text FROM pg_proc
             WHERE proowner = (SELECT oid FROM pg_roles WHERE rolname = :r)
            UNION ALL
            SELECT 'schema', nspname::text FROM pg_namespace
             WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = :r)
            """
        ),
        {"r": role},
    ).all()
    assert owned == []


def test_the_tables_are_owned_by_the_migration_role(
    owner: Connection, tenant_tables: list[str]
) -> None:
    owners = set(
        owner.execute(
            text(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
                " WHERE relnamespace = 'public'::regnamespace AND relname = ANY(:tables)"
            ),
            {"tables": [*tenant_tables, "tenant"]},
        ).scalars()
    )
    assert owners == {owner.execute(text("SELECT current_user")).scalar_one()}


VIEWS_WITHOUT_SECURITY_INVOKER = text(
    """
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
      AND NOT EXISTS (
          SELECT 1 FROM unnest(coalesce(c.reloptions, '{}')) AS o(opt)
          WHERE lower(o.opt) IN ('security_invoker=true', 'security_invoker=on',
                                 'security_invoker=1', 'security_invoker=yes'))
    ORDER BY 1
    """
)


def test_no_view_lacks_security_invoker(owner: Connection) -> None:
    assert owner.execute(VIEWS_WITHOUT_SECURITY_INVOKER).scalars().all() == []


def test_the_view_check_would_find_a_definer_view() -> None:
    """The query above is not vacuous: a plain view (in a rolled-back transaction) is found,
    one WITH (security_invoker = true) is not."""
    with db_engine.owner_engine().connect() as conn:
        conn.execute(text("CREATE VIEW zz_definer_view AS SELECT id FROM tenant"))
        conn.execute(
            text(
                "CREATE VIEW zz_invoker_view WITH (security_invoker = true)"
                " AS SELECT id FROM tenant"
            )
        )
        found = conn.execute(VIEWS_WITHOUT_SECURITY_INVOKER).scalars().all()
        conn.rollback()
    assert found == ["zz_definer_view"]


def test_no_materialized_view_is_readable_by_runtime_roles(owner: Connection) -> None:
    rows = owner.execute(
        text(
            "SELECT relname FROM pg_class WHERE relkind = 'm'"
            " AND (has_table_privilege('pms_app', oid, 'SELECT')"
            "      OR has_table_privilege('pms_auditor', oid, 'SELECT'))"
        )
    ).all()
    assert rows == []


def test_current_tenant_id_is_stable(owner: Connection) -> None:
    row = owner.execute(
        text(
            "SELECT provolatile, prosecdef FROM pg_proc"
            " WHERE oid = 'app.current_tenant_id()'::regprocedure"
        )
    ).one()
    assert (row.provolatile, row.prosecdef) == ("s", False)


def test_tenant_id_for_slug_is_security_definer_with_pinned_search_path(
    owner: Connection,
) -> None:
    row = owner.execute(
        text(
            "SELECT prosecdef, proconfig,"
            "       EXISTS (SELECT 1 FROM aclexplode(proacl) WHERE grantee = 0) AS public_exec"
            " FROM pg_proc WHERE oid = 'app.tenant_id_for_slug(text)'::regprocedure"
        )
    ).one()
    assert row.prosecdef is True
    settings = dict(c.split("=", 1) for c in row.proconfig or [])
    assert "search_path" in settings, row.proconfig
    path = [p.strip() for p in settings["search_path"].split(",")]
    # only trusted schemas, and pg_temp explicitly last (else it is searched first)
    assert set(path) <= {"pg_catalog", "pg_temp"}, path
    assert path[-1] == "pg_temp"
    assert row.public_exec is False  # EXECUTE revoked from PUBLIC


def test_models_and_migrations_agree(owner: Connection) -> None:
    ctx = MigrationContext.configure(
        connection=owner, opts={"compare_type": True, "target_metadata": metadata}
    )
    diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_the_schema_can_be_distributed_with_citus_by_tenant_id(
    owner: Connection, tenant_tables: list[str]
) -> None:
    """Citus's rules for `create_distributed_table(t, 'tenant_id')` on every tenant table
    (with `tenant` distributed by `id` in the same colocation group, and platform tables as
    reference tables): every primary key and unique constraint of a distributed table holds
    the distribution column (checked above), every foreign key between distributed tables
    joins on it, and no reference table points into a distributed one. A platform table
    that refers to tenant rows must itself carry tenant_id in its key (it is distributed too)."""
    fks = owner.execute(
        text(
            """
            SELECT c.conrelid::regclass::text AS tbl, c.confrelid::regclass::text AS ref,
                   ARRAY(SELECT a.attname::text FROM unnest(c.conkey) k(n)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS cols,
                   ARRAY(SELECT a.attname::text FROM unnest(c.confkey) k(n)
                         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
                       AS refcols
            FROM pg_constraint c
            WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
            """
        )
    ).all()
    distributed = set(tenant_tables) | {"tenant"}
    # platform tables that point at tenant rows join the distributed set
    distributed |= {f.tbl for f in fks if f.ref in tenant_tables}
    keys = dict(
        owner.execute(
            text(
                "SELECT c.conrelid::regclass::text, ARRAY(SELECT a.attname::text"
                " FROM unnest(c.conkey) k(n) JOIN pg_attribute a"
                " ON a.attrelid = c.conrelid AND a.attnum = k.n)"
                " FROM pg_constraint c WHERE c.contype = 'p'"
                " AND c.connamespace = 'public'::regnamespace"
            )
        ).all()
    )
    column = {t: ("id" if t == "tenant" else "tenant_id") for t in distributed}
    problems = [t for t in distributed if column[t] not in keys.get(t, [])]
    for f in fks:
        if f.tbl in distributed and f.ref in distributed:
            pairs = dict(zip(f.cols, f.refcols, strict=True))
            if pairs.get(column[f.tbl]) != column[f.ref]:
                problems.append(f"{f.tbl} -> {f.ref} does not join on the tenant")
        elif f.tbl not in distributed and f.ref in distributed:
            problems.append(f"reference table {f.tbl} points into distributed {f.ref}")
    assert problems == []
    assert len(distributed) > len(tenant_tables)  # the tenant table and the tenant-keyed ones
