"""How dates, times and numbers read on a page (`ui.format`), and that a goal page's vars
read the same as before services stopped formatting: whole percents, plain numbers, dates
as 2026-11-27 and check-in times in the reader's zone (UTC unless they chose one), with the
zone's abbreviation, right on both sides of a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

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


@pytest.mark.parametrize(
    ("zone", "utc", "shown"),
    [
        # Berlin springs forward at 01:00 UTC on 2026-03-29: 02:00 CET becomes 03:00 CEST
        ("Europe/Berlin", datetime(2026, 3, 29, 0, 59, 59), "2026-03-29 01:59:59 CET"),
        ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, 0), "2026-03-29 03:00:00 CEST"),
        # ... and falls back at 01:00 UTC on 2026-10-25: 02:30 happens twice, told apart
        ("Europe/Berlin", datetime(2026, 10, 25, 0, 30, 0), "2026-10-25 02:30:00 CEST"),
        ("Europe/Berlin", datetime(2026, 10, 25, 1, 30, 0), "2026-10-25 02:30:00 CET"),
        # New York springs forward at 07:00 UTC on 2026-03-08
        ("America/New_York", datetime(2026, 3, 8, 6, 59, 0), "2026-03-08 01:59:00 EST"),
        ("America/New_York", datetime(2026, 3, 8, 7, 0, 0), "2026-03-08 03:00:00 EDT"),
        ("Asia/Kolkata", datetime(2026, 1, 1, 0, 0, 0), "2026-01-01 05:30:00 IST"),
        ("UTC", datetime(2026, 1, 1, 0, 0, 0), "2026-01-01 00:00:00 UTC"),
        ("Mars/Olympus_Mons", datetime(2026, 1, 1, 0, 0, 0), "2026-01-01 00:00:00 UTC"),
    ],
)
def test_a_moment_reads_in_the_readers_zone(zone: str, utc: datetime, shown: str) -> None:
    at = utc.replace(tzinfo=UTC)
    assert moment(at, zone=zone, seconds=True) == shown
    assert moment(at, zone=zone) == shown[:16] + shown[19:]  # without seconds
    assert day(at, zone=zone) == shown[:10]


def test_a_day_of_a_moment_is_the_readers_day() -> None:
    late = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)  # still new year's eve in California
    assert day(late, zone="America/Los_Angeles") == "2025-12-31"
    assert day(late, zone="Asia/Tokyo") == day(late) == "2026-01-01"
    assert day(date(2026, 1, 1), zone="America/Los_Angeles") == "2026-01-01"  # a date stays


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
        "check_ins": [check_in_row(check_in, zone="UTC")],
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
