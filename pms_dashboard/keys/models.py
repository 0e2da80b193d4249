"""A tenant's key configuration and its wrapped data keys (tenant tables: forced RLS, moved
with the tenant). No unwrapped key is ever stored; the customer's credential is encrypted
(`crypto`, purpose "kms-credential") and never shown again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from pms_dashboard.tenancy.models import TenantOwned, created_at_field


class TenantKeyConfig(TenantOwned, table=True):
    """The tenant's opt-in (one row per tenant): which provider wraps its data keys, where,
    with which key, and how far a data-key rotation has come."""

    __tablename__ = "tenant_key_config"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("provider IN ('platform', 'openbao', 'aws-kms')", name="provider_valid"),
    )

    provider: str = Field(max_length=16)
    address: str = Field(default="", max_length=500)
    key_name: str = Field(default="", max_length=300)
    region: str = Field(default="", max_length=32)
    credential_enc: str = Field(default="", sa_type=Text)  # type: ignore[call-overload]
    # The data-key version new values are written with.
    current_version: int = 1
    # A data-key rotation under way: {"to": version, "table": ..., "after": last row id}.
    rotation: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONB,  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": text("'{}'::jsonb"), "nullable": False},
    )
    last_unwrap_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class TenantDataKey(TenantOwned, table=True):
    """One version of the tenant's data key, as its provider wrapped it."""

    __tablename__ = "tenant_data_key"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    version: int
    provider: str = Field(max_length=16)
    wrapped: str = Field(sa_type=Text)  # type: ignore[call-overload]
    kms_key_version: str = Field(default="", max_length=300)
    created_at: datetime = created_at_field()
    rewrapped_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
