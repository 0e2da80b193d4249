"""What the manager sees beside the review they write: the person's self review once it is
submitted (else a note saying why not), their goals of the cycle's period (not archived,
not another person's, not outside the period), and every score with its name on the
rating scale. Nobody else gets the context: not the reviewee, a peer, or HR reading."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from pms_dashboard.goals.models import Goal
from pms_dashboard.reviews.writing import get_review
from pms_dashboard.tenancy.session import owner_session
from tests.conftest import TenantFixture
from tests.test_reviews import Org, _build_org, _launched, _review, _write


@pytest.fixture
def org(make_tenant: Callable[..., TenantFixture]) -> Org:
    return _build_org(make_tenant())


def _goal(o: Org, owner: str, title: str, start: date, due: date, **extra: object) -> None:
    with owner_session(o.t.id) as s:
        s.add(
            Goal(
                tenant_id=o.t.id,
                owner_id=o.ids[owner],
                title=title,
                start_date=start,
                due_date=due,
                progress=Decimal(40),
                **extra,
            )
        )


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
