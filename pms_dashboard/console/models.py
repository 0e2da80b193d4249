"""Platform super-admins and their console sessions. Not tenant data: super-admins are
members of no tenant, and these tables have no tenant_id (the app role cannot read them;
the console's role `pms_auditor` can)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, text
from sqlmodel import Field, SQLModel

from pms_dashboard.tenancy.models import created_at_field


class PlatformAdmin(SQLModel, table=True):
    """A person who runs the platform; signs in with a password and a TOTP code."""

    __tablename__ = "platform_admin"
    __table_args__ = (
        CheckConstraint("email = lower(email) AND position('@' in email) > 1", name="email_format"),
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    email: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=500)
    # The TOTP secret, encrypted with a key derived from the data key (never stored in clear).
    totp_secret: str = Field(max_length=500)
    # The last TOTP time step accepted: a code is good once, never again (no replay).
    totp_last_step: int = Field(
        default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"}
    )  # type: ignore[call-overload]
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    created_at: datetime = created_at_field()


class ConsoleSession(SQLModel, table=True):
    """A super-admin's signed-in session: a console token is good only while this row is."""

    __tablename__ = "console_session"
    __table_args__ = (Index(None, "admin_id"),)

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    admin_id: uuid.UUID = Field(foreign_key="platform_admin.id", ondelete="CASCADE")
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    ip: str = Field(default="", max_length=64)
