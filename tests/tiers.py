"""Tenants in every tier and region, for the tests that must hold in each of them: where a
tenant is, a one-connection engine at its database, and where its rows really are (read as
the owner from every database of every region's cluster)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from pms_dashboard.db import clusters
from pms_dashboard.db.engine import APP_ROLE, as_role
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.placement import Placement

HOME, OTHER = (r.name for r in clusters.regions()[:2])
# Every (tier, region) a tenant can be placed in on the test clusters.
PLACEMENTS = tuple(
    (tier, region) for tier in ("pool", "schema", "database") for region in (HOME, OTHER)
)
# The catalog's own tables: platform data keyed by tenant id, never a tenant's rows.
CATALOG_TABLES = frozenset({"tenant_placement", "tenant_sso_domain", "tenant_move"})

Where = tuple[int, str, str]  # (cluster port, database, schema)


def placement_id(value: tuple[str, str]) -> str:
    """A test id such as `schema-us-east`."""
    return "-".join(value)


def placement_of(tenant_id: uuid.UUID) -> Placement:
    """The catalog's current placement of a tenant."""
    return placements.fetch(tenant_id)


def where(p: Placement) -> Where:
    """Where a placement's rows live, in the terms of `rows_by_place`."""
    url = p.owner_base_url
    return clusters.server_of(url)[1], make_url(url).database or "", p.search_path


def where_database(p: Placement) -> str:
    """The name of the database holding a placement's rows."""
    return where(p)[1]


def same_database(a: Placement, b: Placement) -> bool:
    return where(a)[:2] == where(b)[:2]


def one_connection_engine(p: Placement) -> Engine:
    """A `pms_app` engine of the placement's database with exactly one connection, so every
    transaction on it reuses the same server session (the caller disposes it)."""
    return create_engine(as_role(p.owner_base_url, APP_ROLE), pool_size=1, max_overflow=0)


def _owner_conninfo(region: clusters.Region, database: str) -> str:
    url = make_url(clusters.region_owner_url(region))
    return psycopg.conninfo.make_conninfo(
        host=url.host or "localhost",
        port=str(url.port or 5432),
        user=url.username or "",
        password=url.password or "",
        dbname=database,
    )


_TENANT_COLUMNS = """
SELECT n.nspname, c.relname, a.attname FROM pg_attribute AS a
  JOIN pg_class AS c ON c.oid = a.attrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT a.attisdropped
   AND (a.attname = 'tenant_id' OR (c.relname = 'tenant' AND a.attname = 'id'))
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


def rows_by_place(tenant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[Where, int]]:
    """For each tenant, the rows keyed by it in every table with a `tenant_id` column (and
    its row of every `tenant` table) in every schema of every database of every region's
    cluster, counted by place. Read as the owner (BYPASSRLS): what is really stored."""
    ids = [str(t) for t in tenant_ids]
    found: dict[uuid.UUID, dict[Where, int]] = {uuid.UUID(t): defaultdict(int) for t in ids}
    for region in clusters.regions():
        pool_db = clusters.pool_database(region)
        port = clusters.server_of(clusters.region_owner_url(region))[1]
        with psycopg.connect(_owner_conninfo(region, pool_db), autocommit=True) as conn:
            databases = [
                r[0]
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname"
                )
            ]
        for database in databases:
            with psycopg.connect(_owner_conninfo(region, database), autocommit=True) as conn:
                columns = conn.execute(_TENANT_COLUMNS).fetchall()
                parts = [
                    sql.SQL(
                        "SELECT {schema}, {table}, {column}::text, count(*) FROM {qualified}"
                        " WHERE {column} = ANY(%(ids)s::uuid[]) GROUP BY {column}"
                    ).format(
                        schema=sql.Literal(schema),
                        table=sql.Literal(table),
                        column=sql.Identifier(column),
                        qualified=sql.Identifier(schema, table),
                    )
                    for schema, table, column in columns
                    if not (schema == "public" and table in CATALOG_TABLES)
                ]
                if not parts:
                    continue
                query = sql.SQL(" UNION ALL ").join(parts)
                for schema, _table, tenant, n in conn.execute(query, {"ids": ids}):
                    found[uuid.UUID(tenant)][(port, database, schema)] += n
    return {t: dict(places) for t, places in found.items()}
