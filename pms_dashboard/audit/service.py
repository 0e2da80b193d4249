"""Writing audit events, in the same transaction as the operation they describe."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from pms_dashboard.audit.models import AuditEvent


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
) -> AuditEvent:
    """Add an audit event to the caller's transaction (committed or rolled back with it)."""
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        entity_type=entity_type,
        entity_id=entity_id,
        detail=detail or {},
        flagged=flagged,
        ip=ip[:64],
    )
    session.add(event)
    return event
