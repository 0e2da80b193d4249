"""Noisy-neighbour protection: a tenant running its share of exports or list queries is
asked to try again (429 with Retry-After, or a message on the page); other tenants are not
held up, and a slot frees itself when its transaction ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.cookies import SESSION_COOKIE
from pms_dashboard.exports import service as exports
from pms_dashboard.exports.routes import export_stream, routes
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import GoalInput, GoalListQuery
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import limits
from pms_dashboard.tenancy.session import tenant_session
from tests.conftest import TEST_PASSWORD, TenantFixture, ctx


def _client(t: TenantFixture) -> TestClient:
    client = TestClient(Starlette(routes=routes))
    token = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"admin@{t.slug}.test", password=TEST_PASSWORD
    ).token
    client.cookies.set(SESSION_COOKIE, token)
    return client


@pytest.fixture
def two(make_tenant) -> tuple[TenantFixture, TenantFixture]:
    a, b = make_tenant(), make_tenant()
    for t in (a, b):
        with tenant_session(ctx(t, "admin")) as s:
            data = GoalInput(title="A goal", start_date=date.today(),
                             due_date=date.today() + timedelta(30))  # fmt: skip
            goals.create_goal(session=s, actor=ctx(t, "admin"), data=data)
    return a, b


def _running_export(t: TenantFixture) -> Iterator[bytes]:
    """An export that has started streaming and is still going (its slot held)."""
    stream = export_stream(ctx(t, "admin"), exports.prepare("goals", {"scope": "all"}))
    next(stream)
    return stream


def test_a_tenant_at_its_export_limit_waits_and_others_do_not(two) -> None:
    a, b = two
    slots = get_settings().export_slots_per_tenant
    running = [_running_export(a) for _ in range(slots)]
    busy = _client(a).get("/api/export/goals.csv")
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == str(limits.EXPORT.retry_after_s)
    assert busy.json()["error"] == (
        f"Your organisation is already running {slots} exports at once. "
        f"Try again in {limits.EXPORT.retry_after_s} s."
    )
    assert _client(b).get("/api/export/goals.csv").status_code == 200  # B is not held up
    running.pop().close()  # one of A's downloads ends: its slot is free again
    assert _client(a).get("/api/export/goals.csv").status_code == 200
    for stream in running:
        stream.close()


def test_an_export_button_at_the_limit_says_so_on_the_page(two) -> None:
    """The page's button checks before it hands the browser a download: at the limit the
    page shows the route's message and offers nothing; once a slot is free, the download."""
    from pms_dashboard.ui.states.goals import GoalsState
    from tests.ui_harness import call, download_url, state_for, token_for

    a, b = two
    page_a = state_for(GoalsState, token_for(a.slug, f"admin@{a.slug}.test", TEST_PASSWORD))
    page_b = state_for(GoalsState, token_for(b.slug, f"admin@{b.slug}.test", TEST_PASSWORD))
    for page in (page_a, page_b):
        call(page, GoalsState.load)
    running = [_running_export(a) for _ in range(get_settings().export_slots_per_tenant)]
    assert call(page_a, GoalsState.export_csv, "goals") == []
    assert page_a.error == str(limits.TenantBusy(limits.EXPORT))
    assert download_url(call(page_b, GoalsState.export_csv, "goals"))  # B is not held up
    assert page_b.error == ""
    running.pop().close()
    assert download_url(call(page_a, GoalsState.export_csv, "goals"))
    for stream in running:
        stream.close()


@contextmanager
def _holding_list_slots(t: TenantFixture, n: int) -> Iterator[None]:
    with ExitStack() as stack:
        for _ in range(n):
            s = stack.enter_context(tenant_session(ctx(t, "admin")))
            limits.take_slot(s, limits.LIST)
        yield


def test_a_tenant_at_its_list_limit_is_told_to_retry_and_sees_no_change(two) -> None:
    from pms_dashboard.ui.states.goals import GoalsState
    from tests.ui_harness import call, state_for, token_for

    a, b = two
    page_a = state_for(GoalsState, token_for(a.slug, f"admin@{a.slug}.test", TEST_PASSWORD))
    call(page_a, GoalsState.load)
    assert page_a.total == 1 and page_a.error == ""
    with _holding_list_slots(a, get_settings().list_slots_per_tenant):
        call(page_a, GoalsState.set_scope, "team")
        assert page_a.error.startswith("Your organisation is already running")
        assert page_a.total == 1 and page_a.scope == "mine"  # the list as it was
        with tenant_session(ctx(b, "admin")) as s:  # B's list runs
            assert (
                goals.list_goals(session=s, actor=ctx(b, "admin"), query=GoalListQuery()).total == 1
            )
        with pytest.raises(limits.TenantBusy), tenant_session(ctx(a, "admin")) as s:
            goals.list_goals(session=s, actor=ctx(a, "admin"), query=GoalListQuery())
        # the overview's counts are a pass over the tenant's goals too: they wait their turn
        with pytest.raises(limits.TenantBusy), tenant_session(ctx(a, "admin")) as s:
            goals.goal_health(session=s, actor=ctx(a, "admin"))
        with tenant_session(ctx(b, "admin")) as s:
            assert goals.goal_health(session=s, actor=ctx(b, "admin")).total == 1
    call(page_a, GoalsState.set_scope, "team")  # the slots were freed with their transactions
    assert page_a.error == "" and page_a.scope == "team" and page_a.total == 0


def test_a_slot_needs_a_tenant_session() -> None:
    from pms_dashboard.tenancy.session import contextless_session

    with pytest.raises(RuntimeError), contextless_session() as s:
        limits.take_slot(s, limits.EXPORT)


def test_a_list_page_tries_its_slot_in_the_set_up_round_trip(two) -> None:
    """The list page's slot is tried with the door's set-up (`limits.slot_try`), not by a
    statement of its own; the slots are tried in order, so the last free one is found."""
    from sqlalchemy import Engine, event

    from pms_dashboard.ui.states.goals import GoalsState
    from tests.ui_harness import call, state_for, token_for

    a, _b = two
    page = state_for(GoalsState, token_for(a.slug, f"admin@{a.slug}.test", TEST_PASSWORD))
    call(page, GoalsState.load)
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        call(page, GoalsState.set_scope, "team")
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert page.error == "" and page.scope == "team"
    assert sent and not [s for s in sent if "advisory" in s]
    with _holding_list_slots(a, get_settings().list_slots_per_tenant - 1):
        call(page, GoalsState.set_scope, "mine")
        assert page.error == "" and page.scope == "mine" and page.total == 1
