"""A page visit and each step through a list is at most one transaction, counted as BEGINs on
every engine (the app's, the owner's, the auditor's, every tenant database's): the page's
loading (every event the page registers to run on load, in order, on one tab), then its
paging or sorting event. And the set-up of that transaction is one round trip: the session
check and the tenant's look travel with BEGIN, the tenant context, the search_path, the
move lock and the fence read, so `require_user` sends nothing else."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text, update
from sqlmodel import col

import pms_dashboard.ui.pages
from pms_dashboard.goals import service as goals
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import CACHED_PLANS, owner_session, tenant_session
from pms_dashboard.ui.states.access_log import AccessLogState
from pms_dashboard.ui.states.cycles import CyclesState
from pms_dashboard.ui.states.goals import PAGE_SIZE, GoalDetailState, GoalsState
from pms_dashboard.ui.states.people import PeopleState
from pms_dashboard.ui.states.session import SessionState
from pms_dashboard.ui.templates import SIGNED_IN_PAGES
from tests.conftest import (
    TEST_PASSWORD,
    TenantFixture,
    add_goals,
    add_person,
    draft_cycle,
    new_tenant,
)
from tests.tiers import one_connection_engine, placement_of
from tests.ui_harness import call, redirects_to, state_for, token_for

for _module in pkgutil.iter_modules(pms_dashboard.ui.pages.__path__):  # registers the pages
    importlib.import_module(f"pms_dashboard.ui.pages.{_module.name}")


class Traffic:
    """BEGINs and statements on every engine while counting."""

    def __init__(self) -> None:
        self.begins, self.statements = 0, 0

    def _begin(self, _conn: Any) -> None:
        self.begins += 1

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def of(self, fn: Callable[[], Any]) -> Traffic:
        self.begins = self.statements = 0
        event.listen(Engine, "begin", self._begin)
        event.listen(Engine, "before_cursor_execute", self._statement)
        try:
            fn()
        finally:
            event.remove(Engine, "begin", self._begin)
            event.remove(Engine, "before_cursor_execute", self._statement)
        return self


@pytest.fixture
def traffic() -> Iterator[Traffic]:
    yield Traffic()


@pytest.fixture(scope="module")
def t() -> TenantFixture:
    """A tenant with more goals and people than a page shows, a cycle, and a look of its own."""
    t = new_tenant()
    for i in range(PAGE_SIZE + 2):
        add_person(t, f"person{i}", manager="manager", team="Alpha")
    add_goals(t, "emp1", PAGE_SIZE + 2)
    with owner_session(t.id) as s:
        s.execute(
            update(Tenant)
            .where(col(Tenant.id) == t.id)
            .values(settings={"accent": "crimson", "logo_url": "/logo-of-t.png"})
        )
    return t


@pytest.fixture(scope="module")
def cycle(t: TenantFixture) -> str:
    """A draft cycle of `t` (its id), made once for the module's visits."""
    return str(draft_cycle(t))


def _token(t: TenantFixture, key: str) -> str:
    return token_for(t.slug, f"{key}@{t.slug}.test", TEST_PASSWORD)


def _first_goal(t: TenantFixture) -> str:
    actor = TenantContext(tenant_id=t.id, user_id=t.user_id("emp1"), role="employee")
    with tenant_session(actor) as s:
        return goals.parent_options(session=s, actor=actor, limit=1)[0].id


def _visit(route: str, token: str, params: dict[str, str] | None = None) -> tuple[Any, list]:
    """Every on_load event of the page at `route`, in order, on one tab: (the tab's last
    state, the events they returned)."""
    loads = SIGNED_IN_PAGES[route]
    first = state_for(loads[0].state, token, route, params)
    root, events, st = first._get_root_state(), [], first
    for handler in loads:
        st = root.get_substate(handler.state.get_full_name().split(".")[1:])
        events.extend(call(st, handler))
    return st, events


# Who visits each signed-in page (one whom the page shows something).
VISITORS = {
    "/goals": "emp1",
    "/goals/[goal_id]": "emp1",
    "/people": "manager",
    "/overview": "manager",
    "/reviews": "emp1",
    "/cycles": "admin",
    "/settings": "admin",
    "/access-log": "admin",
    "/profile": "emp1",
    "/encryption": "admin",
    "404": "emp1",
}


def test_every_signed_in_page_has_a_visitor_here() -> None:
    assert set(SIGNED_IN_PAGES) == set(VISITORS)


@pytest.mark.parametrize("route", sorted(VISITORS))
def test_a_page_visit_is_one_transaction(traffic: Traffic, t: TenantFixture, route: str) -> None:
    params = {"goal_id": _first_goal(t)} if "[goal_id]" in route else None
    token = _token(t, VISITORS[route])
    seen: list[Any] = []
    assert traffic.of(lambda: seen.append(_visit(route, token, params))).begins == 1
    st, events = seen[0]
    assert redirects_to(events) is None and getattr(st, "error", "") == ""
    assert (st.accent, st.logo_url) == ("crimson", "/logo-of-t.png")  # the tenant's look


