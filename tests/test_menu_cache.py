"""The list pages' filter menus are read once and kept per tenant and viewer for a short
time (`tenancy.cache`): a second visit reads none of them, paging never does; a change of
the tenant shows at once in this process; nothing crosses tenants or viewers, and a tab
taken over by another session starts with empty menus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from pms_dashboard.people import service as people
from pms_dashboard.people.schemas import InviteInput
from pms_dashboard.tenancy import cache
from pms_dashboard.tenancy.session import contextless_session, tenant_session
from pms_dashboard.ui.states.base import TabOwnerGuard
from pms_dashboard.ui.states.goals import PAGE_SIZE, GoalsState
from pms_dashboard.ui.states.people import PeopleState
from tests.conftest import TEST_PASSWORD, TenantFixture, add_goals, add_person, ctx, new_tenant
from tests.ui_harness import call, state_for, token_for


class Statements:
    """Statements sent through SQLAlchemy, on every engine, while counting."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.sql.append(statement)

    def of(self, fn: Callable[[], Any]) -> list[str]:
        self.sql = []
        event.listen(Engine, "before_cursor_execute", self._seen)
        try:
            fn()
        finally:
            event.remove(Engine, "before_cursor_execute", self._seen)
        return self.sql


@pytest.fixture
def statements() -> Iterator[Statements]:
    cache.clear()
    yield Statements()
    cache.clear()


def _tenant(team: str) -> TenantFixture:
    """A tenant whose two employees are in `team` and have more goals than a page shows."""
    t = new_tenant()
    for key in ("emp1", "emp2"):
        add_person(t, f"{key}-peer", manager="manager", team=team)
    add_goals(t, "emp1", PAGE_SIZE + 2, period=f"{team}-period")
    return t


def _token(t: TenantFixture, key: str) -> str:
    return token_for(t.slug, f"{key}@{t.slug}.test", TEST_PASSWORD)


def _menu_reads(sql: list[str]) -> int:
    """The menu statements among `sql`: periods, owners and teams."""
    marks = ("p(period)", "DISTINCT app_user.team", "app_user.id != ")
    return sum(any(m in " ".join(s.split()) for m in marks) for s in sql)


def test_a_second_visit_and_paging_read_no_menu(statements: Statements) -> None:
    t = _tenant("Alpha")
    st = state_for(GoalsState, _token(t, "manager"), "/goals")
    first = statements.of(lambda: call(st, GoalsState.load))
    assert _menu_reads(first) == 3 and "Alpha" in st.teams and "Alpha-period" in st.periods
    again = statements.of(lambda: call(st, GoalsState.load))
    assert _menu_reads(again) == 0 and len(again) == len(first) - 3
    assert "Alpha" in st.teams and "Alpha-period" in st.periods
    paging = statements.of(lambda: call(st, GoalsState.set_scope, "team"))
    assert _menu_reads(paging) == 0 and st.teams == ["Alpha"]


def test_the_lifetime_is_kept(statements: Statements, monkeypatch: pytest.MonkeyPatch) -> None:
    t = _tenant("Alpha")
    st = state_for(GoalsState, _token(t, "manager"), "/goals")
    monkeypatch.setattr(cache, "LIFETIME_S", -1.0)  # every entry is out of date at once
    call(st, GoalsState.load)
    assert _menu_reads(statements.of(lambda: call(st, GoalsState.load))) == 3


def test_a_change_of_the_tenant_shows_at_the_next_visit(statements: Statements) -> None:
    t = _tenant("Alpha")
    goals_page = state_for(GoalsState, _token(t, "manager"), "/goals")
    people_page = state_for(PeopleState, _token(t, "admin"), "/people")
    call(goals_page, GoalsState.load)
    call(people_page, PeopleState.load)
    assert "Beta" not in people_page.teams
    admin = ctx(t, "admin")
    with tenant_session(admin) as s:
        people.invite_user(
            session=s,
            actor=admin,
            data=InviteInput(
                email=f"new@{t.slug}.test",
                display_name="Newcomer",
                team="Beta",
                manager_id=str(t.user_id("manager")),
            ),
        )
    call(goals_page, GoalsState.load)
    call(people_page, PeopleState.next_page)  # the people page reads them on each step
    assert "Beta" in goals_page.teams and "Newcomer" in {o["name"] for o in goals_page.owners}
    assert "Beta" in people_page.teams


def test_menus_never_cross_tenants_or_viewers(statements: Statements) -> None:
    a, b = _tenant("Alpha"), _tenant("Bravo")
    manager = state_for(GoalsState, _token(a, "manager"), "/goals")
    employee = state_for(GoalsState, _token(a, "emp1"), "/goals")
    other = state_for(GoalsState, _token(b, "manager"), "/goals")
    for st in (manager, employee, other):
        call(st, GoalsState.load)
    assert {o["name"] for o in employee.owners} == {"Employee 1"}  # themself only
    assert {"Employee 1", "Employee 2", "emp1-peer"} <= {o["name"] for o in manager.owners}
    assert other.teams == ["Bravo"] and manager.teams == ["Alpha"]
    a_ids = {str(u.id) for u in a.users.values()}
    assert not a_ids & {o["id"] for o in other.owners}
    assert {o["id"] for o in manager.owners} <= a_ids


