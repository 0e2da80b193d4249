"""A tenant's own settings (its name and customization): read for every page in the tenant's
transaction, changed by tenant admins only, with an audit event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import CursorResult, column, delete, exists, select, table, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource, may, require
from pms_dashboard.errors import validation_message
from pms_dashboard.organisation.image import FIELD as LOGO_FIELD
from pms_dashboard.organisation.image import clean_logo
from pms_dashboard.organisation.models import TenantLogo
from pms_dashboard.organisation.schemas import (
    LOGO_PATH,
    SETTINGS_LABELS,
    Customization,
    CustomizationError,
    TenantSettings,
    TenantSettingsInput,
    logo_address,
)
from pms_dashboard.tenancy.context import MissingTenantContext, TenantContext
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.placement import Placement


def get_customization(*, session: Session) -> Customization:
    """The customization of the tenant in context: named explicitly, and RLS shows only that
    tenant's row anyway (defence in depth, as every other query)."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise MissingTenantContext("the customization belongs to a tenant: use a tenant session")
    if "tenant_settings" in session.info:  # read by this transaction's session check
        return Customization.from_settings(session.info["tenant_settings"])
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
        residency=residency(session),
    )


def residency(session: Session) -> str:
    """Where the tenant of this routed session keeps its data: region and tier, as the
    catalog placed it ("eu-central, dedicated database"); "" outside the door."""
    placed = session.info.get("placement")
    return placed.describe() if isinstance(placed, Placement) else ""


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


SCALE_IN_USE = (
    "The rating scale can't be changed while a review cycle is running (active or in "
    "calibration): its ratings would change meaning. Change it after the cycle is closed; "
    "closed cycles keep the scale they launched with."
)
# The reviews package builds on this one, so its table is named here, not imported.
_CYCLES = table("review_cycle", column("status"))


def _scale_in_use(session: Session) -> bool:
    """Whether a launched cycle of the tenant is still rating on the scale (RLS keeps the
    question to the tenant in context)."""
    running = _CYCLES.c.status.in_(["active", "calibration"])
    return bool(session.scalar(select(exists().where(running))))


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
    if "rating_scale" in changed and _scale_in_use(session):
        raise CustomizationError(SCALE_IN_USE, field="rating_scale")
    if "logo_url" in changed:
        _logo_address_changed(session=session, actor=actor, before=current.logo_url,
                              after=validated.customization.logo_url)  # fmt: skip
    if changed:
        new_settings = stored | validated.customization.model_dump(mode="json")
        session.info.pop("tenant_settings", None)  # the check's copy is out of date now
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
    return TenantSettings(
        name=validated.name,
        customization=validated.customization,
        can_edit=True,
        residency=residency(session),
    )


# ------------------------------------------------------------------- the uploaded logo

ONLY_ADMINS_LOGO = "Only tenant admins can change the organisation's logo."
TYPED_UPLOAD_ADDRESS = (
    "That address is where an uploaded logo is served: upload the image with "
    "“Upload logo” instead of typing its address."
)
NO_UPLOAD = "There is no uploaded logo to remove."


def _logo_address_changed(
    *, session: Session, actor: TenantContext, before: str, after: str
) -> None:
    """A typed logo address replaces the uploaded logo (its image is removed, audited); an
    uploaded logo's address is never typed (only an upload sets it)."""
    if after.startswith(LOGO_PATH):
        raise CustomizationError(TYPED_UPLOAD_ADDRESS, field="logo_url")
    if before.startswith(LOGO_PATH):
        _drop_logo(session=session, actor=actor, replaced_by="address")


def _locked_tenant(session: Session, tenant_id: Any) -> Any:
    """The tenant's slug, name and settings, its row locked (one settings change at once)."""
    return session.execute(
        select(col(Tenant.slug), col(Tenant.name), col(Tenant.settings))
        .where(col(Tenant.id) == tenant_id)
        .with_for_update()
    ).one()


