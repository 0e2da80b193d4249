"""The tenant admin's side of customer-managed keys (the "Encryption" page): the operations
of `keys.service`, each refused unless the actor may edit their own organisation's settings,
in a session of that organisation (its id comes from the signed-in actor, never from the
browser).

What a page sends is checked here for type and length before it reaches the key service.
An address typed into a web page is where the server will send requests, so it must not
reach inside the platform's network: it must be https to a public address, unless the
operator allows private addresses (`PMS_KMS_ALLOW_PRIVATE_ADDRESSES`, for a customer KMS
inside the same network, and for development and tests). The command line is the
operator's and is not limited.

A first opt-in from the page starts the pass that seals the text written before it;
`pms_dashboard.jobs.seal_pending` carries it out in the background once committed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from pms_dashboard.keys import rotation
from pms_dashboard.keys import service as keys
from pms_dashboard.keys.errors import KeyConfigError
from pms_dashboard.keys.providers import PROVIDERS
from pms_dashboard.organisation.service import require_settings_editor
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.context import TenantContext

ONLY_ADMINS = "Only tenant admins can manage the organisation's encryption key."
# The providers a tenant admin may choose on the page (the AWS one needs credentials the
# page does not collect: the operator configures it with `cli keys use`).
PAGE_PROVIDERS = ("platform", "openbao")
assert set(PAGE_PROVIDERS) <= set(PROVIDERS)
MAX_FIELD = 500
# The free text `keys.access.ENCRYPTED` covers, in people's words.
ENCRYPTED_TEXT = (
    "goal descriptions, check-in notes, review summaries (peer feedback included), rating "
    "comments and calibration reasons"
)


def _admin(session: Session, actor: TenantContext) -> None:
    require_settings_editor(session=session, actor=actor, message=ONLY_ADMINS)


@dataclass(frozen=True)
class EncryptionView:
    """What the page shows: the configuration (None: plain text) and the key-use log."""

    status: keys.KeyStatus | None
    log: list[keys.KeyUse]


def encryption_status(*, session: Session, actor: TenantContext) -> keys.KeyStatus | None:
    """Provider, address, key, data-key versions, last successful unwrap, cache lifetime
    (None: the organisation keeps plain text). Never a key or the credential."""
    _admin(session, actor)
    return keys.key_status(session=session, tenant_id=actor.tenant_id)


def key_log(*, session: Session, actor: TenantContext, limit: int = 50) -> list[keys.KeyUse]:
    """The key-use log: the newest unwrap attempts, newest first."""
    _admin(session, actor)
    return keys.key_log(session=session, tenant_id=actor.tenant_id, limit=limit)


def encryption_view(*, session: Session, actor: TenantContext) -> EncryptionView:
    """The page: the key's status and its newest uses."""
    return EncryptionView(
        status=encryption_status(session=session, actor=actor),
        log=key_log(session=session, actor=actor),
    )


def use_key(*, session: Session, actor: TenantContext, choice: keys.KeyChoice) -> keys.KeyStatus:
    """Opt in, or switch provider or key (the data keys are rewrapped; rows stay). A first
    opt-in also starts the pass that seals the text written before it (`jobs.seal_pending`
    carries it out once this transaction has committed)."""
    _admin(session, actor)
    first = keys.key_status(session=session, tenant_id=actor.tenant_id) is None
    status = keys.use_key(
        session=session, tenant_id=actor.tenant_id, choice=choice, actor_id=actor.user_id
    )
    if first:
        rotation.begin_sealing(session=session, tenant_id=actor.tenant_id, actor_id=actor.user_id)
        status = keys.key_status(session=session, tenant_id=actor.tenant_id) or status
    return status


def test_key(*, session: Session, actor: TenantContext) -> bool:
    """The "Test the key" button: a fresh unwrap (audited); whether it worked."""
    _admin(session, actor)
    return keys.test_key(session=session, tenant_id=actor.tenant_id)


# ------------------------------------------------------------------- the page's form


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
    except (OSError, UnicodeError, ValueError):
        raise KeyConfigError(f"The host {parts.hostname} cannot be found.") from None
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_global:
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
    """The page's form: the values as the browser sent them, checked, then `use_key`. An
    empty token keeps the stored one. Nothing changes unless the key works."""
    _admin(session, actor)
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
    choice = keys.KeyChoice(provider, address, key_name, credential=token or None)
    return use_key(session=session, actor=actor, choice=choice)
