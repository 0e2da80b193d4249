"""The console across placements: a pool, a schema and a database tenant in two regions
(and a pool tenant of the second region), mixed in one run. The overview counts each
tenant where it lives (one unit of work per database, not per tenant) with its tier and
region; grants are rows at the tenant's placement; the audit search and the flagged queue
merge every placement's events in page order; a new organisation made from the console
is a platform event; the tenant admin's settings say where the data lives."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from pms_dashboard.audit import chain
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.console import flagged, grants, organisations, placements, search
from pms_dashboard.console import routes as console_routes
from pms_dashboard.console.routes import admin_session
from pms_dashboard.console.search import AuditQuery
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import GoalInput
from pms_dashboard.organisation.service import get_tenant_settings
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.placement import listed
from pms_dashboard.tenancy.registry import TenantError
from pms_dashboard.tenancy.session import auditor_session, owner_session, tenant_session
from tests.conftest import TenantFixture, as_admin, create_console_admin, ctx, new_tenant
from tests.trails import tenant_since

PASSWORD = "a long console passphrase"
# slug key -> (tier, region): every tier, both regions
LAYOUT = {
    "pool": ("pool", "eu-central"),
    "schema": ("schema", "eu-central"),
    "database": ("database", "us-east"),
    "east-pool": ("pool", "us-east"),
}


@pytest.fixture(scope="module")
def tenants() -> dict[str, TenantFixture]:
    return {key: new_tenant(tier=tier, region=region) for key, (tier, region) in LAYOUT.items()}


def _admin() -> ConsoleAdmin:
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password=PASSWORD
    )
    code = pyotp.TOTP(new.totp_secret).at(time.time())
    return console_routes.sign_in_with_code(email=new.email, password=PASSWORD, code=code).admin


def _goal(t: TenantFixture, title: str) -> None:
    actor = ctx(t, "emp1")
    with tenant_session(actor) as s:
        goals.create_goal(
            session=s, actor=actor,
            data=GoalInput(title=title, start_date=date.today(),
                           due_date=date.today() + timedelta(days=30)),
        )  # fmt: skip


def _refused(t: TenantFixture) -> None:
    """A flagged refusal of an ordinary user (it waits in the review queue)."""
    emp = ctx(t, "emp2")
    with pytest.raises(PermissionDenied), tenant_session(emp) as s:
        goals.goal_detail(session=s, actor=emp, goal_id=uuid.uuid4())


def _console_events(t: TenantFixture, action: str) -> list[Any]:
    return [e for e in tenant_since(t.id) if e.action == action]


# ---------------------------------------------------------------------------- overview


def test_the_overview_counts_every_tenant_where_it_lives_one_unit_of_work_per_database(
    tenants,
) -> None:
    for i, t in enumerate(tenants.values()):
        for n in range(i + 1):
            _goal(t, f"Goal {n}")
    admin = _admin()
    opened: list[uuid.UUID] = []
    with admin_session(admin) as s:
        run = s.info[placements.AT_KEY]

        def counting(tenant_id: uuid.UUID, work: Callable[[Any], Any]) -> Any:
            opened.append(tenant_id)
            return run(tenant_id, work)

        s.info[placements.AT_KEY] = counting
        rows = {r.slug: r for r in organisations.overview(session=s, admin=admin)}
        every = listed(s.connection())
    for i, (key, t) in enumerate(tenants.items()):
        r = rows[t.slug]
        assert (r.isolation_tier, r.region) == LAYOUT[key], key
        assert (r.users, r.goals) == (4, i + 1), key
        assert r.last_activity is not None and r.name == t.slug.title()
    databases = placements.by_database(every)
    assert len(opened) == len(databases) < len(every)
    # the two regions' pools and the tenant database are three of them
    assert len({d.key for d in databases if any(p.tenant_id in opened for p in d.placements)}) >= 3


# ------------------------------------------------------------------------------ grants


@pytest.mark.parametrize("key", list(LAYOUT))
def test_a_grant_is_the_tenants_row_at_its_placement_and_reads_there(tenants, key) -> None:
    t = tenants[key]
    _goal(t, f"Plan of {key}")
    admin = _admin()
    assert as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug) == []  # no grant yet
    grant_id = as_admin(
        grants.open_grant, admin=admin, tenant_slug=t.slug, justification="customer_support",
        ticket=f"SUP-{key}", hours=1,
    )  # fmt: skip
    assert f"Plan of {key}" in [
        r.title for r in as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug)
    ]
    [mine] = as_admin(grants.my_grants, admin=admin)
    assert (mine.id, mine.tenant_slug, mine.active) == (str(grant_id), t.slug, True)
    # the grant row is at the placement (where the tenant reads it), not in the home database
    with tenant_session(TenantContext(tenant_id=t.id)) as s:
        assert s.execute(text("SELECT ticket FROM access_grant")).scalars().all() == [f"SUP-{key}"]
    if key != "pool":
        with owner_session() as s:
            assert not s.execute(
                text("SELECT 1 FROM public.access_grant WHERE tenant_id = :t"), {"t": t.id}
            ).first()
    # ended without naming the organisation: found among every placement
    as_admin(grants.revoke_grant, admin=admin, grant_id=grant_id)
    assert as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug) == []
    with pytest.raises(ConsoleError, match="No such open grant"):
        as_admin(grants.revoke_grant, admin=admin, grant_id=grant_id)
    grant_actions = {"console.read", "console.grant_opened", "console.grant_revoked"}
    assert [e.action for e in tenant_since(t.id) if e.action in grant_actions] == [
        "console.read", "console.grant_opened", "console.read", "console.grant_revoked",
        "console.read",
    ]  # fmt: skip
    # and the tenant's transparency page, at its placement, lists them
    with tenant_session(ctx(t, "admin")) as s:
        log = grants.provider_access_log(session=s, actor=ctx(t, "admin"))
    assert {a.action for a in log} >= {"Opened access", "Read data", "Ended access"}


# ---------------------------------------------------------------- audit search, queue


def _append(t: TenantFixture, action: str, n: int) -> None:
    """`n` events of `action` in `t`'s chain, in one transaction (one time, seq order)."""
    with owner_session(t.id) as s:
        for _ in range(n):
            s.execute(
                chain.APPEND,
                {"actor": None, "action": action, "entity_type": "test", "entity_id": None,
                 "detail": "{}", "flagged": False, "ip": ""},
            )  # fmt: skip


