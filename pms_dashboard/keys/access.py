"""Using a tenant's data key inside a unit of work: is the tenant opted in, its data key of a
version (from the process cache, else unwrapped by its provider and audited), and a field
sealed for writing or revealed for reading.

Reads never fail: a value whose key is unavailable reads as `UNAVAILABLE_TEXT`, one found
out of place as `MISPLACED_TEXT` (and is reported). Writes and exports refuse with
KeyUnavailable. One failed unwrap per key version and unit of work: a page of fifty goals
asks the provider once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from pms_dashboard import crypto
from pms_dashboard.keys import cache, envelope, trail
from pms_dashboard.keys.envelope import Misplaced, Place
from pms_dashboard.keys.errors import (
    MISPLACED_TEXT,
    UNAVAILABLE_TEXT,
    KeyUnavailable,
    ProviderError,
)
from pms_dashboard.keys.models import TenantDataKey, TenantKeyConfig
from pms_dashboard.keys.providers import ProviderConfig, provider_for
from pms_dashboard.settings import AUDITOR_ROLE
from pms_dashboard.tenancy.models import utcnow

logger = logging.getLogger(__name__)

# The encrypted fields, by table: the free text people write about people (goal
# descriptions, check-in notes, review summaries (peer feedback included), rating comments,
# calibration reasons). Titles, names, numbers and dates stay plain so that lists, search,
# sorting and charts work.
ENCRYPTED: dict[str, tuple[str, ...]] = {
    "goal": ("description",),
    "goal_check_in": ("note",),
    "review": ("summary",),
    "review_rating": ("comment",),
    "calibration_change": ("reason",),
}
CREDENTIAL_PURPOSE = "kms-credential"
WRITE_REFUSED = (
    "This text cannot be saved now: it is encrypted with your organisation's key, which is "
    "unavailable. Nothing was changed; try again when the key is available."
)
_CONFIGS = "keys.configs"
_FAILED = "keys.failed"

CONFIG = TenantKeyConfig.__table__  # type: ignore[attr-defined]
DATA_KEY = TenantDataKey.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class KeyState:
    """A tenant's key configuration as a unit of work reads it."""

    tenant_id: uuid.UUID
    provider: ProviderConfig
    current_version: int


def session_tenant(session: Any) -> uuid.UUID | None:
    """The tenant a unit of work runs for (a tenant session's, or an owner session's at a
    tenant's placement)."""
    found = session.info.get("tenant_id")
    if found is None and "placement" in session.info:
        found = session.info["placement"].tenant_id
    return found


def _is_auditor(session: Any) -> bool:
    bind = session.get_bind()
    return getattr(getattr(bind, "url", None), "username", None) == AUDITOR_ROLE


def forget_config(session: Any) -> None:
    """Drop what this unit of work read of the key configuration (it just changed)."""
    session.info.pop(_CONFIGS, None)
    session.info.pop(_FAILED, None)


def key_state(session: Any, tenant_id: uuid.UUID) -> KeyState | None:
    """The tenant's key configuration, or None when it keeps plain text (read once per unit
    of work). The console's role never reads it."""
    if _is_auditor(session):
        return None
    memo: dict[uuid.UUID, KeyState | None] = session.info.setdefault(_CONFIGS, {})
    if tenant_id not in memo:
        row = (
            session.connection()
            .execute(select(CONFIG).where(CONFIG.c.tenant_id == tenant_id))
            .mappings()
            .first()
        )
        memo[tenant_id] = None if row is None else _state(row)
    return memo[tenant_id]


def _state(row: Any) -> KeyState:
    credential = crypto.decrypt(CREDENTIAL_PURPOSE, row["credential_enc"]) or ""
    config = ProviderConfig(
        provider=row["provider"],
        address=row["address"],
        key_name=row["key_name"],
        credential=credential,
        region=row["region"],
    )
    return KeyState(row["tenant_id"], config, row["current_version"])


