"""The key administration API (the command line now, the tenant admin's Encryption page
later): opt in or switch the provider or key (`use_key`, which rewraps the data keys; rows
are not re-encrypted), `key_status`, `test_key`, `rewrap` (after the customer rotated their
key), `key_log`. Callers check who may (the page: tenant admins; the CLI: the operator).
The customer's credential is stored encrypted and never returned."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard import crypto
from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.keys import access, cache, trail
from pms_dashboard.keys.errors import KeyConfigError, KeyUnavailable, ProviderError
from pms_dashboard.keys.models import TenantDataKey, TenantKeyConfig
from pms_dashboard.keys.providers import PROVIDERS, ProviderConfig, provider_for
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.models import utcnow


@dataclass(frozen=True)
class KeyChoice:
    """The key a tenant chooses: the provider, its address, the key's name, the credential
    (None: keep the stored one, same provider only) and, for AWS, the region."""

    provider: str
    address: str = ""
    key_name: str = ""
    credential: str | None = field(default=None, repr=False)
    region: str = ""


@dataclass(frozen=True)
class DataKeyView:
    version: int
    kms_key_version: str
    created_at: datetime
    rewrapped_at: datetime | None


@dataclass(frozen=True)
class KeyStatus:
    """What the Encryption page and `cli keys status` show (never a key or credential)."""

    provider: str
    address: str
    key_name: str
    current_version: int
    data_keys: list[DataKeyView]
    last_unwrap_at: datetime | None
    cache_seconds: float
    rotation: dict[str, Any]
    has_credential: bool

    def as_json(self) -> dict[str, Any]:
        """As `cli keys status` prints it (times in ISO 8601)."""
        encoded = json.dumps(asdict(self), default=lambda v: v.isoformat())
        return dict(json.loads(encoded))


@dataclass(frozen=True)
class KeyUse:
    """One line of the key-use log."""

    at: datetime
    provider: str
    key_version: int | None
    success: bool
    reason: str


def _config(session: Session, tenant_id: uuid.UUID) -> TenantKeyConfig | None:
    return session.scalars(
        select(TenantKeyConfig).where(col(TenantKeyConfig.tenant_id) == tenant_id)
    ).first()


def _data_keys(session: Session, tenant_id: uuid.UUID) -> list[TenantDataKey]:
    return list(
        session.scalars(
            select(TenantDataKey)
            .where(col(TenantDataKey.tenant_id) == tenant_id)
            .order_by(col(TenantDataKey.version))
        )
    )


def _validated(choice: KeyChoice, credential: str | None) -> ProviderConfig:
    if choice.provider not in PROVIDERS:
        raise KeyConfigError(f"The key provider must be one of {', '.join(PROVIDERS)}.")
    if choice.provider == "openbao":
        parts = urlsplit(choice.address.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise KeyConfigError("The OpenBao address must be a URL such as https://host:8200.")
        if not credential:
            raise KeyConfigError("OpenBao needs a token (PMS_KMS_TOKEN or a token file).")
    if choice.provider != "platform" and not choice.key_name.strip():
        raise KeyConfigError("Name the key to use.")
    return ProviderConfig(
        choice.provider,
        choice.address.strip(),
        choice.key_name.strip(),
        credential or "",
        choice.region.strip(),
    )


def use_key(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    choice: KeyChoice,
    actor_id: uuid.UUID | None = None,
) -> KeyStatus:
    """Opt the tenant in, or switch its provider or key: its data keys are unwrapped with the
    old key and wrapped with the new one (rows stay as they are). The new key is tried
    before anything is stored; KeyConfigError / KeyUnavailable leave everything unchanged.
    A credential of None keeps the stored one (same provider only). After a first opt-in, the
    text written before it is sealed by `rotation.begin_sealing` and `rotation.rotate_batch`
    (the command line runs them; a page runs them in the background)."""
    existing = _config(session, tenant_id)
    credential = choice.credential
    if credential is None and existing is not None and existing.provider == choice.provider:
        credential = crypto.decrypt(access.CREDENTIAL_PURPOSE, existing.credential_enc)
    new = _validated(choice, credential)
    target = provider_for(new)
    try:
        if existing is None:
            _first_data_key(session, tenant_id, target)
        else:
            _rewrap_all(session, tenant_id, target)
    except ProviderError as err:
        raise KeyConfigError(f"The key cannot be used: {err}. Nothing was changed.") from None
    row = existing or TenantKeyConfig(tenant_id=tenant_id, provider=new.provider)
    row.provider, row.address, row.key_name, row.region = (
        new.provider,
        new.address,
        new.key_name,
        new.region,
    )
    row.credential_enc = crypto.encrypt(access.CREDENTIAL_PURPOSE, new.credential)
    row.updated_at = row.last_unwrap_at = utcnow()  # (the new key was just tried)
    session.add(row)
    session.flush()
    cache.forget(tenant_id)
    access.forget_config(session)
    chosen = {"provider": new.provider, "address": new.address, "key_name": new.key_name}
    trail.record_change(session=session, action="key.configured", actor_id=actor_id, detail=chosen)
    status = key_status(session=session, tenant_id=tenant_id)
    assert status is not None
    return status


def _first_data_key(session: Session, tenant_id: uuid.UUID, target: Any) -> None:
    key, wrapped = target.new_data_key(tenant_id=tenant_id)
    if target.unwrap(wrapped, tenant_id=tenant_id) != key:
        raise ProviderError("the key does not give back what it wrapped")
    version = target.key_version(wrapped)
    trail.record_unwrap(
        session=session, provider=target.name, version=1, ok=True, kms_key_version=version
    )
    session.add(
        TenantDataKey(
            tenant_id=tenant_id,
            version=1,
            provider=target.name,
            wrapped=wrapped,
            kms_key_version=target.key_version(wrapped),
        )
    )


def _rewrap_all(session: Session, tenant_id: uuid.UUID, target: Any) -> int:
    """Every data key unwrapped as configured now and wrapped by `target` (audited)."""
    rows = _data_keys(session, tenant_id)
    for row in rows:
        key = access.data_key(session, tenant_id=tenant_id, version=row.version)
        row.wrapped = target.wrap(key, tenant_id=tenant_id)
        row.provider, row.kms_key_version = target.name, target.key_version(row.wrapped)
        row.rewrapped_at = utcnow()
    return len(rows)


def rewrap(*, session: Session, tenant_id: uuid.UUID, actor_id: uuid.UUID | None = None) -> int:
    """After the customer rotated their key: every data key wrapped again with its newest
    version (the old version may then be retired on their side). Returns how many."""
    state = access.key_state(session, tenant_id)
    if state is None:
        raise KeyConfigError("This organisation keeps plain text: there is no key to rewrap.")
    cache.forget(tenant_id)
    try:
        count = _rewrap_all(session, tenant_id, provider_for(state.provider))
    except ProviderError as err:
        raise KeyConfigError(f"The key cannot be used: {err}. Nothing was changed.") from None
    detail = {"provider": state.provider.provider, "data_keys": count}
    trail.record_change(session=session, action="key.rewrapped", actor_id=actor_id, detail=detail)
    return count


def test_key(*, session: Session, tenant_id: uuid.UUID) -> bool:
    """Unwrap the current data key now (not from the cache): the "Test the key" button.
    The attempt is audited like any unwrap."""
    state = access.key_state(session, tenant_id)
    if state is None:
        raise KeyConfigError("This organisation keeps plain text: there is no key to test.")
    cache.forget(tenant_id)
    try:
        access.data_key(session, tenant_id=tenant_id, version=state.current_version)
    except KeyUnavailable:
        return False
    return True


def key_status(*, session: Session, tenant_id: uuid.UUID) -> KeyStatus | None:
    """The tenant's key configuration (None: it keeps plain text)."""
    row = _config(session, tenant_id)
    if row is None:
        return None
    return KeyStatus(
        provider=row.provider,
        address=row.address,
        key_name=row.key_name,
        current_version=row.current_version,
        data_keys=[
            DataKeyView(k.version, k.kms_key_version, k.created_at, k.rewrapped_at)
            for k in _data_keys(session, tenant_id)
        ],
        last_unwrap_at=row.last_unwrap_at,
        cache_seconds=get_settings().key_cache_seconds,
        rotation=dict(row.rotation),
        has_credential=bool(row.credential_enc),
    )


def key_log(*, session: Session, tenant_id: uuid.UUID, limit: int = 50) -> list[KeyUse]:
    """The newest unwrap attempts, newest first (the Encryption page's key-use log)."""
    events = session.scalars(
        select(AuditEvent)
        .where(col(AuditEvent.tenant_id) == tenant_id, col(AuditEvent.action) == trail.UNWRAP)
        .order_by(col(AuditEvent.occurred_at).desc(), col(AuditEvent.seq).desc())
        .limit(max(1, min(limit, 500)))
    )
    return [
        KeyUse(
            at=e.occurred_at,
            provider=str(e.detail.get("provider", "")),
            key_version=e.detail.get("key_version"),
            success=bool(e.detail.get("success")),
            reason=str(e.detail.get("reason", "")),
        )
        for e in events
    ]
