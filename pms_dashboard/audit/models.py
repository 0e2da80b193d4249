"""Audit events: who did what to which tenant's data, and which of it is flagged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from pms_dashboard.tenancy.models import TenantOwned, created_at_field


class AuditEvent(TenantOwned, table=True):
    """One audited action. actor_id is deliberately not a foreign key: the trail must outlive
    the users it mentions.

    Rows are written only by `app.append_audit_event` (the app has no INSERT, UPDATE or
    DELETE on this table): it numbers each tenant's events 1, 2, 3... (`seq`) and chains them,
    each `hash` covering the row's content and the previous row's hash (`prev_hash`), so
    `audit verify` finds any row altered, removed or moved.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index(None, "tenant_id", "occurred_at"),
        Index(None, "tenant_id", "action", "occurred_at"),
    )

    seq: int = Field(sa_type=BigInteger)  # type: ignore[call-overload]
    occurred_at: datetime = created_at_field()
    actor_id: uuid.UUID | None = None
    action: str = Field(max_length=64)
    entity_type: str = Field(default="", max_length=64)
    entity_id: uuid.UUID | None = None
    flagged: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    ip: str = Field(default="", max_length=64)
    detail: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONB,  # type: ignore[call-overload]
        sa_column_kwargs={"nullable": False},
    )
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)


class AccessGrant(TenantOwned, table=True):
    """A super-admin's justified, time-boxed permission to read one tenant's data.

    Tenant-owned, so the tenant sees every grant on itself (read-only for the app role).
    admin_id names a platform admin but is not a foreign key: tenant tables only point into
    their own tenant; admin_name is kept for the tenant's transparency page.
    """

    __tablename__ = "access_grant"
    __table_args__ = (
        Index(None, "tenant_id", "admin_id", "expires_at"),
        CheckConstraint(
            "justification IN ('customer_support', 'security_investigation', 'legal_request')",
            name="justification_valid",
        ),
        CheckConstraint(
            "expires_at > created_at AND expires_at <= created_at + interval '4 hours'",
            name="time_boxed",
        ),
        CheckConstraint("length(btrim(ticket)) >= 3", name="ticket_given"),
    )

    admin_id: uuid.UUID
    admin_name: str = Field(max_length=200)
    justification: str = Field(max_length=32)
    ticket: str = Field(max_length=100)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
