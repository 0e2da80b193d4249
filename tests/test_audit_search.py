"""The console's audit trail: the platform's own hash-chained trail (sign-ins, failed ones,
sign-outs, searches, reviews), the cross-tenant audit search over metadata only, and the
queue of flagged events a super-admin reviews. Everything runs as pms_auditor or pms_app;
the owner only sets up (tampering, bulk data) and runs `audit verify`, as in production."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pyotp
import pytest
from pydantic import ValidationError
from sqlalchemy import Connection, exc, text

from pms_dashboard import cli
from pms_dashboard.audit import service as audit
from pms_dashboard.audit.chain import record_platform_event, verify_platform
from pms_dashboard.audit.sessions import session_ref
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.console import flagged, grants, search
from pms_dashboard.console import routes as console_routes
from pms_dashboard.console import service as console
from pms_dashboard.console.search import SEARCH_COLUMNS, AuditQuery
from pms_dashboard.db import engine as db_engine
from pms_dashboard.exports import stream
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import GoalInput
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import auditor_session, owner_session, tenant_session
from pms_dashboard.ui.states.base import MALFORMED
from tests.conftest import TEST_PASSWORD, TenantFixture, as_admin, create_console_admin

PASSWORD = "a long console passphrase"


# ---------------------------------------------------------------------------- helpers


def _new_admin() -> console.NewAdmin:
    return create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password=PASSWORD
    )


def _code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time())


def _sign_in(new: console.NewAdmin) -> console.ConsoleSignedIn:
    return console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=_code(new.totp_secret)
    )


def _head() -> int:
    """The last seq of the platform trail, read as the console's role."""
    with auditor_session() as s:
        return int(s.execute(text("SELECT coalesce(max(seq), 0) FROM platform_event")).scalar_one())


def _platform_since(seq: int) -> list[Any]:
    with auditor_session() as s:
        return list(
            s.execute(
                text("SELECT seq, admin_id, action, detail, ip FROM platform_event"
                     " WHERE seq > :n ORDER BY seq"), {"n": seq},
            ).all()
        )  # fmt: skip


def _platform_ok() -> bool:
    with db_engine.auditor_engine().connect() as conn:
        return verify_platform(conn).ok


def _db_now() -> datetime:
    with auditor_session() as s:
        now = s.execute(text("SELECT clock_timestamp()")).scalar_one()
    time.sleep(0.002)
    return now


def _tenant_events(t: TenantFixture, action: str) -> list[Any]:
    """Events of one action in the tenant's chain, as the tenant's own (pms_app) session."""
    with tenant_session(TenantContext(tenant_id=t.id)) as s:
        return list(
            s.execute(
                text("SELECT id, action, flagged, detail FROM audit_event WHERE action = :a"
                     " ORDER BY seq"), {"a": action},
            ).all()
        )  # fmt: skip


def _record(t: TenantFixture, who: str, action: str, flagged: bool = False) -> None:
    ctx = TenantContext(tenant_id=t.id, user_id=t.user_id(who), role="employee")
    with tenant_session(ctx) as s:
        audit.record(session=s, action=action, actor_id=ctx.user_id, entity_type="goal",
                     detail={"title": "Secret plan"}, flagged=flagged, ip="10.0.0.7")  # fmt: skip
    time.sleep(0.002)


def _pg(err: BaseException) -> BaseException:
    assert isinstance(err, exc.DBAPIError)
    return err.orig  # type: ignore[return-value]


@dataclass
class World:
    """Two fresh tenants with known events, a signed-in super-admin, and three moments:
    before the events, between a's second and third, after all of them."""

    a: TenantFixture
    b: TenantFixture
    admin: console.ConsoleAdmin
    token: str
    start: datetime
    mid: datetime
    end: datetime

    def find(self, **filters: Any) -> search.Page:
        return as_admin(search.search, admin=self.admin, query=AuditQuery(**filters))


@pytest.fixture
def world(make_tenant: Callable[..., TenantFixture]) -> World:
    a, b = make_tenant(), make_tenant()
    signed = _sign_in(_new_admin())
    start = _db_now()
    _record(a, "emp1", "goal.create")
    _record(a, "emp2", "access.denied", flagged=True)
    mid = _db_now()
    _record(a, "emp2", "access.cross_tenant", flagged=True)
    _record(b, "emp1", "goal.create")
    _record(b, "emp1", "access.denied", flagged=True)
    end = _db_now()
    return World(a, b, signed.admin, signed.token, start, mid, end)


def _actions(page: search.Page) -> list[str]:
    return [r.action for r in page.rows]


# ------------------------------------------------------------------------ the search


