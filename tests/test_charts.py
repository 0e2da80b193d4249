"""The charts' numbers: each bar's length, the ring's parts and its gradient, and what the
overview's load puts into them for a real organisation."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from pms_dashboard.goals import service
from pms_dashboard.goals.schemas import CheckInInput, GoalInput, GoalListQuery
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.overview import OverviewState, ring_gradient
from pms_dashboard.ui.states.rows import ChartSlice, count_rows, shares
from tests.conftest import TEST_PASSWORD, TenantFixture, ctx
from tests.ui_harness import call, state_for, token_for


def test_a_bar_is_its_count_as_a_share_of_the_largest() -> None:
    assert shares([6, 2, 1, 11]) == [54.5, 18.2, 9.1, 100.0]
    assert shares([3]) == [100.0]
    assert shares([0, 0]) == [0.0, 0.0]  # nothing counted: no bar at all
    assert shares([]) == []


def test_a_ring_part_is_its_count_as_a_share_of_the_whole() -> None:
    assert shares([20, 2], of_total=True) == [90.9, 9.1]
    assert shares([0, 5], of_total=True) == [0.0, 100.0]
    assert shares([0, 0], of_total=True) == [0.0, 0.0]


def test_count_rows_keep_names_and_counts_in_order_with_their_lengths() -> None:
    rows = count_rows([("not started", 6), ("self done", 3), ("shared", 0)])
    assert rows == [
        {"name": "not started", "count": 6, "share": 100.0},
        {"name": "self done", "count": 3, "share": 50.0},
        {"name": "shared", "count": 0, "share": 0.0},
    ]


def _part(name: str, share: float, fill: str) -> ChartSlice:
    return ChartSlice(name=name, value=0, share=share, fill=fill)


def test_the_ring_gradient_runs_round_once_and_closes() -> None:
    parts = [_part("Active", 90.9, "var(--accent-9)"), _part("Completed", 9.1, "var(--green-9)")]
    assert ring_gradient(parts) == (
        "conic-gradient(var(--accent-9) 0.0% 90.9%, var(--green-9) 90.9% 100.0%)"
    )
    # rounded shares that add up to 99.9 still close the ring
    parts = [_part("a", 33.3, "red"), _part("b", 33.3, "blue"), _part("c", 33.3, "green")]
    assert ring_gradient(parts).endswith("green 66.6% 100.0%)")
    # a part of nothing draws nothing; nothing at all is a grey ring
    assert ring_gradient([_part("a", 0.0, "red"), _part("b", 100.0, "blue")]) == (
        "conic-gradient(blue 0.0% 100.0%)"
    )
    assert ring_gradient([_part("a", 0.0, "red")]) == "var(--gray-5)"


PLAN = (("One", "active"), ("Two", "active"), ("Three", "active"), ("Four", "completed"))


PLAN = (("One", "active"), ("Two", "active"), ("Three", "active"), ("Four", "completed"))


def test_the_overview_fills_its_charts_from_the_organisations_goals(make_tenant) -> None:
    t = make_tenant()
    manager = ctx(t, "manager")
    start, due = date.today() - timedelta(days=5), date.today() + timedelta(days=60)
    with tenant_session(manager) as s:
        ids = [
            service.create_goal(
                session=s,
                actor=manager,
                data=GoalInput(title=title, start_date=start, due_date=due, status=status),
            )
            for title, status in PLAN
        ]
    with tenant_session(manager) as s:
        for goal_id, confidence in zip(ids, ("on_track", "on_track", "at_risk"), strict=False):
            service.check_in(
                session=s,
                actor=manager,
                goal_id=goal_id,
                data=CheckInInput(confidence=confidence, progress=Decimal(10)),
            )
    st = state_for(OverviewState, _token(t), "/overview")
    call(st, OverviewState.load)
    bars = {row["name"]: (row["value"], row["share"]) for row in st.health_chart}
    assert bars["On track"] == (2, 100.0)
    assert bars["At risk"] == (1, 50.0)
    assert bars["Off track"] == (0, 0.0)
    # every bar opens exactly the goals it counts
    for bar in st.health_chart:
        params = {k: v[0] for k, v in parse_qs(urlsplit(bar["href"]).query).items()}
        with tenant_session(manager) as s:
            listed = service.list_goals(session=s, actor=manager, query=GoalListQuery(**params))
        assert listed.total == bar["value"], bar
    ring = {row["name"]: (row["value"], row["share"]) for row in st.completion_chart}
    assert ring == {"Active": (3, 75.0), "Completed": (1, 25.0)}
    assert st.completion_done == "25%"
    assert st.completion_ring == (
        "conic-gradient(var(--accent-9) 0.0% 75.0%, var(--green-9) 75.0% 100.0%)"
    )


def test_an_organisation_with_no_goals_gets_empty_bars_and_a_grey_ring(make_tenant) -> None:
    st = state_for(OverviewState, _token(make_tenant()), "/overview")
    call(st, OverviewState.load)
    assert [row["share"] for row in st.health_chart] == [0.0, 0.0, 0.0, 0.0]
    assert st.completion_ring == "var(--gray-5)"
    assert st.completion_done == "-"


def _token(t: TenantFixture) -> str:
    return token_for(t.slug, f"manager@{t.slug}.test", TEST_PASSWORD)
