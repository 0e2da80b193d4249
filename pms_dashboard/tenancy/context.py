"""Who a request acts for. Built per request from a validated session token, never from
anything the browser can set, and never cached across requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


class MissingTenantContext(RuntimeError):
    """A tenant-owned table was queried outside a tenant session."""


class CrossTenantWrite(RuntimeError):
    """An object of one tenant was about to be written in another tenant's session."""


@dataclass(frozen=True, slots=True)
class TenantContext:
    """The tenant (and, for user requests, the user) a unit of work runs for."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None = None
    role: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tenant_id, uuid.UUID):
            raise TypeError("tenant_id must be a UUID")