def _pages(admin: ConsoleAdmin, size: int, **filters: Any) -> Iterator[search.Page]:
    page = 1
    while True:
        found = as_admin(
            search.search, admin=admin, query=AuditQuery(page=page, page_size=size, **filters)
        )
        yield found
        if page >= found.pages:
            return
        page += 1


def _merge_events(tenants: dict[str, TenantFixture]) -> tuple[str, list[Any]]:
    """Events of a new action in every placement, interleaved in time with ties within a
    transaction; and all of them as (time, tenant id, seq, slug), newest first."""
    action = f"tiertest.merge_{uuid.uuid4().hex[:8]}"
    order = ["database", "pool", "schema", "east-pool", "schema", "database", "pool"]
    for round_, key in enumerate(order):
        _append(tenants[key], action, 1 + round_ % 2)
    expected = []
    for t in tenants.values():
        with owner_session(t.id) as s:
            expected += [
                (r.occurred_at, t.id, r.seq, t.slug)
                for r in s.execute(
                    text("SELECT occurred_at, seq FROM audit_event WHERE action = :a"),
                    {"a": action},
                )
            ]
    return action, sorted(expected, reverse=True)


def test_the_search_merges_every_placement_in_order_and_pages_it(tenants) -> None:
    action, expected = _merge_events(tenants)
    admin = _admin()
    pages = list(_pages(admin, 3, action=action))
    assert {p.total for p in pages} == {len(expected)} and len(pages) == -(-len(expected) // 3)
    shown = [(r.occurred_at, r.tenant, r.seq) for p in pages for r in p.rows]
    assert shown == [(at, slug, seq) for at, _, seq, slug in expected]
    # one organisation: only its events, from its schema
    only = as_admin(search.search, admin=admin, query=AuditQuery(tenant=tenants["schema"].slug,
                                                                 action=action))  # fmt: skip
    assert {r.tenant for r in only.rows} == {tenants["schema"].slug}
    assert only.total == sum(1 for e in expected if e[3] == tenants["schema"].slug)
    # every tenant shown was told, in its own chain at its placement
    for t in tenants.values():
        told = _console_events(t, "console.audit_read")
        assert told and told[-1].flagged


def test_the_export_merges_every_placement_in_chunks_and_tells_each_tenant(
    tenants, monkeypatch
) -> None:
    from pms_dashboard.exports import console as console_export
    from pms_dashboard.exports.routes import console_audit_stream

    monkeypatch.setattr(console_export, "CHUNK_ROWS", 2)  # several chunks per database
    action, expected = _merge_events(tenants)
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password=PASSWORD
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    body = b"".join(console_audit_stream(signed.token, {"action": action})).decode()
    lines = body.splitlines()
    assert lines[0] == ",".join(search.SEARCH_COLUMNS)
    cells = [line.split(",") for line in lines[1:]]
    assert [(c[1], int(c[2])) for c in cells] == [(slug, seq) for _, _, seq, slug in expected]
    for t in tenants.values():
        [told] = [e for e in _console_events(t, "console.audit_read")
                  if e.detail.get("what") == "audit export"][-1:]  # fmt: skip
        assert told.detail["rows"] == sum(1 for e in expected if e[1] == t.id)


def _queue_tail(admin: ConsoleAdmin, **kw: Any) -> list[Any]:
    first = as_admin(flagged.flagged_queue, admin=admin, page_size=100, **kw)
    last = as_admin(flagged.flagged_queue, admin=admin, page=first.pages, page_size=100, **kw)
    return list(last.rows)


def test_the_flagged_queue_merges_placements_oldest_first_and_reviews_anywhere(tenants) -> None:
    order = ["schema", "database", "east-pool", "pool"]
    for key in order:
        _refused(tenants[key])
    admin = _admin()
    tail = _queue_tail(admin)[-4:]
    assert [r.tenant for r in tail] == [tenants[k].slug for k in order]
    assert [r.occurred_at for r in tail] == sorted(r.occurred_at for r in tail)
    # reviewed without naming the organisation: the event is found at its placement
    database = tenants["database"]
    event = tail[1]
    as_admin(flagged.review_flag, admin=admin, event_id=event.event_id, note="A stale link.")
    assert event.event_id not in [r.event_id for r in _queue_tail(admin)]
    with pytest.raises(ConsoleError, match="already been reviewed"):
        as_admin(flagged.review_flag, admin=admin, event_id=event.event_id, note="Again.",
                 tenant=database.slug)  # fmt: skip
    # the note in the home database, naming an event it cannot point at by foreign key
    with owner_session() as s:
        assert s.execute(
            text("SELECT tenant_id, note FROM flag_review WHERE event_id = :e"),
            {"e": event.event_id},
        ).one() == (database.id, "A stale link.")
        assert not s.execute(
            text("SELECT conname FROM pg_constraint WHERE conrelid = 'flag_review'::regclass"
                 " AND contype = 'f' AND confrelid = 'audit_event'::regclass")
        ).first()  # fmt: skip
    [reviewed] = _console_events(database, "console.flag_reviewed")
    assert reviewed.flagged and reviewed.detail["seq"] == event.seq
    one = as_admin(flagged.flagged_queue, admin=admin, tenant=tenants["schema"].slug)
    assert {r.tenant for r in one.rows} == {tenants["schema"].slug}
    with owner_session(database.id) as s:
        assert chain.verify(s.connection(), tenant_id=database.id).ok


# ------------------------------------------------------------------- new organisation


def test_a_new_organisation_from_the_console_is_a_platform_event(tenants) -> None:
    admin = _admin()
    slug = f"new-{uuid.uuid4().hex[:8]}"
    made = as_admin(
        organisations.create_organisation, admin=admin, slug=slug, name="Initech",
        tier="schema", region="us-east", justification="ORD-42",
    )  # fmt: skip
    rows = {r.slug: r for r in as_admin(organisations.overview, admin=admin)}
    assert (rows[slug].isolation_tier, rows[slug].region, rows[slug].name) == (
        "schema", "us-east", "Initech",
    )  # fmt: skip
    assert rows[slug].tenant_id == str(made)
    with auditor_session() as s:
        [(who, detail)] = s.execute(
            text("SELECT admin_id, detail FROM platform_event WHERE action = 'tenant.created'"
                 " AND detail->>'tenant' = :s"), {"s": slug},
        ).all()  # fmt: skip
        assert chain.verify_platform(s.connection()).ok
    assert who == admin.admin_id
    assert (detail["tier"], detail["region"], detail["justification"]) == (
        "schema", "us-east", "ORD-42",
    )  # fmt: skip
    # refusals change nothing
    bad = {"slug": f"bad-{uuid.uuid4().hex[:8]}", "name": "X", "tier": "pool",
           "region": "eu-central", "justification": "ORD-1"}  # fmt: skip
    for change, error, words in (
        ({"region": "mars"}, ConsoleError, "region"),
        ({"justification": " "}, ConsoleError, "reason"),
        ({"tier": "cluster"}, TenantError, "tier"),
        ({"slug": slug}, TenantError, "already exists"),
        ({"slug": "No Slug"}, TenantError, "slug"),
    ):
        with pytest.raises(error, match=words):
            as_admin(organisations.create_organisation, admin=admin, **(bad | change))
    with auditor_session() as s:
        assert not s.execute(
            text("SELECT 1 FROM tenant_placement WHERE slug = :s"), {"s": bad["slug"]}
        ).first()


def test_the_console_page_creates_and_lists_tier_and_region(tenants) -> None:
    from pms_dashboard.ui.states.console import ConsoleState
    from tests.ui_harness import call, state_for

    new = create_console_admin(
        email=f"ui-{uuid.uuid4().hex[:8]}@platform.example", display_name="UI", password=PASSWORD
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    st = state_for(ConsoleState, signed.token, cookie_name="pms_console")
    call(st, ConsoleState.load)
    assert st.regions == ["eu-central", "us-east"]
    listed_rows = {r["slug"]: (r["isolation_tier"], r["region"]) for r in st.tenants}
    assert all(listed_rows[t.slug] == LAYOUT[k] for k, t in tenants.items())
    slug = f"ui-{uuid.uuid4().hex[:8]}"
    call(st, ConsoleState.create_organisation, {"slug": slug, "name": "Umbrella",
         "tier": "database", "region": "us-east", "justification": "ORD-9"})  # fmt: skip
    assert st.error == "" and st.notice == (
        f"Organisation {slug} created (us-east, dedicated database)."
    )
    assert {r["slug"]: r["region"] for r in st.tenants}[slug] == "us-east"
    call(st, ConsoleState.create_organisation, {"slug": slug, "name": "Again",
         "tier": "pool", "region": "eu-central", "justification": "ORD-9"})  # fmt: skip
    assert "already exists" in st.error


# -------------------------------------------------------------------------- residency


def test_the_tenant_admin_sees_where_the_data_lives(tenants) -> None:
    words = {
        "pool": "eu-central, shared pool",
        "schema": "eu-central, dedicated schema",
        "database": "us-east, dedicated database",
        "east-pool": "us-east, shared pool",
    }
    for key, t in tenants.items():
        with tenant_session(ctx(t, "admin")) as s:
            assert get_tenant_settings(session=s, actor=ctx(t, "admin")).residency == words[key]


# ------------------------------------------------------------------------ migration 0016


def test_0016_every_database_reviews_without_a_foreign_key_and_counts_one_schema(
    tenants,
) -> None:
    import psycopg
    from sqlalchemy import create_engine, exc, pool

    from pms_dashboard.db.targets import all_targets

    databases = [t for t in all_targets() if t.owns_database]
    assert {t.kind for t in databases} >= {"catalog", "pool", "template", "database"}
    for target in databases:
        engine = create_engine(target.url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            keys = conn.execute(
                text("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                     " AND conrelid = 'flag_review'::regclass"
                     " AND confrelid = 'audit_event'::regclass")
            ).scalar_one()  # fmt: skip
            assert keys == 0, target.label
            assert conn.execute(text("SELECT to_regprocedure(:f)"), {"f": COUNTS}).scalar()
        engine.dispose()
    # counts only of a data schema, for the console's role only
    with pytest.raises(exc.DBAPIError) as err, auditor_session() as s:
        s.execute(text("SELECT * FROM app.tenant_counts('pg_catalog', '{}', '{}')"))
    assert isinstance(err.value.orig, psycopg.errors.InvalidParameterValue)
    with pytest.raises(exc.DBAPIError) as err, tenant_session(ctx(tenants["pool"], "admin")) as s:
        s.execute(text("SELECT * FROM app.tenant_counts('public', '{}', '{}')"))
    assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege)


COUNTS = "app.tenant_counts(text, uuid[], integer[])"
