"""What the manager sees beside the review they write: the person's self review once it is
submitted (else a note saying why not), their goals of the cycle's period (not archived,
not another person's, not outside the period), their latest check-ins on those goals (at
most five, newest first, notes opened under the organisation's key), and every score with
its name on the rating scale. Nobody else gets the context: not the reviewee, a peer, HR
reading, another organisation's manager, or a forged review id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from pms_dashboard.errors import UserError
from pms_dashboard.goals.models import Goal, GoalCheckIn
from pms_dashboard.keys import envelope
from pms_dashboard.reviews.writing import get_review
from pms_dashboard.tenancy.session import owner_session
from tests.conftest import TenantFixture
from tests.test_keys import use_platform
from tests.test_reviews import Org, _build_org, _launched, _review, _write


@pytest.fixture
def org(make_tenant: Callable[..., TenantFixture]) -> Org:
    return _build_org(make_tenant())


def _goal(o: Org, owner: str, title: str, start: date, due: date, **extra: object) -> uuid.UUID:
    goal = Goal(
        tenant_id=o.t.id,
        owner_id=o.ids[owner],
        title=title,
        start_date=start,
        due_date=due,
        progress=Decimal(40),
        **extra,
    )
    with owner_session(o.t.id) as s:
        s.add(goal)
        s.flush()
        return goal.id


def add_check_in(
    tenant_id: uuid.UUID,
    goal_id: uuid.UUID,
    author_id: uuid.UUID,
    at: datetime,
    progress: int = 10,
    **extra: object,
) -> uuid.UUID:
    """A check-in on `goal_id` made at `at` (through the ORM, so a note is sealed when the
    organisation encrypts)."""
    row = GoalCheckIn(
        tenant_id=tenant_id,
        goal_id=goal_id,
        author_id=author_id,
        created_at=at,
        progress=Decimal(progress),
        **extra,
    )
    with owner_session(tenant_id) as s:
        s.add(row)
        s.flush()
        return row.id


def test_the_manager_sees_the_self_review_and_the_goals_of_the_period(org: Org) -> None:
    o = org
    cycle_id = _launched(o)  # period 2025-01-01 .. 2025-06-30
    _goal(o, "emp1", "Ship the importer", date(2025, 2, 1), date(2025, 5, 31),
          confidence="at_risk")  # fmt: skip
    _goal(o, "emp1", "Spans the period's end", date(2025, 6, 1), date(2025, 9, 30))
    _goal(o, "emp1", "Last year", date(2024, 1, 1), date(2024, 6, 30))
    _goal(o, "emp1", "Archived one", date(2025, 2, 1), date(2025, 3, 1), status="archived")
    _goal(o, "emp2", "A colleague's goal", date(2025, 2, 1), date(2025, 3, 1))
    manager_review = _review(o, cycle_id, "emp1", "manager")

    before = o.do("manager", get_review, review_id=manager_review.id).context
    assert before is not None and before.self_review is None
    assert before.self_review_note == "Their self review is not submitted yet."
    titles = [g.title for g in before.goals]
    assert titles == ["Ship the importer", "Spans the period's end"]
    assert before.goals[0].confidence == "at_risk" and before.goals[0].progress == 40

    _write(o, "emp1", _review(o, cycle_id, "emp1", "self"), [4, 2], summary="My half year")
    after = o.do("manager", get_review, review_id=manager_review.id).context
    assert after is not None and after.self_review is not None
    assert after.self_review_note == ""
    assert after.self_review.summary == "My half year"
    assert [(r.score, r.label) for r in after.self_review.ratings] == [
        (4, "Exceeds expectations"),
        (2, "Partially meets"),
    ]
    assert after.self_review.score_label != ""


def test_nobody_else_gets_the_context(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    self_review = _review(o, cycle_id, "emp1", "self")
    manager_review = _review(o, cycle_id, "emp1", "manager")
    assert o.do("emp1", get_review, review_id=self_review.id).context is None
    assert o.do("manager", get_review, review_id=self_review.id).context is None
    assert o.do("hr", get_review, review_id=manager_review.id).context is None


def test_scores_carry_their_labels(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    shown = _write(o, "emp1", _review(o, cycle_id, "emp1", "self"), [5, 1])
    assert [r.label for r in shown.ratings] == ["Outstanding", "Below expectations"]
    assert shown.score_label  # the weighted score's nearest label


def test_the_calibrator_sees_the_scores_to_weigh(org: Org) -> None:
    from pms_dashboard.auth.permissions import PermissionDenied
    from pms_dashboard.reviews.calibration import calibration_scores
    from pms_dashboard.reviews.cycles import start_calibration
    from pms_dashboard.reviews.peers import nominate_peers
    from tests.test_reviews import _outcome

    o = org
    cycle_id = _launched(o)
    o.do("manager", nominate_peers, cycle_id=cycle_id, reviewee_id=o.ids["emp1"],
         data={"peer_ids": [str(o.ids["emp2"])]})  # fmt: skip
    _write(o, "emp1", _review(o, cycle_id, "emp1", "self"), [4, 4])
    _write(o, "manager", _review(o, cycle_id, "emp1", "manager"), [3, 3])
    _write(o, "emp2", _review(o, cycle_id, "emp1", "peer"), [1, 1])  # one peer: not shown
    o.do("hr", start_calibration, cycle_id=cycle_id)
    outcome = _outcome(o, cycle_id, "emp1")
    lines = o.do("hr", calibration_scores, outcome_id=outcome.id)
    assert [(line.source, line.score, line.label) for line in lines] == [
        ("Self review", 4.0, "Exceeds expectations"),
        ("Manager review", 3.0, "Meets expectations"),
        ("Computed", 3.0, "Meets expectations"),
    ]
    with pytest.raises(PermissionDenied):
        o.do("emp2", calibration_scores, outcome_id=outcome.id)


AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_the_manager_sees_the_latest_check_ins_of_the_period_newest_first(org: Org) -> None:
    o = org
    cycle_id = _launched(o)  # period 2025-01-01 .. 2025-06-30
    mine = _goal(o, "emp1", "Ship the importer", date(2025, 2, 1), date(2025, 5, 31))
    spans = _goal(o, "emp1", "Spans the period's end", date(2025, 6, 1), date(2025, 9, 30))
    old = _goal(o, "emp1", "Last year", date(2024, 1, 1), date(2024, 6, 30))
    archived = _goal(o, "emp1", "Archived", date(2025, 2, 1), date(2025, 3, 1), status="archived")
    theirs = _goal(o, "emp2", "A colleague's goal", date(2025, 2, 1), date(2025, 3, 1))
    emp1, manager = o.ids["emp1"], o.ids["manager"]
    for day in range(7):  # seven on the period's goals: the five newest are shown
        goal = mine if day % 2 else spans
        confidence = "at_risk" if day == 6 else "on_track"
        at = AT + timedelta(days=day)
        add_check_in(o.t.id, goal, emp1, at, 10 * day, confidence=confidence, note=f"day {day}")
    later = AT + timedelta(days=30)  # newer than all of them, but not to be shown:
    add_check_in(o.t.id, old, emp1, later, note="last year's goal")
    add_check_in(o.t.id, archived, emp1, later, note="archived goal")
    add_check_in(o.t.id, theirs, o.ids["emp2"], later, note="a colleague's goal")
    add_check_in(o.t.id, mine, manager, AT + timedelta(days=3, hours=1), note="by the manager")

    got = o.do("manager", get_review, review_id=_review(o, cycle_id, "emp1", "manager").id)
    assert got.context is not None
    seen = [(c.goal_title, c.at, c.note) for c in got.context.check_ins]
    assert seen == [
        ("Spans the period's end", AT + timedelta(days=6), "day 6"),
        ("Ship the importer", AT + timedelta(days=5), "day 5"),
        ("Spans the period's end", AT + timedelta(days=4), "day 4"),
        ("Ship the importer", AT + timedelta(days=3, hours=1), "by the manager"),
        ("Ship the importer", AT + timedelta(days=3), "day 3"),
    ]
    newest = got.context.check_ins[0]
    assert (newest.progress, newest.confidence, newest.goal_id) == (60, "at_risk", str(spans))


def test_check_in_notes_under_the_organisations_key_read_as_written(org: Org) -> None:
    o = org
    use_platform(o.t)
    cycle_id = _launched(o)
    goal = _goal(o, "emp1", "Ship the importer", date(2025, 2, 1), date(2025, 5, 31))
    row = add_check_in(o.t.id, goal, o.ids["emp1"], AT, note="MARKER blocked on the vendor")
    with owner_session() as s:
        raw = s.execute(
            text("SELECT note FROM goal_check_in WHERE tenant_id = :t AND id = :i"),
            {"t": o.t.id, "i": row},
        ).scalar_one()
    assert envelope.is_sealed(raw) and "MARKER" not in raw
    got = o.do("manager", get_review, review_id=_review(o, cycle_id, "emp1", "manager").id)
    assert [c.note for c in got.context.check_ins] == ["MARKER blocked on the vendor"]


def test_no_other_organisation_and_no_forged_id_gets_the_check_ins(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    o, other = _build_org(make_tenant()), _build_org(make_tenant())
    cycle_id = _launched(o)
    goal = _goal(o, "emp1", "Ship the importer", date(2025, 2, 1), date(2025, 5, 31))
    add_check_in(o.t.id, goal, o.ids["emp1"], AT, note="ours only")
    other_cycle = _launched(other)
    other_goal = _goal(other, "emp1", "Theirs", date(2025, 2, 1), date(2025, 5, 31))
    add_check_in(other.t.id, other_goal, other.ids["emp1"], AT + timedelta(days=1), note="theirs")
    review = _review(o, cycle_id, "emp1", "manager")

    got = o.do("manager", get_review, review_id=review.id)
    assert [c.note for c in got.context.check_ins] == ["ours only"]
    theirs = other.do(
        "manager", get_review, review_id=_review(other, other_cycle, "emp1", "manager").id
    )
    assert [c.note for c in theirs.context.check_ins] == ["theirs"]
    for forged in (review.id, uuid.uuid4(), str(review.id)[:-1] + "x", "", None, 42):
        with pytest.raises(UserError):  # another organisation's review, or none at all
            other.do("manager", get_review, review_id=forged)
    for who in ("emp1", "emp2", "hr", "admin"):  # in the organisation, not its writer
        try:
            shown = o.do(who, get_review, review_id=review.id)
        except UserError:
            continue
        assert shown.context is None
