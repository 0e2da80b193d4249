"""The console's audit export: every tenant's audit events matching the console search,
as CSV, streamed by COPY as `pms_auditor` (metadata columns only: PostgreSQL refuses the
auditor the events' `detail`).

Like a search, the export is itself audited: a flagged `console.audit_read` in the chain of
every tenant it covers (so each sees it on its Provider access page) and a
`console.audit_export` event in the platform trail, with the filters, rows and bytes sent —
written at the end of the stream in the same transaction, also when the download is cut.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pms_dashboard.audit.chain import record_platform_event
from pms_dashboard.console.search import AuditQuery, audit_search_statement, record_tenant_reads
from pms_dashboard.console.service import ConsoleAdmin
from pms_dashboard.db.csvsafe import bool_text, iso_utc, safe_text
from pms_dashboard.exports.service import copy_then_record
from pms_dashboard.exports.stream import CopyProgress

# The search's paging is not the export's: the file holds every matching event.
NOT_FILTERS = ("page", "page_size", "bom")


def console_audit_statement(query: AuditQuery) -> Select[Any]:
    """The search's rows, formatted for a spreadsheet (ISO times, true/false), same order."""
    found = audit_search_statement(query).subquery()
    c = found.c
    return select(
        iso_utc(c.occurred_at).label("occurred_at"),
        c.tenant,
        c.seq,
        c.actor_id,
        c.action,
        c.entity_type,
        c.entity_id,
        bool_text(c.flagged.is_(True)).label("flagged"),
        safe_text(c.ip).label("ip"),
    ).order_by(c.occurred_at.desc(), c.tenant.desc(), c.seq.desc())


def file_name(today: datetime | None = None) -> str:
    return f"platform-audit-{(today or datetime.now(UTC)):%Y-%m-%d}.csv"


def stream_console_audit(
    *, session: Session, admin: ConsoleAdmin, query: AuditQuery, ip: str = "", bom: bool = False
) -> Generator[bytes, None, None]:
    """The export's CSV in chunks, in the caller's console transaction (acting as `admin`);
    the first `next()` starts the COPY. Cut short, the events are still written: the caller
    must catch the GeneratorExit Python re-raises in it (see `copy_then_record`)."""

    def record(progress: CopyProgress, completed: bool) -> None:
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

    yield from copy_then_record(session, console_audit_statement(query), record, bom=bom)
