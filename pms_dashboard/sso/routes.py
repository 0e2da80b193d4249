"""Single sign-on's backend routes: start (a form POST from the sign-in page, sent on to the
provider) and the provider's callback (which sets the same session cookie as a password
sign-in). A short-lived HttpOnly cookie carries the state, so the callback only completes
in the browser that started."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pms_dashboard.auth.cookies import SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip, leave_for, origin_ok, set_session_cookie
from pms_dashboard.settings import get_settings
from pms_dashboard.sso import service
from pms_dashboard.sso.schemas import SsoError

STATE_COOKIE = "pms_sso_state"
STATE_PATH = "/api/sso"


def _pages() -> str:
    """Where the pages are served (the provider's redirect carries no Origin to go by)."""
    return get_settings().public_url.rstrip("/")


def _back_to_signin(err: SsoError, slug: str = "") -> RedirectResponse:
    query = {"error": "sso", "reason": err.reason}
    if slug:
        query["organisation"] = slug[:63]
    response = RedirectResponse(f"{_pages()}/signin?{urlencode(query)}", status_code=303)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH, httponly=True, samesite="lax")
    return response


async def start(request: Request) -> Response:
    """Form POST (email, optional organisation) -> on to the provider."""
    if not origin_ok(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    form = await request.form()
    slug = str(form.get("organisation", ""))[:63]
    try:
        started = await run_in_threadpool(
            service.start,
            slug=slug,
            email=str(form.get("email", ""))[:320],
            redirect_base=str(request.base_url),
            ip=client_ip(request),
        )
    except SsoError as err:
        return _back_to_signin(err, slug.strip().lower())
    # a page that moves on by itself, not a 303: CSP form-action would block the redirect
    response = leave_for(started.authorization_url)
    response.set_cookie(
        STATE_COOKIE,
        started.state,
        max_age=int(service.LOGIN_TTL.total_seconds()),
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=get_settings().secure_cookies,
        path=STATE_PATH,
    )
    return response


async def callback(request: Request) -> Response:
    """The provider's redirect back: the session cookie and the overview, or the sign-in
    page with the reason."""
    slug = request.path_params["slug"]
    params = request.query_params
    try:
        signed = await run_in_threadpool(
            service.complete,
            slug=slug,
            state=params.get("state", ""),
            code=params.get("code", ""),
            error=params.get("error", ""),
            cookie_state=request.cookies.get(STATE_COOKIE),
            replaces=token_from_cookie_header(request.headers.get("cookie")),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
    except SsoError as err:
        return _back_to_signin(err, slug)
    response = RedirectResponse(f"{_pages()}/overview", status_code=303)
    set_session_cookie(response, SESSION_COOKIE, signed.token, signed.max_age)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH, httponly=True, samesite="lax")
    return response


routes = [
    Route("/api/sso/start", start, methods=["POST"]),
    Route("/api/sso/{slug:str}/callback", callback, methods=["GET"]),
]
