"""Validated inputs and plain outputs of the goal services (what the UI may send and see)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from pms_dashboard.auth.resolve import RawId
from pms_dashboard.errors import UserError
from pms_dashboard.goals.models import Confidence, GoalStatus

SortKey = Literal["due_date", "title", "progress", "status", "created_at", "owner"]
Scope = Literal["mine", "team", "all"]


class GoalError(UserError):
    """A goal change was refused; the message is safe to show and nothing was written."""


# The confidence filter's value for goals nobody has checked in on yet (no confidence).
NO_CHECK_IN = "none"


class GoalListQuery(BaseModel):
    """Paging, sorting and filtering of a goal list; rejects anything else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=10, ge=1, le=100)
    sort: SortKey = "due_date"
    descending: bool = False
    scope: Scope = "mine"
    status: str | None = None
    search: str = Field(default="", max_length=100)
    owner_id: RawId | None = None  # resolved (or refused) by the list's service
    department: str = Field(default="", max_length=100)
    team: str = Field(default="", max_length=100)
    period: str = Field(default="", max_length=32)
    stale_only: bool = False
    due_within_days: int | None = Field(default=None, ge=0, le=366)
    confidence: str | None = None

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str | None) -> str | None:
        if value in (None, "", "all"):
            return None
        if value not in {s.value for s in GoalStatus}:
            raise ValueError(f"unknown status {value!r}")
        return value

    @field_validator("confidence")
    @classmethod
    def _known_confidence(cls, value: str | None) -> str | None:
        if value in (None, "", "all"):
            return None
        if value != NO_CHECK_IN and value not in {c.value for c in Confidence}:
            raise ValueError(f"unknown confidence {value!r}")
        return value

    @field_validator("search", "department", "team", "period")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("owner_id", mode="before")
    @classmethod
    def _blank_owner(cls, value: object) -> object:
        return None if value in ("", "all") else value


def _clean_text(value: str) -> str:
    return value.strip()


class KeyResultInput(BaseModel):
    """A measurable result: progress is how far `current` has moved from `start` to `target`
    (targets below the start, such as "cut incidents to 5", work too)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RawId | None = None  # an existing key result of the goal (resolved by the service)
    title: str = Field(max_length=200)
    start_value: Decimal = Field(default=Decimal(0), ge=-1e12, le=1e12, decimal_places=2)
    target_value: Decimal = Field(ge=-1e12, le=1e12, decimal_places=2)
    current_value: Decimal | None = Field(default=None, ge=-1e12, le=1e12, decimal_places=2)
    unit: str = Field(default="", max_length=32)
    weight: Decimal = Field(default=Decimal(1), gt=0, le=1000, decimal_places=2)

    _t = field_validator("title", "unit", mode="before")(lambda v: _clean_text(str(v)))

    @field_validator("title")
    @classmethod
    def _titled(cls, value: str) -> str:
        if not value:
            raise ValueError("give it a title")
        return value

    @model_validator(mode="after")
    def _target_differs(self) -> KeyResultInput:
        if self.target_value == self.start_value:
            raise GoalError("must differ from the start", field="target_value")
        return self


class GoalInput(BaseModel):
    """Create or edit a goal (with its key results, when given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=5000)
    owner_id: RawId | None = None  # None: the actor (resolved by the service)
    parent_id: RawId | None = None  # resolved by the service
    period: str = Field(default="", max_length=32)
    start_date: date
    due_date: date
    weight: Decimal = Field(default=Decimal(1), gt=0, le=1000, decimal_places=2)
    status: Literal["draft", "active", "completed"] = "active"
    key_results: list[KeyResultInput] | None = Field(default=None, max_length=20)

    _t = field_validator("title", "description", "period", mode="before")(
        lambda v: _clean_text(str(v))
    )

    @model_validator(mode="after")
    def _dates(self) -> GoalInput:
        # each problem names its input (the error's field), so a form shows it beside it
        if self.due_date < self.start_date:
            raise GoalError("must be on or after the start date", field="due_date")
        if (self.due_date - self.start_date).days > 3 * 366:
            raise GoalError("may be at most three years after the start", field="due_date")
        titles = [kr.title.lower() for kr in self.key_results or ()]
        for i, title in enumerate(titles):
            if title in titles[:i]:
                raise GoalError(
                    "give it a title different from the others", field=f"key_results.{i}.title"
                )
        return self


