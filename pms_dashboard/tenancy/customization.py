"""A tenant's own look and rules: accent colour, logo, rating scale, stale-goal threshold.

Stored in `tenant.settings` (jsonb) and always read through `Customization`, so a missing or
old key falls back to a default and a bad value can never reach a page.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from pms_dashboard.tenancy.models import Tenant

# Radix theme accent colours that read well on white and in the charts.
AccentColor = Literal[
    "indigo", "blue", "cyan", "teal", "jade", "green", "grass", "orange", "tomato", "red",
    "ruby", "crimson", "pink", "plum", "purple", "violet", "iris", "bronze", "brown", "gray",
]  # fmt: skip

DEFAULT_LABELS = {
    1: "Below expectations",
    2: "Partially meets",
    3: "Meets expectations",
    4: "Exceeds expectations",
    5: "Outstanding",
}


class RatingScale(BaseModel):
    """Whole-number scores from `low` to `high`, each with a label (e.g. 1-4 or 1-5)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: int = Field(default=1, ge=0, le=1)
    high: int = Field(default=5, ge=3, le=10)
    labels: dict[int, str] = Field(default_factory=lambda: dict(DEFAULT_LABELS))

    @model_validator(mode="after")
    def _one_label_per_score(self) -> RatingScale:
        wanted = set(range(self.low, self.high + 1))
        if set(self.labels) != wanted:
            raise ValueError(f"give exactly one label for each score {self.low}-{self.high}")
        for score, label in self.labels.items():
            if not label.strip() or len(label) > 40:
                raise ValueError(f"label for {score} must be 1-40 characters")
        return self

    def label(self, score: float | None) -> str:
        """Label of the nearest whole score ("" when unrated)."""
        if score is None:
            return ""
        return self.labels.get(min(self.high, max(self.low, round(score))), "")

    @property
    def scores(self) -> list[int]:
        return list(range(self.low, self.high + 1))


class Customization(BaseModel):
    """Everything a tenant admin may set about their organisation besides its name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accent: AccentColor = "indigo"
    logo_url: str = Field(default="", max_length=500)
    rating_scale: RatingScale = Field(default_factory=RatingScale)
    stale_after_days: int = Field(default=14, ge=1, le=365)

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> Customization:
        """Parse stored settings; fields that fail validation fall back to their default."""
        data = {k: v for k, v in (settings or {}).items() if k in cls.model_fields}
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
            return cls.model_validate({k: v for k, v in data.items() if k not in bad})


def get_customization(*, session: Session) -> Customization:
    """The customization of the tenant in context (RLS shows only that tenant's row)."""
    settings = session.scalar(select(Tenant.settings))  # type: ignore[call-overload]
    return Customization.from_settings(settings)
