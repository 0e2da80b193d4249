"""Exports of a tenant whose free text is encrypted: decrypted while streaming.

The COPY still does the work (filters, joins, formats, row-level security). For such a
tenant the encrypted column's cell carries the stored value, its own row's id (the
associated data needs it) and a random marker made for this one export:
`<ciphertext>#<row id>#<marker>`. Only that column of the statement can carry the marker,
and nobody can guess it, so a ciphertext planted in another cell is never opened; the chunks
(whole records) are rewritten with one pattern match, each marked cell replaced by its
plaintext, made injection-safe like every typed cell (`csvsafe.neutralize`) and quoted as
CSV wants. No CSV is parsed again. A tenant in plain text keeps the raw COPY.

When the key is unavailable the export is refused before its first byte (KeyUnavailable,
with words for a file rather than a page); a value out of place is reported and written as
the words saying so, never its ciphertext.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, case, cast, literal
from sqlalchemy.orm import Session

from pms_dashboard.db.csvsafe import neutralize, safe_text
from pms_dashboard.keys import access, trail
from pms_dashboard.keys.envelope import PREFIX, ColumnOpener, Misplaced
from pms_dashboard.keys.errors import MISPLACED_TEXT, KeyUnavailable

EXPORT_REFUSED = (
    "This export holds text encrypted with your organisation's key, which is unavailable: "
    "nothing was exported. Try again when the key is available."
)


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A CSV column holding an encrypted field: its table and field, and the SQL of the
    stored value and of its row's id."""

    column: str
    table: str
    field: str
    value: Any
    row_id: Any


def prepare(
    session: Session, tenant_id: uuid.UUID, statement: Select[Any], sealed: SealedColumn
) -> tuple[Select[Any], bytes]:
    """The statement whose `sealed` column carries `<ciphertext>#<row id>#<marker>` (plain
    values, from before the opt-in, made safe as ever), and the marker. KeyUnavailable when
    the tenant's key cannot be used now."""
    state = access.key_state(session, tenant_id)
    assert state is not None, "only for a tenant that encrypts"
    _key(session, tenant_id, state.current_version)
    marker = secrets.token_hex(12)
    value = cast(sealed.value, String)
    tail = literal("#") + cast(sealed.row_id, String) + literal(f"#{marker}")
    cell = case((value.like(f"{PREFIX}%"), value + tail), else_=safe_text(value))
    columns = [
        cell.label(sealed.column) if c.name == sealed.column else c
        for c in statement.selected_columns
    ]
    return statement.with_only_columns(*columns, maintain_column_froms=True), marker.encode()


def _key(session: Session, tenant_id: uuid.UUID, version: int) -> bytes:
    try:
        return access.data_key(session, tenant_id=tenant_id, version=version)
    except KeyUnavailable as err:
        raise KeyUnavailable(
            EXPORT_REFUSED, provider=err.provider, version=err.version, reason=err.reason
        ) from None


def decrypting(
    session: Session,
    tenant_id: uuid.UUID,
    chunks: Iterable[bytes],
    sealed: SealedColumn,
    marker: bytes,
) -> Generator[bytes, None, None]:
    """The CSV of `chunks` with the marked cells opened."""
    opener = ColumnOpener(
        tenant_id=tenant_id,
        table=sealed.table,
        column=sealed.field,
        key_for=lambda version: _key(session, tenant_id, version),
    )
    pattern = re.compile(rb"(" + re.escape(PREFIX.encode()) + rb"[0-9]+:[A-Za-z0-9_=-]+)#"
                         rb"([0-9a-f-]{36})#" + re.escape(marker))  # fmt: skip

    def opened(found: re.Match[bytes]) -> bytes:
        stored, row_id = found.group(1).decode(), found.group(2).decode()
        try:
            plain = str(neutralize(opener.open(stored, row_id)))
        except Misplaced:
            trail.record_misplaced(session=session, table=sealed.table, column=sealed.field,
                                   row_id=uuid.UUID(row_id))  # fmt: skip
            plain = MISPLACED_TEXT
        if any(c in plain for c in _QUOTE_IF):
            plain = '"' + plain.replace('"', '""') + '"'
        return plain.encode()

    try:
        for chunk in chunks:
            yield pattern.sub(opened, chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:  # cancels the COPY when the client went away
            close()


# A CSV cell holding one of these is quoted (RFC 4180; as PostgreSQL's COPY does).
_QUOTE_IF = (",", '"', "\n", "\r")
