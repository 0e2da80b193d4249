"""Moving an organisation from the console: a signed-in super-admin moves a pool tenant to
a schema of its own in us-east from the console page, which shows the move's progress while
it runs and then its outcome; the catalog, both trails (naming the admin) and the overview's
last move say so. Hostile or wrong requests, and a second move of the same organisation
while one runs, are refused and change nothing."""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import date, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from pms_dashboard.console import moves as org_moves
from pms_dashboard.console import routes as console_routes
from pms_dashboard.console import search
from pms_dashboard.console.routes import admin_session
from pms_dashboard.console.search import AuditQuery
from pms_dashboard.console.service import ConsoleError, ConsoleSignedIn
from pms_dashboard.db.engine import auditor_engine
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import GoalInput
from pms_dashboard.tenancy import placement
from pms_dashboard.tenancy.session import auditor_session, tenant_session
from pms_dashboard.ui.states.base import MALFORMED
from pms_dashboard.ui.states.console import ConsoleState
from tests.conftest import TenantFixture, as_admin, create_console_admin, ctx, new_tenant
from tests.tiers import rows_by_place, where
from tests.ui_harness import call, redirects_to, state_for

PASSWORD = "a long console passphrase"


def _signed_in() -> ConsoleSignedIn:
    new = create_console_admin(
        email=f"mover-{uuid.uuid4().hex[:8]}@platform.example", display_name="Mo", password=PASSWORD
    )
    code = pyotp.TOTP(new.totp_secret).at(time.time())
    return console_routes.sign_in_with_code(email=new.email, password=PASSWORD, code=code)


def _page(signed: ConsoleSignedIn | None) -> ConsoleState:
    st = state_for(ConsoleState, signed.token if signed else None, "/console",
                   cookie_name="pms_console")  # fmt: skip
    if signed:
        call(st, ConsoleState.load)
    return st


def _goals(t: TenantFixture, n: int) -> None:
    actor = ctx(t, "emp1")
    with tenant_session(actor) as s:
        for i in range(n):
            goals.create_goal(
                session=s, actor=actor,
                data=GoalInput(title=f"Goal {i}", start_date=date.today(),
                               due_date=date.today() + timedelta(days=30)),
            )  # fmt: skip


def _goal_count(t: TenantFixture) -> int:
    with tenant_session(ctx(t, "admin")) as s:
        return int(s.execute(text("SELECT count(*) FROM goal")).scalar_one())


def _moves_of(t: TenantFixture) -> list[Any]:
    with auditor_session() as s:
        return list(
            s.execute(
                text("SELECT state, admin_id, reason, to_tier, to_region FROM tenant_move"
                     " WHERE tenant_id = :t ORDER BY started_at"), {"t": t.id},
            ).all()
        )  # fmt: skip


def _platform_moves(t: TenantFixture) -> list[Any]:
    with auditor_session() as s:
        return list(
            s.execute(
                text("SELECT action, admin_id, detail FROM platform_event"
                     " WHERE action LIKE 'tenant.move%' AND detail->>'tenant' = :s ORDER BY seq"),
                {"s": t.slug},
            ).all()
        )  # fmt: skip


def _everything(t: TenantFixture) -> tuple[Any, ...]:
    """What a refused move must leave as it was: the placement, the catalog's moves, the
    platform's move events, where the rows are and the goals."""
    return (
        placement.fetch(t.id), _moves_of(t), _platform_moves(t), dict(rows_by_place([t.id])[t.id]),
        _goal_count(t),
    )  # fmt: skip


def _form(t: TenantFixture, **change: Any) -> dict[str, Any]:
    return {"slug": t.slug, "tier": "schema", "region": "us-east", "reason": "ORD-77"} | change


# --------------------------------------------------------------------------- the move


