"""Backend HTTP routes for signing in and out: the only places the session cookie is set.

The cookie is HttpOnly (page scripts never see the token), SameSite=Lax (not sent on
cross-site POSTs), Secure when the app is served over https. Every POST route first refuses
requests whose Origin (or, without one, Referer) is not the app's own (CSRF and login CSRF).
A sign-in from a browser that still holds a session cookie ends that session (rotation).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pms_dashboard.auth import service
from pms_dashboard.auth.cookies import SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip, csrf_refusal, frontend, set_session_cookie


async def sign_in(request: Request) -> Response:
    """Form POST (organisation, email, password) -> session cookie and a redirect."""
    if refused := csrf_refusal(request):
        return refused
    form = await request.form()
    slug = str(form.get("organisation", ""))
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    front = frontend(request)
    organisation = {"organisation": slug.strip().lower()[:63]}
    try:
        result = await run_in_threadpool(
            service.sign_in,
            slug=slug,
            email=email,
            password=password,
            ip=client_ip(request) or "unknown",
            user_agent=request.headers.get("user-agent", ""),
            replaces=token_from_cookie_header(request.headers.get("cookie")),
        )
    except service.SignInThrottled as err:
        query = urlencode({"error": "throttled", "retry": err.retry} | organisation)
        return RedirectResponse(f"{front}/signin?{query}", status_code=303)
    except service.SignInError:
        query = urlencode({"error": "invalid"} | organisation)
        return RedirectResponse(f"{front}/signin?{query}", status_code=303)
    response = RedirectResponse(f"{front}/overview", status_code=303)
    set_session_cookie(response, SESSION_COOKIE, result.token, result.max_age)
    return response


def _signed_out(request: Request) -> Response:
    response = RedirectResponse(f"{frontend(request)}/signin?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def sign_out(request: Request) -> Response:
    """Revoke the session server-side, clear the cookie, back to the sign-in page."""
    if refused := csrf_refusal(request):
        return refused
    token = token_from_cookie_header(request.headers.get("cookie"))
    await run_in_threadpool(service.sign_out, token, ip=client_ip(request))
    return _signed_out(request)


async def sign_out_everywhere(request: Request) -> Response:
    """Revoke every session of the signed-in user (all browsers and devices), clear this
    browser's cookie, back to the sign-in page."""
    if refused := csrf_refusal(request):
        return refused
    token = token_from_cookie_header(request.headers.get("cookie"))
    await run_in_threadpool(service.sign_out_everywhere, token, ip=client_ip(request))
    return _signed_out(request)


async def whoami(request: Request) -> Response:
    """The signed-in user (for scripts and tests); 401 without a valid session."""
    token = token_from_cookie_header(request.headers.get("cookie"))
    principal = await run_in_threadpool(service.authenticate, token, ip=client_ip(request))
    if principal is None:
        return JSONResponse({"error": "not signed in"}, status_code=401)
    return JSONResponse(
        {
            "email": principal.email,
            "display_name": principal.display_name,
            "role": principal.role,
            "tenant": principal.tenant_slug,
        }
    )


routes = [
    Route("/api/auth/signin", sign_in, methods=["POST"]),
    Route("/api/auth/signout", sign_out, methods=["POST"]),
    Route("/api/auth/signout-everywhere", sign_out_everywhere, methods=["POST"]),
    Route("/api/auth/me", whoami, methods=["GET"]),
]
