"""The export route: GET /api/export/{name}.csv?filters, streamed to the browser.

Authenticated by the session cookie (401 without one), validated (400 with the reason;
also for a filter naming an id, team or department that is not the tenant's, with the
page's own words), permission-checked and run in the caller's tenant session (403 when
refused) before the response starts; then the CSV streams in chunks from PostgreSQL's
COPY. The database work is synchronous, so each chunk is fetched in a worker thread; if the
browser goes away the iterator is closed at once, which cancels the COPY and writes the
export's audit event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pms_dashboard.auth import service as auth
from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import NotFoundHere
from pms_dashboard.exports import service
from pms_dashboard.exports.catalog import EXPORTS
from pms_dashboard.tenancy.limits import TenantBusy

_DONE = object()


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
    principal = await run_in_threadpool(
        auth.authenticate, token_from_cookie_header(request.headers.get("cookie"))
    )
    if principal is None:
        return JSONResponse({"error": "not signed in"}, status_code=401)
    try:
        prepared = service.prepare(request.path_params["name"], dict(request.query_params))
    except service.ExportError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    iterator = service.stream_export(principal.context, prepared, ip=client_ip(request))
    try:
        first = await run_in_threadpool(_next, iterator)
    except NotFoundHere as err:  # malformed, unknown or another tenant's: one answer
        return JSONResponse({"error": err.message}, status_code=400)
    except PermissionDenied as err:
        return JSONResponse({"error": err.message}, status_code=403)
    except TenantBusy as err:
        return JSONResponse(
            {"error": str(err), "retry_after": err.retry_after_s},
            status_code=429,
            headers={"Retry-After": str(err.retry_after_s)},
        )
    assert isinstance(first, bytes)
    name = service.file_name(principal.tenant_slug, prepared.spec.name)
    return csv_response(iterator, first, name)


async def console_audit_csv(request: Request) -> Response:
    """The console's audit search as CSV (console cookie; every tenant's metadata)."""
    from pms_dashboard.console.search import AuditQuery
    from pms_dashboard.console.service import ConsoleError
    from pms_dashboard.console.service import authenticate as console_authenticate
    from pms_dashboard.exports import console

    token = token_from_cookie_header(request.headers.get("cookie"), CONSOLE_COOKIE)
    admin = await run_in_threadpool(console_authenticate, token)
    if admin is None:
        return JSONResponse({"error": "not signed in to the console"}, status_code=401)
    raw = {k: v for k, v in request.query_params.items() if k not in console.NOT_FILTERS}
    try:
        query = AuditQuery.from_form(raw)
    except ConsoleError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    bom = request.query_params.get("bom") in ("1", "true")
    iterator = console.stream_console_audit(admin, query, ip=client_ip(request), bom=bom)
    first = await run_in_threadpool(_next, iterator)
    assert isinstance(first, bytes)
    return csv_response(iterator, first, console.file_name())


routes = [
    Route("/api/export/{name:str}.csv", export_csv, methods=["GET"]),
    Route("/api/console/export/audit.csv", console_audit_csv, methods=["GET"]),
]

__all__ = ["EXPORTS", "csv_response", "routes"]
