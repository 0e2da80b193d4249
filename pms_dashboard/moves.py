"""Online moves of a tenant between tiers and regions: copy while it works, freeze writes
briefly, carry over what changed, verify, flip, clean up. Crash-safe and audited.

**Why COPY and not logical replication.** A row-filtered publication (PostgreSQL 15+) would
stream changes, but it needs `wal_level = logical` on every source cluster, a replication
slot per move (which holds WAL back while it lags: the "catch-up falls behind" pain of shard
moves elsewhere) and a role allowed to create subscriptions; the owner role here has none
of that on a managed server. The tenant's own rows are small next to the cluster, so this
module copies them from one consistent snapshot with binary `COPY ... TO STDOUT` piped
into `COPY ... FROM STDIN`, and carries over the rows changed meanwhile by comparing row
hashes (per table, keyed by id) during a short write freeze. Every table has the key
(tenant_id, id), which is what makes that comparison exact.

**The state machine** (`tenant_move` in the catalog; each step committed before the next):
`copying` -> `frozen` -> `fenced` -> `flipped` -> `done` (or `rolled_back`).
- copying: the target is made at head, without rows; the rows copied from a snapshot.
- frozen: the source's `tenant` row says `read_only` until `placement_frozen_until` (now +
  `PMS_MOVE_FREEZE_LIMIT_SECONDS`); every tenant transaction holds a shared advisory lock
  of the tenant, so taking it exclusively once drains the transactions begun before the
  freeze; later ones are read-only (the door sets it) and writes are refused with "Your
  organisation is being moved; try again in a minute" (HTTP: 503 with Retry-After).
  Reads keep working at the source. The changed rows are carried over, then both sides are
  verified: per-table row counts and content checksums, and the audit chain at the target
  with the same head hash as the source.
- fenced: under the exclusive lock, and only if the freeze has not expired, the source row
  becomes `moved`: from then on no transaction can use the source (the door's fence).
- flipped: the catalog points at the target (version + 1); writes resume there.
- done: the source's rows are purged (an emptied schema or database is dropped).

A freeze that outlives its limit (the mover died) lets writes resume at the source by
itself: the door treats an expired `read_only` as active, and the fence step refuses to
run after the limit, so an expired freeze can never be followed by a flip. A re-run of the
same move (or of any move of the tenant) finishes a move found `fenced` or `flipped`, and
rolls back one found `copying` or `frozen` (target dropped, source active) before starting.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from pms_dashboard.db import clusters, provision
from pms_dashboard.db.engine import dispose_database, owner_url
from pms_dashboard.move_rows import (
    MoveError,
    Progress,
    Report,
    Where,
    _carry_over_and_verify,
    _connect,
    _copy_all,
    _verify_chain,
)
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy import provision as tenants
from pms_dashboard.tenancy.placement import Placement, Tier

STEPS = ("copying", "frozen", "fenced", "flipped", "done")
# Columns of `tenant` that belong to the placement, not to the organisation.


@dataclass(frozen=True)
class MoveResult:
    move_id: uuid.UUID
    slug: str
    source: str
    target: str
    rows: int
    freeze_seconds: float
    total_seconds: float
    checksums: dict[str, str]
    state: str


def _key(tenant_id: uuid.UUID) -> str:
    return f"pms.move:{tenant_id}"


# ------------------------------------------------------------------ ends of a move


def _source(found: Placement) -> Where:
    url = (
        placements.dedicated_owner_url(found.tenant_id)
        if found.dedicated_cluster
        else found.owner_base_url
    )
    return Where(found.tier, found.region, url, found.search_path, found.database)


def _target(tenant_id: uuid.UUID, tier: Tier, region: str, url: str | None) -> Where:
    """The new placement, made at head without rows (the copy brings them all)."""
    made = tenants._make_placement(tenant_id, "", "", tier, region, url, with_row=False)
    database = None if tier != Tier.database else make_url(made.database_url).database
    return Where(tier, region, made.database_url, made.schema or "public", database, url)


# ------------------------------------------------------------------ the catalog's record


def _catalog() -> psycopg.Connection[Any]:
    return _connect(owner_url(), autocommit=True)


def _record(move_id: uuid.UUID, state: str, **detail: Any) -> None:
    with _catalog() as c:
        c.execute(
            "UPDATE tenant_move SET state = %s, updated_at = clock_timestamp(),"
            " detail = detail || %s::jsonb WHERE id = %s",
            [state, json.dumps(detail, default=str), move_id],
        )


def _platform_event(action: str, detail: dict[str, Any], admin_id: uuid.UUID | None) -> None:
    with _catalog() as c:
        c.execute(
            "SELECT app.append_platform_event(%s, %s, %s::jsonb, '')",
            [admin_id, action, json.dumps(detail, default=str)],
        )


def _tenant_event(
    where: Where, tenant_id: uuid.UUID, action: str, detail: dict[str, Any], actor: Any = None
) -> None:
    """An event in the tenant's own chain, where its rows are now (actor: the admin who asked)."""
    with _connect(where.url) as c:
        c.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant_id)])
        c.execute("SELECT set_config('search_path', %s, true)", [where.schema])
        c.execute(
            "SELECT append_audit_event(%s, %s, 'tenant', %s, %s::jsonb, false, '')",
            [actor, action, tenant_id, json.dumps(detail, default=str)],
        )


