"""Backend HTTP routes for signing in and out: the only places the session cookie is set.

The cookie is HttpOnly (page scripts never see the token), SameSite=Lax (not sent on
cross-site POSTs), Secure when the app is served over https. Every POST route first refuses
requests whose Origin (or, without one, Referer) is not the app's own (CSRF and login CSRF).
A sign-in from a browser that still holds a session cookie ends that session (rotation).

This module is also where a request's transactions are opened (the services take them):
`signed_in` is the one tenant transaction of a request that carries a session cookie,
authenticated inside it (the routes here, the export route and every Reflex event use it),
and the sign-in flows below run their steps each in the transaction it needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pms_dashboard.auth import service, throttle, tokens
from pms_dashboard.auth.cookies import SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip, csrf_refusal, frontend, set_session_cookie
from pms_dashboard.auth.profile import WrongCurrentPassword
from pms_dashboard.auth.service import Principal, SignedIn, SignInError, SignInThrottled
from pms_dashboard.tenancy import limits
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import (
    CACHED_PLANS,
    TenantSession,
    contextless_session,
    tenant_session,
)

# ------------------------------------------------------------- a request's transaction


@contextmanager
def signed_in(
    token: str | None, *, ip: str = "", slot: limits.Kind | None = None, by_key: bool = False
) -> Iterator[tuple[Principal, TenantSession] | None]:
    """The one tenant transaction of a request carrying `token`: opened for the tenant the
    verified token names, the session checked inside it (`authenticate_in`), then yields
    (principal, session) for the request's own work; None when the token signs no one in
    (the transaction still commits, so an idle session's end is kept). Commits when the
    block ends, rolls back on any error (a refusal is then audited in its own). `slot`: the
    kind of heavy work the request will do (a list): one of the tenant's slots for it is
    tried in the same round trip (`limits.slot_try`). `by_key`: the request reads and writes
    rows by key only, and may reuse cached plans (`CACHED_PLANS`)."""
    claims = tokens.verify(token or "")
    if claims is None:
        yield None
        return
    first = [service.session_check(claims)]  # sent with the door's set-up: one round trip
    if slot is not None:
        first.append(limits.slot_try(slot, claims.tenant_id))
    if by_key:  # last: its row (the setting) is not read
        first.append(CACHED_PLANS)
    with tenant_session(service.request_context(claims), first=first) as session:
        if slot is not None:
            limits.tried(session, slot, session.info["first_rows"][1])
        checked = session.info["first_rows"][0]
        principal = service.authenticate_in(session=session, claims=claims, ip=ip, checked=checked)
        yield None if principal is None else (principal, session)


def authenticate(token: str | None, *, ip: str = "") -> Principal | None:
    """The principal of a session token (a transaction of its own), or None."""
    with signed_in(token, ip=ip) as found:
        return found[0] if found else None


# ------------------------------------------------------------------ the sign-in flows


def sign_in_with_password(
    *,
    slug: str,
    email: str,
    password: str,
    ip: str = "",
    user_agent: str = "",
    replaces: str | None = None,
) -> SignedIn:
    """Check the credentials and open a server-side session; SignInError otherwise
    (SignInThrottled, before any password check, when the throttle refuses the attempt).

    `replaces`: the session token the browser still carries, if any; that session is
    revoked (rotated). `ip` "" (no network peer: CLI, tests) is not throttled per address."""
    with contextless_session() as s:
        start = service.begin_sign_in(session=s, slug=slug, email=email, password=password, ip=ip)
    if start.attempt.throttled:
        raise _throttled(start.attempt, tenant_id=start.tenant_id, email=email, ip=ip)
    if start.tenant_id is None:
        with contextless_session() as s:
            service.fail_unknown_organisation(session=s, attempt=start.attempt, password=password)
        raise SignInError(service.SIGN_IN_FAILED)
    with tenant_session(TenantContext(tenant_id=start.tenant_id)) as s:
        signed = service.check_password(
            session=s,
            attempt=start.attempt,
            email=email,
            password=password,
            ip=ip,
            user_agent=user_agent,
            replaces=replaces,
        )
    with contextless_session() as s:
        throttle.end(session=s, attempt=start.attempt, success=signed is not None)
    if signed is None:  # raised after the failure's audit event has been committed
        raise SignInError(service.SIGN_IN_FAILED)
    finish_rotation(signed, ip=ip)
    return signed


def reserve_attempt(
    *, ip: str, tenant_id: uuid.UUID | None = None, slug: str = "", email: str = ""
) -> throttle.Attempt:
    """For sign-in paths other than the password form (single sign-on): check the throttle
    for the address (and the account, when `slug` and `email` are given) and reserve the
    attempt, or raise SignInThrottled (audited in the chain of `tenant_id`'s tenant when
    given). Settle it with `throttle.end(session=..., attempt=..., success=...)` in the
    transaction that opens the session (or records the failure)."""
    account = throttle.account_key(slug, email) if slug and email else None
    with contextless_session() as s:
        attempt = throttle.begin(session=s, account=account, ip=ip)
    if attempt.throttled:
        raise _throttled(attempt, tenant_id=tenant_id, email=email, ip=ip)
    return attempt


def _throttled(
    attempt: throttle.Attempt, *, tenant_id: uuid.UUID | None, email: str, ip: str
) -> SignInThrottled:
    """The refusal of a throttled attempt, audited first in the tenant's chain when the
    tenant is known (the first refusal within a minute per limit)."""
    user_id = None
    if attempt.first_refusal and tenant_id is not None:
        with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
            user_id = service.record_throttled(session=s, attempt=attempt, email=email, ip=ip)
    return service.throttled(attempt, tenant_id=tenant_id, user_id=user_id, ip=ip)


def finish_rotation(signed: SignedIn, *, ip: str = "") -> None:
    """After a sign-in committed: end the session the browser held in another organisation,
    in that organisation's own transaction (never before: a sign-in that rolled back ends
    nothing)."""
    old = signed.rotate_elsewhere
    if old is None:
        return
    with tenant_session(service.request_context(old)) as s:
        service.revoke_rotated(
            session=s, claims=old, replaced_by=signed.principal.session_id, ip=ip
        )


def sign_out(token: str | None, *, ip: str = "") -> bool:
    """Revoke the token's session server-side; True if a live session was revoked."""
    claims = tokens.verify(token or "")
    if claims is None:
        return False
    with tenant_session(service.request_context(claims)) as s:
        return service.sign_out(session=s, claims=claims, ip=ip)


