"""How dates, times and numbers read on a page (`ui.format`), and that a goal page's vars
read the same as before services stopped formatting: whole percents, plain numbers, dates
as 2026-11-27 and check-in times in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from pms_dashboard.goals.schemas import CheckInView, GoalLink, KeyResultView, TreeNode
from pms_dashboard.ui.format import day, fixed, moment, number, percent
from pms_dashboard.ui.states.rows import check_in_row, goal_link_row, goal_tree_row, key_result_row


def test_dates_and_times() -> None:
    assert day(date(2026, 3, 7)) == "2026-03-07"
    assert day(None) == ""
    at = datetime(2026, 11, 27, 9, 1, 23, tzinfo=timezone(timedelta(hours=2)))
    assert moment(at) == "2026-11-27 07:01 UTC"  # told in UTC whatever zone it came in
    assert moment(at, seconds=True) == "2026-11-27 07:01:23 UTC"
    assert moment(None) == ""


def test_numbers_and_percents() -> None:
    assert [number(Decimal(v)) for v in ("200.00", "12.50", "-5.00", "0.00", "-0.00")] == [
        "200",
        "12.5",
        "-5",
        "0",
        "0",
    ]
    assert number(Decimal("1000000000000.00")) == "1000000000000"  # never 1E+12
    assert number(None) == ""
    assert [percent(Decimal(v)) for v in ("62.5", "62.49", "0", "100.00")] == [63, 62, 0, 100]
    assert percent(Decimal(100) / 3) == 33
    assert percent(None) == 0
    assert [fixed(v, places=2) for v in (Decimal("3"), Decimal("4.25"), 2.5, None)] == [
        "3.00",
        "4.25",
        "2.50",
        "",
    ]


def test_a_service_result_as_row_values() -> None:
    kr = KeyResultView(
        id="k",
        title="Revenue",
        start_value=Decimal("0.00"),
        target_value=Decimal("200.00"),
        current_value=Decimal("12.50"),
        unit="k",
        weight=Decimal("1.00"),
        progress=Decimal("6.25"),
    )
    check_in = CheckInView(
        id="c",
        author="Ann",
        at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        progress=Decimal("50.00"),
        confidence="on_track",
        note="",
    )
    parent = GoalLink(
        id="p",
        title="Top",
        owner="Bo",
        progress=Decimal("72.50"),
        weight=Decimal("3.00"),
        status="active",
        visible=True,
    )
    got = {
        "key_results": [key_result_row(kr)],
        "check_ins": [check_in_row(check_in)],
        "parent": goal_link_row(parent),
        "n": 3,
    }
    assert got == {
        "key_results": [
            {
                "id": "k",
                "title": "Revenue",
                "start_value": "0",
                "target_value": "200",
                "current_value": "12.5",
                "unit": "k",
                "weight": "1",
                "progress": 6,
            }
        ],
        "check_ins": [
            {
                "id": "c",
                "author": "Ann",
                "at": "2026-01-02 03:04 UTC",
                "progress": 50,
                "confidence": "on_track",
                "note": "",
            }
        ],
        "parent": {
            "id": "p",
            "title": "Top",
            "owner": "Bo",
            "progress": 73,
            "weight": "3",
            "status": "active",
            "visible": True,
        },
        "n": 3,
    }
    node = TreeNode(id="", title="x", owner="", progress=Decimal(0), status="active", depth=2)
    assert [goal_tree_row(node)] == [
        {"id": "", "title": "x", "owner": "", "progress": 0, "status": "active", "depth": 2}
    ]
