"""How a refused request is audited (called by the unit of work, in a transaction of its
own after the request was rolled back, through the refusal's `audit_refusal`).

This module sits below `permissions` and `resolve` (it imports neither): the refusals
call it with plain values.

The tenant's trail says what the tenant may know and nothing more:

* `access.not_found`: an id or name that is not one of this organisation's (malformed,
  unknown or another tenant's — the trail never says which, and never holds the id that
  was sent, so a tenant admin reading it learns nothing about other organisations);
* `access.denied`: something of this organisation the actor may not touch, with its id.

Both are flagged. When a not-found id belongs to another tenant, `app.report_foreign_id`
(SECURITY DEFINER) appends a flagged `access.cross_tenant` event to the platform's trail,
with both tenants, the actor, the kind and the id; it returns nothing, so not even this
code learns whether the id was foreign. The console's flagged queue shows the attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import TableClause, Uuid, column, literal, select, table, text, union_all
from sqlalchemy.orm import Session

from pms_dashboard.audit import service as audit
from pms_dashboard.db.clusters import home_region

NOT_FOUND = "access.not_found"
DENIED = "access.denied"
REASON = "not found in this organisation"

_REPORT = text("SELECT app.report_foreign_id(:id, :event)")

# Every table whose ids travel through the browser (to tell "this tenant's" from "not").
ADDRESSABLE = ("app_user", "goal", "key_result", "goal_check_in", "review_template",
               "review_criterion", "review_cycle", "review", "review_outcome")  # fmt: skip


def id_columns(name: str) -> TableClause:
    """A table's `tenant_id` and `id`, all the resolver (and this module) reads of it."""
    return table(name, column("tenant_id", Uuid), column("id", Uuid))


def exists_here(*, session: Session, tenant_id: uuid.UUID, row_id: uuid.UUID) -> bool:
    """Whether any addressable row of this tenant has this id (for auditing a refusal:
    an id of this tenant may be named in its trail, any other may not)."""
    probes = [
        select(literal(1)).where(t.c.tenant_id == tenant_id, t.c.id == row_id)
        for t in map(id_columns, ADDRESSABLE)
    ]
    return session.execute(union_all(*probes).limit(1)).first() is not None


def record_denied(
    *, session: Session, resource: str, action: str, target_id: uuid.UUID | None
) -> None:
    """Audit a permission refusal in `session` (a tenant transaction of its own; not
    committed here): `access.denied` naming the target, or `access.not_found` when the
    target is not this tenant's."""
    ctx = session.info.get("ctx")
    tenant_id: uuid.UUID = session.info["tenant_id"]
    target = target_id
    if target is not None and not exists_here(session=session, tenant_id=tenant_id, row_id=target):
        # an id that is not this tenant's, refused by a permission check: the same record
        # as any other id that is not found here
        record_not_found(session=session, kind=resource, action=action, candidates=(target,))
        return
    audit.record(
        session=session,
        action=DENIED,
        actor_id=getattr(ctx, "user_id", None),
        entity_type=resource,
        entity_id=target,
        detail={
            "action": action,
            "target": str(target) if target else None,
            "role": getattr(ctx, "role", None),
        },
        flagged=True,
    )


def record_not_found(
    *, session: Session, kind: str, action: str, candidates: Iterable[uuid.UUID]
) -> None:
    """Audit an id or name not found in this tenant (the candidates only reach the
    platform's cross-tenant check, never the tenant's trail)."""
    ctx = session.info.get("ctx")
    event_id = audit.record(
        session=session,
        action=NOT_FOUND,
        actor_id=getattr(ctx, "user_id", None),
        entity_type=kind,
        detail={
            "kind": kind,
            "action": action,
            "reason": REASON,
            "role": getattr(ctx, "role", None),
        },
        flagged=True,
    )
    if not _shares_the_platform_database(session):
        return
    # last in the transaction: the platform trail's one lock is held until commit
    for candidate in candidates:
        session.execute(_REPORT, {"id": candidate, "event": event_id})


def _shares_the_platform_database(session: Session) -> bool:
    """Whether the tenant's rows are in the home region's pool, next to the platform trail
    and the other pool tenants: only there can an id be found to be another tenant's (a
    schema or database tenant's placement holds no other tenant's rows to find it in)."""
    found = session.info.get("placement")
    return found is None or (found.tier == "pool" and found.region == home_region().name)