def test_a_tenant_filter_shows_that_tenant_only_newest_first(world: World) -> None:
    page = world.find(tenant=world.a.slug)
    assert _actions(page) == ["access.cross_tenant", "access.denied", "goal.create"]
    assert [r.seq for r in page.rows] == [3, 2, 1]
    assert {r.tenant for r in page.rows} == {world.a.slug}
    assert page.total == 3
    first = page.rows[0]
    assert (first.actor_id, first.entity_type, first.flagged, first.ip) == (
        str(world.a.user_id("emp2")), "goal", True, "10.0.0.7",
    )  # fmt: skip
    assert set(first.__slots__) == set(SEARCH_COLUMNS)  # metadata only: no detail, no hashes
    with pytest.raises(console.ConsoleError, match="No organisation"):
        world.find(tenant="no-such-org")


def test_an_actor_filter_narrows_across_tenants(world: World) -> None:
    page = world.find(actor_id=world.a.user_id("emp2"))
    assert _actions(page) == ["access.cross_tenant", "access.denied"]
    page = world.find(actor_id=str(world.b.user_id("emp1")))
    assert [(r.tenant, r.action) for r in page.rows] == [
        (world.b.slug, "access.denied"), (world.b.slug, "goal.create"),
    ]  # fmt: skip
    assert world.find(actor_id=uuid.uuid4()).rows == []


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("access.", ["access.cross_tenant", "access.denied"]),
        ("access.*", ["access.cross_tenant", "access.denied"]),
        ("acc*", ["access.cross_tenant", "access.denied"]),
        ("access.denied", ["access.denied"]),
        ("access", []),  # no dot, no star: an exact name, and there is none such
        ("goal.", ["goal.create"]),
    ],
)
def test_an_action_filter_is_exact_or_a_prefix(world: World, action, expected) -> None:
    assert _actions(world.find(tenant=world.a.slug, action=action)) == expected


def test_an_action_prefix_is_not_a_pattern(world: World) -> None:
    # "_" and "%" are LIKE wildcards: a prefix must match them literally
    assert world.find(tenant=world.a.slug, action="goal_").rows == []
    assert world.find(tenant=world.a.slug, action="acce_s.*").rows == []


def test_the_flagged_filter_narrows(world: World) -> None:
    assert _actions(world.find(tenant=world.b.slug, flagged="only")) == ["access.denied"]
    # the searches themselves left flagged console.audit_read events in b's chain: still
    # none of them is unflagged
    assert _actions(world.find(tenant=world.b.slug, flagged="unflagged")) == ["goal.create"]
    everything = world.find(tenant=world.b.slug)
    assert sorted(set(_actions(everything))) == [
        "access.denied", "console.audit_read", "goal.create",
    ]  # fmt: skip


def test_the_time_range_narrows(world: World) -> None:
    a = world.a.slug
    assert _actions(world.find(tenant=a, since=world.mid, until=world.end)) == [
        "access.cross_tenant"
    ]
    assert _actions(world.find(tenant=a, until=world.mid)) == ["access.denied", "goal.create"]
    assert _actions(world.find(tenant=a, since=world.start, until=world.mid)) == [
        "access.denied", "goal.create",
    ]  # fmt: skip
    today = world.end.astimezone(UTC).date()
    # a date alone is the whole of that day, on either side
    assert world.find(tenant=a, since=today, until=today, action="access.").total == 2
    assert world.find(tenant=a, until=today - timedelta(days=1)).rows == []
    assert world.find(tenant=a, since=str(today + timedelta(days=1))).rows == []


def test_pages_of_a_search(world: World) -> None:
    until = world.end.isoformat()
    first = world.find(tenant=world.a.slug, until=until, page_size=2)
    second = world.find(tenant=world.a.slug, until=until, page_size=2, page=2)
    beyond = world.find(tenant=world.a.slug, until=until, page_size=2, page=3)
    assert (first.total, first.pages, first.page) == (3, 2, 1)
    assert _actions(first) == ["access.cross_tenant", "access.denied"]
    assert (_actions(second), second.page) == (["goal.create"], 2)
    assert (beyond.rows, beyond.total) == ([], 3)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"page": "0"}, "Page: give a whole number from 1"),
        ({"page": "two"}, "Page: give a whole number"),
        ({"page": [1]}, "Page: give a whole number"),
        ({"page_size": "101"}, "Page size: give a whole number from 1 to 100"),
        ({"since": "yesterday"}, "Since: give a date"),
        ({"until": "2026-13-40"}, "Until: give a date"),
        ({"since": "2026-01-02", "until": "2026-01-01"}, "Until may not be before since"),
        ({"since": "2024-01-01", "until": "2025-01-02"}, "at most 366 days"),
        ({"actor_id": "bob"}, "Actor id: give a user id"),
        ({"action": "access.%"}, "Action: give an action"),
        ({"action": "x" * 65}, "Action: give an action"),
        ({"flagged": "maybe"}, "Flagged: choose all, only or unflagged"),
        ({"tenant": "Not A Slug!"}, "Organisation: give an organisation slug"),
        ({"detail": "x"}, "Unknown filter 'detail'"),
    ],
)
def test_bad_filters_get_a_clear_message(form, message) -> None:
    with pytest.raises(console.ConsoleError) as err:
        AuditQuery.from_form(form)
    assert message in str(err.value)
    with pytest.raises(ValidationError):
        AuditQuery.model_validate(form)


