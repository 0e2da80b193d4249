"""Validated inputs and plain outputs of the review services (what the UI may send and see).

Inputs are pydantic models with `extra="forbid"`; `parse()` turns a validation failure into a
`ReviewError` whose message is safe to show. Outputs are frozen dataclasses with ids as
strings, because they go to the browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pms_dashboard.auth.resolve import RawId
from pms_dashboard.errors import UserError, validation_field, validation_message
from pms_dashboard.goals.schemas import CheckInView
from pms_dashboard.paging import Page

MAX_CRITERIA = 20
MAX_PEERS = 5
MAX_COMMENT = 5000
MAX_SUMMARY = 10_000
MAX_REASON = 2000
MIN_REASON = 3
MAX_PAGE_SIZE = 100


class ReviewError(UserError):
    """A review operation refused for a reason the user can fix; `str(err)` is safe to show."""


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate `data` into `model`, or raise `ReviewError` with the first problem in words
    and the field it is about (so a form shows it beside that input)."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ReviewError(validation_message(err, limit=1), field=validation_field(err)) from None


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


# ------------------------------------------------------------------------------ templates


class CriterionInput(_Input):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    weight: Decimal = Field(default=Decimal(1), gt=0, le=Decimal("9999.99"), decimal_places=2)


class TemplateCreate(_Input):
    """A review template: a name and 1-20 weighted criteria with distinct names."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    criteria: list[CriterionInput] = Field(min_length=1, max_length=MAX_CRITERIA)

    @model_validator(mode="after")
    def _unique_names(self) -> TemplateCreate:
        seen: set[str] = set()
        for c in self.criteria:
            key = c.name.casefold()
            if key in seen:
                raise ValueError(f"criterion names must be unique ({c.name!r} appears twice)")
            seen.add(key)
        return self


# --------------------------------------------------------------------------------- cycles


