"""Every status change of a cycle, a review and a reviewee's outcome: the table of allowed
steps and the one function that takes them.

Nothing else in the reviews package assigns a `status` (a test holds it): a service names the
step it takes (`move(cycle, LAUNCH)`), and a row that is not in one of the step's starting
statuses is refused with the step's own words, so a cycle is never launched twice, a review
never reopened unless submitted, a shared result never calibrated again — whatever order
the checks before it ran in. The pairs (from, to) the steps allow are `allowed_pairs(...)`;
any other pair cannot happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pms_dashboard.reviews.models import (
    CycleStatus,
    OutcomeStatus,
    Review,
    ReviewCycle,
    ReviewOutcome,
    ReviewStatus,
)
from pms_dashboard.reviews.schemas import ReviewError

Row = ReviewCycle | Review | ReviewOutcome

STATUSES: dict[type[Row], type[StrEnum]] = {
    ReviewCycle: CycleStatus,
    Review: ReviewStatus,
    ReviewOutcome: OutcomeStatus,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One kind of status change: of which rows, from which statuses, to which, and what the
    person is told when the row is in none of the starting statuses."""

    model: type[Row]
    before: frozenset[str]
    after: str
    refusal: str


def _step(model: type[Row], before: set[StrEnum], after: StrEnum, refusal: str) -> Step:
    return Step(model, frozenset(s.value for s in before), after.value, refusal)


_C, _R, _O = CycleStatus, ReviewStatus, OutcomeStatus

# ---------------------------------------------------------------------------- cycles
# Launched: self and manager reviews and an outcome per participant are created.
LAUNCH = _step(ReviewCycle, {_C.draft}, _C.active, "This cycle has already been launched.")
# Writing ends; ratings may be adjusted.
START_CALIBRATION = _step(
    ReviewCycle, {_C.active}, _C.calibration, "Only an active cycle can move to calibration."
)
# Back to writing, while nothing is calibrated or shared yet (the service checks that).
REOPEN_CALIBRATION = _step(
    ReviewCycle, {_C.calibration}, _C.active, "Only a cycle in calibration can be reopened."
)
# Nothing changes any more but sharing results.
CLOSE = _step(
    ReviewCycle, {_C.calibration}, _C.closed, "Only a cycle in calibration can be closed."
)

# --------------------------------------------------------------------------- reviews
# The reviewer saved a first draft.
START_WRITING = _step(Review, {_R.not_started}, _R.in_progress, "This review is already started.")
# Every criterion scored, the weighted score computed.
SUBMIT = _step(Review, {_R.in_progress}, _R.submitted, "This review is already submitted.")
# Un-submitted by the reviewee's manager or an admin, to be corrected.
REOPEN = _step(Review, {_R.submitted}, _R.in_progress, "This review is not submitted.")

# -------------------------------------------------------------------------- outcomes
# An outcome follows its self and manager reviews until it is calibrated.
_NOT_CALIBRATED = {_O.not_started, _O.self_done, _O.manager_done}
REOPEN_TOO_LATE = "This result is already calibrated; it can no longer be reopened."
SELF_SUBMITTED = _step(
    ReviewOutcome, {_O.not_started}, _O.self_done, "The self review is already counted."
)
MANAGER_SUBMITTED = _step(
    ReviewOutcome,
    {_O.not_started, _O.self_done},
    _O.manager_done,
    "The manager review is already counted.",
)
SELF_REOPENED = _step(ReviewOutcome, {_O.self_done}, _O.not_started, REOPEN_TOO_LATE)
# The manager review reopened: back to "self done" when the self review stands, else to
# "not started".
MANAGER_REOPENED = _step(ReviewOutcome, {_O.manager_done}, _O.not_started, REOPEN_TOO_LATE)
MANAGER_REOPENED_SELF_STANDS = _step(
    ReviewOutcome, {_O.manager_done}, _O.self_done, REOPEN_TOO_LATE
)
# A rating or potential set in calibration (again, if need be) until shared.
CALIBRATE = _step(
    ReviewOutcome,
    _NOT_CALIBRATED | {_O.calibrated},
    _O.calibrated,
    "This result has been shared; it can no longer be changed.",
)
SHARE = _step(ReviewOutcome, {_O.calibrated}, _O.shared, "Only a calibrated result can be shared.")
del _C, _R, _O

STEPS: tuple[Step, ...] = (
    LAUNCH,
    START_CALIBRATION,
    REOPEN_CALIBRATION,
    CLOSE,
    START_WRITING,
    SUBMIT,
    REOPEN,
    SELF_SUBMITTED,
    MANAGER_SUBMITTED,
    SELF_REOPENED,
    MANAGER_REOPENED,
    MANAGER_REOPENED_SELF_STANDS,
    CALIBRATE,
    SHARE,
)

# Outcomes whose reviews may still be reopened (calibration and sharing build on them).
REOPENABLE_OUTCOMES = frozenset(s.value for s in _NOT_CALIBRATED)
del _NOT_CALIBRATED


def allowed_pairs(model: type[Row]) -> frozenset[tuple[str, str]]:
    """The table: every (from, to) status change the steps allow for this kind of row."""
    return frozenset((b, s.after) for s in STEPS if s.model is model for b in s.before)


def can(row: Row, step: Step) -> bool:
    """Whether the step applies to the row as it stands."""
    return isinstance(row, step.model) and row.status in step.before


def check(row: Row, step: Step) -> None:
    """Refuse, in the step's words, unless the step applies to the row (nothing changes)."""
    if not isinstance(row, step.model):
        raise TypeError(f"{type(row).__name__} has no step to {step.after}")
    if row.status not in step.before:
        raise ReviewError(step.refusal)


def move(row: Row, step: Step) -> str:
    """Take the step (refused like `check`); returns the status the row had before."""
    check(row, step)
    before = row.status
    row.status = step.after
    return before


def check_reopenable(outcome: ReviewOutcome) -> None:
    """Refuse reopening a review whose outcome is calibrated or shared already (even when no
    step of the outcome follows: calibration and sharing build on the reviews)."""
    if outcome.status not in REOPENABLE_OUTCOMES:
        raise ReviewError(REOPEN_TOO_LATE)
