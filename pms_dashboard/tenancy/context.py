"""Who a request acts for. Built per request from a validated session token, never from
anything the browser can set, and never cached across requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pms_dashboard.errors import UserError


class MissingTenantContext(RuntimeError):
    """A tenant-owned table was queried outside a tenant session."""


class CrossTenantWrite(RuntimeError):
    """An object of one tenant was about to be written in another tenant's session."""


class AuditedRefusal(UserError):
    """A refused request that leaves a trace: the unit of work rolls the request's own work
    back, then calls `audit_refusal(session)` in a transaction of its own (same tenant
    context), so the refusal is recorded although nothing else was. The subclass (in the
    domain that refuses) decides what is recorded; tenancy imports no domain package."""

    def audit_refusal(self, session: Any) -> None:
        """Record this refusal in `session` (a fresh transaction with the tenant set)."""


@dataclass(frozen=True, slots=True)
class TenantContext:
    """The tenant (and, for user requests, the user) a unit of work runs for."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None = None
    role: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tenant_id, uuid.UUID):
            raise TypeError("tenant_id must be a UUID")


# What one unit of work may look up several times (a goal page and the check-in before it
# ask who may open what, and whether an id is the tenant's, more than once), kept in the
# session's `info` for that transaction only. `tenancy.session` drops a memo when a write
# could change it: "found" (ids that are the tenant's) on any deletion, "relations" (how
# people stand to the actor) on any change to a person; both on any UPDATE or DELETE
# statement.
MEMO_FOUND, MEMO_RELATIONS = "found", "relations"


def transaction_memo(session: Any, name: str) -> dict[Any, Any]:
    """The memo `name` of `session`'s unit of work (empty at its start)."""
    memos: dict[str, dict[Any, Any]] = session.info.setdefault("memo", {})
    return memos.setdefault(name, {})
