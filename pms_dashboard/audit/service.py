"""Writing audit events, in the same transaction as the operation they describe."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.orm import Session

from pms_dashboard.audit import chain


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
