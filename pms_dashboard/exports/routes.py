"""The export route: GET /api/export/{name}.csv?filters, streamed to the browser.

Authenticated by the session cookie (401 without one), validated (400 with the reason;
also for a filter naming an id, team or department that is not the tenant's, with the
page's own words), permission-checked and run in the caller's tenant session (403 when
refused) before the response starts; then the CSV streams in chunks from PostgreSQL's
COPY. The database work is synchronous, so each chunk is fetched in a worker thread; if the
browser goes away the iterator is closed at once, which cancels the COPY and writes the
export's audit event.

Two transactions: the session check (`auth.routes.signed_in`) commits first, then the
export's own (`export_stream`) holds its slot, its COPY and its audit event for as long as
the download lasts; the sign-in session's row is not kept locked that long (the browser's
other requests refresh it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import suppress

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import NotFoundHere
from pms_dashboard.auth.routes import authenticate
from pms_dashboard.console.routes import console_signed_in
from pms_dashboard.console.search import AuditQuery
from pms_dashboard.errors import UserError
from pms_dashboard.exports import console, service
from pms_dashboard.exports.catalog import EXPORTS
from pms_dashboard.exports.service import ExportRequest
from pms_dashboard.keys.errors import KeyUnavailable
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.limits import TenantBusy
from pms_dashboard.tenancy.session import tenant_session

_DONE = object()


def export_stream(
    ctx: TenantContext,
    request: ExportRequest,
    *,
    ip: str = "",
    via: str = "web",
    chunk_bytes: int | None = None,
) -> Generator[bytes, None, None]:
    """An export's CSV in chunks, in a tenant transaction of its own that commits when the
    file has gone or the client went away (the export's audit event with it), and rolls
    back on a refusal (audited in its own). The first `next()` raises any refusal before a
    byte is produced (the route and the command line rely on it)."""
    with tenant_session(ctx) as session, suppress(GeneratorExit):
        yield from service.stream_export(
            session=session, actor=ctx, request=request, ip=ip, via=via, chunk_bytes=chunk_bytes
        )


def _next(iterator: Generator[bytes, None, None]) -> object:
    return next(iterator, _DONE)


async def _drain(iterator: Generator[bytes, None, None], first: bytes) -> AsyncIterator[bytes]:
    try:
        yield first
        while (chunk := await run_in_threadpool(_next, iterator)) is not _DONE:
            assert isinstance(chunk, bytes)
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):  # runs even when the download was cancelled
            await run_in_threadpool(iterator.close)


def csv_response(
    iterator: Generator[bytes, None, None], first: bytes, filename: str
) -> StreamingResponse:
    """A streamed CSV download (shared with the console's audit export)."""
    return StreamingResponse(
        _drain(iterator, first),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def export_csv(request: Request) -> Response:
    ip = client_ip(request)
    token = token_from_cookie_header(request.headers.get("cookie"))
    principal = await run_in_threadpool(authenticate, token, ip=ip)
    if principal is None:
        return JSONResponse({"error": "not signed in"}, status_code=401)
    try:
        prepared = service.prepare(request.path_params["name"], dict(request.query_params))
    except service.ExportError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    iterator = export_stream(principal.context, prepared, ip=ip)
    try:
        first = await run_in_threadpool(_next, iterator)
    except NotFoundHere as err:  # malformed, unknown or another tenant's: one answer
        return JSONResponse({"error": err.message}, status_code=400)
    except PermissionDenied as err:
        return JSONResponse({"error": err.message}, status_code=403)
    except KeyUnavailable as err:  # the tenant's key: refused before the first byte
        return JSONResponse({"error": str(err)}, status_code=409)
    except TenantBusy as err:
        return JSONResponse(
            {"error": str(err), "retry_after": err.retry_after_s},
            status_code=429,
            headers={"Retry-After": str(err.retry_after_s)},
        )
    assert isinstance(first, bytes)
    name = service.file_name(principal.tenant_slug, prepared.spec.name)
    return csv_response(iterator, first, name)


class _NotSignedIn(Exception):
    """The console cookie signs no one in."""


def console_audit_stream(
    token: str | None, filters: dict[str, str], *, ip: str = "", bom: bool = False
) -> Generator[bytes, None, None]:
    """The console's audit export in one console transaction: the admin authenticated in
    it, the filters checked, then the CSV (its events written at the end, also when the
    download is cut). The first `next()` raises before a byte: _NotSignedIn when the token
    signs no one in, ConsoleError for a bad filter."""
    with console_signed_in(token) as found:
        if found is None:
            raise _NotSignedIn
        admin, session = found
        query = AuditQuery.from_form(filters)
        with suppress(GeneratorExit):
            yield from console.stream_console_audit(
                session=session, admin=admin, query=query, ip=ip, bom=bom
            )


async def console_audit_csv(request: Request) -> Response:
    """The console's audit search as CSV (console cookie; every tenant's metadata)."""
    token = token_from_cookie_header(request.headers.get("cookie"), CONSOLE_COOKIE)
    raw = {k: v for k, v in request.query_params.items() if k not in console.NOT_FILTERS}
    bom = request.query_params.get("bom") in ("1", "true")
    iterator = console_audit_stream(token, raw, ip=client_ip(request), bom=bom)
    try:
        first = await run_in_threadpool(_next, iterator)
    except _NotSignedIn:
        return JSONResponse({"error": "not signed in to the console"}, status_code=401)
    except UserError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    assert isinstance(first, bytes)
    return csv_response(iterator, first, console.file_name())


routes = [
    Route("/api/export/{name:str}.csv", export_csv, methods=["GET"]),
    Route("/api/console/export/audit.csv", console_audit_csv, methods=["GET"]),
]

__all__ = ["EXPORTS", "csv_response", "routes"]