def test_good_filters_from_a_form() -> None:
    q = AuditQuery.from_form(
        {"tenant": " Acme ", "actor_id": "", "action": "Access.", "flagged": "",
         "since": "2025-01-01", "until": "2025-12-31", "page": "2"}
    )  # fmt: skip
    assert (q.tenant, q.actor_id, q.action, q.action_prefix, q.flagged, q.page) == (
        "acme", None, "access.", "access.", "all", 2,
    )  # fmt: skip
    assert q.since == datetime(2025, 1, 1, tzinfo=UTC)
    assert q.until == datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert q.filters() == {"tenant": "acme", "action": "access.",
                           "since": "2025-01-01T00:00:00Z",
                           "until": "2025-12-31T23:59:59.999999Z"}  # fmt: skip
    assert AuditQuery(since="2025-03-01T10:00").since == datetime(2025, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValidationError):
        q.page = 3  # type: ignore[misc]  # frozen
    with pytest.raises(console.ConsoleError):
        AuditQuery.from_form("tenant=acme")  # type: ignore[arg-type]


def test_search_refuses_no_admin_and_no_query(world: World) -> None:
    with pytest.raises(console.ConsoleError, match="Sign in"):
        as_admin(search.search, admin=None, query=AuditQuery())  # type: ignore[arg-type]
    with pytest.raises(console.ConsoleError, match="filters"):
        as_admin(search.search, admin=world.admin, query={"tenant": world.a.slug})  # type: ignore[arg-type]


def test_every_search_is_in_the_platform_trail_and_in_each_tenant_shown(
    world: World, make_tenant: Callable[..., TenantFixture]
) -> None:
    bystander = make_tenant()
    _record(bystander, "emp1", "goal.create")
    head = _head()
    page = world.find(action="access.", since=world.start, until=world.end)
    assert [(r.tenant, r.action) for r in page.rows] == [
        (world.b.slug, "access.denied"),
        (world.a.slug, "access.cross_tenant"),
        (world.a.slug, "access.denied"),
    ]
    [event] = _platform_since(head)
    assert (event.admin_id, event.action) == (world.admin.admin_id, "console.audit_search")
    assert event.detail["rows"] == 3 and event.detail["total"] == 3
    assert event.detail["filters"]["action"] == "access."
    # each tenant shown learns of it, with how many of its rows were shown
    [(_, _, flagged_a, detail_a)] = _tenant_events(world.a, "console.audit_read")
    [(_, _, flagged_b, detail_b)] = _tenant_events(world.b, "console.audit_read")
    assert (flagged_a, detail_a["rows"], detail_a["admin"]) == (True, 2, world.admin.email)
    assert (flagged_b, detail_b["rows"]) == (True, 1)
    assert detail_a["filters"]["action"] == "access."
    assert _tenant_events(bystander, "console.audit_read") == []
    # and the tenant admin's Provider access page lists it in words
    admin_ctx = TenantContext(tenant_id=world.a.id, user_id=world.a.user_id("admin"),
                              role="tenant_admin")  # fmt: skip
    with tenant_session(admin_ctx) as s:
        log = grants.provider_access_log(session=s, actor=admin_ctx)
    assert [(e.action, e.admin) for e in log] == [
        ("Searched your audit trail (who, what, when; no content)", world.admin.email)
    ]
    assert _platform_ok()


def test_an_empty_search_tells_no_tenant(world: World) -> None:
    head = _head()
    assert world.find(tenant=world.a.slug, action="nothing.here").rows == []
    assert _tenant_events(world.a, "console.audit_read") == []
    assert [e.action for e in _platform_since(head)] == ["console.audit_search"]


def test_the_search_statement_streams_as_csv_with_copy(world: World) -> None:
    """What an export does: the very statement through COPY, as pms_auditor."""
    statement = search.audit_search_statement(
        AuditQuery(tenant=world.a.slug, actor_id=world.a.user_id("emp2"), action="access.",
                   flagged="only", since=world.start, until=world.end)
    )  # fmt: skip
    with auditor_session() as s:
        data = b"".join(stream.copy_csv(s, statement))  # the export's own COPY streamer
    out = io.BytesIO(data)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert tuple(rows[0]) == SEARCH_COLUMNS
    assert [(r[1], r[2], r[4], r[7]) for r in rows[1:]] == [
        (world.a.slug, "3", "access.cross_tenant", "t"),
        (world.a.slug, "2", "access.denied", "t"),
    ]


