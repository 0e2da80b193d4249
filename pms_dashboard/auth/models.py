"""Server-side sign-in sessions (a token is only as good as its unrevoked row here) and the
platform's record of recent sign-in attempts (for throttling)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Identity, Index
from sqlmodel import Field, SQLModel

from pms_dashboard.tenancy.models import TenantOwned, check_in, created_at_field, tenant_fk


class RevokeReason(StrEnum):
    """Why a session ended before its absolute expiry (`auth_session.revoked_reason`)."""

    sign_out = "sign_out"
    sign_out_everywhere = "sign_out_everywhere"
    idle = "idle"
    rotated = "rotated"  # replaced by a new sign-in from the same browser
    deactivated = "deactivated"  # the person was switched off by a tenant admin


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
