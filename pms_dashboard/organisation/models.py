"""A tenant's uploaded logo (a tenant table: forced RLS, moved with the tenant, kept at the
tenant's placement). Only pixels re-encoded by `organisation.image` are stored, never the
bytes a browser sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, LargeBinary, UniqueConstraint
from sqlmodel import Field

from pms_dashboard.tenancy.models import TenantOwned, created_at_field

# Room for what the checks allow (1024 x 1024 pixels re-encoded) with a margin, so the
# database refuses a runaway value whatever the code does.
MAX_STORED_BYTES = 8 * 1024 * 1024


class TenantLogo(TenantOwned, table=True):
    """The organisation's logo (one per tenant): the re-encoded image, its type, size and
    version (a hash of the bytes: the served address and ETag change with every upload)."""

    __tablename__ = "tenant_logo"
    __table_args__ = (
        UniqueConstraint("tenant_id"),  # one per tenant
        CheckConstraint("content_type IN ('image/png', 'image/webp')", name="content_type_valid"),
        CheckConstraint(
            f"octet_length(data) BETWEEN 1 AND {MAX_STORED_BYTES}", name="data_size_valid"
        ),
        CheckConstraint(
            "width BETWEEN 1 AND 1024 AND height BETWEEN 1 AND 1024", name="size_valid"
        ),
    )

    content_type: str = Field(max_length=16)
    data: bytes = Field(sa_type=LargeBinary)  # type: ignore[call-overload]
    width: int
    height: int
    version: str = Field(max_length=32)
    created_at: datetime = created_at_field()