class CheckInInput(BaseModel):
    """A check-in: confidence, a note, and either new key-result values or (for a goal
    without key results or aligned goals) a progress figure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence: Confidence
    note: str = Field(default="", max_length=5000)
    progress: Decimal | None = Field(default=None, decimal_places=2)
    key_results: dict[RawId, Decimal] = Field(default_factory=dict, max_length=20)

    _t = field_validator("note", mode="before")(lambda v: _clean_text(str(v)))

    @field_validator("progress")
    @classmethod
    def _percent(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not 0 <= value <= 100:
            raise ValueError("give a percentage from 0 to 100")
        return value

    @field_validator("key_results")
    @classmethod
    def _bounded(cls, values: dict[RawId, Decimal]) -> dict[RawId, Decimal]:
        for v in values.values():
            if abs(v) > Decimal("1e12"):
                raise ValueError("key result values must be below a trillion")
        return values


# ------------------------------------------------------------------------------- outputs
# Plain values (dates, timestamps, decimals): pages format them with `ui.format`.


@dataclass(frozen=True, slots=True)
class GoalRow:
    """A goal as a list shows it (ids as strings: they go to the browser)."""

    id: str
    title: str
    owner: str
    status: str
    period: str
    progress: Decimal  # percent, 0-100
    due_date: date
    key_results: int
    confidence: str
    stale: bool
    overdue: bool


@dataclass(frozen=True, slots=True)
class KeyResultView:
    id: str
    title: str
    start_value: Decimal
    target_value: Decimal
    current_value: Decimal
    unit: str
    weight: Decimal
    progress: Decimal  # percent, 0-100


@dataclass(frozen=True, slots=True)
class CheckInView:
    id: str
    author: str
    at: datetime
    progress: Decimal
    confidence: str
    note: str
    goal_id: str = ""  # the goal's, where check-ins of several goals are listed
    goal_title: str = ""


@dataclass(frozen=True, slots=True)
class GoalLink:
    """Another goal as a detail page links to it (parent, child, alignment chain)."""

    id: str
    title: str
    owner: str
    progress: Decimal
    weight: Decimal
    status: str
    visible: bool  # false: exists in the chain but the viewer may not open it


@dataclass(frozen=True, slots=True)
class GoalDetail:
    id: str
    title: str
    description: str
    owner: str
    period: str
    start_date: date
    due_date: date
    status: str
    progress: Decimal
    weight: Decimal
    stale: bool
    overdue: bool
    progress_source: Literal["key_results", "aligned", "both", "check_ins"]
    may_edit: bool
    parent: GoalLink | None
    confidence: str = ""  # the last check-in's ("" before the first)
    ancestors: list[GoalLink] = field(default_factory=list)
    children: list[GoalLink] = field(default_factory=list)
    key_results: list[KeyResultView] = field(default_factory=list)
    check_ins: list[CheckInView] = field(default_factory=list)
    # everything aligned below, depth-first (the goal itself first), when asked for
    tree: list[TreeNode] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OwnerOption:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class TreeNode:
    """A goal in the alignment tree, with its aligned goals below it."""

    id: str
    title: str
    owner: str
    progress: Decimal
    status: str
    depth: int


@dataclass(frozen=True, slots=True)
class GoalHealth:
    """Counts for the overview: how the visible, non-archived goals stand."""

    total: int
    on_track: int
    at_risk: int
    off_track: int
    no_check_in: int
    completed: int
    stale: int
    overdue: int
    due_soon: int
