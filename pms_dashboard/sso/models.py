"""A tenant's identity-provider connection, and the one-use records of sign-ins under way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from pms_dashboard.tenancy.models import TenantOwned, created_at_field


class SsoConfig(TenantOwned, table=True):
    """The tenant's OpenID Connect provider (one per tenant). The client secret is stored
    encrypted (`crypto`, purpose "sso-client") and never sent back to a browser."""

    __tablename__ = "sso_config"
    __table_args__ = (
        UniqueConstraint("tenant_id"),  # one per tenant
        CheckConstraint("default_role IN ('employee', 'manager')", name="default_role_valid"),
    )

    issuer: str = Field(max_length=300)
    client_id: str = Field(max_length=200)
    client_secret: str = Field(sa_type=Text)  # type: ignore[call-overload]
    allowed_domains: list[str] = Field(sa_type=ARRAY(Text))  # type: ignore[call-overload]
    default_role: str = Field(default="employee", max_length=20)
    provision_users: bool = False  # just-in-time: create a person on their first sign-in
    enabled: bool = True
    updated_at: datetime = created_at_field()
    # published as a DNS TXT record `pms-domain-verification=<token>` at each domain
    verification_token: str = Field(
        default="", max_length=64, sa_column_kwargs={"server_default": ""}
    )
    # the allowed domains whose record was found: only these sign people in
    verified_domains: list[str] = Field(
        default_factory=list,
        sa_type=ARRAY(Text),  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": text("'{}'::text[]")},
    )


class SsoLogin(TenantOwned, table=True):
    """A sign-in sent to the provider: its state, nonce and PKCE verifier, used at most once
    (a replayed or late callback finds it used or expired)."""

    __tablename__ = "sso_login"
    __table_args__ = (UniqueConstraint("tenant_id", "state"),)

    state: str = Field(max_length=64)
    nonce: str = Field(max_length=64)
    code_verifier: str = Field(max_length=128)
    redirect_uri: str = Field(max_length=500)  # the token request must repeat it exactly
    created_at: datetime = created_at_field()
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    ip: str = Field(default="", max_length=64)