@pytest.mark.parametrize(
    ("route", "who", "step", "args"),
    [
        ("/goals", "emp1", GoalsState.next_page, ()),
        ("/goals", "emp1", GoalsState.previous_page, ()),
        ("/goals", "emp1", GoalsState.sort_by, ("title",)),
        ("/goals", "manager", GoalsState.set_scope, ("team",)),
        ("/goals", "manager", GoalsState.filter_team, ("Alpha",)),
        ("/people", "manager", PeopleState.next_page, ()),
        ("/people", "manager", PeopleState.previous_page, ()),
        ("/cycles", "admin", CyclesState.status_next, ()),
        ("/cycles", "admin", CyclesState.status_prev, ()),
        ("/access-log", "admin", AccessLogState.next_page, ()),
        ("/access-log", "admin", AccessLogState.filter_kind, ("read",)),
    ],
    ids=lambda v: getattr(getattr(v, "fn", None), "__qualname__", None) or str(v),
)
def test_a_step_through_a_list_is_one_transaction(
    traffic: Traffic, t: TenantFixture, cycle: str, route: str, who: str, step: Any, args: tuple
) -> None:
    params = {"cycle": cycle} if route == "/cycles" else None
    st, _ = _visit(route, _token(t, who), params)
    assert traffic.of(lambda: call(st, step, *args)).begins == 1
    assert getattr(st, "error", "") == ""


@pytest.mark.parametrize(
    ("route", "who", "address"),
    [
        ("/goals", "manager", {"scope": "team", "status": "active", "sort": "title", "page": "2"}),
        ("/people", "manager", {"active": "all", "view": "tree", "page": "2"}),
        ("/cycles", "admin", {"page": "3"}),  # and the cycle, below
        ("/access-log", "admin", {"kind": "read", "page": "3"}),
    ],
)
def test_a_visit_from_an_address_with_filters_is_one_transaction(
    traffic: Traffic, t: TenantFixture, cycle: str, route: str, who: str, address: dict[str, str]
) -> None:
    """A reload or a shared link with the list's filters, sort, page (and open cycle) in
    its address is still one transaction, and the address is written back."""
    if route == "/cycles":
        address = address | {"cycle": cycle}
    token, seen = _token(t, who), []
    assert traffic.of(lambda: seen.append(_visit(route, token, address))).begins == 1
    st, events = seen[0]
    assert getattr(st, "error", "") == "" and "replaceState" in " ".join(map(str, events))


def test_the_session_check_travels_with_the_set_up(traffic: Traffic, t: TenantFixture) -> None:
    """`require_user` (a page without a load of its own) is one transaction and sends no
    statement of its own: the check and the look came in the set-up's round trip."""
    st = state_for(SessionState, _token(t, "emp1"), "/goals")
    seen = traffic.of(lambda: call(st, SessionState.require_user))
    assert (seen.begins, seen.statements) == (1, 0)
    assert st.user_name == "Employee 1" and st.accent == "crimson"


def test_a_stale_session_is_still_refused_in_one_transaction(
    traffic: Traffic, t: TenantFixture
) -> None:
    """A token whose session is not one (another id) is checked in the same one transaction
    and sent to sign-in, with nothing of the page in vars."""
    from pms_dashboard.auth import tokens

    claims = tokens.verify(_token(t, "emp1"))
    assert claims is not None
    forged = tokens.issue(dataclasses.replace(claims, session_id=uuid.uuid4()))
    seen: list[Any] = []
    assert traffic.of(lambda: seen.append(_visit("/goals", forged))).begins == 1
    st, events = seen[0]
    assert redirects_to(events) == "/signin" and st.rows == [] and st.user_name == ""


def test_a_goals_page_reuses_cached_plans_and_a_list_plans_for_its_tenant(
    t: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The goal page's events read and write one goal by key, so their transaction may reuse
    PostgreSQL's cached generic plans; a list's transaction keeps plans made for the tenant at
    hand (the runtime roles' setting). Each service below reports the setting it ran under."""
    seen: dict[str, list[str]] = {}

    def reporting(name: str) -> None:
        real = getattr(goals, name)

        def report(*args: Any, session: Any, **kwargs: Any) -> Any:
            mode = session.execute(text("SHOW plan_cache_mode")).scalar_one()
            seen.setdefault(name, []).append(mode)
            return real(*args, session=session, **kwargs)

        monkeypatch.setattr(goals, name, report)

    token, goal = _token(t, "emp1"), _first_goal(t)
    for name in ("goal_detail", "check_in", "list_goals", "parent_options"):
        reporting(name)
    st, _ = _visit("/goals/[goal_id]", token, {"goal_id": goal})
    call(
        st, GoalDetailState.submit_check_in, {"confidence": "on_track", "note": "", "progress": "5"}
    )
    call(st, GoalDetailState.start_edit)  # the edit form's parent menu is a list
    assert st.check_in_error == "" and st.error == ""
    _visit("/goals", token)
    assert seen == {
        "goal_detail": ["auto", "auto"],  # the page, and again after the check-in
        "check_in": ["auto"],
        "parent_options": ["force_custom_plan"],
        "list_goals": ["force_custom_plan"],
    }


def test_cached_plans_end_with_their_transaction(t: TenantFixture) -> None:
    """The next transaction on the same server session plans for its tenant again."""
    engine = one_connection_engine(placement_of(t.id))
    actor = TenantContext(tenant_id=t.id, user_id=t.user_id("emp1"), role="employee")
    try:
        with tenant_session(actor, engine=engine, first=[CACHED_PLANS]) as s:
            first = s.execute(text("SELECT pg_backend_pid(), current_setting('plan_cache_mode')"))
            pid, mode = first.one()
        assert mode == "auto"
        with tenant_session(actor, engine=engine) as s:
            after = s.execute(text("SELECT pg_backend_pid(), current_setting('plan_cache_mode')"))
            assert after.one() == (pid, "force_custom_plan")
    finally:
        engine.dispose()
