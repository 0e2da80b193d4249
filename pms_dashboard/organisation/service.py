"""A tenant's own settings (its name and customization): read for every page in the tenant's
transaction, changed by tenant admins only, with an audit event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import CursorResult, column, exists, select, table, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource, may, require
from pms_dashboard.errors import validation_message
from pms_dashboard.organisation.schemas import (
    SETTINGS_LABELS,
    Customization,
    CustomizationError,
    TenantSettings,
    TenantSettingsInput,
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
    "calibration): its ratings would change meaning. Change it after the cycle is closed."
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
