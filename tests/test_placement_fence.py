"""The door's guarantees around placements: a cached placement that is no longer current is
never used (the fence), a schema tenant's search_path never outlives its transaction on a
pooled connection, and tenant databases' engines and server connections stay bounded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from sqlalchemy import Connection, Engine, create_engine, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from pms_dashboard.db import clusters
from pms_dashboard.db import provision as db_provision
from pms_dashboard.db.engine import (
    APP_ROLE,
    as_role,
    dispose_database,
    engine_counts,
    owner_engine,
)
from pms_dashboard.goals.models import Goal
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.placement import Placement, PlacementUnavailable, UnknownTenant
from pms_dashboard.tenancy.provision import create_tenant
from pms_dashboard.tenancy.session import contextless_session, owner_session, tenant_session
from tests.conftest import TenantFixture, new_tenant
from tests.tiers import HOME, OTHER, one_connection_engine, placement_id, placement_of, where

DEFAULT_PATH = '"$user", public'


def _ctx(t: TenantFixture | uuid.UUID) -> TenantContext:
    return TenantContext(tenant_id=t if isinstance(t, uuid.UUID) else t.id)


def _add_goals(t: TenantFixture, n: int, title: str = "goal") -> None:
    with owner_session(t.id) as s:
        for k in range(n):
            s.add(
                Goal(
                    tenant_id=t.id,
                    owner_id=t.user_id("emp1"),
                    title=f"{title} {k}",
                    start_date=date(2026, 1, 1),
                    due_date=date(2026, 6, 30),
                )
            )


def _owner_at(p: Placement) -> Engine:
    """A throwaway owner engine of the placement's database (what is really there)."""
    return create_engine(p.owner_base_url, poolclass=NullPool)


def _stored(p: Placement, tenant_id: uuid.UUID) -> tuple[str | None, int]:
    """(the tenant row's name, its goals) as stored at placement `p`, read as the owner."""
    engine = _owner_at(p)
    try:
        with engine.connect() as conn:
            schema = p.search_path
            name = conn.execute(
                text(f'SELECT name FROM "{schema}".tenant WHERE id = :t'), {"t": tenant_id}
            ).scalar()
            goals = conn.execute(
                text(f'SELECT count(*) FROM "{schema}".goal WHERE tenant_id = :t'),
                {"t": tenant_id},
            ).scalar_one()
            conn.rollback()
    finally:
        engine.dispose()
    return name, goals


def _set_at_source(p: Placement, sql: str) -> None:
    engine = _owner_at(p)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql.replace("{schema}", p.search_path)), {"t": p.tenant_id})
    finally:
        engine.dispose()


def _set_in_catalog(sql: str, **params: object) -> None:
    with owner_engine().begin() as conn:
        conn.execute(text(sql), params)


