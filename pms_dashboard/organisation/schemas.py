"""What a tenant's own look and rules are made of: accent colour, logo, rating scale,
stale-goal threshold, and the settings form's input.

Stored in `tenant.settings` (jsonb) and always read through `Customization`, so a missing or
old key falls back to a default and a bad value can never reach a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pms_dashboard.errors import UserError

# Radix theme accent colours that read well on white and in the charts.
AccentColor = Literal[
    "indigo", "blue", "cyan", "teal", "jade", "green", "grass", "orange", "tomato", "red",
    "ruby", "crimson", "pink", "plum", "purple", "violet", "iris", "bronze", "brown", "gray",
]  # fmt: skip
ACCENT_COLORS: tuple[str, ...] = get_args(AccentColor)

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
        seen: dict[str, int] = {}
        for score, label in sorted(self.labels.items()):
            key = " ".join(label.split()).casefold()
            if key in seen:
                raise ValueError(
                    f"each score needs its own label: “{label.strip()}” is given to both "
                    f"{seen[key]} and {score}"
                )
            seen[key] = score
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

    @field_validator("logo_url")
    @classmethod
    def _safe_logo(cls, value: str) -> str:
        return check_logo_url(value)

    @property
    def uploaded_logo(self) -> bool:
        """Whether the logo is the organisation's uploaded one (served by the app)."""
        return self.logo_url.startswith(LOGO_PATH)

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> Customization:
        """Parse stored settings; fields that fail validation fall back to their default."""
        data = {k: v for k, v in (settings or {}).items() if k in cls.model_fields}
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
            return cls.model_validate({k: v for k, v in data.items() if k not in bad})


# An https URL with a host, or a path on our own site ("/..." but not "//host/..."); only
# characters that need no escaping in an HTML attribute. Everything else (javascript:, data:,
# http:, protocol-relative, backslashes, quotes, spaces) is refused.
_HTTPS_URL = re.compile(
    r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&()*+,;=:@%/?#-]*)?$"
)
_SITE_PATH = re.compile(r"^/(?![/\\])[A-Za-z0-9._~!$&()*+,;=:@%/?#-]*$")


def check_logo_url(value: str) -> str:
    """The logo URL, trimmed, if it is empty, an https:// URL or a path on this site."""
    value = value.strip()
    if value and not (_HTTPS_URL.match(value) or _SITE_PATH.match(value)):
        raise ValueError("the logo must be an https:// address or a path starting with /")
    return value


# Where an uploaded logo is served: `/api/logo/<tenant slug>?v=<version>`. The settings'
# logo_url holds this address while the logo is an upload (the one source of truth for
# which logo the pages show); the image itself is in the tenant's `tenant_logo` row.
LOGO_PATH = "/api/logo/"


def logo_address(slug: str, version: str) -> str:
    """The address an uploaded logo is served at (a new version, a new address)."""
    return f"{LOGO_PATH}{slug}?v={version}"


class CustomizationError(UserError):
    """Tenant settings refused; `str(err)` says what to fix and nothing was written."""


SETTINGS_LABELS = {
    "name": "Organisation name",
    "accent": "Accent colour",
    "logo_url": "Logo URL",
    "rating_scale": "Rating scale",
    "stale_after_days": "Stale after (days)",
    "labels": "Rating labels",
    "low": "Lowest score",
    "high": "Highest score",
}


class TenantSettingsInput(BaseModel):
    """Everything the settings page saves at once: the name plus the customization."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    customization: Customization

    @field_validator("name", mode="before")
    @classmethod
    def _trim(cls, value: Any) -> Any:
        return " ".join(value.split()) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """The tenant's name and customization, as the settings page shows them, and where its
    data lives ("eu-central, dedicated database")."""

    name: str
    customization: Customization
    can_edit: bool
    residency: str = ""
