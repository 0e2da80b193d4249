"""The Encryption page's service: a tenant admin opts the organisation into encryption of its
free text, chooses the key provider and key, tests the key, and reads the key's status and
use log. Only the admin's own tenant is ever touched (its id comes from the signed-in
actor, never from the browser), and only tenant admins may do any of it.

An address typed into a web page is where the server will send requests, so it must not
reach inside the platform's network: it must be https to a public address, unless the
operator allows private addresses (`PMS_KMS_ALLOW_PRIVATE_ADDRESSES`, for a customer KMS
inside the same network, and for development and tests). The command line is the
operator's and is not limited.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from pms_dashboard.auth.permissions import Action, Resource, require
from pms_dashboard.keys import service as keys
from pms_dashboard.keys.errors import KeyConfigError
from pms_dashboard.keys.providers import PROVIDERS
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.context import TenantContext

ONLY_ADMINS = "Only tenant admins can manage the organisation's encryption key."
# The providers a tenant admin may choose on the page (the AWS one needs credentials the
# page does not collect: it is configured by the operator with `cli keys use`).
PAGE_PROVIDERS = ("platform", "openbao")
assert set(PAGE_PROVIDERS) <= set(PROVIDERS)
MAX_FIELD = 500
# The free text `keys.fields.ENCRYPTED` covers, in people's words.
ENCRYPTED_TEXT = (
    "goal descriptions, check-in notes, review summaries (peer feedback included), rating "
    "comments and calibration reasons"
)


@dataclass(frozen=True)
class EncryptionView:
    """What the page shows: the configuration (None: plain text) and the key-use log."""

    status: keys.KeyStatus | None
    log: list[keys.KeyUse]


def _require_admin(session: Session, actor: TenantContext) -> None:
    require(
        session=session,
        actor=actor,
        resource=Resource.tenant_settings,
        action=Action.edit,
        message=ONLY_ADMINS,
    )


def encryption_view(*, session: Session, actor: TenantContext) -> EncryptionView:
    """The actor's organisation's key status and its newest key uses."""
    _require_admin(session, actor)
    return EncryptionView(
        status=keys.key_status(session=session, tenant_id=actor.tenant_id),
        log=keys.key_log(session=session, tenant_id=actor.tenant_id, limit=50),
    )


def _text(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise KeyConfigError(f"{label} must be text.")
    value = value.strip()
    if len(value) > MAX_FIELD:
        raise KeyConfigError(f"{label} is too long (at most {MAX_FIELD} characters).")
    return value


def check_address(address: str) -> None:
    """Refuse an address the server must not call on a tenant's behalf: not https, or a
    host that is (or resolves to) a loopback, private, link-local or reserved address —
    unless the operator allows private addresses."""
    parts = urlsplit(address)
    allow_private = get_settings().kms_allow_private_addresses
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise KeyConfigError("The key server's address must start with https://.")
    if not parts.hostname:
        raise KeyConfigError(
            "The key server's address must name a host, such as https://kms.example.com:8200."
        )
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise KeyConfigError(f"The host {parts.hostname} cannot be found.") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global:
            raise KeyConfigError(
                f"The host {parts.hostname} is not a public address; ask the platform's "
                "operator to allow private key servers."
            )


def configure_key(
    *,
    session: Session,
    actor: TenantContext,
    provider: Any,
    address: Any = "",
    key_name: Any = "",
    token: Any = "",
) -> keys.KeyStatus:
    """Opt in, or switch provider or key (the data key is rewrapped; rows stay as they are).
    An empty token keeps the stored one. Nothing changes unless the key works."""
    _require_admin(session, actor)
    provider = _text(provider, "The provider")
    if provider not in PAGE_PROVIDERS:
        raise KeyConfigError("Choose the platform's key or your own OpenBao / Vault key.")
    address, key_name, token = (
        _text(address, "The address"),
        _text(key_name, "The key name"),
        _text(token, "The token"),
    )
    if provider == "platform":
        address = key_name = token = ""
    else:
        check_address(address)
    return keys.use_key(
        session=session,
        tenant_id=actor.tenant_id,
        provider=provider,
        address=address,
        key_name=key_name,
        credential=token or None,
        actor_id=actor.user_id,
    )


def test_key(*, session: Session, actor: TenantContext) -> bool:
    """Unwrap the organisation's data key now, past the cache (audited like any unwrap)."""
    _require_admin(session, actor)
    return keys.test_key(session=session, tenant_id=actor.tenant_id)