def test_a_super_admin_moves_a_pool_tenant_to_a_schema_in_us_east_and_sees_its_progress(
    monkeypatch,
) -> None:
    t = new_tenant()
    _goals(t, 5)
    before = _goal_count(t)
    signed = _signed_in()
    st = _page(signed)
    seen: list[org_moves.MoveStatus] = []
    polled = org_moves.move_status

    def recording(job_id: str) -> org_moves.MoveStatus | None:
        found = polled(job_id)
        if found is not None:
            seen.append(found)
        return found

    monkeypatch.setattr(org_moves, "move_status", recording)
    events = call(st, ConsoleState.move_organisation, _form(t, reason="  ORD-77 enterprise  "))
    assert st.error == "" and st.move_slug == t.slug
    assert st.move_target == "us-east, dedicated schema" and st.move_running
    assert events == [ConsoleState.follow_move]  # the page follows it in the background
    call(st, ConsoleState.follow_move)

    # the progress the page showed: every step in order, the tables counted up, the rows
    assert not st.move_running and st.move_error == ""
    assert st.move_steps == list(org_moves.STEPS) and st.move_step == "done"
    running = [s for s in seen if s.running]
    assert running and all(s.step in org_moves.STEPS for s in running if s.step)
    copied = [s.tables_done for s in seen]
    assert copied == sorted(copied) and seen[-1].tables_done == seen[-1].tables > 10
    assert seen[-1].rows >= before + 4 and st.move_percent == 100
    assert st.move_counts == (
        f"{seen[-1].tables} of {seen[-1].tables} tables, {seen[-1].rows:,} rows copied"
    )
    assert re.fullmatch(
        rf"{t.slug} moved to us-east, dedicated schema; writes frozen \d+\.\d\d s"
        r" \([\d,]+ rows copied\)\.",
        st.move_outcome,
    ), st.move_outcome

    # the page lists it where it is now, with its last move
    row = {r["slug"]: r for r in st.tenants}[t.slug]
    assert (row["isolation_tier"], row["region"], row["move_state"]) == (
        "schema",
        "us-east",
        "done",
    )
    assert row["move_route"] == "eu-central, shared pool → us-east, dedicated schema"
    assert row["move_at"].endswith("UTC") and row["goals"] == before

    # the catalog: the new placement, the move's record naming the admin and the reason
    now = placement.fetch(t.id)
    assert (now.tier.value, now.region, now.state) == ("schema", "us-east", "active")
    assert _moves_of(t) == [("done", signed.admin.admin_id, "ORD-77 enterprise", "schema",
                             "us-east")]  # fmt: skip
    assert set(rows_by_place([t.id])[t.id]) == {where(now)}  # its rows only there
    assert _goal_count(t) == before

    # the platform's trail names the admin; the tenant's own chain too (as its actor), and
    # the console's audit search shows who it was
    started, completed = _platform_moves(t)
    assert (started.action, completed.action) == ("tenant.move_started", "tenant.move_completed")
    assert started.admin_id == completed.admin_id == signed.admin.admin_id
    assert started.detail["reason"] == "ORD-77 enterprise"
    assert completed.detail["to"] == "us-east, dedicated schema"
    found = as_admin(search.search, admin=signed.admin,
                     query=AuditQuery(tenant=t.slug, action="tenant.move_*"))  # fmt: skip
    assert sorted((r.action, r.actor_id) for r in found.rows) == [
        ("tenant.move_completed", str(signed.admin.admin_id)),
        ("tenant.move_started", str(signed.admin.admin_id)),
    ]


# ------------------------------------------------------------------------- refusals


@pytest.fixture(scope="module")
def tenant() -> TenantFixture:
    t = new_tenant()
    _goals(t, 2)
    return t


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"slug": "no-such-org"}, "No organisation with that slug"),
        ({"slug": "Not A Slug!"}, "No organisation with that slug"),
        ({"slug": 42}, "No organisation with that slug"),
        ({"tier": "cluster"}, "Choose a tier"),
        ({"tier": None}, "Choose a tier"),
        ({"region": "mars"}, "Choose a region"),
        ({"region": ["us-east"]}, "Choose a region"),
        ({"reason": ""}, "Give the reason"),
        ({"reason": "  ab  "}, "Give the reason"),
        ({"reason": "x" * 201}, "Give the reason"),
        ({"reason": 7}, "Give the reason"),
        ({"tier": "pool", "region": "eu-central"}, "already lives in eu-central, shared pool"),
    ],
)
def test_a_bad_move_is_refused_with_a_clear_message_and_changes_nothing(
    tenant, change, words
) -> None:
    signed = _signed_in()
    before = _everything(tenant)
    with pytest.raises(ConsoleError, match=words):
        as_admin(org_moves.check_move, admin=signed.admin, **_form(tenant, **change))
    st = _page(signed)
    call(st, ConsoleState.move_organisation,
         {k: str(v) for k, v in _form(tenant, **change).items()})  # fmt: skip
    assert words in st.error and st.move_slug == "" and not st.move_running
    assert _everything(tenant) == before


