"""Validated inputs and plain outputs of the goal services (what the UI may send and see)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pms_dashboard.goals.models import Goal, GoalStatus

SortKey = Literal["due_date", "title", "progress", "status", "created_at"]


class GoalListQuery(BaseModel):
    """Paging, sorting and filtering of a goal list; rejects anything else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=10, ge=1, le=100)
    sort: SortKey = "due_date"
    descending: bool = False
    status: str | None = None
    search: str = Field(default="", max_length=100)

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str | None) -> str | None:
        if value in (None, "", "all"):
            return None
        if value not in {s.value for s in GoalStatus}:
            raise ValueError(f"unknown status {value!r}")
        return value

    @field_validator("search")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


@dataclass(frozen=True, slots=True)
class GoalRow:
    """A goal as a list shows it (ids as strings: they go to the browser)."""

    id: str
    title: str
    status: str
    period: str
    progress: float
    due_date: str
    key_results: int
    confidence: str

    @classmethod
    def from_goal(cls, goal: Goal, *, key_results: int, confidence: str | None) -> GoalRow:
        return cls(
            id=str(goal.id),
            title=goal.title,
            status=goal.status,
            period=goal.period,
            progress=float(goal.progress),
            due_date=goal.due_date.isoformat(),
            key_results=int(key_results),
            confidence=confidence or "",
        )
