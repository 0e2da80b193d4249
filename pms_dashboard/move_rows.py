"""The rows of an online move (see `pms_dashboard.moves` for the steps): copying them from
one snapshot, carrying over what was written since, and comparing both sides.

Everything here runs as the owner role on plain psycopg connections (binary COPY between
two servers), one tenant's rows at a time, addressed by schema-qualified names.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pms_dashboard.db import provision
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.placement import Tier
from pms_dashboard.tenancy.registry import TenantError


class MoveError(TenantError):
    """A move was refused or failed; the message is safe to show."""


PLACEMENT_COLUMNS = ("placement_version", "placement_state", "placement_frozen_until")


@dataclass(frozen=True)
class Where:
    """One end of a move: where the rows are and how the owner reaches them."""

    tier: Tier
    region: str
    url: str  # owner URL of the database
    schema: str  # data schema
    database: str | None  # as the catalog records it (None: the region's pool database)
    dedicated: str | None = None  # a dedicated cluster's URL, as given

    @property
    def label(self) -> str:
        return f"{self.region}, {placements.TIER_WORDS[self.tier]}"


@dataclass
class Progress:
    """What a running move reports (the CLI's bar, the console's page)."""

    step: str = ""
    tables_done: int = 0
    tables: int = 0
    rows: int = 0
    timings: dict[str, float] = field(default_factory=dict)


Report = Callable[[Progress], None]


def _connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(provision._conninfo(url), autocommit=autocommit)


_TABLES_AND_PARENTS = """
SELECT c.relname, coalesce(array_agg(DISTINCT p.relname) FILTER (
           WHERE p.relname IS NOT NULL AND p.oid <> c.oid), '{}') AS parents
  FROM pg_class AS c
  LEFT JOIN pg_constraint AS f ON f.conrelid = c.oid AND f.contype = 'f'
  LEFT JOIN pg_class AS p ON p.oid = f.confrelid
 WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'
   AND (c.relname = 'tenant' OR EXISTS (SELECT 1 FROM pg_policy AS pol
        WHERE pol.polrelid = c.oid AND pol.polname = 'tenant_isolation'))
 GROUP BY c.relname
