"""Writing audit events, in the same transaction as the operation they describe."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import chain
from pms_dashboard.auth.permissions import Action, Resource, require
from pms_dashboard.tenancy.context import TenantContext


def record(
    *,
    session: Session,
    action: str,
    actor_id: uuid.UUID | None = None,
    entity_type: str = "",
    entity_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
    flagged: bool = False,
    ip: str = "",
) -> uuid.UUID:
    """Append an audit event to the tenant's chain, in the caller's transaction (committed
    or rolled back with the change it describes); returns its id."""
    event_id = session.execute(
        chain.APPEND,
        {
            "actor": actor_id,
            "action": action[:64],
            "entity_type": entity_type[:64],
            "entity_id": entity_id,
            "detail": json.dumps(detail or {}, default=str),
            "flagged": flagged,
            "ip": ip[:64],
        },
    ).scalar_one()
    return uuid.UUID(str(event_id))


@dataclass(frozen=True, slots=True)
class ProviderAccess:
    """One super-admin action on this tenant, as its transparency page shows it."""

    at: str
    admin: str
    action: str
    justification: str
    ticket: str
    what: str


CONSOLE_ACTIONS = {
    "console.grant_opened": "Opened access",
    "console.read": "Read data",
    "console.grant_revoked": "Ended access",
    "console.audit_read": "Searched your audit trail (who, what, when; no content)",
    "console.flag_reviewed": "Reviewed a flagged event",
}


def provider_access_log(
    *, session: Session, actor: TenantContext, limit: int = 200
) -> list[ProviderAccess]:
    """Every platform super-admin access to the tenant (grants opened and ended, every read
    under them, attempts without one), newest first; tenant admins only."""
    require(session=session, actor=actor, resource=Resource.audit_log, action=Action.view)
    from pms_dashboard.audit.grants import JUSTIFICATIONS
    from pms_dashboard.audit.models import AuditEvent

    events = session.scalars(
        select(AuditEvent)
        .where(col(AuditEvent.action).like("console.%"))
        .order_by(col(AuditEvent.seq).desc())
        .limit(min(max(limit, 1), 1000))
    ).all()
    out = []
    for e in events:
        d = e.detail or {}
        what = (
            f"{d.get('what')} ({d.get('rows', 0)} rows)"
            + ("" if d.get("grant") or e.action != "console.read" else " — refused: no grant")
            if e.action == "console.read"
            else ""
        )
        out.append(
            ProviderAccess(
                at=e.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                admin=str(d.get("admin", "")),
                action=CONSOLE_ACTIONS.get(e.action, e.action),
                justification=JUSTIFICATIONS.get(str(d.get("justification")), ""),
                ticket=str(d.get("ticket") or ""),
                what=what,
            )
        )
    return out