# ------------------------------------------------------------- what the roles may do


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT detail FROM audit_event",
        "SELECT hash, prev_hash FROM audit_event",
        "SELECT * FROM audit_event",
        "INSERT INTO audit_event (tenant_id, seq, action, hash) SELECT id, 999, 'forged', 'x'"
        " FROM tenant LIMIT 1",
        "UPDATE audit_event SET flagged = false",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "INSERT INTO platform_event (seq, action, detail, ip, prev_hash, hash)"
        " VALUES (999999, 'forged', '{}', '', '', 'x')",
        "UPDATE platform_event SET action = 'edited'",
        "DELETE FROM platform_event",
        "TRUNCATE platform_event",
        "UPDATE flag_review SET note = 'edited'",
        "DELETE FROM flag_review",
        "TRUNCATE flag_review",
        "SELECT settings FROM tenant",
    ],
)
def test_the_console_role_reads_metadata_and_writes_nothing_directly(world: World, sql) -> None:
    with pytest.raises(exc.DBAPIError) as err, auditor_session() as s:
        s.execute(text(sql))
    assert isinstance(_pg(err.value), psycopg.errors.InsufficientPrivilege), sql


def test_the_console_role_reads_metadata_of_every_tenant(world: World) -> None:
    with auditor_session() as s:
        counts = dict(
            s.execute(
                text("SELECT t.slug, count(*) FROM audit_event e JOIN tenant t"
                     " ON t.id = e.tenant_id WHERE t.slug IN (:a, :b) GROUP BY t.slug"),
                {"a": world.a.slug, "b": world.b.slug},
            ).all()
        )  # fmt: skip
    assert counts == {world.a.slug: 3, world.b.slug: 2}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM platform_event",
        "SELECT * FROM flag_review",
        "SELECT app.append_platform_event(NULL, 'forged.event', '{}'::jsonb, '')",
        "INSERT INTO flag_review (tenant_id, event_id, admin_id, note)"
        " VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'x')",
    ],
)
def test_the_app_role_has_no_part_in_the_platform_trail(world: World, sql) -> None:
    with (
        pytest.raises(exc.DBAPIError) as err,
        tenant_session(TenantContext(tenant_id=world.a.id)) as s,
    ):
        s.connection().execute(text(sql))
    assert isinstance(_pg(err.value), psycopg.errors.InsufficientPrivilege), sql


# ------------------------------------------------------------------ the platform trail


def test_a_sign_in_and_a_sign_out_are_platform_events() -> None:
    new = _new_admin()
    head = _head()
    signed = console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=_code(new.totp_secret), ip="203.0.113.9"
    )
    console_routes.sign_out(signed.token, ip="203.0.113.9")
    console_routes.sign_out(signed.token)  # already ended: nothing more happens
    events = _platform_since(head)
    assert [(e.admin_id, e.action, e.ip) for e in events] == [
        (new.id, "console.sign_in", "203.0.113.9"),
        (new.id, "console.sign_out", "203.0.113.9"),
    ]
    # the console session by its reference, never its id (a token names the id)
    assert events[0].detail["session_ref"] == session_ref(signed.admin.session_id)
    assert events[1].detail == {"session_ref": session_ref(signed.admin.session_id)}
    assert not any(str(signed.admin.session_id) in str(e.detail) for e in events)
    assert _platform_ok()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unknown email", "unknown_email"),
        ("wrong password", "wrong_password"),
        ("wrong code", "wrong_code"),
        ("replayed code", "replayed_code"),
        ("inactive", "inactive"),
    ],
)
def test_a_failed_sign_in_is_a_platform_event_without_secrets(case, reason) -> None:
    new = _new_admin()
    good = _code(new.totp_secret)
    if case == "replayed code":
        console_routes.sign_in_with_code(email=new.email, password=PASSWORD, code=good)
    if case == "inactive":
        with owner_session() as s:  # set-up: an operator deactivated the admin
            s.execute(text("UPDATE platform_admin SET is_active = false WHERE id = :i"),
                      {"i": new.id})  # fmt: skip
    wrong_code = f"{(int(good) + 1) % 1_000_000:06d}"
    email, password, code = {
        "unknown email": ("nobody-" + new.email, PASSWORD, good),
        "wrong password": (new.email, "not the passphrase at all", good),
        "wrong code": (new.email, PASSWORD, wrong_code),
        "replayed code": (new.email, PASSWORD, good),
        "inactive": (new.email, PASSWORD, good),
    }[case]
    head = _head()
    with pytest.raises(console.ConsoleError):
        console_routes.sign_in_with_code(
            email=email, password=password, code=code, ip="198.51.100.4"
        )
    [event] = _platform_since(head)
    assert (event.action, event.detail["reason"], event.ip) == (
        "console.sign_in_failed", reason, "198.51.100.4",
    )  # fmt: skip
    assert event.admin_id == (None if case == "unknown email" else new.id)
    stored = json.dumps(event.detail)
    assert password not in stored and code not in stored
    assert "nobody" not in stored  # an unknown email (maybe a mistyped password) is not kept
    assert _platform_ok()


