"""The console's sign-in and sign-out: form POSTs that set or clear its own HttpOnly cookie
(a tenant session cookie never opens the console, nor the other way round). Both refuse
requests not from the app's own pages (Origin, else Referer); sign-in is throttled per
address like tenant sign-in.

This module is also where the console's transactions are opened (its services take them):
`console_signed_in` is the one `pms_auditor` transaction of a console request, the admin
authenticated inside it (the console's Reflex state and its audit export use it), and
`admin_session` the unit of work of an admin already signed in. Both are on the home
database (the catalog, the platform's trail) and carry, for the services, the way to a
tenant's placement (`console.placements.at`): a `pms_auditor` unit of work of its own
there, through the one door, acting as the same admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pms_dashboard.auth import tokens
from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip, csrf_refusal, frontend, set_session_cookie
from pms_dashboard.console import placements, service
from pms_dashboard.console.service import ConsoleAdmin, ConsoleSignedIn
from pms_dashboard.tenancy.session import auditor_session

T = TypeVar("T")

# ------------------------------------------------------------ a console request's work


def _at_placements(admin: ConsoleAdmin) -> placements.AtPlacement:
    """The console's way to a tenant's placement, acting as `admin` there too."""

    def run(tenant_id: uuid.UUID, work: Callable[[Session], T]) -> T:
        with auditor_session(tenant_id) as there:
            service.act_as(session=there, admin=admin)
            return work(there)

    return run


def _acting(session: Session, admin: ConsoleAdmin) -> None:
    service.act_as(session=session, admin=admin)
    session.info[placements.AT_KEY] = _at_placements(admin)


@contextmanager
def console_signed_in(token: str | None) -> Iterator[tuple[ConsoleAdmin, Session] | None]:
    """The one console transaction of a request carrying console `token`: the admin
    authenticated inside it and named for the grant policies, then (admin, session) for
    the request's work; None when the token signs no one in. Commits when the block ends,
    rolls back on any error."""
    claims = tokens.verify_console(token or "")
    if claims is None:
        yield None
        return
    with auditor_session() as session:
        admin = service.authenticate_in(session=session, claims=claims)
        if admin is not None:
            _acting(session, admin)
        yield None if admin is None else (admin, session)


@contextmanager
def admin_session(admin: ConsoleAdmin) -> Iterator[Session]:
    """A console unit of work as `pms_auditor` acting as `admin` (signed in already);
    refuses anything but a signed-in admin."""
    if not isinstance(admin, ConsoleAdmin):
        raise service.ConsoleError("Sign in to the console first.")
    with auditor_session() as session:
        _acting(session, admin)
        yield session


def authenticate(token: str | None) -> ConsoleAdmin | None:
    """The super-admin behind a console token (a transaction of its own), or None."""
    with console_signed_in(token) as found:
        return found[0] if found else None


def sign_in_with_code(*, email: str, password: str, code: str, ip: str = "") -> ConsoleSignedIn:
    """Password and a fresh authenticator code -> a console session; ConsoleThrottled
    (before any credential is checked) or ConsoleError (one message for every failure,
    raised after the failure's platform event is committed) otherwise."""
    with auditor_session() as s:
        attempt = service.reserve_attempt(session=s, ip=ip)
    if attempt.throttled:
        raise service.ConsoleThrottled(attempt.retry_after)
    with auditor_session() as s:
        signed = service.sign_in(
            session=s, attempt=attempt, email=email, password=password, code=code, ip=ip
        )
    if signed is None:
        raise service.ConsoleError(service.SIGN_IN_FAILED)
    return signed


def sign_out(token: str | None, *, ip: str = "") -> None:
    """End the console session of `token` (nothing for an unknown or ended one)."""
    claims = tokens.verify_console(token or "")
    if claims is None:
        return
    with auditor_session() as s:
        service.sign_out(session=s, claims=claims, ip=ip)


# ------------------------------------------------------------------------- the routes


async def sign_in_route(request: Request) -> Response:
    """Form POST (email, password, code) -> console cookie and the console."""
    if refused := csrf_refusal(request):
        return refused
    form = await request.form()
    front = frontend(request)
    try:
        result = await run_in_threadpool(
            sign_in_with_code,
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


async def sign_out_route(request: Request) -> Response:
    if refused := csrf_refusal(request):
        return refused
    token = token_from_cookie_header(request.headers.get("cookie"), CONSOLE_COOKIE)
    await run_in_threadpool(sign_out, token, ip=client_ip(request))
    response = RedirectResponse(f"{frontend(request)}/console/signin?signed_out=1", status_code=303)
    response.delete_cookie(CONSOLE_COOKIE, path="/", httponly=True, samesite="lax")
    return response


routes = [
    Route("/api/console/signin", sign_in_route, methods=["POST"]),
    Route("/api/console/signout", sign_out_route, methods=["POST"]),
]
