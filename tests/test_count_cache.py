"""The overview's goal counts over a very large scope are kept for a short time
(`PMS_COUNTS_KEPT_OVER`, `tenancy.cache`); smaller ones are read on every call, and 0 keeps
none. A kept count is dropped by a committed write of goals or people in this process, and
never crosses viewers or tenants. The threshold is lowered here instead of seeding 10,000
goals."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from pms_dashboard.db.engine import owner_engine
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import CheckInInput, GoalHealth, GoalListQuery
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import cache
from pms_dashboard.tenancy.session import tenant_session
from tests.conftest import TenantFixture, add_goals, ctx, new_tenant
from tests.test_menu_cache import Statements


@pytest.fixture
def statements() -> Iterator[Statements]:
    cache.clear()
    yield Statements()
    cache.clear()


def _keep_over(monkeypatch: pytest.MonkeyPatch, goals: int) -> None:
    monkeypatch.setenv("PMS_COUNTS_KEPT_OVER", str(goals))
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _settings_again() -> Iterator[None]:
    yield
    get_settings.cache_clear()  # after monkeypatch has put the environment back


def _counted(sql: list[str]) -> int:
    return sum("count(*) FILTER" in s for s in sql)


def _health(t: TenantFixture, who: str) -> GoalHealth:
    actor = ctx(t, who)
    with tenant_session(actor) as s:
        return goals.goal_health(session=s, actor=actor)


def _tenant() -> TenantFixture:
    t = new_tenant()
    add_goals(t, "emp1", 3)
    add_goals(t, "manager", 1)
    return t


def _behind_the_apps_back(t: TenantFixture) -> None:
    """Complete one of emp1's goals without the app knowing (no session of ours)."""
    with owner_engine().begin() as conn:
        conn.execute(
            text(
                "UPDATE goal SET status = 'completed' WHERE id = (SELECT id FROM goal"
                " WHERE tenant_id = :t AND status = 'active' ORDER BY id LIMIT 1)"
            ),
            {"t": t.id},
        )


def test_a_large_count_is_kept_until_a_write_in_this_process(
    statements: Statements, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keep_over(monkeypatch, 2)
    t = _tenant()
    first = _health(t, "manager")
    assert first.total == 4 and first.at_risk == 0
    again = statements.of(lambda: _health(t, "manager"))
    assert _counted(again) == 0  # kept
    _behind_the_apps_back(t)  # another process's change: seen when the lifetime ends
    assert _health(t, "manager") == first
    actor = ctx(t, "emp1")
    with tenant_session(actor) as s:
        rows = goals.list_goals(session=s, actor=actor, query=GoalListQuery()).rows
        goal_id = next(r.id for r in rows if r.status == "active")
        goals.check_in(
            session=s,
            actor=actor,
            goal_id=goal_id,
            data=CheckInInput(confidence="at_risk", progress=Decimal(5)),
        )
    after = statements.of(lambda: _health(t, "manager"))
    assert _counted(after) == 1  # the check-in committed here: read again
    now = _health(t, "manager")
    assert (now.at_risk, now.completed) == (1, 1)


def test_a_change_of_reports_shows_at_once_wherever_it_was_made(
    statements: Statements, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keep_over(monkeypatch, 2)
    t = _tenant()
    assert _health(t, "manager").total == 4
    kept = statements.of(lambda: _health(t, "manager"))
    assert _counted(kept) == 0 and len(kept) >= 1  # kept: only its reports are checked
    with owner_engine().begin() as conn:  # emp1 leaves the team, not through this process
        conn.execute(
            text("UPDATE app_user SET manager_id = NULL WHERE id = :u"), {"u": t.user_id("emp1")}
        )
    assert _health(t, "manager").total == 1  # their goals are no longer counted
    assert _health(t, "emp1").total == 3


def test_the_lifetime_ends_a_kept_count(
    statements: Statements, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keep_over(monkeypatch, 2)
    monkeypatch.setattr(cache, "LIFETIME_S", -1.0)  # every entry out of date once kept
    t = _tenant()
    _health(t, "manager")
    _behind_the_apps_back(t)
    assert _counted(statements.of(lambda: _health(t, "manager"))) == 1
    assert _health(t, "manager").completed == 1


def test_a_small_count_is_read_on_every_call(statements: Statements) -> None:
    t = _tenant()  # 4 goals, far under the threshold
    first = _health(t, "manager")
    assert _counted(statements.of(lambda: _health(t, "manager"))) == 1
    _behind_the_apps_back(t)
    assert _health(t, "manager").completed == first.completed + 1


def test_kept_counts_never_cross_viewers_or_tenants(
    statements: Statements, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keep_over(monkeypatch, 1)  # every count of more than one goal is kept
    a, b = _tenant(), new_tenant()
    add_goals(b, "manager", 2)
    assert _health(a, "manager").total == 4
    assert _health(a, "emp1").total == 3  # their own goals, not the manager's kept count
    assert _health(a, "emp2").total == 0
    assert _health(b, "manager").total == 2  # the same role and scope in another tenant
    assert _health(a, "manager").total == 4


def test_zero_keeps_no_count(statements: Statements, monkeypatch: pytest.MonkeyPatch) -> None:
    _keep_over(monkeypatch, 0)
    t = _tenant()
    _health(t, "manager")
    assert _counted(statements.of(lambda: _health(t, "manager"))) == 1
