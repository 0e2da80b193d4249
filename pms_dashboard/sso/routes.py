"""Single sign-on's backend routes: start (a form POST from the sign-in page, sent on to the
provider) and the provider's callback (which sets the same session cookie as a password
sign-in). A short-lived HttpOnly cookie carries the state, so the callback only completes
in the browser that started.

The flows open their transactions here, one per database step, each committed before the
next call to the provider (the services take them): no transaction stays open across the
network, the used sign-in is committed before anything else can fail, and every refusal of
a callback is audited in a transaction of its own."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pms_dashboard.auth.cookies import SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import client_ip, leave_for, origin_ok, set_session_cookie
from pms_dashboard.auth.routes import finish_rotation
from pms_dashboard.auth.service import SignedIn
from pms_dashboard.settings import get_settings
from pms_dashboard.sso import service
from pms_dashboard.sso.schemas import SsoError
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.registry import resolve_slug
from pms_dashboard.tenancy.session import contextless_session, tenant_session

STATE_COOKIE = "pms_sso_state"
STATE_PATH = "/api/sso"


def start_sign_in(*, slug: str, email: str, redirect_base: str, ip: str = "") -> service.Started:
    """Begin a sign-in: the provider's authorization URL (with state, nonce and a PKCE
    challenge) for the organisation named, or found by the email's domain."""
    domain = service.email_domain(email)
    with contextless_session() as s:
        tenant_id, tenant_slug = service.tenant_for(session=s, slug=slug, domain=domain)
    ctx = TenantContext(tenant_id=tenant_id)
    with tenant_session(ctx) as s:
        config = service.enabled_config(session=s, domain=domain)
    provider = service.discover(config.issuer)
    redirect_uri = service.callback_uri(redirect_base, tenant_slug)
    pending = service.authorization(config, provider, redirect_uri=redirect_uri, email=email)
    with tenant_session(ctx) as s:
        service.begin_login(session=s, pending=pending, ip=ip)
    return service.Started(pending.authorization_url, pending.state, tenant_slug)


def complete_sign_in(
    *,
    slug: str,
    state: str,
    code: str,
    cookie_state: str | None,
    error: str = "",
    ip: str = "",
    user_agent: str = "",
    replaces: str | None = None,
) -> SignedIn:
    """Finish a sign-in at the callback; SsoError (already audited) when refused. A session
    the browser still holds (`replaces`) is ended as the new one opens (rotation)."""
    with contextless_session() as s:
        tenant_id = resolve_slug(session=s, slug=slug)
    if tenant_id is None:
        raise SsoError("state_unknown")
    ctx = TenantContext(tenant_id=tenant_id)
    try:
        with tenant_session(ctx) as s:
            login = service.claim_login(session=s, state=state, cookie_state=cookie_state)
        service.require_fresh(login)
        if error or not code:
            raise SsoError("provider_error")
        with tenant_session(ctx) as s:
            config = service.enabled_config(session=s)
        claims = service.verified_claims(config, login, code)
        with tenant_session(ctx) as s:
            signed = service.sign_in_user(
                session=s, slug=slug, config=config, claims=claims, ip=ip,
                user_agent=user_agent, replaces=replaces,
            )  # fmt: skip
    except SsoError as err:
        with tenant_session(ctx) as s:
            service.record_failure(session=s, err=err, ip=ip)
        raise
    finish_rotation(signed, ip=ip)
    return signed


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
            start_sign_in,
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
            complete_sign_in,
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