class Participants(_Input):
    """Who takes part: anyone in one of the departments, one of the teams, or below one of
    the managers (their whole reports subtree). All empty means every active person."""

    departments: list[str] = Field(default_factory=list, max_length=100)
    teams: list[str] = Field(default_factory=list, max_length=100)
    managers: list[RawId] = Field(default_factory=list, max_length=100)  # resolved by the service
    # The same by email, for forms (user ids never go to the browser); resolved to ids.
    manager_emails: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("departments", "teams")
    @classmethod
    def _clean_names(cls, values: list[str]) -> list[str]:
        cleaned = sorted({v.strip() for v in values if v.strip()})
        if any(len(v) > 100 for v in cleaned):
            raise ValueError("names are at most 100 characters")
        return cleaned

    @field_validator("manager_emails")
    @classmethod
    def _clean_emails(cls, values: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
        if any(len(v) > 320 for v in cleaned):
            raise ValueError("emails are at most 320 characters")
        return cleaned

    @field_validator("managers")
    @classmethod
    def _unique_managers(cls, values: list[RawId]) -> list[RawId]:
        return list(dict.fromkeys(values))

    @property
    def everyone(self) -> bool:
        return not (self.departments or self.teams or self.managers or self.manager_emails)

    def as_json(self) -> dict[str, list[str]]:
        return {
            "departments": list(self.departments),
            "teams": list(self.teams),
            "managers": [str(m) for m in self.managers],
        }


class CycleCreate(_Input):
    """A review cycle: deadlines fall in order, the self review no later than the manager's."""

    name: str = Field(min_length=1, max_length=200)
    template_id: RawId  # resolved by the service
    period_start: date
    period_end: date
    self_review_due: date | None = None
    manager_review_due: date | None = None
    participants: Participants = Field(default_factory=Participants)

    _blank_dates = field_validator("self_review_due", "manager_review_due", mode="before")(
        _blank_to_none
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> CycleCreate:
        if self.period_end < self.period_start:
            raise ReviewError("the period must end on or after its start", field="period_end")
        for about, due in (
            ("self_review_due", self.self_review_due),
            ("manager_review_due", self.manager_review_due),
        ):
            if due is not None and due < self.period_start:
                raise ReviewError("cannot be before the period starts", field=about)
        if (
            self.self_review_due is not None
            and self.manager_review_due is not None
            and self.manager_review_due < self.self_review_due
        ):
            raise ReviewError(
                "cannot be before the self review deadline", field="manager_review_due"
            )
        return self


class PeerNomination(_Input):
    peer_ids: list[RawId] = Field(min_length=1, max_length=MAX_PEERS)  # resolved by the service

    @field_validator("peer_ids")
    @classmethod
    def _distinct(cls, values: list[RawId]) -> list[RawId]:
        if len(set(values)) != len(values):
            raise ValueError("each peer can be nominated only once")
        return values


# -------------------------------------------------------------------------------- reviews


class RatingInput(_Input):
    """One criterion's score (a whole number on the tenant's scale, checked by the service;
    empty means not scored yet) and comment."""

    criterion_id: RawId  # resolved by the service
    score: int | None = None
    comment: str = Field(default="", max_length=MAX_COMMENT)

    @field_validator("score", mode="before")
    @classmethod
    def _whole_or_empty(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError("the score must be a whole number")
        try:
            number = Decimal(str(value).strip())
        except ArithmeticError:
            raise ValueError("the score must be a whole number") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError("the score must be a whole number")
        return int(number)


class ReviewDraft(_Input):
    """What a reviewer saves: a summary and ratings for some or all criteria."""

    summary: str = Field(default="", max_length=MAX_SUMMARY)
    ratings: list[RatingInput] = Field(default_factory=list, max_length=MAX_CRITERIA)

    @model_validator(mode="after")
    def _one_rating_per_criterion(self) -> ReviewDraft:
        ids = [r.criterion_id for r in self.ratings]
        if len(set(ids)) != len(ids):
            raise ValueError("a criterion was rated twice")
        return self


# ---------------------------------------------------------------------------- calibration


class CalibrationAdjust(_Input):
    """A calibration move: a new final rating and/or potential (None keeps the current
    value) and why; the reason is kept in the history for good."""

    final_rating: int | None = None
    potential: int | None = Field(default=None, ge=1, le=3)
    reason: str = Field(max_length=MAX_REASON)

    _blank = field_validator("final_rating", "potential", mode="before")(_blank_to_none)

    @field_validator("reason", mode="before")
    @classmethod
    def _reason_given(cls, value: Any) -> Any:
        if not isinstance(value, str) or len(value.strip()) < MIN_REASON:
            raise ValueError(f"give a reason of at least {MIN_REASON} characters")
        return value.strip()

    @model_validator(mode="after")
    def _something_to_change(self) -> CalibrationAdjust:
        if self.final_rating is None and self.potential is None:
            raise ValueError("choose a final rating or a potential to change")
        return self


class StatusQuery(_Input):
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=25, ge=1, le=MAX_PAGE_SIZE)


# -------------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class CriterionRow:
    id: str
    name: str
    description: str
    weight: float
    position: int


@dataclass(frozen=True, slots=True)
class TemplateRow:
    id: str
    name: str
    description: str
    criteria: list[CriterionRow]


@dataclass(frozen=True, slots=True)
class CycleRow:
    id: str
    name: str
    template_name: str
    period_start: date
    period_end: date
    self_review_due: date | None
    manager_review_due: date | None
    status: str
    launched_at: datetime | None
    participants: str  # a readable summary of the filter


@dataclass(frozen=True, slots=True)
class ScoreLine:
    """A score the calibrator weighs: whose (self review, manager review, peers' mean,
    computed), the score and its name on the scale."""

    source: str
    score: float | None
    label: str


@dataclass(frozen=True, slots=True)
class CycleDraft:
    """A draft cycle's fields as its edit form holds them (managers by email: user ids
    never go to the browser)."""

    id: str
    name: str
    template_id: str
    period_start: date
    period_end: date
    self_review_due: date | None
    manager_review_due: date | None
    departments: list[str]
    teams: list[str]
    manager_emails: list[str]


@dataclass(frozen=True, slots=True)
class LaunchResult:
    participants: int
    reviews: int


@dataclass(frozen=True, slots=True)
class MyReviewRow:
    """A review the actor has to write (or wrote)."""

    id: str
    cycle_name: str
    cycle_status: str
    reviewee_name: str
    kind: str
    status: str
    due: date | None


@dataclass(frozen=True, slots=True)
class RatingRow:
    criterion_id: str
    name: str
    description: str
    weight: float
    score: int | None
    comment: str
    label: str = ""  # the score's name on the tenant's rating scale


@dataclass(frozen=True, slots=True)
class ContextGoal:
    """One of the reviewee's goals of the cycle's period, beside the manager's review."""

    id: str
    title: str
    status: str
    progress: int
    confidence: str


@dataclass(frozen=True, slots=True)
class ReviewDetail:
    id: str
    cycle_name: str
    reviewee_name: str
    reviewer_name: str
    kind: str
    status: str
    summary: str
    score: float | None
    editable: bool
    may_reopen: bool  # whether `reopen_review` would accept it now (to offer the action)
    ratings: list[RatingRow]
    score_label: str = ""
    context: ReviewContext | None = None  # beside a manager review, for its writer
    cycle_id: str = ""  # whose rating scale the form offers


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """What the manager writing a review sees beside it: the person's self review once
    submitted (else why not), their goals of the cycle's period and their latest check-ins
    on those goals, newest first."""

    self_review: ReviewDetail | None
    self_review_note: str
    goals: list[ContextGoal]
    check_ins: list[CheckInView]  # goal, author, time, progress, confidence, note


@dataclass(frozen=True, slots=True)
class PeerCriterion:
    """Peer scores of one criterion, aggregated: no reviewer names, comments sorted."""

    name: str
    mean: float | None
    count: int
    comments: list[str]


@dataclass(frozen=True, slots=True)
class MyResults:
    cycle_id: str
    cycle_name: str
    final_rating: float | None
    final_label: str
    self_review: ReviewDetail | None
    manager_review: ReviewDetail | None
    peer_count: int
    peers_shown: bool
    peer_message: str
    peers: list[PeerCriterion]
    peer_summaries: list[str]


@dataclass(frozen=True, slots=True)
class SharedCycleRow:
    cycle_id: str
    cycle_name: str
    shared_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusRow:
    outcome_id: str
    reviewee_name: str
    manager_name: str
    status: str
    computed_score: float | None
    final_rating: float | None
    final_label: str
    potential: int | None


@dataclass(frozen=True, slots=True)
class CycleStatusView:
    """One page of reviewee rows plus the funnel and rating distribution of all visible rows."""

    page: Page
    funnel: list[tuple[str, int]]
    distribution: list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class NineBoxCell:
    performance: str  # low / mid / high
    potential: int  # 1-3
    count: int
    people: list[dict[str, str]] = field(default_factory=list)  # outcome_id, name


@dataclass(frozen=True, slots=True)
class NineBox:
    cells: list[NineBoxCell]
    unplaced: int  # visible people without a score or potential yet


@dataclass(frozen=True, slots=True)
class CalibrationChangeRow:
    actor_name: str
    old_rating: float | None
    new_rating: float | None
    old_potential: int | None
    new_potential: int | None
    reason: str
    created_at: datetime
