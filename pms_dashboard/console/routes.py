"""The console's sign-in and sign-out: form POSTs that set or clear its own HttpOnly cookie
(a tenant session cookie never opens the console, nor the other way round). Both refuse
requests not from the app's own pages (Origin, else Referer); sign-in is throttled per
address like tenant sign-in."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip, csrf_refusal, frontend, set_session_cookie
from pms_dashboard.console import service


async def sign_in(request: Request) -> Response:
    """Form POST (email, password, code) -> console cookie and the console."""
    if refused := csrf_refusal(request):
        return refused
    form = await request.form()
    front = frontend(request)
    try:
        result = await run_in_threadpool(
            service.sign_in,
            email=str(form.get("email", "")),
            password=str(form.get("password", "")),
            code=str(form.get("code", "")),
            ip=client_ip(request) or "unknown",
        )
    except service.ConsoleThrottled as err:
        return RedirectResponse(
            f"{front}/console/signin?error=throttled&retry={err.retry}", status_code=303
        )
    except service.ConsoleError:
        return RedirectResponse(f"{front}/console/signin?error=invalid", status_code=303)
    response = RedirectResponse(f"{front}/console", status_code=303)
    set_session_cookie(response, CONSOLE_COOKIE, result.token, result.max_age)
    return response


async def sign_out(request: Request) -> Response:
    if refused := csrf_refusal(request):
        return refused
    token = token_from_cookie_header(request.headers.get("cookie"), CONSOLE_COOKIE)
    await run_in_threadpool(service.sign_out, token, ip=client_ip(request))
    response = RedirectResponse(f"{frontend(request)}/console/signin?signed_out=1", status_code=303)
    response.delete_cookie(CONSOLE_COOKIE, path="/", httponly=True, samesite="lax")
    return response


routes = [
    Route("/api/console/signin", sign_in, methods=["POST"]),
    Route("/api/console/signout", sign_out, methods=["POST"]),
]