def _fake_move(t: TenantFixture, old: Placement) -> Placement:
    """Move `t` (its tenant row only) to a schema of the other region's pool database, in
    the order the caching rule relies on: the destination is made, the source's row is
    marked `moved` at a new version, then the catalog is flipped to that version."""
    dest = clusters.region(OTHER if old.region == HOME else HOME)
    pool_url = clusters.region_owner_url(dest)
    schema = clusters.tenant_schema(t.id)
    version = old.version + 1
    engine = create_engine(pool_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            db_provision.create_schema(conn, schema, database_key=pool_url)
            conn.execute(
                text(
                    f'INSERT INTO "{schema}".tenant (id, slug, name, isolation_tier, region,'
                    " placement_version) VALUES (:t, :slug, 'moved here', 'schema', :r, :v)"
                ),
                {"t": t.id, "slug": t.slug, "r": dest.name, "v": version},
            )
    finally:
        engine.dispose()
    _set_at_source(
        old,
        "UPDATE \"{schema}\".tenant SET placement_state = 'moved',"
        f" placement_version = {version} WHERE id = :t",
    )
    _set_in_catalog(
        "UPDATE tenant_placement SET tier = 'schema', region = :r, cluster = :r,"
        " database = NULL, schema = :s, version = :v WHERE tenant_id = :t",
        r=dest.name,
        s=schema,
        v=version,
        t=t.id,
    )
    return placements.fetch(t.id)


def _serve_stale(old: Placement) -> None:
    """Another process's view: its cache still holds the placement from before the move."""
    placements._CACHE.put(old)


SOURCES = (("pool", HOME), ("schema", OTHER), ("database", HOME))


@pytest.mark.parametrize("source", SOURCES, ids=placement_id)
def test_a_stale_cached_placement_is_never_used(source: tuple[str, str]) -> None:
    t = new_tenant(tier=source[0], region=source[1])
    _add_goals(t, 2)
    with tenant_session(_ctx(t)) as s:  # warms this process's cache
        old = s.info["placement"]
        assert s.connection().execute(text("SELECT count(*) FROM goal")).scalar_one() == 2
    assert placements.lookup(t.id) == old

    new = _fake_move(t, old)
    placements.forget()  # fetch() above refreshed this process; a second one has not:
    _serve_stale(old)

    with tenant_session(_ctx(t)) as s:
        routed = s.info["placement"]
        read = s.connection().execute(text("SELECT name FROM tenant")).scalars().all()
        goals = s.connection().execute(text("SELECT count(*) FROM goal")).scalar_one()
        s.connection().execute(text("UPDATE tenant SET name = 'written after the move'"))
    assert (routed.version, routed.region, routed.schema) == (new.version, new.region, new.schema)
    assert (read, goals) == (["moved here"], 0)  # the new place's rows, not the old ones
    assert placements.lookup(t.id) == new  # the stale entry was replaced

    _serve_stale(old)  # once more, for a write only
    with tenant_session(_ctx(t)) as s:
        s.connection().execute(text("UPDATE tenant SET name = 'second late write'"))
    assert _stored(old, t.id) == (t.slug.title(), 2)  # the old place was never touched
    assert _stored(new, t.id) == ("second late write", 0)
    assert where(old) != where(new)

    # A pooled engine of the old database handed to the door cannot reach the old rows:
    # its fence read fails there (state `moved`), and the new placement is not there.
    _serve_stale(old)
    old_engine = create_engine(as_role(old.owner_base_url, APP_ROLE), poolclass=NullPool)
    ran = False
    refused = (PlacementUnavailable, exc.DBAPIError, psycopg.Error)
    try:
        with pytest.raises(refused), tenant_session(_ctx(t), engine=old_engine) as s:
            ran = True
            s.connection().execute(text("UPDATE tenant SET name = 'through the old engine'"))
    finally:
        old_engine.dispose()
    assert ran is False
    assert _stored(old, t.id) == (t.slug.title(), 2)


@pytest.mark.parametrize("tier", ["schema", "database"])
def test_a_cached_placement_whose_place_is_gone_is_read_again(tier: str) -> None:
    """After a move the source is cleaned up (its schema or database dropped): a process
    whose cache still names it reads the catalog again and serves the new place, instead of
    failing on the missing place for as long as it runs."""
    t = new_tenant(tier=tier, region=HOME)
    with tenant_session(_ctx(t)) as s:
        old = s.info["placement"]
    new = _fake_move(t, old)
    engine = _owner_at(old)
    try:
        if tier == "schema":
            with engine.begin() as conn:
                db_provision.drop_schema(conn, old.search_path)
        else:  # this process's pools of it first (the owner may not end pms_app's sessions)
            dispose_database(old.owner_base_url)
            db_provision.drop_database(old.owner_base_url)
    finally:
        engine.dispose()
    _serve_stale(old)
    with tenant_session(_ctx(t)) as s:
        routed = s.info["placement"]
        name = s.connection().execute(text("SELECT name FROM tenant")).scalar_one()
    assert (routed, name) == (new, "moved here")


def test_a_move_in_flight_is_refused_not_served() -> None:
    """Source already marked at a new version, catalog not yet flipped: neither the cached
    nor the freshly read placement is current, so the door refuses; nothing runs."""
    t = new_tenant(tier="database", region=OTHER)
    old = placement_of(t.id)
    _set_at_source(
        old, "UPDATE \"{schema}\".tenant SET placement_state = 'moved',"
        f" placement_version = {old.version + 1} WHERE id = :t",
    )  # fmt: skip
    ran = False
    with pytest.raises(PlacementUnavailable), tenant_session(_ctx(t)) as s:
        ran = True
        s.connection().execute(text("UPDATE tenant SET name = 'during the move'"))
    assert ran is False
    assert _stored(old, t.id)[0] == t.slug.title()
    # the move "ends" (rolled back), so no later test meets an organisation stuck mid-move
    _set_at_source(
        old, "UPDATE \"{schema}\".tenant SET placement_state = 'active',"
        f" placement_version = {old.version} WHERE id = :t",
    )  # fmt: skip


@pytest.mark.parametrize("tier", ["pool", "schema", "database"])
def test_a_deleted_tenant_is_not_served_from_the_cache(tier: str) -> None:
    created = create_tenant(slug=f"gone-{uuid.uuid4().hex[:10]}", name="Gone", tier=tier)
    old = created.placement
    with tenant_session(_ctx(old.tenant_id)) as s:  # cached now
        assert s.connection().execute(text("SELECT count(*) FROM tenant")).scalar_one() == 1
    _set_at_source(old, 'DELETE FROM "{schema}".tenant WHERE id = :t')
    ran = False
    with pytest.raises(PlacementUnavailable), tenant_session(_ctx(old.tenant_id)) as s:
        ran = True  # the catalog still names it, but the target no longer holds it
    _set_in_catalog("DELETE FROM tenant_placement WHERE tenant_id = :t", t=old.tenant_id)
    _serve_stale(old)
    with pytest.raises(UnknownTenant), tenant_session(_ctx(old.tenant_id)) as s:
        ran = True
    assert ran is False


# --------------------------------------------------------------- search_path on a pool


@pytest.fixture
def neighbours() -> Iterator[tuple[TenantFixture, TenantFixture, Engine]]:
    """A schema tenant and a pool tenant of one region (one database), and a pms_app engine
    of that database with a single connection."""
    schema_t = new_tenant(tier="schema", region=HOME)
    pool_t = new_tenant(tier="pool", region=HOME)
    _add_goals(schema_t, 2)
    _add_goals(pool_t, 3)
    engine = one_connection_engine(placement_of(pool_t.id))
    yield schema_t, pool_t, engine
    engine.dispose()


def _look(conn: Connection) -> tuple[int, str, set[uuid.UUID]]:
    """The server session, its search_path and whose goals an unqualified read sees."""
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    path = conn.execute(text("SHOW search_path")).scalar_one()
    owners = set(conn.execute(text("SELECT tenant_id FROM goal")).scalars())
    return pid, path, owners


def test_search_path_never_outlives_a_schema_tenants_transaction(
    neighbours: tuple[TenantFixture, TenantFixture, Engine],
) -> None:
    schema_t, pool_t, engine = neighbours
    schema = placement_of(schema_t.id).search_path
    seen = []
    for t in (schema_t, pool_t, schema_t, pool_t):
        with tenant_session(_ctx(t), engine=engine) as s:
            pid, path, owners = _look(s.connection())
            count = s.connection().execute(text("SELECT count(*) FROM goal")).scalar_one()
        with contextless_session(engine=engine) as s:
            after = s.connection().execute(text("SHOW search_path")).scalar_one()
        seen.append((pid, path, owners, count, after))
    assert len({row[0] for row in seen}) == 1  # one server session throughout
    assert [row[1:] for row in seen] == [
        (schema, {schema_t.id}, 2, DEFAULT_PATH),
        ("public", {pool_t.id}, 3, DEFAULT_PATH),
    ] * 2


def test_a_failed_schema_transaction_leaves_no_search_path(
    neighbours: tuple[TenantFixture, TenantFixture, Engine],
) -> None:
    schema_t, pool_t, engine = neighbours
    with pytest.raises(ZeroDivisionError), tenant_session(_ctx(schema_t), engine=engine) as s:
        s.connection().execute(text("SELECT count(*) FROM goal")).scalar_one()
        raise ZeroDivisionError
    with tenant_session(_ctx(pool_t), engine=engine) as s:
        _, path, owners = _look(s.connection())
    with contextless_session(engine=engine) as s:
        after = s.connection().execute(text("SHOW search_path")).scalar_one()
    assert (path, owners, after) == ("public", {pool_t.id}, DEFAULT_PATH)


# ------------------------------------------------------------------- bounded engines


def _backends(databases: set[str]) -> dict[str, int]:
    """Server connections per role into `databases`, on every region's cluster (read from
    pg_stat_activity as the owner), once closed connections have left it."""
    found: dict[str, int] = {}
    for r in clusters.regions():
        url = make_url(clusters.region_owner_url(r))
        info = psycopg.conninfo.make_conninfo(
            host=url.host or "localhost", port=str(url.port), user=url.username or "",
            password=url.password or "", dbname=url.database or "",
        )  # fmt: skip
        with psycopg.connect(info, autocommit=True) as conn:
            for role, n in conn.execute(
                "SELECT usename, count(*) FROM pg_stat_activity"
                " WHERE datname = ANY(%s) GROUP BY usename",
                [sorted(databases)],
            ):
                found[role] = found.get(role, 0) + n
    return found


def _settled_backends(databases: set[str], limit: int) -> dict[str, int]:
    """Backends of closed connections take a moment to leave: wait up to 3 s for `limit`."""
    deadline = time.monotonic() + 3
    while True:
        found = _backends(databases)
        if found.get(APP_ROLE, 0) <= limit or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_tenant_database_engines_and_connections_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "max_engines", 3)
    tenants = [new_tenant(tier="database", region=(HOME, OTHER)[i % 2]) for i in range(10)]
    databases = {where(placement_of(t.id))[1] for t in tenants}
    assert len(databases) == 10
    most_engines, most_backends = 0, 0
    for _round in range(2):
        for t in tenants:
            with tenant_session(_ctx(t)) as s:
                assert s.connection().execute(text("SELECT count(*) FROM tenant")).scalar_one() == 1
            most_engines = max(most_engines, engine_counts()[1])
            most_backends = max(most_backends, _settled_backends(databases, 3).get(APP_ROLE, 0))
    assert most_engines == 3
    assert 1 <= most_backends <= 3