# ------------------------------------------------------------------ the move


@contextmanager
def _step(progress: Progress, report: Report | None, name: str) -> Iterator[None]:
    progress.step = name
    if report:
        report(progress)
    started = time.perf_counter()
    yield
    progress.timings[name] = time.perf_counter() - started
    if report:
        report(progress)


def _validate(found: Placement, tier: str, region: str, url: str | None, reason: str) -> Tier:
    if not reason or not reason.strip():
        raise MoveError("say why: --reason is required and recorded")
    if tier not in {t.value for t in Tier}:
        raise MoveError("tier must be pool, schema or database")
    try:
        clusters.region(region)
    except clusters.UnknownRegion as err:
        raise MoveError(str(err)) from None
    if url and tier != Tier.database:
        raise MoveError("--url (a dedicated cluster) is only for the database tier")
    same_cluster = not url and not found.dedicated_cluster
    if found.tier == Tier(tier) and found.region == region and same_cluster:
        raise MoveError(f"{found.slug} already lives in {found.describe()}")
    return Tier(tier)


def move_tenant(
    *,
    slug: str,
    tier: str,
    region: str | None = None,
    url: str | None = None,
    reason: str,
    admin_id: uuid.UUID | None = None,
    report: Report | None = None,
    crash_after: str | None = None,
) -> MoveResult:
    """Move organisation `slug` to `tier` in `region` (default: where it is), online.
    One mover per tenant at a time, in any process (a session advisory lock on the home
    database, released when the mover ends or dies), so a re-run never rolls back a move
    that is still running. `crash_after` (tests only): die right after that step."""
    found = placements.by_slug(slug.strip().lower())
    if found is None:
        raise MoveError(f"no tenant with slug {slug!r}")
    with _catalog() as lock:
        taken = lock.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [f"pms.mover:{found.tenant_id}"]
        ).fetchone()
        if not (taken and taken[0]):
            raise MoveError(f"{found.slug} is already being moved; wait for that move to finish.")
        return _move(found, (tier, region, url, reason), admin_id, report, crash_after)


def _move(
    found: Placement,
    wanted: tuple[str, str | None, str | None, str],
    admin_id: uuid.UUID | None,
    report: Report | None,
    crash_after: str | None,
) -> MoveResult:
    """The move itself, its mover lock held; `wanted` is (tier, region, url, reason)."""
    tier, region, url, reason = wanted
    started = time.perf_counter()
    recover(found.tenant_id)  # safe: this process holds the tenant's mover lock
    found = placements.fetch(found.tenant_id)
    if found.state != "active":
        raise MoveError(f"{found.slug} is {found.state}; try again in a minute")
    region = region or found.region
    to_tier = _validate(found, tier, region, url, reason)
    source = _source(found)
    progress = Progress()
    move_id = uuid.uuid4()
    with _catalog() as c:
        c.execute(
            "INSERT INTO tenant_move (id, tenant_id, slug, reason, admin_id, from_placement,"
            " to_tier, to_region, state, detail) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s,"
            " 'copying', '{}'::jsonb)",
            [
                move_id,
                found.tenant_id,
                found.slug,
                reason.strip()[:500],
                admin_id,
                json.dumps(found.as_json()),
                to_tier.value,
                region,
            ],
        )
    started_detail = {
        "move_id": str(move_id),
        "from": found.describe(),
        "to": f"{region}, {placements.TIER_WORDS[to_tier]}",
        "reason": reason.strip()[:500],
    }
    _tenant_event(source, found.tenant_id, "tenant.move_started", started_detail, admin_id)
    _platform_event("tenant.move_started", started_detail | {"tenant": found.slug}, admin_id)
    target: Where | None = None
    try:
        with _step(progress, report, "copying"):
            target = _target(found.tenant_id, to_tier, region, url)
            _remember_target(move_id, target)
            progress.rows, snapshot = _copy_all(source, target, found.tenant_id, progress, report)
            _verify_chain(target, found.tenant_id)  # the copied chain, before the freeze
        _maybe_crash(crash_after, "copying")
        freeze_started = time.perf_counter()
        with _step(progress, report, "frozen"):
            _freeze(found, source)
            _record(move_id, "frozen")
            _maybe_crash(crash_after, "frozen")
            checksums = _carry_over_and_verify(source, target, found.tenant_id, snapshot)
        with _step(progress, report, "fenced"):
            _fence(found, source, target)
            _record(move_id, "fenced", checksums=checksums)
        _maybe_crash(crash_after, "fenced")
        with _step(progress, report, "flipped"):
            new = _flip(move_id, found, target)
            _record(move_id, "flipped")
        freeze_seconds = time.perf_counter() - freeze_started
        _maybe_crash(crash_after, "flipped")
    except Exception as err:
        _roll_back(move_id, found, target, str(err))
        _platform_event(
            "tenant.move_failed",
            started_detail | {"tenant": found.slug, "error": str(err)[:300]},
            admin_id,
        )
        raise
    with _step(progress, report, "done"):
        _purge(found, source)
        _record(move_id, "done", freeze_seconds=freeze_seconds)
    done_detail = started_detail | {
        "rows": progress.rows,
        "freeze_seconds": round(freeze_seconds, 3),
    }
    _tenant_event(target, found.tenant_id, "tenant.move_completed", done_detail, admin_id)
    _platform_event("tenant.move_completed", done_detail | {"tenant": found.slug}, admin_id)
    return MoveResult(
        move_id,
        found.slug,
        found.describe(),
        new.describe(),
        progress.rows,
        freeze_seconds,
        time.perf_counter() - started,
        checksums,
        "done",
    )


