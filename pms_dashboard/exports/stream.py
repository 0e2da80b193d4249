"""Streaming a query out of PostgreSQL as CSV: `COPY (SELECT ...) TO STDOUT`, in chunks.

COPY is the fastest way rows leave PostgreSQL, and it honours row-level security, so an
export run in a tenant session as `pms_app` can only ever hold that tenant's rows. The
statement is an ordinary SQLAlchemy select (the same filters as the page it comes from),
compiled for psycopg; its parameters are merged client-side by psycopg's own quoting, which
COPY needs because it takes no server-side parameters. Rows arrive one COPY message each and
are gathered into chunks of `CHUNK_BYTES`, so the caller writes a few large pieces, never
one per row, and never holds the whole file.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Select
from sqlalchemy.orm import Session

CHUNK_BYTES = 256 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
COPY_OPTIONS = "FORMAT csv, HEADER true, ENCODING 'UTF8'"


@dataclass(slots=True)
class CopyProgress:
    """What has left the database so far; `rows` is exact once the COPY has finished."""

    rows: int = 0
    bytes: int = 0
    finished: bool = False


def copy_sql(session: Session, statement: Select[Any]) -> tuple[str, dict[str, Any]]:
    """The COPY command for `statement` and its parameters, for psycopg's client-side merge."""
    compiled = statement.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    return f"COPY ({compiled.string}) TO STDOUT WITH ({COPY_OPTIONS})", dict(compiled.params)


def copy_csv(
    session: Session,
    statement: Select[Any],
    *,
    progress: CopyProgress | None = None,
    bom: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> Generator[bytes, None, None]:
    """The CSV of `statement` (header first) in chunks of about `chunk_bytes`, read in the
    session's transaction. Closing the iterator early cancels the COPY on the server."""
    sql, params = copy_sql(session, statement)
    raw = session.connection().connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    progress = progress if progress is not None else CopyProgress()
    buffer = bytearray(UTF8_BOM if bom else b"")
    with raw.cursor() as cursor:
        with cursor.copy(sql, params or None) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= chunk_bytes:
                    progress.bytes += len(buffer)
                    yield bytes(buffer)
                    buffer.clear()
        progress.rows = max(cursor.rowcount, 0)
    progress.finished = True
    if buffer:
        progress.bytes += len(buffer)
        yield bytes(buffer)
