"""Forms' rules in the services: a check-in refusal names its input in people's words; a
key result without a title or with weight 0 is refused, never dropped or changed; the rating
scale is fixed while a cycle runs and its labels are distinct; calibration can be reopened
only while nothing is calibrated or shared."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from pms_dashboard.errors import validation_field, validation_message
from pms_dashboard.goals import service
from pms_dashboard.goals.schemas import CheckInInput, GoalError, KeyResultInput
from pms_dashboard.organisation.schemas import CustomizationError, RatingScale
from pms_dashboard.organisation.service import update_tenant_settings
from pms_dashboard.reviews.calibration import adjust_calibration
from pms_dashboard.reviews.cycles import (
    close_cycle,
    launch_preview,
    reopen_calibration,
    start_calibration,
)
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.goals import goal_form_refusal, goal_input_from_form
from tests.conftest import ctx
from tests.test_goals import create, goal_input, t  # noqa: F401  (the fixture)
from tests.test_reviews import Org, _cycle, _launched, _outcome, org  # noqa: F401

LABELS_1_4 = {1: "Low", 2: "Partial", 3: "Meets", 4: "Exceeds"}


def test_a_progress_over_100_is_refused_in_words_beside_the_progress() -> None:
    with pytest.raises(ValidationError) as refused:
        CheckInInput(confidence="off_track", progress=Decimal(150), note="n")
    assert validation_field(refused.value) == "progress"
    said = validation_message(refused.value, limit=1)
    assert "0 to 100" in said and "Input should" not in said


def test_a_check_in_without_progress_names_the_progress(t) -> None:  # noqa: F811
    plain = create(t, "emp1", goal_input("Plain"))
    with pytest.raises(GoalError) as refused, tenant_session(ctx(t, "emp1")) as s:
        service.check_in(
            session=s, actor=ctx(t, "emp1"), goal_id=plain, data=CheckInInput(confidence="at_risk")
        )
    assert refused.value.field == "progress"


def test_the_goal_keeps_the_last_check_ins_confidence(t) -> None:  # noqa: F811
    plain = create(t, "emp1", goal_input("Plain"))
    with tenant_session(ctx(t, "emp1")) as s:
        data = CheckInInput(confidence="at_risk", progress=Decimal(30))
        service.check_in(session=s, actor=ctx(t, "emp1"), goal_id=plain, data=data)
    with tenant_session(ctx(t, "emp1")) as s:
        assert service.goal_detail(session=s, actor=ctx(t, "emp1"), goal_id=plain).confidence == (
            "at_risk"
        )


def _goal_form(**extra: str) -> dict[str, Any]:
    return {"title": "Ship it", "start_date": "2030-01-01", "due_date": "2030-06-30"} | extra


def test_a_key_result_without_a_title_is_refused_not_dropped() -> None:
    with pytest.raises(GoalError, match="Key result 1: give it a title") as got:
        goal_input_from_form(_goal_form(kr_start_0="0", kr_target_0="10"))
    assert got.value.field == "key_results.0.title"
    with pytest.raises(ValidationError, match="give it a title"):
        KeyResultInput(title="  ", target_value=Decimal(10))
    assert goal_input_from_form(_goal_form()).key_results == []  # an empty row is no row


@pytest.mark.parametrize("weight", ["0", "-1"])
def test_a_weight_of_0_is_refused_like_minus_1(weight: str) -> None:
    with pytest.raises(GoalError, match="Weight: must be greater than 0") as got:
        goal_input_from_form(_goal_form(weight=weight))
    assert got.value.field == "weight"
    assert goal_input_from_form(_goal_form()).weight == Decimal(1)  # nothing typed: 1


def test_scale_labels_must_be_distinct() -> None:
    with pytest.raises(ValidationError, match="own label"):
        RatingScale(low=1, high=4, labels=LABELS_1_4 | {4: " meets"})
    RatingScale(low=1, high=4, labels=LABELS_1_4)


def test_the_scale_is_fixed_while_a_cycle_runs(org: Org) -> None:  # noqa: F811
    o = org
    scale = {"low": 1, "high": 4, "labels": LABELS_1_4}
    cycle_id = _launched(o)
    before = o.snapshot()
    for who, changes in (("admin", {"rating_scale": scale}),):
        with pytest.raises(CustomizationError, match="can't be changed while a review cycle"):
            o.do(who, update_tenant_settings, changes=changes)
    assert o.snapshot() == before
    o.do("admin", update_tenant_settings, changes={"name": "Still fine"})  # other settings
    o.do("hr", start_calibration, cycle_id=cycle_id)
    with pytest.raises(CustomizationError):
        o.do("admin", update_tenant_settings, changes={"rating_scale": scale})
    o.do("hr", close_cycle, cycle_id=cycle_id)
    got = o.do("admin", update_tenant_settings, changes={"rating_scale": scale})
    assert got.customization.rating_scale.high == 4


def test_launch_preview_counts_what_launch_creates_and_writes_nothing(org: Org) -> None:  # noqa: F811
    o = org
    cycle_id = _cycle(o)
    before = o.snapshot()
    preview = o.do("hr", launch_preview, cycle_id=cycle_id)
    assert o.snapshot() == before
    assert preview.participants > 0 and preview.reviews >= preview.participants


def test_calibration_can_be_reopened_until_something_is_calibrated(org: Org) -> None:  # noqa: F811
    o = org
    cycle_id = _launched(o)
    with pytest.raises(ReviewError, match="Only a cycle in calibration"):
        o.do("hr", reopen_calibration, cycle_id=cycle_id)
    o.do("hr", start_calibration, cycle_id=cycle_id)
    assert o.do("hr", reopen_calibration, cycle_id=cycle_id).status == "active"
    o.do("hr", start_calibration, cycle_id=cycle_id)
    outcome = _outcome(o, cycle_id, "emp1")
    o.do(
        "hr",
        adjust_calibration,
        outcome_id=outcome.id,
        change={"final_rating": 3, "reason": "Agreed in the calibration meeting"},
    )
    before = o.snapshot()
    with pytest.raises(ReviewError, match="no longer be reopened"):
        o.do("hr", reopen_calibration, cycle_id=cycle_id)
    assert o.snapshot() == before


def test_a_check_of_the_whole_goal_names_the_input_it_is_about() -> None:
    krs = [KeyResultInput(title=n, target_value=Decimal(1)) for n in ("Same", "other", "same")]
    with pytest.raises(ValidationError) as refused:
        goal_input("Twice", key_results=krs)
    assert validation_field(refused.value) == "key_results.2.title"
    labels = {"key_results.2.title": "Key result 3"}
    said = validation_message(refused.value, labels, limit=1)
    assert said == "Key result 3: give it a title different from the others."
    with pytest.raises(ValidationError) as refused:
        KeyResultInput(title="Flat", start_value=Decimal(5), target_value=Decimal(5))
    assert validation_field(refused.value) == "target_value"


@pytest.mark.parametrize(
    ("field", "placed"),
    [
        ("title", "title"),
        ("key_results.1.title", "key_results.1"),
        ("key_results.1", "key_results.1"),
        ("key_results.9.title", ""),  # no such row
        ("key_results", ""),
        ("__proto__", ""),
        ("<img src=x>", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_a_refusal_goes_beside_an_input_only_the_form_has(field: str | None, placed: str) -> None:
    assert goal_form_refusal(GoalError("Refused.", field=field)) == ("Refused.", placed)