def sign_out_everywhere(token: str | None, *, ip: str = "") -> int:
    """Revoke every session of the token's user, if its own session is live; how many."""
    claims = tokens.verify(token or "")
    if claims is None:
        return 0
    with tenant_session(service.request_context(claims)) as s:
        return service.sign_out_everywhere(session=s, claims=claims, ip=ip)


@contextmanager
def password_attempt(principal: Principal, ip: str) -> Iterator[None]:
    """Count a password check of a signed-in person (the profile page's current password)
    with the sign-in throttle of their account and address: refused (`Throttled`, before
    the check) while the throttle would refuse a sign-in; a wrong password
    (`WrongCurrentPassword`) counts as a failed sign-in, anything else as a success.
    Each step commits on the home database on its own, as the sign-in's do."""
    account = throttle.account_key(principal.tenant_slug, principal.email)
    with contextless_session() as s:
        attempt = throttle.begin(session=s, account=account, ip=ip)
    if attempt.throttled:
        raise throttle.Throttled(attempt.retry_after)
    success = True  # refused for another reason, the password was not what failed
    try:
        yield
    except WrongCurrentPassword:
        success = False
        raise
    finally:
        with contextless_session() as s:
            throttle.end(session=s, attempt=attempt, success=success)


# ------------------------------------------------------------------------- the routes


async def sign_in_route(request: Request) -> Response:
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
            sign_in_with_password,
            slug=slug,
            email=email,
            password=password,
            ip=client_ip(request) or "unknown",
            user_agent=request.headers.get("user-agent", ""),
            replaces=token_from_cookie_header(request.headers.get("cookie")),
        )
    except SignInThrottled as err:
        query = urlencode({"error": "throttled", "retry": err.retry} | organisation)
        return RedirectResponse(f"{front}/signin?{query}", status_code=303)
    except SignInError:
        query = urlencode({"error": "invalid"} | organisation)
        return RedirectResponse(f"{front}/signin?{query}", status_code=303)
    response = RedirectResponse(f"{front}/overview", status_code=303)
    set_session_cookie(response, SESSION_COOKIE, result.token, result.max_age)
    return response


def _signed_out(request: Request) -> Response:
    response = RedirectResponse(f"{frontend(request)}/signin?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def sign_out_route(request: Request) -> Response:
    """Revoke the session server-side, clear the cookie, back to the sign-in page."""
    if refused := csrf_refusal(request):
        return refused
    token = token_from_cookie_header(request.headers.get("cookie"))
    await run_in_threadpool(sign_out, token, ip=client_ip(request))
    return _signed_out(request)


async def sign_out_everywhere_route(request: Request) -> Response:
    """Revoke every session of the signed-in user (all browsers and devices), clear this
    browser's cookie, back to the sign-in page."""
    if refused := csrf_refusal(request):
        return refused
    token = token_from_cookie_header(request.headers.get("cookie"))
    await run_in_threadpool(sign_out_everywhere, token, ip=client_ip(request))
    return _signed_out(request)


async def whoami(request: Request) -> Response:
    """The signed-in user (for scripts and tests); 401 without a valid session."""
    token = token_from_cookie_header(request.headers.get("cookie"))
    principal = await run_in_threadpool(authenticate, token, ip=client_ip(request))
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
    Route("/api/auth/signin", sign_in_route, methods=["POST"]),
    Route("/api/auth/signout", sign_out_route, methods=["POST"]),
    Route("/api/auth/signout-everywhere", sign_out_everywhere_route, methods=["POST"]),
    Route("/api/auth/me", whoami, methods=["GET"]),
]