def test_appends_are_numbered_one_after_another_under_concurrency() -> None:
    head = _head()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with auditor_session() as s:
                    record_platform_event(session=s, admin_id=None, action="test.concurrent",
                                          detail={"writer": n, "i": i})  # fmt: skip
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    events = _platform_since(head)
    assert [e.seq for e in events] == list(range(head + 1, head + 81))
    assert _platform_ok()


def test_a_rolled_back_event_leaves_no_gap_and_bad_actions_are_refused() -> None:
    head = _head()
    with pytest.raises(RuntimeError), auditor_session() as s:
        record_platform_event(session=s, admin_id=None, action="test.rolled_back")
        raise RuntimeError("what it described failed")
    for action in ("", "Not An Action", "x" * 65):
        with pytest.raises(exc.DBAPIError), auditor_session() as s:
            record_platform_event(session=s, admin_id=None, action=action)
    with auditor_session() as s:
        seq = record_platform_event(session=s, admin_id=None, action="test.kept")
    assert seq == head + 1
    assert [e.action for e in _platform_since(head)] == ["test.kept"]


@contextmanager
def _tampered_trail() -> Iterator[Callable[..., None]]:
    """Run tampering statements as the owner (committed, so `audit verify` sees them), then
    put the trail back exactly as it was: later tests rely on an intact platform chain."""
    with db_engine.owner_engine().connect() as conn:
        conn.execute(text("CREATE TEMP TABLE platform_backup AS SELECT * FROM platform_event"))
        conn.commit()

        def run(sql: str, **params: Any) -> None:
            for statement in sql.split(";"):
                conn.execute(text(statement), params)
            conn.commit()

        try:
            yield run
        finally:
            conn.rollback()
            conn.execute(text("DELETE FROM platform_event"))
            conn.execute(text("INSERT INTO platform_event SELECT * FROM platform_backup"))
            conn.execute(text("DROP TABLE platform_backup"))
            conn.commit()


@pytest.mark.parametrize(
    ("sql", "bad", "problem"),
    [
        ("UPDATE platform_event SET detail = '{\"n\": 42}' WHERE seq = :s3", 3, "altered"),
        ("UPDATE platform_event SET occurred_at = occurred_at - interval '1 hour'"
         " WHERE seq = :s2", 2, "altered"),
        ("UPDATE platform_event SET ip = '192.0.2.1' WHERE seq = :s5", 5, "altered"),
        ("DELETE FROM platform_event WHERE seq = :s3", 4, "missing"),
        # reorder: rows 2 and 4 swap places
        ("UPDATE platform_event SET seq = -seq WHERE seq IN (:s2, :s4);"
         "UPDATE platform_event SET seq = CASE seq WHEN -CAST(:s2 AS bigint) THEN :s4 ELSE :s2 END"
         " WHERE seq < 0", 2, "follow"),
        # a row rewritten with a fresh, self-consistent hash still breaks the next link
        ("UPDATE platform_event SET action = 'covered.up', hash = app.platform_event_hash(seq,"
         " occurred_at, admin_id, 'covered.up', ip, detail, prev_hash) WHERE seq = :s3",
         4, "follow"),
    ],
)  # fmt: skip
def test_verify_names_the_first_broken_platform_row(capsys, sql, bad, problem) -> None:
    head = _head()
    with auditor_session() as s:
        seqs = [
            record_platform_event(session=s, admin_id=None, action="test.tamper", detail={"i": i})
            for i in range(1, 6)
        ]
    assert seqs == list(range(head + 1, head + 6))
    assert cli.main(["audit", "verify", "--platform"]) == 0
    assert "platform chain intact" in capsys.readouterr().out
    with _tampered_trail() as tamper:
        tamper(sql, **{f"s{i}": head + i for i in range(1, 6)})
        assert cli.main(["audit", "verify", "--platform"]) == 1
        out = capsys.readouterr().out
        assert f"BROKEN platform: event #{head + bad} " in out and problem in out
        assert cli.main(["audit", "verify"]) == 1  # the whole check fails with it
        assert f"BROKEN platform: event #{head + bad} " in capsys.readouterr().out
        with db_engine.owner_engine().connect() as conn:
            broken = verify_platform(conn).broken
        assert broken is not None and broken.seq == head + bad
    assert _platform_ok()  # put back as it was
    assert cli.main(["audit", "verify", "--platform", "--tenant", "x"]) == 2


# ------------------------------------------------------------------ the flagged queue


@pytest.fixture
def attempt(make_tenant: Callable[..., TenantFixture]) -> tuple[TenantFixture, TenantFixture]:
    """An ordinary user of `a` asks for a goal of `b`: refused, flagged in a's trail."""
    a, b = make_tenant(), make_tenant()
    owner = TenantContext(tenant_id=b.id, user_id=b.user_id("emp1"), role="employee")
    day = date.today()
    with tenant_session(owner) as s:
        foreign_goal = goals.create_goal(
            session=s, actor=owner,
            data=GoalInput(title="Their plan", start_date=day, due_date=day + timedelta(days=9)),
        )  # fmt: skip
    intruder = TenantContext(tenant_id=a.id, user_id=a.user_id("emp2"), role="employee")
    with pytest.raises(PermissionDenied), tenant_session(intruder) as s:
        goals.goal_detail(session=s, actor=intruder, goal_id=foreign_goal)
    return a, b