"""


def tenant_tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """The tenant-data tables of `schema` (those under the tenant policy, and `tenant`) in
    foreign-key order, parents first, read from PostgreSQL's catalog (so this room needs
    no domain model)."""
    parents = {name: set(ps) for name, ps in conn.execute(_TABLES_AND_PARENTS, [schema])}
    ordered: list[str] = []
    while parents:
        ready = sorted(t for t, ps in parents.items() if not (ps & parents.keys()))
        if not ready:
            raise MoveError(f"tables of {schema} refer to each other in a cycle: {sorted(parents)}")
        ordered += ready
        for t in ready:
            del parents[t]
    return ordered


# ------------------------------------------------------------------ copying and comparing


def _columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        [f'"{schema}"."{table}"'],
    ).fetchall()
    return [r[0] for r in rows]


def _filter(table: str) -> str:
    return "id = %s" if table == "tenant" else "tenant_id = %s"


def _copy_table(
    src: psycopg.Connection[Any],
    dst: psycopg.Connection[Any],
    source: Where,
    target: Where,
    table: str,
    tenant_id: uuid.UUID,
    *,
    only_ids: list[uuid.UUID] | None = None,
    into: str | None = None,
) -> int:
    """Binary COPY of the tenant's rows of `table` (or of `only_ids`) from source to target
    (into table `into` at the target, a temporary table, when given)."""
    cols = _columns(src, source.schema, table)
    col_list = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    args: list[Any] = [tenant_id]
    condition = _filter(table)
    if only_ids is not None:
        condition += " AND id = ANY(%s)"
        args.append(only_ids)
    where = sql.SQL(condition)  # type: ignore[arg-type]
    query = sql.SQL("COPY (SELECT {} FROM {}.{} WHERE {}) TO STDOUT (FORMAT binary)").format(
        col_list, sql.Identifier(source.schema), sql.Identifier(table), where
    )
    dest = (
        sql.Identifier(into)
        if into
        else sql.SQL("{}.{}").format(sql.Identifier(target.schema), sql.Identifier(table))
    )
    load = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(dest, col_list)
    rows = 0
    with src.cursor() as rc, dst.cursor() as wc:
        with rc.copy(query, args) as out, wc.copy(load) as inp:
            for chunk in out:
                inp.write(chunk)
        rows = wc.rowcount
    return max(rows, 0)


def _upsert(
    src: psycopg.Connection[Any],
    dst: psycopg.Connection[Any],
    source: Where,
    target: Where,
    table: str,
    tenant_id: uuid.UUID,
    ids: list[Any],
) -> None:
    """The source's rows `ids` of `table` written over (or added to) the target's."""
    temp = f"move_{table}"
    dst.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {}.{}) ON COMMIT DROP").format(
            sql.Identifier(temp), sql.Identifier(target.schema), sql.Identifier(table)
        )
    )
    _copy_table(src, dst, source, target, table, tenant_id, only_ids=ids, into=temp)
    cols = [c for c in _columns(src, source.schema, table) if c not in PLACEMENT_COLUMNS]
    key = ["id"] if table == "tenant" else ["tenant_id", "id"]
    updates = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in cols
        if c not in key
    )
    col_list = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    dst.execute(
        sql.SQL(
            "INSERT INTO {}.{} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO UPDATE SET {}"
        ).format(
            sql.Identifier(target.schema),
            sql.Identifier(table),
            col_list,
            col_list,
            sql.Identifier(temp),
            sql.SQL(", ").join(sql.Identifier(k) for k in key),
            updates,
        )
    )


# Dead rows a target table may hold before a copy (a tenant moved out of this pool earlier
# leaves its rows dead until autovacuum comes by) before it is vacuumed first.
DEAD_ROWS_TO_VACUUM = 10_000


def _vacuum_dead_rows(target: Where) -> None:
    """Vacuum the target's tables that hold many dead rows (a shared pool the tenant left
    before, whose keys the copy brings back), so the inserts' unique checks need not visit
    each dead duplicate."""
    with _connect(target.url, autocommit=True) as c:
        tables = [
            r[0]
            for r in c.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s AND n_dead_tup > %s",
                [target.schema, DEAD_ROWS_TO_VACUUM],
            )
        ]
        for table in tables:
            c.execute(
                sql.SQL("VACUUM (ANALYZE) {}.{}").format(
                    sql.Identifier(target.schema), sql.Identifier(table)
                )
            )


def _copy_all(
    source: Where, target: Where, tenant_id: uuid.UUID, progress: Progress, report: Report | None
) -> tuple[int, str]:
    """Every row of the tenant, one snapshot, one target transaction; returns the rows and
    the snapshot (`pg_snapshot` text) the copy saw, so the freeze can find what changed."""
    rows = 0
    _vacuum_dead_rows(target)
    with _connect(source.url) as src, _connect(target.url) as dst:
        src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
        src.read_only = True
        row = src.execute("SELECT pg_current_snapshot()::text").fetchone()
        assert row is not None
        snapshot = str(row[0])
        tables = tenant_tables(src, source.schema)
        progress.tables = len(tables)
        # Every foreign-key check (one query per row: `... WHERE tenant_id = $1 AND id = $2`)
        # uses a generic plan, made for "a key", which looks the row up by the unique key.
        # A plan made for this tenant's id trusts statistics from before the copy: in a
        # pool the tenant left, its id is not among the table's common values, so its rows
        # look absent, every index starting with tenant_id looks as good as the key, and
        # one of them was picked with `id` as a filter: each check of the self-reference
        # goal.parent_id read all the tenant's goals (100,000 goals: 49,965 checks read 1.8
        # billion index entries, 194 s). Each table is analysed once copied (before its
        # children are), which also replaces the plans made before.
        dst.execute("SET plan_cache_mode = force_generic_plan")
        for table in tables:
            rows += _copy_table(src, dst, source, target, table, tenant_id)
            dst.execute(
                sql.SQL("ANALYZE {}.{}").format(
                    sql.Identifier(target.schema), sql.Identifier(table)
                )
            )
            progress.tables_done += 1
            progress.rows = rows
            if report:
                report(progress)
        # the copy's tenant row is the target's fence: not routable before the flip
        dst.execute(
            sql.SQL("UPDATE {}.tenant SET placement_state = 'read_only' WHERE id = %s").format(
                sql.Identifier(target.schema)
            ),
            [tenant_id],
        )
        dst.commit()
        src.rollback()
    return rows, snapshot


# A row's xmin as a full transaction id (the epoch taken from the snapshot's xmax), to ask
# whether the copy's snapshot saw it: rows written (inserted or updated) since are those it
# did not. Rows written before the snapshot's xmin (older by `age`) were seen: only the
# others are asked (100,000 goals: 15 ms instead of 128, inside the freeze).
def _written_since(
    src: psycopg.Connection[Any], source: Where, table: str, tenant_id: uuid.UUID, snapshot: str
) -> list[Any]:
    """Ids of the rows of `table` inserted or updated after `snapshot` (cheap: no hashing)."""
    query = sql.SQL(
        "WITH now AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS now_xid)"
        " SELECT id FROM (SELECT t.id, now.now_xid,"
        " ((now.now_xid >> 32) << 32) | t.xmin::text::bigint AS full_xid"
        " FROM {}.{} AS t, now WHERE t.{}"
        " AND age(t.xmin) <= age(pg_snapshot_xmin(%s::pg_snapshot)::xid)) AS r"
        " WHERE NOT pg_visible_in_snapshot("
        "(CASE WHEN full_xid > now_xid THEN full_xid - 4294967296 ELSE full_xid END)::text::xid8,"
        " %s::pg_snapshot)"
    ).format(sql.Identifier(source.schema), sql.Identifier(table), sql.SQL(_filter(table)))
    return [r[0] for r in src.execute(query, [tenant_id, snapshot, snapshot]).fetchall()]


def _ids(conn: psycopg.Connection[Any], where: Where, table: str, tenant_id: uuid.UUID) -> set[Any]:
    return {
        r[0]
        for r in conn.execute(
            sql.SQL("SELECT id FROM {}.{} WHERE {}").format(
                sql.Identifier(where.schema), sql.Identifier(table), sql.SQL(_filter(table))
            ),
            [tenant_id],
        )
    }


def _table_checksums(
    conn: psycopg.Connection[Any], where: Where, tables: list[str], tenant_id: uuid.UUID
) -> dict[str, str]:
    """Per table: row count and the sum of the rows' 64-bit hashes (placement columns left
    out), computed by the server, so only short strings travel. Each row is hashed by its
    types' own hash functions (what hash indexes use), not rendered as text and md5'd in
    id order: 5 times cheaper (100,000 goals: 54 ms instead of 285), and it runs during
    the write freeze. A changed, missing or extra row changes the count or the sum (but
    for a 2^-64 chance); both servers must hash alike (same major version), else the move
    fails verification and rolls back."""
    found = {}
    for table in tables:
        cols = [c for c in _columns(conn, where.schema, table) if c not in PLACEMENT_COLUMNS]
        row = sql.SQL("ROW({})").format(sql.SQL(", ").join(sql.Identifier(c) for c in cols))
        got = conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(hash_record_extended({}, 0)), 0) FROM {}.{} WHERE {}"
            ).format(
                row, sql.Identifier(where.schema), sql.Identifier(table), sql.SQL(_filter(table))
            ),
            [tenant_id],
        ).fetchone()
        assert got is not None
        found[table] = f"{got[0]}:{got[1]}"
    return found


def _both_checksums(
    src: psycopg.Connection[Any],
    dst: psycopg.Connection[Any],
    source: Where,
    target: Where,
    tables: list[str],
    tenant_id: uuid.UUID,
) -> tuple[dict[str, str], dict[str, str]]:
    """Each side's table checksums, computed by the two servers at the same time."""
    src_sums: dict[str, str] = {}
    worker = threading.Thread(
        target=lambda: src_sums.update(_table_checksums(src, source, tables, tenant_id))
    )
    worker.start()
    dst_sums = _table_checksums(dst, target, tables, tenant_id)
    worker.join()
    return src_sums, dst_sums


