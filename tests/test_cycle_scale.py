"""Each review cycle keeps the rating scale it launched with: after the organisation switches
from 1-5 to 1-4, a closed cycle's labels, distribution, summary export, calibration scores and
shared results still read on 1-5; a cycle launched after the switch uses 1-4; a draft shows
the organisation's current scale; migration 0022 backfills launched cycles from their
tenant's scale. Against the real database, as `pms_app` (the migration as its owner)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlmodel import col

from pms_dashboard.db import migrate
from pms_dashboard.organisation.service import update_tenant_settings
from pms_dashboard.reviews.calibration import (
    adjust_calibration,
    calibration_scores,
    cycle_status,
    share_results,
)
from pms_dashboard.reviews.cycles import close_cycle, launch_cycle
from pms_dashboard.reviews.models import ReviewCycle
from pms_dashboard.reviews.reporting import cycle_summary_frame
from pms_dashboard.reviews.results import my_results
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.reviews.writing import get_review
from pms_dashboard.tenancy.session import owner_session
from tests.test_reviews import (  # noqa: F401  (the fixtures)
    Org,
    _cycle,
    _launched,
    _outcome,
    _review,
    _to_calibration,
    _write,
    org,
    other,
)

LABELS_1_5 = [
    "Below expectations",
    "Partially meets",
    "Meets expectations",
    "Exceeds expectations",
    "Outstanding",
]
LABELS_1_4 = {1: "Low", 2: "Partial", 3: "Meets", 4: "Exceeds"}
SCALE_1_4 = {"low": 1, "high": 4, "labels": LABELS_1_4}


def _closed_cycle(o: Org) -> uuid.UUID:
    """A 1-5 cycle, closed and shared: emp1 rated 4 (calibrated), emp2 5, ops not rated."""
    cycle_id = _launched(o)
    _write(o, "emp1", _review(o, cycle_id, "emp1", "self"), [4, 4])
    _write(o, "manager", _review(o, cycle_id, "emp1", "manager"), [4, 4])
    _write(o, "manager", _review(o, cycle_id, "emp2", "manager"), [5, 5])
    _to_calibration(o, cycle_id)
    change = {"final_rating": 4, "potential": 3, "reason": "Steady"}
    o.do("hr", adjust_calibration, outcome_id=_outcome(o, cycle_id, "emp1").id, change=change)
    o.do("hr", close_cycle, cycle_id=cycle_id)
    o.do("hr", share_results, cycle_id=cycle_id)
    return cycle_id


def _seen(o: Org, cycle_id: uuid.UUID) -> dict[str, Any]:
    """What people see of the cycle: the status page, its summary export, the calibration
    scores, the manager's review and emp1's shared result."""
    status = o.do("hr", cycle_status, cycle_id=cycle_id)
    frame = o.do("hr", cycle_summary_frame, cycle_id=cycle_id, by="department")
    emp1 = _outcome(o, cycle_id, "emp1")
    review = _review(o, cycle_id, "emp1", "manager")
    return {
        "distribution": status.distribution,
        "labels": {r.reviewee_name: r.final_label for r in status.page.rows},
        "export": frame.to_dict(orient="records"),
        "columns": list(frame.columns),
        "scores": [(s.source, s.label) for s in o.do("hr", calibration_scores, outcome_id=emp1.id)],
        "review": o.do("manager", get_review, review_id=review.id).score_label,
        "result": o.do("emp1", my_results, cycle_id=cycle_id).final_label,
    }


def test_a_closed_cycle_keeps_its_scale_after_the_switch_and_a_new_cycle_uses_the_new(
    org: Org,  # noqa: F811
) -> None:
    o = org
    cycle_id = _closed_cycle(o)
    before = _seen(o, cycle_id)
    assert before["distribution"] == [
        ("Below expectations", 0),
        ("Partially meets", 0),
        ("Meets expectations", 0),
        ("Exceeds expectations", 1),
        ("Outstanding", 1),
        ("Not rated", 1),
    ]
    assert before["labels"] == {"Employee 1": "Exceeds expectations", "Employee 2": "", "Ops": ""}
    assert before["review"] == before["result"] == "Exceeds expectations"
    assert set(LABELS_1_5) <= set(before["columns"])
    sales = next(r for r in before["export"] if r["department"] == "Sales")
    assert (sales["Exceeds expectations"], sales["Outstanding"]) == (1, 1)

    o.do("admin", update_tenant_settings, changes={"rating_scale": SCALE_1_4})
    assert _seen(o, cycle_id) == before  # nothing re-bucketed onto 1-4

    new_id = _launched(o, name="H2")
    labels = [n for n, _ in o.do("hr", cycle_status, cycle_id=new_id).distribution]
    assert labels == [*LABELS_1_4.values(), "Not rated"]
    self1 = _review(o, new_id, "emp1", "self")
    with pytest.raises(ReviewError, match="from 1 to 4"):
        _write(o, "emp1", self1, [5, 4])
    assert _write(o, "emp1", self1, [4, 4]).score_label == "Exceeds"
    assert _seen(o, cycle_id) == before  # the old one still on 1-5


def test_a_draft_shows_the_current_scale_and_launch_keeps_it(org: Org) -> None:  # noqa: F811
    o = org
    draft = uuid.UUID(_cycle(o))
    first = [n for n, _ in o.do("hr", cycle_status, cycle_id=draft).distribution]
    assert first == LABELS_1_5
    o.do("admin", update_tenant_settings, changes={"rating_scale": SCALE_1_4})
    now = [n for n, _ in o.do("hr", cycle_status, cycle_id=draft).distribution]
    assert now == list(LABELS_1_4.values())
    o.do("hr", launch_cycle, cycle_id=draft)
    stored = select(col(ReviewCycle.rating_scale)).where(col(ReviewCycle.id) == draft)
    kept = o.read(lambda s: s.scalar(stored))
    assert kept == {"low": 1, "high": 4, "labels": {str(k): v for k, v in LABELS_1_4.items()}}


def _stored_scale(cycle_id: uuid.UUID) -> Any:
    with owner_session() as s:
        return s.execute(
            text("SELECT rating_scale FROM review_cycle WHERE id = :c"), {"c": cycle_id}
        ).scalar()


def _has_column() -> bool:
    with owner_session() as s:
        return bool(
            s.execute(
                text(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
                    " AND table_name = 'review_cycle' AND column_name = 'rating_scale'"
                )
            ).scalar()
        )


def test_the_migration_backfills_launched_cycles_with_their_tenants_scale(
    org: Org,  # noqa: F811
    other: Org,  # noqa: F811
) -> None:
    o = org
    closed = _closed_cycle(o)
    o.do("admin", update_tenant_settings, changes={"rating_scale": SCALE_1_4})
    draft = uuid.UUID(_cycle(o, name="Draft"))
    elsewhere = _launched(other)  # a tenant that never set a scale: the default
    command.downgrade(migrate.alembic_config(), "0021")
    try:
        assert not _has_column()
    finally:
        migrate.upgrade()
    assert _has_column()
    # Before 0022 a cycle had no scale of its own: it gets its tenant's scale of now.
    assert _stored_scale(closed) == {"low": 1, "high": 4, "labels": {"1": "Low", "2": "Partial",
                                     "3": "Meets", "4": "Exceeds"}}  # fmt: skip
    assert _stored_scale(draft) is None  # a draft reads the current scale
    default = {"low": 1, "high": 5, "labels": {str(i): n for i, n in enumerate(LABELS_1_5, 1)}}
    assert _stored_scale(elsewhere) == default
    shown = other.do("hr", cycle_status, cycle_id=elsewhere).distribution
    assert [n for n, _ in shown][:5] == LABELS_1_5