def _reviews_count() -> int:
    with auditor_session() as s:
        return int(s.execute(text("SELECT count(*) FROM flag_review")).scalar_one())


def test_the_queue_shows_a_cross_tenant_attempt_until_it_is_reviewed(attempt) -> None:
    a, b = attempt
    admin = _sign_in(_new_admin()).admin
    [row] = as_admin(flagged.flagged_queue, admin=admin, tenant=a.slug).rows
    assert (row.tenant, row.action, row.actor_id, row.other_tenant) == (
        a.slug, "access.cross_tenant", str(a.user_id("emp2")), b.slug,
    )  # fmt: skip
    # (the tenant's own trail has it as not found, without a trace of b)
    [(_, action, _, detail)] = _tenant_events(a, "access.not_found")
    assert action == "access.not_found" and b.slug not in json.dumps(detail)
    assert as_admin(flagged.flagged_queue, admin=admin, tenant=b.slug).rows == []
    # the queue across all tenants holds it too: oldest first, no console reads in it
    seen: list[flagged.FlaggedRow] = []
    for page in range(1, 50):
        rows = as_admin(flagged.flagged_queue, admin=admin, page=page, page_size=100).rows
        seen += rows
        if not rows or any(r.event_id == row.event_id for r in rows):
            break
    assert any(r.event_id == row.event_id for r in seen)
    assert [r.occurred_at for r in seen] == sorted(r.occurred_at for r in seen)
    assert not any(r.action.startswith("console.") for r in seen)

    head = _head()
    as_admin(
        flagged.review_flag,
        admin=admin,
        event_id=row.event_id,
        note="  Stale bookmark; told them. ",
    )
    assert as_admin(flagged.flagged_queue, admin=admin, tenant=a.slug).rows == []
    [event] = [e for e in _platform_since(head) if e.action == "console.flag_review"]
    assert event.admin_id == admin.admin_id
    assert event.detail | {"event": None} == {
        "tenant": a.slug, "event": None, "seq": row.seq, "action": "access.cross_tenant",
        "note": "Stale bookmark; told them.",
    }  # fmt: skip
    with auditor_session() as s:
        stored = s.execute(
            text("SELECT tenant_id, admin_id, note FROM flag_review WHERE event_id = :e"),
            {"e": row.event_id},
        ).one()
    assert tuple(stored) == (a.id, admin.admin_id, "Stale bookmark; told them.")
    # the tenant sees that the platform reviewed it, never the note
    [(_, _, is_flagged, detail)] = _tenant_events(a, "console.flag_reviewed")
    assert is_flagged and detail["seq"] == row.seq and "note" not in detail
    assert "Stale bookmark" not in json.dumps(detail)
    # a second review of the same event changes nothing
    head, count = _head(), _reviews_count()
    with pytest.raises(console.ConsoleError, match="already been reviewed"):
        as_admin(flagged.review_flag, admin=admin, event_id=row.event_id, note="again")
    assert (_head(), _reviews_count()) == (head, count)
    assert _platform_ok()


def test_bad_reviews_get_a_clear_message_and_change_nothing(attempt) -> None:
    a, _ = attempt
    admin = _sign_in(_new_admin()).admin
    [row] = as_admin(flagged.flagged_queue, admin=admin, tenant=a.slug).rows
    _record(a, "emp1", "goal.create")  # an ordinary, unflagged event
    [(unflagged_id, *_)] = _tenant_events(a, "goal.create")
    [(console_id, *_)] = _tenant_events(a, "console.audit_read")  # flagged, but the platform's
    cases = [
        ("not-a-uuid", "checked", "No flagged event"),
        (None, "checked", "No flagged event"),
        (uuid.uuid4(), "checked", "No flagged event"),
        (unflagged_id, "checked", "No flagged event"),
        (console_id, "checked", "No flagged event"),
        (row.event_id, "", "Write a short note"),
        (row.event_id, "   \n ", "Write a short note"),
        (row.event_id, None, "Write a short note"),
        (row.event_id, ["x"], "Write a short note"),
        (row.event_id, "x" * 501, "500 characters"),
    ]
    head, count = _head(), _reviews_count()
    for event_id, note, message in cases:
        with pytest.raises(console.ConsoleError, match=message):
            as_admin(flagged.review_flag, admin=admin, event_id=event_id, note=note)
    with pytest.raises(console.ConsoleError, match="Sign in"):
        as_admin(flagged.review_flag, admin=None, event_id=row.event_id, note="ok")  # type: ignore[arg-type]
    assert (_head(), _reviews_count()) == (head, count)
    assert _tenant_events(a, "console.flag_reviewed") == []
    assert [
        r.event_id for r in as_admin(flagged.flagged_queue, admin=admin, tenant=a.slug).rows
    ] == [row.event_id]
    for bad in ({"tenant": "Not A Slug"}, {"page": 0}, {"page_size": 101}, {"page": "x"}):
        with pytest.raises(console.ConsoleError):
            as_admin(flagged.flagged_queue, admin=admin, **bad)
    # a note of exactly 500 characters is fine
    as_admin(flagged.review_flag, admin=admin, event_id=row.event_id, note="y" * 500)
    assert _reviews_count() == count + 1