def _carry_over_and_verify(
    source: Where, target: Where, tenant_id: uuid.UUID, snapshot: str
) -> dict[str, str]:
    """During the freeze: the rows written since the copy's snapshot carried over (found by
    their xmin, not by hashing every row); both sides compared table by table (counts and
    content checksums, computed by the two servers at the same time); a table that still
    differs had rows deleted since the copy: its id sets are compared, the extra rows
    removed, and it is compared again; last, the audit chain's head hash (the chain itself
    was verified at the target after the copy)."""
    with _connect(source.url) as src, _connect(target.url) as dst:
        src.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
        src.read_only = True
        tables = tenant_tables(src, source.schema)
        for table in tables:
            written = _written_since(src, source, table, tenant_id, snapshot)
            if written:
                _upsert(src, dst, source, target, table, tenant_id, written)
        dst.commit()
        src_sums, dst_sums = _both_checksums(src, dst, source, target, tables, tenant_id)
        # A table that still differs had rows deleted since the copy: remove them (children
        # first), then compare it again.
        differing = [t for t in tables if src_sums[t] != dst_sums[t]]
        for table in reversed(differing):
            extra = _ids(dst, target, table, tenant_id) - _ids(src, source, table, tenant_id)
            if extra:
                dst.execute(
                    sql.SQL("DELETE FROM {}.{} WHERE {} AND id = ANY(%s)").format(
                        sql.Identifier(target.schema),
                        sql.Identifier(table),
                        sql.SQL(_filter(table)),
                    ),
                    [tenant_id, sorted(extra, key=str)],
                )
        dst.commit()
        if differing:
            again = _both_checksums(src, dst, source, target, differing, tenant_id)
            dst_sums |= again[1]
        for table in tables:
            if src_sums[table] != dst_sums[table]:
                raise MoveError(
                    f"verification failed: {table} differs ({src_sums[table]} vs {dst_sums[table]})"
                )
        heads = [
            conn.execute(
                sql.SQL(
                    "SELECT hash FROM {}.audit_event WHERE tenant_id = %s ORDER BY seq DESC LIMIT 1"
                ).format(sql.Identifier(where.schema)),
                [tenant_id],
            ).fetchone()
            for conn, where in ((src, source), (dst, target))
        ]
        if heads[0] != heads[1]:
            raise MoveError("verification failed: the audit chain's head differs")
        dst.rollback()
        src.rollback()
    return src_sums | {"audit_head": heads[0][0] if heads[0] else ""}


def _verify_chain(where: Where, tenant_id: uuid.UUID) -> None:
    from sqlalchemy import create_engine, pool, text

    from pms_dashboard.audit.chain import verify

    engine = create_engine(where.url, poolclass=pool.NullPool)
    try:
        with engine.connect() as c:
            c.execute(text("SELECT set_config('search_path', :s, true)"), {"s": where.schema})
            result = verify(c, tenant_id=tenant_id)
            c.rollback()
    finally:
        engine.dispose()
    if not result.ok:
        raise MoveError(
            f"verification failed: the audit chain breaks at the target: {result.breaks[0]}"
        )
