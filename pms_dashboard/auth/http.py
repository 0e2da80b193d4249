"""What the backend's HTTP routes share: the app's own origins (CSRF), where the pages are
served, the client's address, how a session cookie is set, and the security headers every
backend response carries."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pms_dashboard.settings import get_settings

CROSS_ORIGIN_REFUSED = (
    "Request refused: it does not come from this app's own pages (its Origin or Referer"
    " header is missing or names another site). Reload the page and try again."
)


def _origin_of(url: str) -> str:
    """`scheme://host[:port]` of an absolute URL; "" for anything else."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _with_loopback_aliases(origin: str) -> set[str]:
    """An origin, and when it names this machine, the same port under every loopback name
    (no other site can make a browser send those)."""
    parts = urlsplit(origin)
    if (parts.hostname or "") not in {h.strip("[]") for h in LOOPBACK_HOSTS}:
        return {origin}
    port = f":{parts.port}" if parts.port else ""
    return {f"{parts.scheme}://{host}{port}" for host in LOOPBACK_HOSTS}


def allowed_origins() -> set[str]:
    """The origins the app's pages are served from, from configuration only — never from the
    request itself, whose Host header the client writes: `PMS_PUBLIC_URL`, Reflex's
    `deploy_url`, and in dev mode the backend's own address (where the forms post)."""
    import reflex as rx

    cfg = rx.config.get_config()
    candidates = (get_settings().public_url, cfg.deploy_url or "", _dev_backend_origin())
    out: set[str] = set()
    for origin in {_origin_of(o) for o in candidates if o} - {""}:
        out |= _with_loopback_aliases(origin)
    return out


def _host_of(origin: str) -> str:
    """`host[:port]` as a browser sends it in the Host header (default ports left out)."""
    parts = urlsplit(origin)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = parts.port
    return host if port in (None, _DEFAULT_PORTS.get(parts.scheme)) else f"{host}:{port}"


def allowed_hosts() -> set[str]:
    """Host headers the app answers: those of `allowed_origins()`, and `PMS_ALLOWED_HOSTS`."""
    extra = {h.strip().lower() for h in get_settings().allowed_hosts.split() if h.strip()}
    return {_host_of(o) for o in allowed_origins()} | extra


def request_origin(request: Request) -> str:
    """The origin the browser says a request comes from: its Origin header, or when that is
    absent, the origin of its Referer; "" when neither names one ("null" included)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return _origin_of(origin)
    return _origin_of(request.headers.get("referer", ""))


def origin_ok(request: Request) -> bool:
    """A state-changing request must come from the app's own pages (CSRF, login CSRF).

    SameSite=Lax cookies already stay home on cross-site POSTs; this also refuses what they
    do not cover: sign-in forms (no cookie yet) and sibling subdomains (same site).
    """
    origin = request_origin(request)
    return bool(origin) and origin in allowed_origins()


def csrf_refusal(request: Request) -> Response | None:
    """A 403 for a state-changing request that is not from the app's own pages; None if it
    is. Call first in every POST route, before reading the body."""
    if origin_ok(request):
        return None
    return JSONResponse({"error": CROSS_ORIGIN_REFUSED}, status_code=403)


def frontend(request: Request) -> str:
    """Where the browser's pages are served (dev mode: another port than this route)."""
    origin = request_origin(request)
    return origin if origin and origin in allowed_origins() else ""


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def set_session_cookie(response: Response, name: str, token: str, max_age: int) -> None:
    """HttpOnly (page scripts never see it), SameSite=Lax, Secure over https."""
    response.set_cookie(
        name,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
        path="/",
    )


def leave_for(url: str) -> HTMLResponse:
    """A page that sends the browser on to `url` by itself, for a form POST whose answer
    leads to another site (an identity provider). A 303 there would be refused by browsers
    that apply CSP form-action to the redirects after a form submission (Chrome does); a
    page's own refresh is not a form submission."""
    target = html.escape(url, quote=True)
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={target}"><title>Continuing…</title>'
        f'</head><body><p><a href="{target}">Continue</a></p></body></html>'
    )
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ security headers


def security_header_values(*, form_action: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The headers every backend HTTP response carries.

    The Content-Security-Policy holds only directives that cannot break a Reflex page
    (nothing restricts scripts, styles, images or connections): no framing (clickjacking),
    no `<base>` from elsewhere, no plugins, and forms post only to this origin and to
    `form_action` (in dev mode the backend's own address, where the sign-in forms post; and
    `PMS_CSP_FORM_ACTION`). Browsers such as Chrome also apply form-action to the redirects
    that follow a form POST, so a form whose route redirects to another site (an identity
    provider) needs that site listed.
    """
    sources = " ".join(["'self'", *dict.fromkeys(o for o in form_action if o)])
    csp = f"frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action {sources}"
    headers = [
        ("Content-Security-Policy", csp),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if get_settings().secure_cookies:  # served over https: browsers must stay on https
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


def _dev_backend_origin() -> str:
    """The backend's own origin when pages are served from another port (dev mode)."""
    import reflex as rx
    from reflex.utils.exec import is_prod_mode

    return "" if is_prod_mode() else _origin_of(rx.config.get_config().api_url)


class SecurityHeaders:
    """ASGI middleware adding `security_header_values()` to every HTTP response (a header
    a route sets itself wins). Websocket and lifespan traffic pass through untouched.

    Applied to the whole served app through `rx.App(api_transformer=[api, SecurityHeaders])`:
    Reflex mounts its own app (event websocket, uploads, and in prod mode the compiled
    pages) inside `api`, then hands the result to each callable transformer in turn."""

    def __init__(self, app: ASGIApp, *, form_action: Sequence[str] | None = None) -> None:
        self.app = app
        if form_action is None:
            configured = get_settings().csp_form_action.split()
            form_action = [_dev_backend_origin(), *(_origin_of(o) for o in configured)]
        self.headers = security_header_values(form_action=form_action)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


UNKNOWN_HOST = "Unknown host: this app answers only at the address it is configured for."


class TrustedHosts:
    """ASGI middleware refusing requests whose Host header the app does not serve (a forged
    Host would otherwise steer redirects and origin checks; DNS rebinding sends one too), and
    websocket handshakes whose Origin is another site's (cross-site websocket hijacking).
    HTTP gets a 400; a refused websocket is closed before it is accepted (a 403 to the
    browser). The allowed names come from configuration (`allowed_hosts()`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.hosts = allowed_hosts()
        self.origins = allowed_origins()

    def _allowed(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        if host not in self.hosts:
            return False
        if scope["type"] == "websocket" and b"origin" in headers:
            return _origin_of(headers[b"origin"].decode("latin-1")) in self.origins
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": 1008})
            return
        response = JSONResponse({"error": UNKNOWN_HOST}, status_code=400)
        await response(scope, receive, send)


class ServedBy:
    """Test deployments only (PMS_ENV=test): an `X-Served-By: <worker pid>` header, so the
    scale-out test can see that several worker processes served one signed-in browser."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.enabled = get_settings().env == "test"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled:
            await self.app(scope, receive, send)
            return

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-served-by", str(os.getpid()))
            await send(message)

        await self.app(scope, receive, send_tagged)