def test_no_one_but_a_signed_in_super_admin_can_move(tenant) -> None:
    before = _everything(tenant)
    signed = _signed_in()
    with admin_session(signed.admin) as s:
        with pytest.raises(ConsoleError, match="Sign in"):
            org_moves.check_move(session=s, admin=None, **_form(tenant))  # type: ignore[arg-type]
        with pytest.raises(ConsoleError, match="Sign in"):
            org_moves.last_moves(session=s, admin="admin")  # type: ignore[arg-type]
    with pytest.raises(ConsoleError, match="Check the move first"):
        org_moves.start_move({"slug": tenant.slug})  # type: ignore[arg-type]
    st = _page(None)  # no console cookie
    assert redirects_to(call(st, ConsoleState.move_organisation, _form(tenant))) == (
        "/console/signin"
    )
    assert st.move_slug == ""
    forged = _page(signed)  # a form that is no form
    call(forged, ConsoleState.move_organisation, ["slug", tenant.slug])
    assert forged.error == MALFORMED and forged.move_slug == ""
    assert _everything(tenant) == before


def test_a_second_move_of_an_organisation_is_refused_while_one_runs(monkeypatch) -> None:
    t = new_tenant()
    first, second = _signed_in(), _signed_in()
    mine, theirs = _page(first), _page(second)
    release, copying = threading.Event(), threading.Event()
    report = org_moves._Job.report

    def held(job: Any, p: Any) -> None:  # the first move waits at its first step
        report(job, p)
        copying.set()
        assert release.wait(60)

    monkeypatch.setattr(org_moves._Job, "report", held)
    call(mine, ConsoleState.move_organisation, _form(t, tier="database"))
    assert mine.error == "" and mine.move_running
    assert copying.wait(60)
    during = _everything(t)
    try:
        # another admin (any process: the organisation's lock), then the same page
        call(theirs, ConsoleState.move_organisation, _form(t))
        assert theirs.error == f"{t.slug} is already being moved; wait for that move to finish."
        assert theirs.move_slug == ""
        call(mine, ConsoleState.move_organisation, _form(t))
        assert mine.error == f"Wait for the move of {t.slug} to finish."
        # the refusals changed nothing (the first move is still held at its first step)
        assert _everything(t) == during
    finally:
        release.set()
    call(mine, ConsoleState.follow_move)
    assert mine.move_outcome.startswith(f"{t.slug} moved to us-east, dedicated database")
    assert [m.state for m in _moves_of(t)] == ["done"]
    assert [e.action for e in _platform_moves(t)] == ["tenant.move_started",
                                                      "tenant.move_completed"]  # fmt: skip


def test_a_move_held_by_another_process_refuses_the_console(tenant) -> None:
    """The lock is PostgreSQL's: a move running in another app process blocks this one."""
    before = _everything(tenant)
    signed = _signed_in()
    with auditor_engine().connect() as other:
        other.execute(
            text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"),
            {"k": org_moves.LOCK_KEY.format(tenant.id)},
        )
        other.commit()
        st = _page(signed)
        call(st, ConsoleState.move_organisation, _form(tenant))
        assert st.error == f"{tenant.slug} is already being moved; wait for that move to finish."
        other.execute(text("SELECT pg_advisory_unlock_all()"))
        other.commit()
    assert _everything(tenant) == before
