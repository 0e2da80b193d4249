"""The uploaded logo's route: GET /api/logo/{tenant slug}?v={version}.

Decision: the logo is served only to a signed-in person of the organisation the address
names (the session cookie, the one door `signed_in` opens for the tenant the session
names). A logo is not secret, but whether an organisation exists is: an open route would
tell anyone which slugs are organisations with a logo. So every request that is not
served gets the same 404 with the same body: no session, a session of another
organisation, an unknown slug, an organisation without a logo. The sign-in page shows the
product's own mark, not an organisation's.

Only the stored bytes are sent (the re-encoded image, never what was uploaded), with their
own type, `X-Content-Type-Options: nosniff` and `Content-Security-Policy: default-src
'none'` (even opened directly, nothing in it can run or load anything). The address
carries the version (a hash of the bytes): asked with the current version, the answer may
be cached for a year (`immutable`: a new upload is a new address, shown at once); asked
with another or none, it must be checked again each time (`no-cache`, with the ETag).
Cached privately only: it needed a session.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pms_dashboard.auth.cookies import token_from_cookie_header
from pms_dashboard.auth.http import client_ip
from pms_dashboard.auth.routes import signed_in
from pms_dashboard.organisation.service import served_logo

NOT_FOUND = b"No logo here."
LOGO_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CACHE_CURRENT = "private, max-age=31536000, immutable"
CACHE_CHECK = "private, no-cache"


def _find(token: str | None, slug: str, ip: str) -> tuple[bytes, str, str] | None:
    """(bytes, type, version) of the logo for the cookie's person, or None."""
    with signed_in(token, ip=ip) as found:
        if found is None:
            return None
        principal, session = found
        logo = served_logo(session=session, actor=principal.context, slug=slug)
        return None if logo is None else (logo.data, logo.content_type, logo.version)


def _not_found() -> Response:
    headers = LOGO_HEADERS | {"Cache-Control": "no-store"}
    return Response(NOT_FOUND, status_code=404, media_type="text/plain", headers=headers)


async def logo(request: Request) -> Response:
    token = token_from_cookie_header(request.headers.get("cookie"))
    slug = str(request.path_params["slug"]).lower()
    found = await run_in_threadpool(_find, token, slug, client_ip(request))
    if found is None:
        return _not_found()
    data, content_type, version = found
    etag = f'"{version}"'
    cache = CACHE_CURRENT if request.query_params.get("v") == version else CACHE_CHECK
    headers = LOGO_HEADERS | {"ETag": etag, "Cache-Control": cache}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=content_type, headers=headers)


routes = [Route("/api/logo/{slug:str}", logo, methods=["GET"])]
