"""Physical provisioning of the enterprise tiers, at head and without replaying history.

- A tenant **database** is `CREATE DATABASE ... TEMPLATE <pool>_template`: a copy of a
  database `db upgrade` keeps at head (tables, policies, functions, grants). PostgreSQL
  copies it block by block, so it takes the same time whatever the history's length.
- A tenant **schema** is cloned from the pool database's own tables (at head) by reading
  PostgreSQL's catalog: the tenant-data tables (those under the `tenant_isolation` policy,
  the `tenant` table and what points into them), their columns and defaults, constraints
  and indexes under the same names (so later revisions address them alike in every
  target), forced row-level security with the same policies, the same grants, the target's
  own `append_audit_event`, and an `alembic_version` at the pool's revision. The DDL is
  deparsed with `search_path` set to the source schema, so it names tables unqualified,
  and run with `search_path` set to the new schema (transaction-locally). It is computed
  once per (database, revision) and cached: a new schema costs one transaction of DDL.

Everything here runs as the owner role; nothing here knows about tenants' data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE

RUNTIME = (APP_ROLE, AUDITOR_ROLE)


def _conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    return psycopg.conninfo.make_conninfo(
        host=parsed.host or "localhost",
        port=str(parsed.port or 5432),
        user=parsed.username or "",
        password=parsed.password or "",
        dbname=database or parsed.database or "postgres",
    )


def database_exists(url: str) -> bool:
    name = make_url(url).database
    with psycopg.connect(_conninfo(url, "postgres"), autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def ensure_database(url: str, *, template: str | None = None) -> bool:
    """Create the database of `url` (from `template`, when given) unless it exists; only the
    owner and the runtime roles may connect to it. True when it was created."""
    name = make_url(url).database or ""
    with psycopg.connect(_conninfo(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = stmt + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(stmt)
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
        present = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [list(RUNTIME)]
        ).fetchall()
        for (role,) in present:  # absent on a new cluster: `ensure_roles` grants it then
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(name), sql.Identifier(role)
                )
            )
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    return True


def drop_database(url: str) -> None:
    """Drop the database of `url` (closing its connections) if it exists."""
    name = make_url(url).database or ""
    with psycopg.connect(_conninfo(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# ------------------------------------------------------------------ schema clones


@dataclass(frozen=True)
class SchemaRecipe:
    """The DDL of a tenant schema, with `{schema}` where the new schema is named."""

    revision: str
    statements: tuple[str, ...]


_RECIPES: dict[tuple[str, str], SchemaRecipe] = {}
_RECIPES_LOCK = threading.Lock()

# The tenant table, the tables under the tenant policy, and the tables whose every foreign
# key points into those (the console's notes on a tenant's audit events).
_TENANT_TABLES = """
WITH base AS (
    SELECT c.oid FROM pg_class AS c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
       AND (c.relname = 'tenant' OR EXISTS (
            SELECT 1 FROM pg_policy AS p
             WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation'))
), attached AS (
    SELECT f.conrelid AS oid FROM pg_constraint AS f
     WHERE f.contype = 'f' AND f.confrelid IN (SELECT oid FROM base)
    GROUP BY f.conrelid
    HAVING NOT EXISTS (SELECT 1 FROM pg_constraint AS o
                        WHERE o.conrelid = f.conrelid AND o.contype = 'f'
                          AND o.confrelid NOT IN (SELECT oid FROM base))
)
SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity
  FROM pg_class AS c
 WHERE c.oid IN (SELECT oid FROM base UNION SELECT oid FROM attached)
 ORDER BY c.relname
"""


def _recipe(conn: Connection) -> SchemaRecipe:
    """Deparse the tenant-data tables of `public` (search_path must be `public` only)."""
    revision = conn.execute(text("SELECT version_num FROM public.alembic_version")).scalar_one()
    tables = conn.execute(text(_TENANT_TABLES)).all()
    oids = [t.oid for t in tables]
    out: list[str] = []
    for t in tables:
        out.append(
            f'CREATE TABLE "{t.relname}" (LIKE public."{t.relname}" INCLUDING DEFAULTS '
            "INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS)"
        )
    constraints = conn.execute(
        text(
            "SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype,"
            " pg_get_constraintdef(c.oid) AS definition FROM pg_constraint AS c"
            " WHERE c.conrelid = ANY(:oids) AND c.contype IN ('p', 'u', 'c', 'x', 'f')"
            " ORDER BY (c.contype = 'f'), c.conrelid::regclass::text, c.conname"
        ),
        {"oids": oids},
    ).all()
    for c in constraints:
        out.append(f'ALTER TABLE {c.tbl} ADD CONSTRAINT "{c.conname}" {c.definition}')
    indexes = conn.execute(
        text(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index AS i"
            " WHERE i.indrelid = ANY(:oids) AND NOT EXISTS ("
            " SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)"
            " ORDER BY i.indexrelid::regclass::text"
        ),
        {"oids": oids},
    ).scalars()
    out.extend(ix.replace(" ON public.", " ON ") for ix in indexes)
    for t in tables:
        if t.relrowsecurity:
            out.append(f'ALTER TABLE "{t.relname}" ENABLE ROW LEVEL SECURITY')
        if t.relforcerowsecurity:
            out.append(f'ALTER TABLE "{t.relname}" FORCE ROW LEVEL SECURITY')
    out.extend(_policies(conn, oids))
    out.extend(_grants(conn, oids))
    out.extend(_functions(conn))
    out.append(
        "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL,"
        " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    out.append(f"INSERT INTO alembic_version (version_num) VALUES ('{revision}')")
    return SchemaRecipe(revision, tuple(out))


def _policies(conn: Connection, oids: list[int]) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT p.tablename, p.policyname, p.permissive, p.roles, p.cmd, p.qual,"
            " p.with_check FROM pg_policies AS p JOIN pg_class AS c ON c.relname = p.tablename"
            " AND c.relnamespace = 'public'::regnamespace"
            " WHERE p.schemaname = 'public' AND c.oid = ANY(:oids)"
            " ORDER BY p.tablename, p.policyname"
        ),
        {"oids": oids},
    ).all()
    out = []
    for p in rows:
        roles = ", ".join(f'"{r}"' if r != "public" else "PUBLIC" for r in p.roles)
        stmt = f'CREATE POLICY "{p.policyname}" ON "{p.tablename}" AS {p.permissive} FOR {p.cmd}'
        stmt += f" TO {roles}"
        if p.qual:
            stmt += f" USING ({p.qual})"
        if p.with_check:
            stmt += f" WITH CHECK ({p.with_check})"
        out.append(stmt)
    return out


def _grants(conn: Connection, oids: list[int]) -> list[str]:
    table_grants = conn.execute(
        text(
            "SELECT c.relname, a.privilege_type, r.rolname FROM pg_class AS c,"
            " aclexplode(c.relacl) AS a JOIN pg_roles AS r ON r.oid = a.grantee"
            " WHERE c.oid = ANY(:oids) AND r.rolname = ANY(:roles)"
            " ORDER BY c.relname, r.rolname, a.privilege_type"
        ),
        {"oids": oids, "roles": list(RUNTIME)},
    ).all()
    column_grants = conn.execute(
        text(
            "SELECT c.relname, att.attname, a.privilege_type, r.rolname"
            " FROM pg_attribute AS att JOIN pg_class AS c ON c.oid = att.attrelid,"
            " aclexplode(att.attacl) AS a JOIN pg_roles AS r ON r.oid = a.grantee"
            " WHERE c.oid = ANY(:oids) AND att.attacl IS NOT NULL AND r.rolname = ANY(:roles)"
            " ORDER BY c.relname, att.attname, r.rolname, a.privilege_type"
        ),
        {"oids": oids, "roles": list(RUNTIME)},
    ).all()
    out = [f'GRANT {g.privilege_type} ON "{g.relname}" TO "{g.rolname}"' for g in table_grants]
    out += [
        f'GRANT {g.privilege_type} ("{g.attname}") ON "{g.relname}" TO "{g.rolname}"'
        for g in column_grants
    ]
    return out


def _functions(conn: Connection) -> list[str]:
    """The target-local functions of `public` (pinned to `public`), re-pinned to the new
    schema, with their EXECUTE grants."""
    rows = conn.execute(
        text(
            "SELECT p.oid, p.proname, pg_get_functiondef(p.oid) AS definition,"
            " pg_get_function_identity_arguments(p.oid) AS args FROM pg_proc AS p"
            " WHERE p.pronamespace = 'public'::regnamespace ORDER BY p.proname"
        )
    ).all()
    out = []
    for f in rows:
        body = f.definition.replace(
            f"FUNCTION public.{f.proname}(", f'FUNCTION "{{schema}}".{f.proname}(', 1
        )
        body = body.replace(
            "search_path TO 'pg_catalog', 'public', 'pg_temp'",
            "search_path TO 'pg_catalog', '{schema}', 'pg_temp'",
        )
        out.append(body)
        signature = f'"{{schema}}".{f.proname}({f.args})'
        out.append(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        grantees = conn.execute(
            text(
                "SELECT r.rolname FROM pg_proc AS p, aclexplode(p.proacl) AS a"
                " JOIN pg_roles AS r ON r.oid = a.grantee"
                " WHERE p.oid = :oid AND a.privilege_type = 'EXECUTE' AND r.rolname = ANY(:roles)"
            ),
            {"oid": f.oid, "roles": list(RUNTIME)},
        ).scalars()
        out.extend(f'GRANT EXECUTE ON FUNCTION {signature} TO "{r}"' for r in grantees)
    return out


def schema_recipe(conn: Connection, database_key: str) -> SchemaRecipe:
    """The (cached) recipe of `conn`'s database at its current revision."""
    revision = conn.execute(text("SELECT version_num FROM public.alembic_version")).scalar_one()
    key = (database_key, revision)
    with _RECIPES_LOCK:
        found = _RECIPES.get(key)
    if found is None:
        conn.execute(text("SELECT set_config('search_path', 'public', true)"))
        found = _recipe(conn)
        with _RECIPES_LOCK:
            _RECIPES[key] = found
    return found


def create_schema(conn: Connection, schema: str, *, database_key: str) -> str:
    """Create tenant schema `schema` at the pool database's revision in `conn`'s transaction
    (the caller commits); returns the revision."""
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"not a tenant schema name: {schema!r}")
    recipe = schema_recipe(conn, database_key)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cur = raw.cursor()
    cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    for role in RUNTIME:
        cur.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
    cur.execute("SELECT set_config('search_path', %s, true)", [schema])
    for stmt in recipe.statements:
        cur.execute(stmt.replace("{schema}", schema).encode())
    return recipe.revision


def drop_schema(conn: Connection, schema: str) -> None:
    """Drop a tenant schema and everything in it (in `conn`'s transaction)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.cursor().execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
