"""The overview's review charts: the running cycle's funnel and rating distribution as its
status page counts them for the same person, read without a page of rows."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, event

from pms_dashboard.auth.resolve import NotFoundHere
from pms_dashboard.reviews.calibration import cycle_status, cycle_tallies
from pms_dashboard.ui.states.overview import OverviewState
from pms_dashboard.ui.states.rows import count_rows
from tests.conftest import TEST_PASSWORD
from tests.test_reviews import Org, _launched, _review, _write, org, other  # noqa: F401  (the fixtures)
from tests.ui_harness import call, state_for, token_for


def _overview(o: Org, who: str) -> OverviewState:
    st = state_for(OverviewState, token_for(o.t.slug, f"{who}@{o.t.slug}.test", TEST_PASSWORD))
    call(st, OverviewState.load)
    return st


def test_the_overview_shows_the_cycle_as_its_status_page_counts_it(org: Org) -> None:  # noqa: F811
    o = org
    cycle_id = _launched(o)
    _write(o, "manager", _review(o, cycle_id, "emp1", "manager"), [4, 5])  # rated, manager done
    status = o.do("manager", cycle_status, cycle_id=cycle_id)
    assert sum(n for _, n in status.funnel) >= 2  # emp1 and emp2 at least, not one state

    st = _overview(o, "manager")

    assert st.cycle_name == "H1"
    assert st.cycle_href == f"/cycles?cycle={cycle_id}"
    assert st.funnel == count_rows((n.replace("_", " "), c) for n, c in status.funnel)
    assert st.ratings == count_rows(status.distribution)
    counts = {row["name"]: row["count"] for row in st.funnel}
    assert counts["manager done"] == 1 and counts["not started"] >= 1
    assert {row["name"] for row in st.ratings if row["count"]} >= {"Not rated"}
    assert sum(row["count"] for row in st.ratings) == sum(n for _, n in status.funnel)


def test_the_tallies_are_the_status_pages_and_read_no_rows_of_it(org: Org) -> None:  # noqa: F811
    o = org
    cycle_id = _launched(o)
    _write(o, "manager", _review(o, cycle_id, "emp2", "manager"), [2, 3])
    status = o.do("hr", cycle_status, cycle_id=cycle_id)
    sent: list[str] = []

    def count(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        funnel, distribution = o.do("hr", cycle_tallies, cycle_id=cycle_id)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert (funnel, distribution) == (status.funnel, status.distribution)
    assert any("GROUP BY" in s and "review_outcome" in s for s in sent)  # the tallies, seen
    assert not [s for s in sent if "ORDER BY" in s and "review_outcome" in s]  # no page


def test_the_tallies_refuse_another_tenants_cycle_and_show_an_employee_nobody(
    org: Org,  # noqa: F811
    other: Org,  # noqa: F811
) -> None:
    theirs = _launched(other)
    with pytest.raises(NotFoundHere):
        org.do("hr", cycle_tallies, cycle_id=theirs)
    with pytest.raises(NotFoundHere):
        org.do("hr", cycle_tallies, cycle_id=uuid.uuid4())
    mine = _launched(org)
    _write(org, "manager", _review(org, mine, "emp1", "manager"), [4, 5])
    # an employee sees in it what the status page shows them: nobody else's outcome
    funnel, distribution = org.do("emp1", cycle_tallies, cycle_id=mine)
    status = org.do("emp1", cycle_status, cycle_id=mine)
    assert (funnel, distribution) == (status.funnel, status.distribution)
    assert sum(n for _, n in funnel) == 0