def _set_logo_url(session: Session, row: Any, tenant_id: Any, url: str) -> TenantSettings:
    """Store `url` as the logo the pages show; the settings as they are now."""
    settings = dict(row.settings or {}) | {"logo_url": url}
    session.info.pop("tenant_settings", None)  # the check's copy is out of date now
    session.execute(update(Tenant).where(col(Tenant.id) == tenant_id).values(settings=settings))
    return TenantSettings(
        name=row.name,
        customization=Customization.from_settings(settings),
        can_edit=True,
        residency=residency(session),
    )


def _drop_logo(*, session: Session, actor: TenantContext, replaced_by: str = "") -> bool:
    """Delete the tenant's uploaded logo, audited; False when there was none."""
    old = session.scalar(
        select(col(TenantLogo.version)).where(col(TenantLogo.tenant_id) == actor.tenant_id)
    )
    if old is None:
        return False
    session.execute(delete(TenantLogo).where(col(TenantLogo.tenant_id) == actor.tenant_id))
    detail = {"version": old} | ({"replaced_by": replaced_by} if replaced_by else {})
    audit.record(
        session=session,
        action="organisation.logo_removed",
        actor_id=actor.user_id,
        entity_type="tenant",
        entity_id=actor.tenant_id,
        detail=detail,
    )
    return True


def upload_logo(*, session: Session, actor: TenantContext, data: bytes) -> TenantSettings:
    """Store an uploaded logo (tenant admins only), re-encoded so only its pixels are kept,
    and show it on every page; audited. A refused file (CustomizationError about the
    upload field) changes nothing."""
    require_settings_editor(session=session, actor=actor, message=ONLY_ADMINS_LOGO)
    clean = clean_logo(data)
    row = _locked_tenant(session, actor.tenant_id)
    logo = session.scalar(select(TenantLogo).where(col(TenantLogo.tenant_id) == actor.tenant_id))
    replaced = logo.version if logo is not None else None
    if logo is None:
        logo = TenantLogo(tenant_id=actor.tenant_id, content_type="", data=b"", width=0,
                          height=0, version="")  # fmt: skip
        session.add(logo)
    logo.content_type, logo.data, logo.version = clean.content_type, clean.data, clean.version
    logo.width, logo.height = clean.width, clean.height
    session.flush()
    audit.record(
        session=session,
        action="organisation.logo_uploaded",
        actor_id=actor.user_id,
        entity_type="tenant",
        entity_id=actor.tenant_id,
        detail={
            "version": clean.version,
            "replaced": replaced,
            "content_type": clean.content_type,
            "width": clean.width,
            "height": clean.height,
            "bytes": len(clean.data),
            "uploaded_bytes": len(data),
        },
    )
    return _set_logo_url(session, row, actor.tenant_id, logo_address(row.slug, clean.version))


def remove_logo(*, session: Session, actor: TenantContext) -> TenantSettings:
    """Remove the uploaded logo (tenant admins only): the pages show the default again;
    audited. CustomizationError when there is none."""
    require_settings_editor(session=session, actor=actor, message=ONLY_ADMINS_LOGO)
    row = _locked_tenant(session, actor.tenant_id)
    if not _drop_logo(session=session, actor=actor):
        raise CustomizationError(NO_UPLOAD, field=LOGO_FIELD)
    current = Customization.from_settings(row.settings).logo_url
    return _set_logo_url(
        session, row, actor.tenant_id, "" if current.startswith(LOGO_PATH) else current
    )


def served_logo(*, session: Session, actor: TenantContext, slug: str) -> TenantLogo | None:
    """The uploaded logo of the organisation `slug` names, for a person of that same
    organisation; None when it has none or `slug` is another's (one answer for both)."""
    return session.scalar(
        select(TenantLogo)
        .join(Tenant, col(Tenant.id) == col(TenantLogo.tenant_id))
        .where(col(TenantLogo.tenant_id) == actor.tenant_id, col(Tenant.slug) == slug)
    )