def _maybe_crash(crash_after: str | None, step: str) -> None:
    if crash_after == step:
        os._exit(137)  # as a kill -9 would: no clean-up, no commit of anything pending


def _remember_target(move_id: uuid.UUID, target: Where) -> None:
    """The target's owner URL, encrypted, so a re-run can drop or finish it."""
    from pms_dashboard.db.targets import encrypt_dedicated_url

    with _catalog() as c:
        c.execute(
            "UPDATE tenant_move SET to_url_enc = %s, to_schema = %s, to_database = %s,"
            " to_dedicated = %s WHERE id = %s",
            [
                encrypt_dedicated_url(target.url) if target.dedicated else None,
                target.schema,
                target.database,
                target.dedicated is not None,
                move_id,
            ],
        )


def _freeze(found: Placement, source: Where) -> None:
    """Source read-only until the limit; then drain the transactions begun before."""
    limit = get_settings().move_freeze_limit_seconds
    with _catalog() as c:
        c.execute(
            "UPDATE tenant_placement SET state = 'read_only', updated_at = clock_timestamp()"
            " WHERE tenant_id = %s",
            [found.tenant_id],
        )
    with _connect(source.url, autocommit=True) as c:
        c.execute(
            sql.SQL(
                "UPDATE {}.tenant SET placement_state = 'read_only', placement_frozen_until ="
                " clock_timestamp() + make_interval(secs => %s) WHERE id = %s"
            ).format(sql.Identifier(source.schema)),
            [limit, found.tenant_id],
        )
        c.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [_key(found.tenant_id)])
        c.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [_key(found.tenant_id)])


def _fence(found: Placement, source: Where, target: Where) -> None:
    """Under the tenant's exclusive lock and only within the freeze: the source becomes
    `moved` (no transaction can use it any more); the target's copy becomes the next
    version, active."""
    with _connect(target.url, autocommit=True) as c:
        c.execute(
            sql.SQL(
                "UPDATE {}.tenant SET placement_version = %s, placement_state = 'active',"
                " placement_frozen_until = NULL WHERE id = %s"
            ).format(sql.Identifier(target.schema)),
            [found.version + 1, found.tenant_id],
        )
    with _connect(source.url) as c:
        c.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [_key(found.tenant_id)])
        fenced = c.execute(
            sql.SQL(
                "UPDATE {}.tenant SET placement_state = 'moved' WHERE id = %s"
                " AND placement_state = 'read_only' AND placement_frozen_until > clock_timestamp()"
            ).format(sql.Identifier(source.schema)),
            [found.tenant_id],
        ).rowcount
        if fenced != 1:
            c.rollback()
            raise MoveError(
                "the write freeze expired before the flip; writes resumed at the source"
            )
        c.commit()


def _flip(move_id: uuid.UUID, found: Placement, target: Where) -> Placement:
    host = port = enc = None
    cluster = target.region
    if target.dedicated:
        from pms_dashboard.db.targets import encrypt_dedicated_url

        host, port = clusters.server_of(target.dedicated)
        enc = encrypt_dedicated_url(target.dedicated)
        cluster = f"dedicated-{host}-{port}"[:64]
    with _catalog() as c:
        c.execute(
            "UPDATE tenant_placement SET tier = %s, region = %s, cluster = %s, host = %s,"
            " port = %s, database = %s, schema = %s, owner_url_enc = %s, state = 'active',"
            " version = version + 1, updated_at = clock_timestamp() WHERE tenant_id = %s",
            [
                target.tier.value,
                target.region,
                cluster,
                host,
                port,
                target.database,
                target.schema if target.tier == Tier.schema else None,
                enc,
                found.tenant_id,
            ],
        )
    with _connect(target.url, autocommit=True) as c:
        c.execute(
            sql.SQL("UPDATE {}.tenant SET isolation_tier = %s, region = %s WHERE id = %s").format(
                sql.Identifier(target.schema)
            ),
            [target.tier.value, target.region, found.tenant_id],
        )
    placements.forget(found.tenant_id)
    return placements.fetch(found.tenant_id)


