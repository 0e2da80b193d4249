"""Audit events: who did what to which tenant's data, and which of it is flagged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from pms_dashboard.tenancy.models import TenantOwned, created_at_field

# Flagged events of ordinary users (console reads are flagged too, but they are the
# platform's own doing, not something to review). Written out once: the partial index and
# the queue's query must use the very same expression for PostgreSQL to match them.
REVIEWABLE_SQL = "flagged AND action NOT LIKE 'console.%'"
# Platform events that record another tenant's id named in a request (few; the console's
# flagged queue looks them up by the tenant event they belong to).
CROSS_TENANT_SQL = "action = 'access.cross_tenant'"


class AuditEvent(TenantOwned, table=True):
    """One audited action. actor_id is deliberately not a foreign key: the trail must outlive
    the users it mentions.

    Rows are written only by `append_audit_event` (the app has no INSERT, UPDATE or
    DELETE on this table): it numbers each tenant's events 1, 2, 3... (`seq`) and chains them,
    each `hash` covering the row's content and the previous row's hash (`prev_hash`), so
    `audit verify` finds any row altered, removed or moved.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index(None, "tenant_id", "occurred_at"),
        Index(None, "tenant_id", "action", "occurred_at"),
        # the console's flagged queue: small (flagged events are rare), so a scan of it all
        # is cheap, and it keeps that cross-tenant query off the whole table
        Index(
            "ix_audit_event_tenant_id_occurred_at_reviewable",
            "tenant_id",
            "occurred_at",
            postgresql_where=text(REVIEWABLE_SQL),
        ),
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


class PlatformEvent(SQLModel, table=True):
    """One entry of the platform's own trail: what super-admins did in the console
    (sign-ins and failed ones, sign-outs, audit searches, reviews, exports), and every
    request of a tenant's user that named another tenant's id (`access.cross_tenant`,
    appended by `app.report_foreign_id`; the tenant's own trail says only "not found").

    Not tenant data, so no tenant_id. One global chain, numbered by `seq` and hashed like
    the tenant chains; written only by `app.append_platform_event` (no role has INSERT,
    UPDATE or DELETE). admin_id is a foreign key without ON DELETE: an admin with events
    cannot be deleted (deactivate instead), so the trail never loses who did what.
    """

    __tablename__ = "platform_event"
    __table_args__ = (
        Index(None, "admin_id", "occurred_at"),
        # a refusal's cross-tenant report, by the tenant event it belongs to
        Index(
            "ix_platform_event_cross_tenant_event",
            text("(detail ->> 'tenant_event_id')"),
            postgresql_where=text(CROSS_TENANT_SQL),
        ),
    )

    seq: int = Field(
        primary_key=True,
        sa_type=BigInteger,  # type: ignore[call-overload]
        sa_column_kwargs={"autoincrement": False},
    )
    occurred_at: datetime = created_at_field()
    admin_id: uuid.UUID | None = Field(default=None, foreign_key="platform_admin.id")
    action: str = Field(max_length=64)
    detail: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONB,  # type: ignore[call-overload]
        sa_column_kwargs={"nullable": False},
    )
    ip: str = Field(default="", max_length=64)
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)


class FlagReview(SQLModel, table=True):
    """A super-admin's review of one flagged audit event (at most one per event).

    A platform record about a tenant's event, not the tenant's data: the note may speak of
    other tenants, so it never goes into the tenant's chain. Insert-only for the console
    (no UPDATE or DELETE). It lives in the home database while the event lives at the
    tenant's placement, so (tenant_id, event_id) name the event without a foreign key
    (migration 0016); the console reviews only an event it has just read there.
    """

    __tablename__ = "flag_review"
    __table_args__ = (
        Index(None, "admin_id"),
        CheckConstraint("length(btrim(note)) BETWEEN 1 AND 500", name="note_given"),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    event_id: uuid.UUID = Field(primary_key=True)
    admin_id: uuid.UUID = Field(foreign_key="platform_admin.id")
    note: str = Field(max_length=500)
    reviewed_at: datetime = created_at_field()