def test_a_tab_taken_over_by_another_session_starts_with_empty_menus(
    statements: Statements,
) -> None:
    a, b = _tenant("Alpha"), _tenant("Bravo")
    st = state_for(GoalsState, _token(a, "manager"), "/goals")
    root = st._get_root_state()
    guard = TabOwnerGuard()
    asyncio.run(guard.preprocess(None, root, None))
    call(st, GoalsState.load)
    assert st.teams == ["Alpha"] and st.owners and st.periods
    cookie = f"pms_session={_token(b, 'manager')}"
    for s in [root, *_all(root)]:
        s.router = s.router.__class__.from_router_data(
            {"headers": {"cookie": cookie}, "pathname": "/goals", "query": {}, "asPath": "/goals"}
        )
    asyncio.run(guard.preprocess(None, root, None))
    assert st.teams == [] and st.owners == [] and st.periods == []
    call(st, GoalsState.load)
    b_ids = {str(u.id) for u in b.users.values()}
    assert st.teams == ["Bravo"] and {o["id"] for o in st.owners} <= b_ids


def _all(state: Any) -> list[Any]:
    out = []
    for sub in state.substates.values():
        out.extend([sub, *_all(sub)])
    return out


def test_a_read_without_a_tenant_session_is_refused() -> None:
    with contextless_session() as s, pytest.raises(RuntimeError):
        cache.cached(s, ("x",), lambda: 1)


def test_a_write_drops_only_the_menus_read_from_its_tables(statements: Statements) -> None:
    """A change of goals (a check-in, an edit) re-reads the periods menu only: the menus of
    people (owners, teams) stay kept. A change of people is the previous test."""
    from sqlalchemy import select

    from pms_dashboard.goals.models import Goal

    t = _tenant("Alpha")
    st = state_for(GoalsState, _token(t, "manager"), "/goals")
    call(st, GoalsState.load)
    with tenant_session(ctx(t, "emp1")) as s:  # an ORM write of a goal
        goal = s.scalars(select(Goal).where(Goal.owner_id == t.user_id("emp1"))).first()
        assert goal is not None
        goal.period = "Alpha-later"
    after = statements.of(lambda: call(st, GoalsState.load))
    assert _menu_reads(after) == 1  # the periods; owners and teams kept
    assert "Alpha-later" in st.periods and st.teams == ["Alpha"]


@pytest.mark.parametrize(
    ("write", "dropped"),
    [
        ("UPDATE goal SET title = title WHERE false", False),  # one plain write: its table
        ("UPDATE app_user SET team = team WHERE false", True),
        ('DELETE FROM "app_user" WHERE false', True),
        ("UPDATE public.app_user SET team = team WHERE false", True),  # schema-qualified
        ('UPDATE "public"."goal" SET title = title WHERE false', False),
        # more than one write, or a shape not parsed: counts as a write of every table
        (
            "WITH g AS (UPDATE goal SET title = title WHERE false RETURNING 1)"
            " UPDATE goal SET title = title WHERE false",
            True,
        ),
        ("SELECT 1 FROM goal WHERE false FOR UPDATE", True),
    ],
)
def test_a_textual_write_drops_what_it_may_have_changed(
    statements: Statements, write: str, dropped: bool
) -> None:
    from sqlalchemy import text

    t = new_tenant()
    reads: list[int] = []

    def read_people(s: Any) -> list[str]:
        reads.append(1)
        return ["kept"]

    def visit() -> None:
        with tenant_session(ctx(t, "admin")) as s:
            cache.cached(s, "people", lambda: read_people(s), tables=["app_user"])

    visit()
    with tenant_session(ctx(t, "admin")) as s:
        s.execute(text(write))
    visit()
    assert len(reads) == (2 if dropped else 1)


def test_a_value_read_while_a_write_of_its_tables_commits_is_not_kept(
    statements: Statements,
) -> None:
    """The race: another transaction writes people while the menu is being read, so what
    was read may be out of date and is not kept; a write of other tables does not count."""
    from sqlalchemy import text

    t = new_tenant()
    reads: list[str] = []

    def read_while(write: str) -> Callable[[], list[str]]:
        def read() -> list[str]:
            reads.append(write)
            with tenant_session(ctx(t, "admin")) as other:
                other.execute(text(write))
            return ["value"]

        return read

    for write in ("UPDATE app_user SET team = team WHERE false", "UPDATE goal SET title = title"):
        for _ in range(2):
            with tenant_session(ctx(t, "admin")) as s:
                cache.cached(s, write, read_while(write), tables=["app_user"])
    assert reads.count("UPDATE app_user SET team = team WHERE false") == 2  # never kept
    assert reads.count("UPDATE goal SET title = title") == 1  # kept: goals are not read


def test_a_read_that_names_no_tables_is_kept_until_any_write(statements: Statements) -> None:
    from sqlalchemy import text

    t = new_tenant()
    reads: list[int] = []

    def visit() -> None:
        with tenant_session(ctx(t, "admin")) as s:
            cache.cached(s, "anything", lambda: reads.append(1) or ["value"])

    visit()
    visit()  # nothing written: kept
    with tenant_session(ctx(t, "admin")) as s:
        s.execute(text("UPDATE goal SET title = title WHERE false"))
    visit()  # any write of the tenant drops it
    assert len(reads) == 2
