"""Backend HTTP routes for signing in and out: the only places the session cookie is set.

The cookie is HttpOnly (page scripts never see the token), SameSite=Lax (not sent on
cross-site POSTs), Secure when the app is served over https. State-changing routes refuse
requests whose Origin is not the app's own (login CSRF).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pms_dashboard.auth import service
from pms_dashboard.auth.cookies import SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip, frontend, origin_ok, set_session_cookie


async def sign_in(request: Request) -> Response:
    """Form POST (organisation, email, password) -> session cookie and a redirect."""
    if not origin_ok(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    form = await request.form()
    slug = str(form.get("organisation", ""))
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    front = frontend(request)
    try:
        result = await run_in_threadpool(
            service.sign_in,
            slug=slug,
            email=email,
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
    except service.SignInError:
        query = urlencode({"error": "invalid", "organisation": slug.strip().lower()[:63]})
        return RedirectResponse(f"{front}/signin?{query}", status_code=303)
    response = RedirectResponse(f"{front}/overview", status_code=303)
    set_session_cookie(response, SESSION_COOKIE, result.token, result.max_age)
    return response


async def sign_out(request: Request) -> Response:
    """Revoke the session server-side, clear the cookie, back to the sign-in page."""
    if not origin_ok(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    token = token_from_cookie_header(request.headers.get("cookie"))
    await run_in_threadpool(service.sign_out, token, ip=client_ip(request))
    response = RedirectResponse(f"{frontend(request)}/signin?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def whoami(request: Request) -> Response:
    """The signed-in user (for scripts and tests); 401 without a valid session."""
    token = token_from_cookie_header(request.headers.get("cookie"))
    principal = await run_in_threadpool(service.authenticate, token)
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
    Route("/api/auth/me", whoami, methods=["GET"]),
]
