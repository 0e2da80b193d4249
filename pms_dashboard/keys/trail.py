"""The key's own audit events in the tenant's chain: every unwrap attempt (`key.unwrap`,
flagged when it failed) and every ciphertext found out of place (`key.misplaced`, flagged)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pms_dashboard.audit import service as audit

logger = logging.getLogger(__name__)

UNWRAP = "key.unwrap"
MISPLACED = "key.misplaced"


def _actor(session: Any) -> uuid.UUID | None:
    ctx = session.info.get("ctx")
    return getattr(ctx, "user_id", None)


def record_unwrap(
    *,
    session: Any,
    provider: str,
    version: int | None,
    ok: bool,
    reason: str = "",
    kms_key_version: str = "",
) -> None:
    """One unwrap attempt: provider, data-key version, the provider's key version, outcome."""
    detail: dict[str, Any] = {"provider": provider, "key_version": version, "success": ok}
    if kms_key_version:
        detail["kms_key_version"] = kms_key_version
    if reason:
        detail["reason"] = reason[:300]
    audit.record(
        session=session,
        action=UNWRAP,
        actor_id=_actor(session),
        entity_type="tenant_data_key",
        detail=detail,
        flagged=not ok,
    )


def record_change(
    *, session: Any, action: str, actor_id: uuid.UUID | None, detail: dict[str, Any]
) -> None:
    """A change to the tenant's keys (configured, rewrapped, a rotation's start and end)."""
    audit.record(
        session=session, action=action, actor_id=actor_id, entity_type="tenant_key", detail=detail
    )


def record_misplaced(*, session: Any, table: str, column: str, row_id: uuid.UUID) -> None:
    """A ciphertext that does not belong to the row, column or tenant it was found in."""
    logger.warning("an encrypted %s.%s value does not belong to row %s", table, column, row_id)
    audit.record(
        session=session,
        action=MISPLACED,
        actor_id=_actor(session),
        entity_type=table,
        entity_id=row_id,
        detail={"table": table, "column": column},
        flagged=True,
    )
