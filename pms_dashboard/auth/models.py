"""Server-side sign-in sessions: a token is only as good as its unrevoked row here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index
from sqlmodel import Field

from pms_dashboard.tenancy.models import TenantOwned, created_at_field, tenant_fk


class AuthSession(TenantOwned, table=True):
    __tablename__ = "auth_session"
    __table_args__ = (
        tenant_fk("user_id", "app_user", ondelete="CASCADE"),
        Index(None, "tenant_id", "user_id"),
    )

    user_id: uuid.UUID
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    last_seen_at: datetime = created_at_field()
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    user_agent: str = Field(default="", max_length=300)
    ip: str = Field(default="", max_length=64)
