"""The console's audit export: every tenant's audit events matching the console search,
from every placement, as CSV (metadata columns only: PostgreSQL refuses the auditor the
events' `detail`).

The events live at each tenant's placement (pool, schema or database, in any region), so
the file is a merge, in the search's order (newest first; time, tenant, seq), of what each
database returns in chunks: a chunk is one short `pms_auditor` unit of work at that
database (a UNION ALL branch per data schema, after the last key it sent), so a large
export holds neither a connection per database nor the whole file in memory. The cells are
formatted in SQL (ISO times, true/false, the CSV-injection guard), as a COPY would write
them.

Like a search, the export is itself audited: a flagged `console.audit_read` in the chain of
every tenant it covers (so each sees it on its Provider access page) and a
`console.audit_export` event in the platform trail, with the filters, rows and bytes sent —
written at the end of the stream in the console's transaction, also when the download is
cut.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, select, tuple_, union_all
from sqlalchemy.orm import Session

from pms_dashboard.audit.chain import record_platform_event
from pms_dashboard.console import placements
from pms_dashboard.console.placements import Database
from pms_dashboard.console.search import (
    SEARCH_COLUMNS,
    AuditQuery,
    record_tenant_reads,
    search_branches,
)
from pms_dashboard.console.service import ConsoleAdmin
from pms_dashboard.db.csvsafe import bool_text, iso_utc, safe_text
from pms_dashboard.exports.stream import CHUNK_BYTES, UTF8_BOM, CopyProgress

# The search's paging is not the export's: the file holds every matching event.
NOT_FILTERS = ("page", "page_size", "bom")
CHUNK_ROWS = 2000
Key = tuple[datetime, Any, int]


def console_audit_statement(
    branch: Select[Any], after: Key | None = None, limit: int = CHUNK_ROWS
) -> Select[Any]:
    """One data schema's rows of the search (`search_branches`), formatted for a
    spreadsheet, after the key `after` (newest first), at most `limit`, with their keys."""
    found = branch.subquery()
    c = found.c
    keys = (c.occurred_at, c.tenant_id, c.seq)
    statement = select(
        iso_utc(c.occurred_at).label("occurred_at_text"),
        c.tenant,
        c.seq,
        c.actor_id,
        c.action,
        c.entity_type,
        c.entity_id,
        bool_text(c.flagged.is_(True)).label("flagged_text"),
        safe_text(c.ip).label("ip_text"),
        *keys,
    )
    if after is not None:
        statement = statement.where(tuple_(*keys) < tuple_(*after))
    return statement.order_by(*(k.desc() for k in keys)).limit(limit)


def _chunk(there: Session, db: Database, query: AuditQuery, after: Key | None) -> list[Any]:
    """The next rows of one database, newest first, after `after`."""
    branches = [console_audit_statement(b, after, CHUNK_ROWS) for b in search_branches(query, db)]
    found = union_all(*branches).subquery()
    keys = (found.c.occurred_at, found.c.tenant_id, found.c.seq)
    return list(
        there.execute(select(found).order_by(*(k.desc() for k in keys)).limit(CHUNK_ROWS)).all()
    )


def _key(row: Row[Any]) -> Key:
    return (row.occurred_at, row.tenant_id, row.seq)


def _rows_of(session: Session, db: Database, query: AuditQuery) -> Iterator[Row[Any]]:
    """Every row of one database, newest first, a chunk (one unit of work) at a time."""
    run = placements.at(session)
    after: Key | None = None

    def next_chunk(there: Session) -> list[Any]:
        return _chunk(there, db, query, after)

    while True:
        found = placements.through_any(run, db, next_chunk)
        if not found:
            return  # every tenant of this database is being moved: left out of this export
        rows = found[0]
        yield from rows
        if len(rows) < CHUNK_ROWS:
            return
        after = _key(rows[-1])


def _csv_text(rows: Iterator[Row[Any]], progress: CopyProgress) -> Iterator[str]:
    """The CSV (header first) in pieces of about CHUNK_BYTES."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SEARCH_COLUMNS)
    for r in rows:
        writer.writerow(
            (r.occurred_at_text, r.tenant, r.seq, r.actor_id, r.action, r.entity_type,
             r.entity_id, r.flagged_text, r.ip_text)
        )  # fmt: skip
        progress.rows += 1
        if out.tell() >= CHUNK_BYTES:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def file_name(today: datetime | None = None) -> str:
    return f"platform-audit-{(today or datetime.now(UTC)):%Y-%m-%d}.csv"


def stream_console_audit(
    *, session: Session, admin: ConsoleAdmin, query: AuditQuery, ip: str = "", bom: bool = False
) -> Generator[bytes, None, None]:
    """The export's CSV in chunks, in the caller's console transaction (acting as `admin`);
    the first `next()` reads the first rows of every database. Cut short, the events are
    still written: the caller must catch the GeneratorExit Python re-raises in it."""
    placed = placements.tenants(session, slug=query.tenant)
    merged = heapq.merge(
        *(_rows_of(session, db, query) for db in placements.by_database(placed)),
        key=_key,
        reverse=True,
    )
    progress = CopyProgress()
    completed = False
    try:
        for n, piece in enumerate(_csv_text(merged, progress)):
            data = (UTF8_BOM if bom and n == 0 else b"") + piece.encode("utf-8")
            progress.bytes += len(data)
            yield data
        progress.finished = completed = True
    except GeneratorExit:  # the client went away: still record what left the building
        pass
    # tenants' chains first, the platform trail last (the order its lock wants)
    record_tenant_reads(session=session, admin=admin, query=query, what="audit export")
    record_platform_event(
        session=session,
        admin_id=admin.admin_id,
        action="console.audit_export",
        detail={
            "filters": query.model_dump(
                mode="json", exclude_defaults=True, exclude=set(NOT_FILTERS)
            ),
            "rows": progress.rows if progress.finished else None,
            "bytes": progress.bytes,
            "completed": completed,
        },
        ip=ip,
    )
