"""The ORM hooks that seal the encrypted fields (`access.ENCRYPTED`) on every write and open
them on every read, whichever service, seed or job goes through the ORM.

- Before a flush, a new or changed value of such a field of an opted-in tenant is sealed
  (KeyUnavailable, a UserError, when the key cannot be used: the flush sends nothing, the
  unit of work rolls back). After the flush the object holds the plaintext again (as its
  committed value), so the code that wrote it reads what it wrote.
- When a row is loaded or refreshed, its sealed values become their plaintext (or the words
  of `access.reveal`); the committed value is the text read, so saving a row without
  touching such a field never rewrites it, even while the key is unavailable. Only in a
  unit of work of the row's own tenant: a read across tenants without a tenant context (an
  operator's tool) keeps the sealed value and uses no key.
Statements that bypass the ORM (COPY exports, bulk COPY seeding) use `access` themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, attributes

from pms_dashboard.keys import access, envelope
from pms_dashboard.keys.access import ENCRYPTED
from pms_dashboard.keys.envelope import Place
from pms_dashboard.tenancy.models import TenantOwned

_RESTORE = "keys.restore"


def encrypted_columns(obj: Any) -> tuple[str, ...]:
    return ENCRYPTED.get(getattr(obj, "__tablename__", ""), ())


def _changed(obj: Any, column: str, is_new: bool) -> bool:
    if is_new:
        return True
    history = attributes.get_history(obj, column)
    return bool(history.added) and history.has_changes()


@event.listens_for(Session, "before_flush")
def _seal_before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    restore: list[tuple[Any, str, str]] = session.info.setdefault(_RESTORE, [])
    for obj in [*session.new, *session.dirty]:
        columns = encrypted_columns(obj)
        tenant_id = getattr(obj, "tenant_id", None) or access.session_tenant(session)
        if not columns or tenant_id is None or not access.encrypts(session, tenant_id):
            continue
        is_new = obj in session.new
        for column in columns:
            value = getattr(obj, column)
            if not value or envelope.is_sealed(value) or not _changed(obj, column, is_new):
                continue
            place = Place(tenant_id, obj.__tablename__, column, obj.id)
            setattr(obj, column, access.seal(session, place=place, plaintext=value))
            restore.append((obj, column, value))


@event.listens_for(Session, "after_flush_postexec")
def _plaintext_after_flush(session: Session, _ctx: Any) -> None:
    for obj, column, value in session.info.pop(_RESTORE, []):
        attributes.set_committed_value(obj, column, value)


def _reveal(obj: Any, session: Any, only: Any = None) -> None:
    for column in encrypted_columns(obj):
        stored = obj.__dict__.get(column)
        if only is not None and column not in only:
            continue
        place = Place(obj.tenant_id, obj.__tablename__, column, obj.id)
        text = opened(session, place, stored)
        if text is not stored:
            attributes.set_committed_value(obj, column, text)


def opened(session: Any, place: Place, stored: Any) -> Any:
    """What people read for the stored value of `place` (a row's column read as a column,
    not through an object: the rule the objects' hook applies): a sealed value of an
    encrypted column opened, in a unit of work of the row's own tenant only; anything else
    as stored. Not in a unit of work of the row's tenant (an operator's read across
    tenants, with no tenant context to audit the key's use in), the key is not used and the
    stored value stays sealed."""
    if (
        place.column not in ENCRYPTED.get(place.table, ())
        or not envelope.is_sealed(stored)
        or access.session_tenant(session) != place.tenant_id
    ):
        return stored
    return access.reveal(session, place=place, stored=stored)


@event.listens_for(TenantOwned, "load", propagate=True)
def _reveal_on_load(obj: Any, context: Any) -> None:
    if encrypted_columns(obj):
        _reveal(obj, context.session)


@event.listens_for(TenantOwned, "refresh", propagate=True)
def _reveal_on_refresh(obj: Any, context: Any, attrs: Any) -> None:
    if encrypted_columns(obj):
        _reveal(obj, context.session, attrs)
