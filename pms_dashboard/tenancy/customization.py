"""A tenant's own look and rules: accent colour, logo, rating scale, stale-goal threshold.

Stored in `tenant.settings` (jsonb) and always read through `Customization`, so a missing or
old key falls back to a default and a bad value can never reach a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource, may, require
from pms_dashboard.errors import UserError, validation_message
from pms_dashboard.tenancy.context import MissingTenantContext, TenantContext
from pms_dashboard.tenancy.models import Tenant

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
    """The tenant's name and customization, as the settings page shows them."""

    name: str
    customization: Customization
    can_edit: bool


def get_customization(*, session: Session) -> Customization:
    """The customization of the tenant in context: named explicitly, and RLS shows only that
    tenant's row anyway (defence in depth, as every other query)."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise MissingTenantContext("the customization belongs to a tenant: use a tenant session")
    settings = session.scalar(select(col(Tenant.settings)).where(col(Tenant.id) == tenant_id))
    return Customization.from_settings(settings)


def get_tenant_settings(*, session: Session, actor: TenantContext) -> TenantSettings:
    """Name and customization of the actor's tenant, and whether the actor may change them."""
    require(session=session, actor=actor, resource=Resource.tenant_settings, action=Action.view)
    row = session.execute(
        select(col(Tenant.name), col(Tenant.settings)).where(col(Tenant.id) == actor.tenant_id)
    ).one()
    return TenantSettings(
        name=row.name,
        customization=Customization.from_settings(row.settings),
        can_edit=may(
            session=session, actor=actor, resource=Resource.tenant_settings, action=Action.edit
        ),
    )


def require_settings_editor(*, session: Session, actor: TenantContext, message: str) -> None:
    """PermissionDenied (with `message`) unless the actor may edit their own tenant's
    settings, in a session whose context is that same tenant."""
    if session.info.get("tenant_id") != actor.tenant_id:  # a context for another tenant
        raise PermissionDenied(Resource.tenant_settings, Action.edit, message)
    require(
        session=session,
        actor=actor,
        resource=Resource.tenant_settings,
        action=Action.edit,
        message=message,
    )


def update_tenant_settings(
    *, session: Session, actor: TenantContext, changes: Mapping[str, Any]
) -> TenantSettings:
    """Change the tenant's name and/or customization (tenant admins only), with an audit event.

    `changes` holds any of: name, accent, logo_url, rating_scale ({low, high, labels}),
    stale_after_days; keys left out keep their current value. Bad input raises
    CustomizationError and writes nothing.
    """
    message = "Only tenant admins can change the organisation's settings."
    require_settings_editor(session=session, actor=actor, message=message)
    # Lock the row: two admins saving at once must not silently merge half of each.
    row = session.execute(
        select(col(Tenant.name), col(Tenant.settings))
        .where(col(Tenant.id) == actor.tenant_id)
        .with_for_update()
    ).one()
    stored: dict[str, Any] = dict(row.settings or {})
    current = Customization.from_settings(stored)
    wanted = dict(changes)
    unknown = set(wanted) - {"name", *Customization.model_fields}
    if unknown:
        raise CustomizationError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    name = wanted.pop("name", row.name)
    try:
        validated = TenantSettingsInput.model_validate(
            {"name": name, "customization": current.model_dump() | wanted}
        )
    except ValidationError as err:
        raise CustomizationError(validation_message(err, SETTINGS_LABELS)) from None

    before = {"name": row.name, **current.model_dump(mode="json")}
    after = {"name": validated.name, **validated.customization.model_dump(mode="json")}
    changed = sorted(k for k in after if before.get(k) != after[k])
    if changed:
        new_settings = stored | validated.customization.model_dump(mode="json")
        result = session.execute(
            update(Tenant)
            .where(col(Tenant.id) == actor.tenant_id)
            .values(name=validated.name, settings=new_settings)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            raise PermissionDenied(Resource.tenant_settings, Action.edit, message)
        audit.record(
            session=session,
            action="tenant.update_settings",
            actor_id=actor.user_id,
            entity_type="tenant",
            entity_id=actor.tenant_id,
            detail={
                "changed": changed,
                "before": {k: before.get(k) for k in changed},
                "after": {k: after[k] for k in changed},
            },
        )
    return TenantSettings(name=validated.name, customization=validated.customization, can_edit=True)
