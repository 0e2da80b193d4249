"""One Reflex event is one tenant transaction: the session check and the page's work run in
the same transaction (counted as BEGINs on the app's engine), unless a refusal must be
audited in a transaction of its own; the console's events likewise on the auditor's.

And the unit of work's promises hold across it: a refusal is audited as the signed-in
person (with their role, read by the session check in that transaction), and a sign-in
that rolls back ends no session, not even another organisation's (rotation happens only
after the new session is committed)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from sqlalchemy import Engine, event, select
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.audit.sessions import session_ref
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth import service as auth
from pms_dashboard.auth.models import User
from pms_dashboard.console import routes as console_routes
from pms_dashboard.db.engine import app_engine, auditor_engine
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import owner_session, tenant_session
from pms_dashboard.ui.states.console import ConsoleState
from pms_dashboard.ui.states.cycles import CyclesState
from pms_dashboard.ui.states.goals import PAGE_SIZE, GoalDetailState, GoalsState
from pms_dashboard.ui.states.overview import OverviewState
from pms_dashboard.ui.states.people import PeopleState
from pms_dashboard.ui.states.reviews import ReviewsState
from pms_dashboard.ui.states.session import SessionState
from tests.conftest import TEST_PASSWORD, TenantFixture, add_goals, create_console_admin
from tests.ui_harness import call, redirects_to, state_for, token_for

MakeTenant = Callable[..., TenantFixture]


class Begins:
    """BEGINs on an engine while `counting` (the pool's own checks are no transactions)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.n = engine, 0

    def _on_begin(self, _conn: Any) -> None:
        self.n += 1

    def of(self, fn: Callable[[], Any]) -> int:
        """How many transactions `fn` ran."""
        event.listen(self.engine, "begin", self._on_begin)
        try:
            self.n = 0
            fn()
            return self.n
        finally:
            event.remove(self.engine, "begin", self._on_begin)


@pytest.fixture
def begins() -> Begins:
    return Begins(app_engine())


@pytest.fixture
def t(make_tenant: MakeTenant) -> TenantFixture:
    """A tenant whose employee has more goals than one page shows."""
    t = make_tenant()
    add_goals(t, "emp1", PAGE_SIZE + 2)
    return t


def _token(t: TenantFixture, key: str) -> str:
    return token_for(t.slug, f"{key}@{t.slug}.test", TEST_PASSWORD)


@pytest.mark.parametrize(
    ("key", "cls", "handler", "path"),
    [
        ("emp1", GoalsState, GoalsState.load, "/goals"),
        ("emp1", SessionState, SessionState.require_user, "/goals"),
        ("manager", PeopleState, PeopleState.load, "/people"),
        ("manager", OverviewState, OverviewState.load, "/overview"),
        ("emp1", ReviewsState, ReviewsState.load, "/reviews"),
        ("admin", CyclesState, CyclesState.load, "/cycles"),
    ],
    ids=lambda v: getattr(v, "__qualname__", v if isinstance(v, str) else ""),
)
def test_a_page_event_is_one_transaction(
    begins: Begins, t: TenantFixture, key: str, cls: Any, handler: Any, path: str
) -> None:
    st = state_for(cls, _token(t, key), path)
    assert begins.of(lambda: call(st, handler)) == 1
    assert getattr(st, "error", "") == ""


def test_paging_the_goal_list_is_one_transaction(begins: Begins, t: TenantFixture) -> None:
    st = state_for(GoalsState, _token(t, "emp1"), "/goals")
    call(st, GoalsState.load)
    assert st.pages == 2 and len(st.rows) == PAGE_SIZE
    assert begins.of(lambda: call(st, GoalsState.next_page)) == 1
    assert st.page == 2 and len(st.rows) == 2


def test_without_a_session_an_event_is_one_transaction_or_none(
    begins: Begins, t: TenantFixture
) -> None:
    token = _token(t, "emp1")
    auth_routes.sign_out(token)
    st = state_for(GoalsState, token, "/goals")
    events: list[Any] = []
    assert begins.of(lambda: events.extend(call(st, GoalsState.load))) == 1  # the check only
    assert redirects_to(events) == "/signin" and st.rows == []
    nobody = state_for(GoalsState, None, "/goals")
    assert begins.of(lambda: call(nobody, GoalsState.load)) == 0  # no token, no transaction


def test_a_refusal_is_rolled_back_and_audited_as_the_signed_in_person(
    begins: Begins, t: TenantFixture
) -> None:
    """The page's transaction rolls back; the refusal has a transaction of its own, and the
    event names the person and the role the session check read in the first."""
    unknown = {"goal_id": str(uuid.uuid4())}  # no goal of this organisation
    st = state_for(GoalDetailState, _token(t, "manager"), "/goals/[goal_id]", unknown)
    assert begins.of(lambda: call(st, GoalDetailState.load)) == 2
    assert st.error == "That goal was not found in this organisation." and st.goal == {}
    with tenant_session(TenantContext(tenant_id=t.id)) as s:
        refused = s.scalars(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
    assert refused is not None and refused.action == "access.not_found" and refused.flagged
    assert refused.actor_id == t.user_id("manager")
    assert refused.detail["role"] == "manager"


def test_a_console_event_is_one_transaction(make_tenant: MakeTenant) -> None:
    make_tenant()
    password = "a long console passphrase"
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password=password
    )
    code = pyotp.TOTP(new.totp_secret).at(time.time())
    signed = console_routes.sign_in_with_code(email=new.email, password=password, code=code)
    st = state_for(ConsoleState, signed.token, "/console", cookie_name="pms_console")
    # The console's own work is one transaction on the home database; its overview reads
    # each database that holds tenants once for the counts and once for the open grants
    # (short read-only units of work at the placements), the home database among them.
    assert Begins(auditor_engine()).of(lambda: call(st, ConsoleState.load)) == 3
    assert st.admin_name == "Ops" and st.tenants


# ---------------------------------------------------------------- rotation after commit


@pytest.fixture
def browser_of_a(make_tenant: MakeTenant) -> tuple[TenantFixture, TenantFixture, str]:
    """Organisations A and B, and a browser signed in to A (its session token)."""
    a, b = make_tenant(), make_tenant()
    return a, b, _token(a, "emp1")


def test_a_sign_in_that_rolls_back_ends_no_session_of_another_organisation(
    browser_of_a: tuple[TenantFixture, TenantFixture, str],
) -> None:
    a, b, token_a = browser_of_a
    failing = pytest.raises(RuntimeError, match="after the session opened")
    with failing, tenant_session(TenantContext(tenant_id=b.id)) as s:
        user = s.get_one(User, (b.id, b.user_id("emp2")))
        signed = auth.open_session(session=s, user=user, method="sso", replaces=token_a)
        assert signed.rotate_elsewhere is not None
        raise RuntimeError("something failed after the session opened")
    assert auth_routes.authenticate(token_a) is not None  # A's session lives on
    with owner_session() as s:
        rotated = s.scalars(
            select(AuditEvent).where(
                col(AuditEvent.tenant_id) == a.id,
                col(AuditEvent.action) == "auth.session_rotated",
            )
        ).all()
    assert rotated == []


def test_a_committed_sign_in_ends_the_other_organisations_session_there(
    browser_of_a: tuple[TenantFixture, TenantFixture, str],
) -> None:
    a, b, token_a = browser_of_a
    signed = auth_routes.sign_in_with_password(
        slug=b.slug, email=f"emp2@{b.slug}.test", password=TEST_PASSWORD, replaces=token_a
    )
    assert auth_routes.authenticate(token_a) is None
    assert auth_routes.authenticate(signed.token) is not None
    with owner_session() as s:
        [rotated] = s.scalars(
            select(AuditEvent).where(
                col(AuditEvent.tenant_id) == a.id,
                col(AuditEvent.action) == "auth.session_rotated",
            )
        ).all()
    assert rotated.detail["replaced_by"] == session_ref(signed.principal.session_id)
