"""How a refused request is audited (called by the unit of work, in a transaction of its
own after the request was rolled back).

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

from sqlalchemy import text
from sqlalchemy.orm import Session

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import NotFoundHere, exists_here

NOT_FOUND = "access.not_found"
DENIED = "access.denied"
REASON = "not found in this organisation"

_REPORT = text("SELECT app.report_foreign_id(:id, :event)")


def record_refusal(*, session: Session, refusal: PermissionDenied) -> None:
    """Audit one refusal in `session` (a tenant transaction of its own; not committed here)."""
    ctx = session.info.get("ctx")
    tenant_id: uuid.UUID = session.info["tenant_id"]
    if isinstance(refusal, NotFoundHere):
        _not_found(session, refusal.kind.value, str(refusal.action), refusal.candidates)
        return
    target = refusal.target_id
    if target is not None and not exists_here(session=session, tenant_id=tenant_id, row_id=target):
        # an id that is not this tenant's, refused by a permission check: the same record
        # as any other id that is not found here
        _not_found(session, str(refusal.resource), str(refusal.action), (target,))
        return
    audit.record(
        session=session,
        action=DENIED,
        actor_id=getattr(ctx, "user_id", None),
        entity_type=str(refusal.resource),
        entity_id=target,
        detail={
            "action": str(refusal.action),
            "target": str(target) if target else None,
            "role": getattr(ctx, "role", None),
        },
        flagged=True,
    )


def _not_found(session: Session, kind: str, action: str, candidates: Iterable[uuid.UUID]) -> None:
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
    # last in the transaction: the platform trail's one lock is held until commit
    for candidate in candidates:
        session.execute(_REPORT, {"id": candidate, "event": event_id})
