"""Running an export: one tenant transaction from the permission check to the audit event.

`stream_export` checks who is asking and validates the filters before anything is streamed
(so a refusal is a proper 400/403, never a half-sent file), then yields the CSV in chunks.
When the last chunk has gone, or the client has gone away, the export's audit event (who,
which export, the filters, rows and bytes sent, whether it completed) is written in the
same transaction, which its entry point (the export route, the command line) opened and
commits (`exports.routes.export_stream`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Select
from sqlalchemy.orm import Session

from pms_dashboard.audit import service as audit
from pms_dashboard.errors import UserError, validation_message
from pms_dashboard.exports import sealed
from pms_dashboard.exports.catalog import EXPORTS, ExportSpec, parse_params
from pms_dashboard.exports.stream import CHUNK_BYTES, UTF8_BOM, CopyProgress, copy_csv
from pms_dashboard.keys import access as keys
from pms_dashboard.tenancy import limits
from pms_dashboard.tenancy.context import TenantContext


class ExportError(UserError):
    """Bad export request (unknown export, unknown filter, bad value): nothing was read."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    spec: ExportSpec
    params: BaseModel
    bom: bool = False


def prepare(name: str, raw: dict[str, str]) -> ExportRequest:
    """Validate the export's name and filters; ExportError with a message a person can act on."""
    spec = EXPORTS.get(name)
    if spec is None:
        raise ExportError(f"There is no export called {name!r}.")
    try:
        params = parse_params(spec, raw)
    except ValidationError as err:
        raise ExportError(validation_message(err, limit=1, unknown="filter")) from None
    return ExportRequest(spec=spec, params=params, bom=raw.get("bom", "") in ("1", "true"))


def check(*, session: Session, actor: TenantContext, name: str, filters: dict[str, str]) -> None:
    """Refuse now what the export route would refuse, for a page's button to say so on the
    page instead of handing the browser a download that fails: a filter it does not take
    (ExportError), no permission (PermissionDenied, audited and flagged as the route does),
    or every export slot of the tenant in use (TenantBusy, the slot held until the
    caller's transaction ends). The route still decides (a slot can be taken in between).
    Builds the export's statement but streams nothing (a summary export's few rows are
    computed) and records no export."""
    request = prepare(name, filters)
    limits.take_slot(session, limits.EXPORT)
    if request.spec.build is not None:
        request.spec.build(session, actor, request.params)
    elif request.spec.frame is not None:
        request.spec.frame(session, actor, request.params)


def file_name(tenant_slug: str, name: str, *, today: datetime | None = None) -> str:
    """acme-goals-2026-11-27.csv: who, what and when, safe in any file system."""
    day = (today or datetime.now(UTC)).strftime("%Y-%m-%d")
    slug = "".join(ch for ch in tenant_slug if ch.isalnum() or ch == "-") or "export"
    return f"{slug}-{name}-{day}.csv"


def stream_export(
    *,
    session: Session,
    actor: TenantContext,
    request: ExportRequest,
    ip: str = "",
    via: str = "web",
    chunk_bytes: int | None = None,
) -> Generator[bytes, None, None]:
    """The export's CSV in chunks, in the caller's tenant transaction. The first `next()`
    takes one of the tenant's export slots (held until the transaction ends), runs the
    permission check and starts the COPY, raising PermissionDenied (audited and flagged)
    before any byte is produced. Cut short, the audit event is still written: the caller
    must catch the GeneratorExit Python re-raises in it (see `copy_then_record`)."""
    limits.take_slot(session, limits.EXPORT)  # held until the file has gone
    if request.spec.frame is not None:
        yield from _stream_frame(session, actor, request, ip=ip, via=via)
        return
    assert request.spec.build is not None
    statement = request.spec.build(session, actor, request.params)
    encrypted, marker = request.spec.sealed, b""
    if encrypted is not None and not keys.encrypts(session, actor.tenant_id):
        encrypted = None  # a tenant in plain text: the raw COPY
    if encrypted is not None:
        statement, marker = sealed.prepare(session, actor.tenant_id, statement, encrypted)

    def record(progress: CopyProgress, completed: bool) -> None:
        _record(session, actor, request, progress, completed=completed, ip=ip, via=via)

    def transform(chunks: Iterable[bytes]) -> Iterable[bytes]:
        assert encrypted is not None
        return sealed.decrypting(session, actor.tenant_id, chunks, encrypted, marker)

    yield from copy_then_record(
        session,
        statement,
        record,
        bom=request.bom,
        chunk_bytes=chunk_bytes,
        transform=transform if encrypted is not None else None,
    )


def copy_then_record(
    session: Session,
    statement: Select[Any],
    record: Callable[[CopyProgress, bool], None],
    *,
    bom: bool = False,
    chunk_bytes: int | None = None,
    transform: Callable[[Iterable[bytes]], Iterable[bytes]] | None = None,
) -> Generator[bytes, None, None]:
    """Stream `statement` by COPY in the caller's transaction, then call `record(progress,
    completed)` in that same transaction — also when the client goes away mid-file. The
    first `next()` starts the COPY (so errors surface before a response begins).
    `transform`: rewrites the CSV's chunks (whole records) on their way out.

    A caller that delegates with `yield from` inside its unit of work must catch the
    GeneratorExit that Python re-raises in it after this generator closes, or the unit of
    work rolls the record back."""
    progress = CopyProgress()
    kwargs = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
    # A savepoint around the COPY: if the client goes away, the COPY is cancelled, which
    # aborts only the savepoint, and the audit event can still be written.
    copying = session.begin_nested()
    chunks = copy_csv(session, statement, progress=progress, bom=bom and not transform, **kwargs)
    if transform is not None:
        chunks = _prefixed(UTF8_BOM if bom else b"", transform(chunks))
    first = next(chunks)  # the COPY has started: header (and first rows) in hand
    completed = False
    try:
        yield first
        yield from chunks
        completed = True
        copying.commit()
    except GeneratorExit:  # the client went away: still record what left the building
        chunks.close()
        copying.rollback()
    record(progress, completed)


def _prefixed(prefix: bytes, chunks: Iterable[bytes]) -> Generator[bytes, None, None]:
    """`chunks` with `prefix` before the first one; closing it closes `chunks` too."""
    try:
        for chunk in chunks:
            yield prefix + chunk
            prefix = b""
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _stream_frame(
    session: Session, actor: TenantContext, request: ExportRequest, *, ip: str, via: str
) -> Generator[bytes, None, None]:
    """A pandas summary (a few dozen rows): built and audited first, then sent."""
    assert request.spec.frame is not None
    frame = request.spec.frame(session, actor, request.params)
    data = (UTF8_BOM if request.bom else b"") + frame.to_csv(
        index=False, lineterminator="\n"
    ).encode("utf-8")
    done = CopyProgress(rows=len(frame), bytes=len(data), finished=True)
    _record(session, actor, request, done, completed=True, ip=ip, via=via)
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


def _record(
    session: Session,
    ctx: TenantContext,
    request: ExportRequest,
    progress: CopyProgress,
    *,
    completed: bool,
    ip: str,
    via: str,
) -> None:
    audit.record(
        session=session,
        action="export.csv",
        actor_id=ctx.user_id,
        entity_type=request.spec.name,
        detail={
            "export": request.spec.name,
            "filters": request.params.model_dump(mode="json", exclude_defaults=True),
            "rows": progress.rows if progress.finished else None,
            "bytes": progress.bytes,
            "completed": completed,
            "via": via,
        },
        ip=ip,
    )
