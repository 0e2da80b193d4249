"""Who signs in and what they may do: the people of a tenant (their role and whom they report
to, which every permission reads), their server-side sign-in sessions (a token is only as
good as its unrevoked row here), and the platform's record of recent sign-in attempts (for
throttling).

The people live here, below every domain that asks about them (the directory and its
administration are the `people` package's), so the permission rules and the sign-in read
them without importing any domain.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from pms_dashboard.tenancy.models import TenantOwned, check_in, created_at_field, tenant_fk


class Role(StrEnum):
    employee = "employee"
    manager = "manager"
    hr_admin = "hr_admin"
    tenant_admin = "tenant_admin"


def normalize_email(email: str) -> str:
    """Emails are stored and compared trimmed and lower-case."""
    return email.strip().lower()


class User(TenantOwned, table=True):
    """A person in one tenant. The same email may exist in several tenants."""

    __tablename__ = "app_user"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        tenant_fk("manager_id", "app_user"),
        Index(None, "tenant_id", "manager_id"),
        Index(None, "tenant_id", "department", "team"),
        Index(None, "tenant_id", "display_name", "id"),  # goal lists sorted by owner
        check_in("role", Role),
        CheckConstraint("email = lower(email) AND position('@' in email) > 1", name="email_format"),
        CheckConstraint("manager_id IS NULL OR manager_id <> id", name="not_own_manager"),
    )

    email: str = Field(max_length=320)
    display_name: str = Field(max_length=200)
    role: str = Field(default=Role.employee.value, max_length=20)
    manager_id: uuid.UUID | None = None
    department: str | None = Field(default=None, max_length=100)
    team: str | None = Field(default=None, max_length=100)
    job_title: str | None = Field(default=None, max_length=200)
    password_hash: str | None = Field(default=None, max_length=500)
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    created_at: datetime = created_at_field()
    # the IANA zone their dates are shown in; None: their organisation's, else UTC
    time_zone: str | None = Field(default=None, max_length=64)


class RevokeReason(StrEnum):
    """Why a session ended before its absolute expiry (`auth_session.revoked_reason`)."""

    sign_out = "sign_out"
    sign_out_everywhere = "sign_out_everywhere"
    idle = "idle"
    rotated = "rotated"  # replaced by a new sign-in from the same browser
    deactivated = "deactivated"  # the person was switched off by a tenant admin
    password_changed = "password_changed"  # noqa: S105 (a reason: they changed their password)


class AuthSession(TenantOwned, table=True):
    __tablename__ = "auth_session"
    __table_args__ = (
        tenant_fk("user_id", "app_user", ondelete="CASCADE"),
        Index(None, "tenant_id", "user_id"),
        check_in("revoked_reason", RevokeReason),
        CheckConstraint(
            "revoked_reason IS NULL OR revoked_at IS NOT NULL", name="reason_only_when_revoked"
        ),
    )

    user_id: uuid.UUID
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # Refreshed by `authenticate` at most once a minute; the idle timeout is measured from it.
    last_seen_at: datetime = created_at_field()
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # NULL on a revoked row: revoked before migration 0009, or by a writer that gives no reason.
    revoked_reason: str | None = Field(default=None, max_length=32)
    user_agent: str = Field(default="", max_length=300)
    ip: str = Field(default="", max_length=64)


class AttemptOutcome(StrEnum):
    pending = "pending"  # reserved before the password is checked; counts as a failure
    success = "success"
    failure = "failure"
    throttled = "throttled"  # refused by the throttle; the password was not checked


class SignInAttempt(SQLModel, table=True):
    """One recent sign-in attempt, platform-wide (no tenant_id: the throttle must count an
    address across tenants). Written and counted only through the SECURITY DEFINER
    functions `app.signin_attempt_begin/end`; neither runtime role can read the table.
    Pruned after a day by the same functions."""

    __tablename__ = "signin_attempt"
    __table_args__ = (
        check_in("outcome", AttemptOutcome),
        CheckConstraint("account_key ~ '^[0-9a-f]{64}$'", name="account_key_sha256"),
        CheckConstraint("scope IS NULL OR outcome = 'throttled'", name="scope_only_when_throttled"),
        Index(None, "account_key", "attempted_at"),
        Index(None, "account_key", "ip", "attempted_at"),
        Index(None, "ip", "attempted_at"),
        Index(None, "attempted_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, Identity(always=True), primary_key=True),
    )
    attempted_at: datetime = created_at_field()
    # sha256 hex of the normalised tenant slug and email; NULL for address-only attempts
    # (console sign-in).
    account_key: str | None = Field(default=None, max_length=64)
    ip: str = Field(default="", max_length=64)
    outcome: str = Field(max_length=16)
    # Which limits refused a throttled attempt ("account", "address", "pair", comma
    # separated; migration 0013); NULL otherwise.
    scope: str | None = Field(default=None, max_length=32)
