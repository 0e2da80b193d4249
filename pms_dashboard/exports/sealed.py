"""Exports of a tenant whose free text is encrypted: decrypted while streaming.

The COPY still does the work (filters, joins, formats, row-level security); each sealed
column's row id rides along in a hidden column (`__id_<column>`, the associated data needs
it), and each chunk of CSV (COPY gives whole records) is parsed, the sealed cells opened,
made injection-safe like every typed cell (`csvsafe.neutralize`), the hidden columns
dropped, and written again. A tenant in plain text keeps the raw COPY.

When the key is unavailable the export is refused before its first byte (KeyUnavailable,
with words for a file rather than a page); a value out of place is reported and written as
the words saying so, never its ciphertext.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from pms_dashboard.db.csvsafe import neutralize
from pms_dashboard.keys import access
from pms_dashboard.keys.envelope import Place
from pms_dashboard.keys.errors import KeyUnavailable

EXPORT_REFUSED = (
    "This export holds text encrypted with your organisation's key, which is unavailable: "
    "nothing was exported. Try again when the key is available."
)
HIDDEN = "__id_"


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A CSV column holding an encrypted field, and the SQL of its row's id."""

    column: str
    table: str
    field: str
    row_id: Any


def prepare(
    session: Session, tenant_id: uuid.UUID, statement: Select[Any], sealed: Iterable[SealedColumn]
) -> tuple[Select[Any], list[SealedColumn]]:
    """The statement with the hidden id columns, and the columns to open; unchanged (and no
    columns) for a tenant in plain text. KeyUnavailable when its key cannot be used now."""
    sealed = list(sealed)
    state = access.key_state(session, tenant_id)
    if not sealed or state is None:
        return statement, []
    try:
        access.data_key(session, tenant_id=tenant_id, version=state.current_version)
    except KeyUnavailable as err:
        raise KeyUnavailable(
            EXPORT_REFUSED, provider=err.provider, version=err.version, reason=err.reason
        ) from None
    hidden = [s.row_id.label(f"{HIDDEN}{s.column}") for s in sealed]
    return statement.add_columns(*hidden), sealed


def decrypting(
    session: Session,
    tenant_id: uuid.UUID,
    chunks: Iterable[bytes],
    sealed: list[SealedColumn],
) -> Generator[bytes, None, None]:
    """The CSV of `chunks` with the sealed cells opened and the hidden columns dropped."""
    plan: list[tuple[int, int, SealedColumn]] | None = None
    width = 0
    try:
        for chunk in chunks:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            for row in csv.reader(io.StringIO(chunk.decode("utf-8"), newline="")):
                if plan is None:
                    width = len(row) - len(sealed)
                    plan = [(row.index(s.column), row.index(HIDDEN + s.column), s) for s in sealed]
                else:
                    for cell, id_cell, s in plan:
                        row[cell] = _opened(session, tenant_id, s, row[cell], row[id_cell])
                writer.writerow(row[:width])
            yield out.getvalue().encode("utf-8")
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:  # cancels the COPY when the client went away
            close()


def _opened(
    session: Session, tenant_id: uuid.UUID, s: SealedColumn, stored: str, row_id: str
) -> str:
    if not stored or not row_id:
        return stored
    place = Place(tenant_id, s.table, s.field, uuid.UUID(row_id))
    try:
        plain = access.open_strict(session, place=place, stored=stored)
    except KeyUnavailable as err:
        raise KeyUnavailable(
            EXPORT_REFUSED, provider=err.provider, version=err.version, reason=err.reason
        ) from None
    return str(neutralize(plain))