def encrypts(session: Any, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant has opted in (its free text is written encrypted)."""
    return key_state(session, tenant_id) is not None


def data_key(session: Any, *, tenant_id: uuid.UUID, version: int) -> bytes:
    """The tenant's data key of `version`: cached, else unwrapped now and audited."""
    found = cache.get(tenant_id, version)
    if found is not None:
        return found
    failed: dict[tuple[uuid.UUID, int], KeyUnavailable] = session.info.setdefault(_FAILED, {})
    if (tenant_id, version) in failed:
        raise failed[(tenant_id, version)]
    state = key_state(session, tenant_id)
    if state is None:
        raise KeyUnavailable(UNAVAILABLE_TEXT, version=version, reason="no key configured")
    row = (
        session.connection()
        .execute(
            select(DATA_KEY.c.wrapped, DATA_KEY.c.provider).where(
                DATA_KEY.c.tenant_id == tenant_id, DATA_KEY.c.version == version
            )
        )
        .first()
    )
    try:
        if row is None:
            raise ProviderError(f"data key version {version} does not exist (deleted)")
        key = provider_for(state.provider).unwrap(row.wrapped, tenant_id=tenant_id)
    except ProviderError as err:
        refusal = KeyUnavailable(
            UNAVAILABLE_TEXT, provider=state.provider.provider, version=version, reason=str(err)
        )
        failed[(tenant_id, version)] = refusal
        _audit(session, tenant_id, state, version, ok=False, reason=str(err))
        raise refusal from None
    cache.put(tenant_id, version, key)
    _audit(session, tenant_id, state, version, ok=True)
    return key


def _audit(
    session: Any, tenant_id: uuid.UUID, state: KeyState, version: int, *, ok: bool, reason: str = ""
) -> None:
    """Record the unwrap (and, when it worked, when it last did), unless the tenant is frozen
    for a move (a read-only transaction: logged instead)."""
    if session.info.get("read_only"):
        logger.info("key.unwrap during a write freeze (not audited): ok=%s", ok)
        return
    trail.record_unwrap(
        session=session, provider=state.provider.provider, version=version, ok=ok, reason=reason
    )
    if ok:
        session.connection().execute(
            update(CONFIG).where(CONFIG.c.tenant_id == tenant_id).values(last_unwrap_at=utcnow())
        )


def for_audit(session: Any, *, tenant_id: uuid.UUID, plaintext: str) -> str:
    """Free text as an audit event may hold it: as is for a tenant in plain text, only its
    length for an opted-in one (the trail is append-only: it could never be shredded)."""
    if not plaintext or key_state(session, tenant_id) is None:
        return plaintext
    return f"[encrypted, {len(plaintext)} characters]"


def seal(session: Any, *, place: Place, plaintext: str) -> str:
    """`plaintext` as the tenant stores it: sealed with its current data key when it has
    opted in (KeyUnavailable with WRITE_REFUSED when the key cannot be used), else as is."""
    state = key_state(session, place.tenant_id)
    if state is None or plaintext == "":
        return plaintext
    version = state.current_version
    try:
        key = data_key(session, tenant_id=place.tenant_id, version=version)
    except KeyUnavailable as err:
        raise KeyUnavailable(
            WRITE_REFUSED, provider=err.provider, version=version, reason=err.reason
        ) from None
    return envelope.seal(key=key, version=version, place=place, plaintext=plaintext)


def seal_rows(
    session: Any, *, tenant_id: uuid.UUID, table: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows written without the ORM (seeding) with their encrypted fields sealed, when the
    tenant has opted in (each row's "id" is its associated data)."""
    columns = ENCRYPTED.get(table, ())
    if not columns or key_state(session, tenant_id) is None:
        return rows
    sealed = []
    for row in rows:
        changes = {
            c: seal(session, place=Place(tenant_id, table, c, row["id"]), plaintext=row[c])
            for c in columns
            if row.get(c)
        }
        sealed.append(row | changes)
    return sealed


def reveal(session: Any, *, place: Place, stored: str) -> str:
    """The text people read for a stored value: plain text as is, a sealed value opened, or
    the words for an unavailable key / a value out of place (reported)."""
    try:
        return _opened(session, place, stored)
    except KeyUnavailable:
        return UNAVAILABLE_TEXT


def open_strict(session: Any, *, place: Place, stored: str) -> str:
    """Like `reveal`, but KeyUnavailable instead of the words when the key cannot be used
    (a rotation must never write them back as if they were the text)."""
    return _opened(session, place, stored)


def _opened(session: Any, place: Place, stored: str) -> str:
    """Plain text as is, a sealed value opened, one out of place reported (unless the unit
    of work cannot write: a write freeze, the console's role) and replaced by the words."""
    if not envelope.is_sealed(stored):
        return stored
    try:
        version = envelope.version_of(stored)
        key = data_key(session, tenant_id=place.tenant_id, version=version)
        return envelope.open_sealed(key=key, place=place, stored=stored)
    except Misplaced:
        if not session.info.get("read_only") and not _is_auditor(session):
            trail.record_misplaced(
                session=session, table=place.table, column=place.column, row_id=place.row_id
            )
        return MISPLACED_TEXT