# --------------------------------------------------------------------- query plans


@pytest.fixture(scope="module")
def bulk(database: str) -> list[str]:
    """Four tenants with 3,000 chained events each (one in 500 flagged), then ANALYZE:
    enough rows that the planner's choice of index means something."""
    from pms_dashboard.tenancy.provision import create_tenant

    slugs = []
    for _ in range(4):
        created = create_tenant(slug=f"bulk-{uuid.uuid4().hex[:10]}", name="Bulk").placement
        slugs.append(created.slug)
        with owner_session(created.tenant_id) as s:  # the tenant's context is set there
            s.execute(
                text(
                    "SELECT count(append_audit_event(NULL, CASE WHEN i % 500 = 0"
                    " THEN 'access.denied' ELSE 'goal.update' END, 'goal', NULL, '{}'::jsonb,"
                    " i % 500 = 0, '')) FROM generate_series(1, 3000) AS i"
                )
            )
    with db_engine.owner_engine().connect() as conn:
        conn.execute(text("ANALYZE audit_event"))
        conn.execute(text("ANALYZE tenant"))
        conn.commit()
    return slugs


def _plan(conn: Connection, statement: Any) -> dict[str, Any]:
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    row = raw.execute(f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params).fetchone()
    assert row is not None
    return row[0][0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _audit_scans(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (n["Node Type"], n.get("Index Name", ""), n.get("Index Cond", ""))
        for n in _nodes(plan)
        if n.get("Relation Name") == "audit_event"
        or n.get("Index Name", "").startswith(("ix_audit_event", "uq_audit_event"))
    ]


def test_a_search_of_one_tenant_reads_an_index_that_leads_with_tenant_id(bulk) -> None:
    with db_engine.auditor_engine().connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == "pms_auditor"
        for query in (AuditQuery(tenant=bulk[1]), AuditQuery(tenant=bulk[1], action="access.")):
            statement = search.audit_search_statement(query).limit(25)
            scans = _audit_scans(_plan(conn, statement))
            assert scans, scans
            assert all(kind != "Seq Scan" for kind, _, _ in scans), scans
            assert all(index.startswith(("ix_audit_event_tenant_id", "uq_audit_event_tenant_id"))
                       and "tenant_id" in cond for kind, index, cond in scans
                       if kind != "Bitmap Heap Scan"), scans  # fmt: skip
        conn.rollback()


def test_the_flagged_queue_reads_its_partial_index(bulk) -> None:
    with db_engine.auditor_engine().connect() as conn:
        for tenant in (None, bulk[2]):
            statement = flagged.flagged_queue_statement(tenant).limit(20)
            scans = _audit_scans(_plan(conn, statement))
            assert any(
                i == "ix_audit_event_tenant_id_occurred_at_reviewable" for _, i, _ in scans
            ), scans
            assert all(kind != "Seq Scan" for kind, _, _ in scans), scans
        conn.rollback()
        # and the bulk tenants' chains are intact (they were written by the real function)
    with db_engine.owner_engine().connect() as conn:
        from pms_dashboard.audit.chain import verify

        tid = conn.execute(text("SELECT id FROM tenant WHERE slug = :s"), {"s": bulk[0]}).scalar()
        result = verify(conn, tenant_id=tid)
    assert result.ok and result.events == 3000


# ------------------------------------------------------------------- the console UI


NEW_HANDLERS = {
    "search_audit": ({"tenant": "x"},),
    "search_goto": (2,),
    "load_flagged": ({"tenant": ""},),
    "flagged_goto": (2,),
    "mark_reviewed": ({"event_id": str(uuid.uuid4()), "note": "x"},),
    "read_reviews": ("acme",),
}


def test_the_new_console_handlers_need_a_console_session(make_tenant) -> None:
    from pms_dashboard.ui.states.console import ConsoleState
    from tests.ui_harness import call, redirects_to, state_for, token_for

    t = make_tenant()
    tenant_token = token_for(t.slug, f"admin@{t.slug}.test", TEST_PASSWORD)
    head = _head()
    for cookie in (None, tenant_token, "garbage"):
        for name, args in NEW_HANDLERS.items():
            st = state_for(ConsoleState, cookie, cookie_name="pms_console")
            events = call(st, getattr(ConsoleState, name), *args)
            assert redirects_to(events) == "/console/signin", (cookie, name)
            assert (st.search_rows, st.flagged_rows, st.read_rows) == ([], [], []), name
    assert _platform_since(head) == []


def test_the_search_section_pages_and_refuses_garbage(world: World) -> None:
    from pms_dashboard.ui.states.console import ConsoleState
    from tests.ui_harness import call, state_for

    st = state_for(ConsoleState, world.token, cookie_name="pms_console")
    head = _head()
    call(st, ConsoleState.search_goto, 2)
    assert st.error == "Search first." and st.search_rows == []
    form = {"tenant": world.a.slug, "actor_id": "", "action": "", "flagged": "all",
            "since": "", "until": world.end.isoformat(), "unexpected": "ignored"}  # fmt: skip
    call(st, ConsoleState.search_audit, form)
    assert st.error == "", st.error
    assert [r["action"] for r in st.search_rows] == [
        "access.cross_tenant", "access.denied", "goal.create",
    ]  # fmt: skip
    assert (st.search_total, st.search_page, st.search_pages) == (3, 1, 1)
    assert "detail" not in st.search_rows[0] and "Secret plan" not in repr(st.search_rows)
    shown = list(st.search_rows)
    for bad_form, message in (
        ("tenant=x", MALFORMED),  # no form at all: refused by type before the handler
        (None, MALFORMED),
        (form | {"since": "soon"}, "Since: give a date"),
        (form | {"tenant": "no-such-org"}, "No organisation"),
        (form | {"actor_id": "'; DROP TABLE audit_event; --"}, "Actor id"),
    ):
        call(st, ConsoleState.search_audit, bad_form)
        assert message in st.error, (bad_form, st.error)
        assert st.search_rows == shown  # the page shown stays as it was
    for bad_page in ("abc", None, -1, 0, 10**9):
        call(st, ConsoleState.search_goto, bad_page)
        assert st.error.startswith("Page:"), (bad_page, st.error)
    call(st, ConsoleState.search_goto, {"page": 2})
    assert st.error == MALFORMED and st.search_rows == shown
    call(st, ConsoleState.search_goto, 2)  # past the end: an empty page, filters kept
    assert (st.error, st.search_page, st.search_rows, st.search_total) == ("", 2, [], 3)
    call(st, ConsoleState.search_goto, 1.0)  # the browser's JavaScript sends numbers as floats
    assert (st.search_page, len(st.search_rows)) == (1, 3)
    # only the accepted searches are in the platform trail
    assert [e.action for e in _platform_since(head)] == ["console.audit_search"] * 3


def test_the_flagged_section_marks_reviewed_and_refuses_garbage(attempt) -> None:
    from pms_dashboard.ui.states.console import ConsoleState
    from tests.ui_harness import call, state_for

    a, _ = attempt
    st = state_for(ConsoleState, _sign_in(_new_admin()).token, cookie_name="pms_console")
    call(st, ConsoleState.flagged_goto, 1)
    assert st.error == "Open the queue first."
    for bad, message in (
        ("x", MALFORMED),
        ({"tenant": "Bad Slug!"}, "Organisation:"),
        ({"tenant": "no-such-org"}, "No organisation"),
    ):
        call(st, ConsoleState.load_flagged, bad)
        assert message in st.error, (bad, st.error)
        assert st.flagged_rows == []
    call(st, ConsoleState.load_flagged, {"tenant": a.slug})
    assert st.error == ""
    [row] = st.flagged_rows
    assert (row["tenant"], row["action"], st.flagged_total) == (
        a.slug, "access.cross_tenant", 1,
    )  # fmt: skip
    head, count = _head(), _reviews_count()
    for bad, message in (
        ("junk", MALFORMED),
        ({"event_id": row["event_id"], "note": ""}, "Write a short note"),
        ({"event_id": row["event_id"], "note": "n" * 600}, "500 characters"),
        ({"event_id": "1 OR 1=1", "note": "checked"}, "No flagged event"),
        ({"note": "checked"}, "No flagged event"),
    ):
        call(st, ConsoleState.mark_reviewed, bad)
        assert message in st.error, (bad, st.error)
        assert [r["event_id"] for r in st.flagged_rows] == [row["event_id"]]
    assert (_head(), _reviews_count()) == (head, count)
    call(st, ConsoleState.mark_reviewed, {"event_id": row["event_id"], "note": "Looked: benign."})
    assert (st.error, st.notice, st.flagged_rows, st.flagged_total) == (
        "", "Marked reviewed.", [], 0,
    )  # fmt: skip
    call(st, ConsoleState.mark_reviewed, {"event_id": row["event_id"], "note": "Twice?"})
    assert "already been reviewed" in st.error
    call(st, ConsoleState.flagged_goto, "x")
    assert st.error.startswith("Page:")
    call(st, ConsoleState.flagged_goto, 1)
    assert (st.error, st.flagged_rows, st.notice) == ("", [], "Nothing to review.")