def _purge(found: Placement, source: Where) -> None:
    """The source's rows go once the move flipped."""
    _remove(found.tenant_id, source)


def _remove(tenant_id: uuid.UUID, where: Where) -> None:
    """One end's copy of the tenant goes: a database or a schema dropped, or a pool
    tenant's rows deleted (they cascade from its `tenant` row)."""
    if where.tier == Tier.database:
        dispose_database(where.url)
        provision.drop_database(where.url)
        return
    with _connect(where.url) as c:
        if where.tier == Tier.schema:
            c.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(where.schema))
            )
        else:
            c.execute(
                sql.SQL("DELETE FROM {}.tenant WHERE id = %s").format(sql.Identifier(where.schema)),
                [tenant_id],
            )
        c.commit()


def _roll_back(move_id: uuid.UUID, found: Placement, target: Where | None, error: str) -> None:
    """Undo a move that did not reach the fence: writes back at the source, target gone."""
    with _catalog() as c:
        c.execute(
            "UPDATE tenant_placement SET state = 'active', updated_at = clock_timestamp()"
            " WHERE tenant_id = %s AND version = %s",
            [found.tenant_id, found.version],
        )
        c.execute(
            "UPDATE tenant_move SET state = 'rolled_back', error = %s,"
            " updated_at = clock_timestamp() WHERE id = %s",
            [error[:500], move_id],
        )
    source = _source(found)
    with _connect(source.url, autocommit=True) as c:
        c.execute(
            sql.SQL(
                "UPDATE {}.tenant SET placement_state = 'active', placement_frozen_until = NULL"
                " WHERE id = %s AND placement_state = 'read_only'"
            ).format(sql.Identifier(source.schema)),
            [found.tenant_id],
        )
    if target is not None:
        _remove(found.tenant_id, target)
    placements.forget(found.tenant_id)


# ------------------------------------------------------------------ after a crash


def recover(tenant_id: uuid.UUID) -> str | None:
    """Finish or roll back an unfinished move of the tenant (a mover that died); returns
    what was done ("completed", "rolled back") or None when there was nothing to do."""
    with _catalog() as c:
        row = c.execute(
            "SELECT id, state, from_placement, to_tier, to_region, to_schema, to_database,"
            " to_url_enc, to_dedicated FROM tenant_move WHERE tenant_id = %s"
            " AND state IN ('copying', 'frozen', 'fenced', 'flipped') ORDER BY started_at DESC"
            " LIMIT 1",
            [tenant_id],
        ).fetchone()
    if row is None:
        return None
    move_id, state, before, to_tier, to_region, to_schema, to_database, to_url_enc, _dedicated = row
    found = _placement_from_json(before)
    target = _target_from_record(Tier(to_tier), to_region, to_schema, to_database, to_url_enc)
    if state in ("copying", "frozen"):
        _roll_back(move_id, found, target, f"the mover stopped while {state}; rolled back")
        return "rolled back"
    if state == "fenced" and target is not None:
        _flip(move_id, found, target)
        _record(move_id, "flipped")
    _purge(found, _source(found))
    _record(move_id, "done", recovered=True)
    return "completed"


def _placement_from_json(data: dict[str, Any]) -> Placement:
    current = placements.fetch(uuid.UUID(data["tenant_id"]))
    schema = data.get("schema")
    return Placement(
        tenant_id=current.tenant_id,
        slug=data["slug"],
        tier=Tier(data["tier"]),
        region=data["region"],
        cluster=data.get("cluster", data["region"]),
        host=None if not str(data.get("cluster", "")).startswith("dedicated") else data["host"],
        port=None if not str(data.get("cluster", "")).startswith("dedicated") else data["port"],
        database=data["database"] if Tier(data["tier"]) == Tier.database else None,
        schema=schema if Tier(data["tier"]) == Tier.schema else None,
        state="active",
        version=int(data["version"]),
    )


def _target_from_record(
    tier: Tier, region: str, schema: str | None, database: str | None, url_enc: str | None
) -> Where | None:
    if schema is None and database is None and tier != Tier.pool:
        return None
    from pms_dashboard.db.targets import placement_owner_url

    url = placement_owner_url(region, database, url_enc)
    return Where(tier, region, url, schema or "public", database, None)
