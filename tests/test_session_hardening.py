"""Session hardening: idle and absolute timeouts, session rotation at sign-in, sign-out
everywhere, CSRF on every POST route, security headers, and sign-in throttling per account
and per address (through the real routes, in PostgreSQL as pms_app), each with its audit
events."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from pms_dashboard.audit.sessions import session_ref
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth import service, throttle
from pms_dashboard.auth.cookies import CONSOLE_COOKIE, SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.auth.http import CROSS_ORIGIN_REFUSED, SecurityHeaders
from pms_dashboard.auth.routes import routes as auth_route_list
from pms_dashboard.console.routes import routes as console_routes
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.session import owner_session
from tests.conftest import TEST_PASSWORD, TenantFixture, create_console_admin, served_app

MakeTenant = Callable[..., TenantFixture]
ORIGIN = "http://localhost:3000"
CONSOLE_PASSWORD = "console passphrase for tests 2026"


def _owner(sql: str, **params: object) -> list:
    """Set-up and inspection as the owner (never to test isolation)."""
    with owner_session() as s:
        result = s.execute(text(sql), params)
        return list(result.all()) if result.returns_rows else []


def _address() -> str:
    """A fresh client address per test, so address counters never meet across tests."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _browser(ip: str | None = None) -> TestClient:
    """One browser: its own cookie jar, at its own address, against the real routes wrapped
    in the security headers middleware (as the served app is)."""
    app = SecurityHeaders(Starlette(routes=[*auth_route_list, *console_routes]))
    return TestClient(
        app, base_url=ORIGIN, follow_redirects=False, client=(ip or _address(), 50000)
    )


def _post_sign_in(
    browser: TestClient, t: TenantFixture, key: str = "manager", password: str = TEST_PASSWORD
):
    return browser.post(
        "/api/auth/signin",
        data={"organisation": t.slug, "email": f"{key}@{t.slug}.test", "password": password},
        headers={"origin": ORIGIN},
    )


def _cookie_token(response) -> str | None:
    return token_from_cookie_header(response.headers.get("set-cookie", "").split(";")[0])


def _query(response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _session(session_id: uuid.UUID) -> tuple:
    [row] = _owner(
        "SELECT revoked_at IS NOT NULL, revoked_reason FROM auth_session WHERE id = :id",
        id=session_id,
    )
    return tuple(row)


def _events(t: TenantFixture, action: str) -> list:
    return _owner(
        "SELECT actor_id, entity_id, detail, flagged, ip FROM audit_event"
        " WHERE tenant_id = :t AND action = :a ORDER BY seq",
        t=t.id,
        a=action,
    )


@pytest.fixture
def counted_password_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many passwords the sign-in service verified (to prove a refusal checked none)."""
    calls = [0]
    real = service.verify_password
    lock = threading.Lock()

    def counting(stored: str | None, password: str) -> bool:
        with lock:
            calls[0] += 1
        return real(stored, password)

    monkeypatch.setattr(service, "verify_password", counting)
    return calls


# ------------------------------------------------------------------ idle and absolute


def test_an_idle_session_is_refused_and_revoked_with_reason_idle(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    idle = get_settings().session_idle_minutes
    kept, dropped = (
        auth_routes.sign_in_with_password(
            slug=t.slug, email=f"{key}@{t.slug}.test", password=TEST_PASSWORD
        )
        for key in ("emp1", "emp2")
    )
    for signed, minutes in ((kept, idle - 1), (dropped, idle + 1)):
        _owner(
            "UPDATE auth_session SET last_seen_at = now() - make_interval(secs => :m * 60)"
            " WHERE id = :id",
            m=minutes,
            id=signed.principal.session_id,
        )
    assert auth_routes.authenticate(kept.token, ip="192.0.2.9") is not None  # just inside
    assert auth_routes.authenticate(dropped.token, ip="192.0.2.9") is None
    assert auth_routes.authenticate(dropped.token) is None  # and it stays dead
    assert _session(dropped.principal.session_id) == (True, "idle")
    assert _session(kept.principal.session_id) == (False, None)
    [event] = _events(t, "auth.session_idle")
    assert (event.actor_id, event.entity_id, event.ip) == (t.user_id("emp2"), None, "192.0.2.9")
    assert event.detail == {
        "reason": "idle",
        "session_ref": session_ref(dropped.principal.session_id),
        "idle_minutes": idle,
    }
    # the kept session's use refreshed its clock: it is no longer anywhere near idle
    [(age,)] = _owner(
        "SELECT extract(epoch FROM now() - last_seen_at) FROM auth_session WHERE id = :id",
        id=kept.principal.session_id,
    )
    assert age < 30


def test_the_absolute_limit_is_enforced_from_the_session_row(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_tenant()
    signed = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"manager@{t.slug}.test", password=TEST_PASSWORD
    )
    # opened 2 hours ago, used just now, token and expires_at still in the future
    _owner(
        "UPDATE auth_session SET created_at = now() - interval '2 hours' WHERE id = :id",
        id=signed.principal.session_id,
    )
    assert auth_routes.authenticate(signed.token) is not None  # within the 12-hour default
    monkeypatch.setattr(get_settings(), "session_hours", 1.5)  # the limit is lowered
    assert auth_routes.authenticate(signed.token) is None
    monkeypatch.setattr(get_settings(), "session_hours", 12.0)
    assert auth_routes.authenticate(signed.token) is not None
    _owner(
        "UPDATE auth_session SET expires_at = now() - interval '1 second' WHERE id = :id",
        id=signed.principal.session_id,
    )
    assert auth_routes.authenticate(signed.token) is None


def test_last_seen_is_written_at_most_once_a_minute(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    signed = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"emp1@{t.slug}.test", password=TEST_PASSWORD
    )
    sid = signed.principal.session_id

    def version() -> tuple:
        # xmin changes with every UPDATE of the row, even one that writes the same value
        [row] = _owner("SELECT xmin::text, last_seen_at FROM auth_session WHERE id = :id", id=sid)
        return tuple(row)

    _owner(
        "UPDATE auth_session SET last_seen_at = now() - interval '40 seconds' WHERE id = :id",
        id=sid,
    )
    before = version()
    for _ in range(5):
        assert auth_routes.authenticate(signed.token) is not None
    assert version() == before  # five requests within the minute: not one write

    _owner(
        "UPDATE auth_session SET last_seen_at = now() - interval '61 seconds' WHERE id = :id",
        id=sid,
    )
    stale = version()
    assert auth_routes.authenticate(signed.token) is not None
    refreshed = version()
    assert refreshed[0] != stale[0] and refreshed[1] > stale[1]
    for _ in range(3):
        assert auth_routes.authenticate(signed.token) is not None
    assert version() == refreshed  # written once, then left alone again


# ------------------------------------------------------------------------- rotation


def test_signing_in_again_from_the_same_browser_kills_the_old_session(
    make_tenant: MakeTenant,
) -> None:
    t = make_tenant()
    browser, elsewhere = _browser(), _browser()
    first = _cookie_token(_post_sign_in(browser, t))
    other = _cookie_token(_post_sign_in(elsewhere, t))  # another browser, same person
    assert first and other
    old = auth_routes.authenticate(first)
    assert old is not None

    second = _cookie_token(_post_sign_in(browser, t, "emp1"))  # the browser sends `first`
    assert second and second != first
    assert auth_routes.authenticate(first) is None
    assert _session(old.session_id) == (True, "rotated")
    new = auth_routes.authenticate(second)
    assert new is not None and new.user_id == t.user_id("emp1")
    assert auth_routes.authenticate(other) is not None  # the other browser is untouched
    assert browser.get("/api/auth/me").json()["email"] == f"emp1@{t.slug}.test"

    [event] = _events(t, "auth.session_rotated")
    assert (event.actor_id, event.entity_id) == (t.user_id("manager"), None)
    assert event.detail == {
        "reason": "rotated",
        "session_ref": session_ref(old.session_id),
        "replaced_by": session_ref(new.session_id),
    }
    sign_ins = _events(t, "auth.sign_in")
    assert sign_ins[-1].detail == {
        "method": "password",
        "session_ref": session_ref(new.session_id),
        "replaces": session_ref(old.session_id),
    }


def test_rotation_reaches_a_session_of_another_organisation(make_tenant: MakeTenant) -> None:
    a, b = make_tenant(), make_tenant()
    browser = _browser()
    first = _cookie_token(_post_sign_in(browser, a))
    old = auth_routes.authenticate(first)
    assert old is not None
    assert _cookie_token(_post_sign_in(browser, b))
    assert auth_routes.authenticate(first) is None
    assert _session(old.session_id) == (True, "rotated")
    assert len(_events(a, "auth.session_rotated")) == 1  # in the old session's own chain
    assert _events(b, "auth.session_rotated") == []


def test_open_session_rotates_for_single_sign_on_callers(make_tenant: MakeTenant) -> None:
    """The SSO callback calls open_session directly: `replaces` gives it the same rotation."""
    from pms_dashboard.auth.models import User
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import tenant_session

    t = make_tenant()
    before = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"emp2@{t.slug}.test", password=TEST_PASSWORD
    )
    with tenant_session(TenantContext(tenant_id=t.id)) as s:
        user = s.get_one(User, (t.id, t.user_id("emp2")))
        after = service.open_session(session=s, user=user, method="sso", replaces=before.token)
    assert auth_routes.authenticate(before.token) is None
    assert auth_routes.authenticate(after.token) is not None
    assert _session(before.principal.session_id) == (True, "rotated")


# --------------------------------------------------------------- sign out everywhere


def test_sign_out_everywhere_ends_the_sessions_of_every_browser(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    laptop, phone, colleague = _browser(), _browser(), _browser()
    tokens = [_cookie_token(_post_sign_in(b, t)) for b in (laptop, phone)]
    theirs = _cookie_token(_post_sign_in(colleague, t, "emp1"))
    sessions = [auth_routes.authenticate(tok) for tok in tokens]
    assert all(sessions) and auth_routes.authenticate(theirs) is not None

    refused = laptop.post("/api/auth/signout-everywhere")  # no Origin, no Referer
    assert refused.status_code == 403
    assert all(auth_routes.authenticate(tok) for tok in tokens)

    response = laptop.post("/api/auth/signout-everywhere", headers={"origin": ORIGIN})
    assert response.status_code == 303
    assert response.headers["location"] == f"{ORIGIN}/signin?signed_out=1"
    assert f'{SESSION_COOKIE}="";' in response.headers["set-cookie"]  # cleared
    assert [auth_routes.authenticate(tok) for tok in tokens] == [None, None]
    assert phone.get("/api/auth/me").status_code == 401
    assert auth_routes.authenticate(theirs) is not None  # nobody else's session
    assert {_session(p.session_id) for p in sessions if p} == {(True, "sign_out_everywhere")}
    [event] = _events(t, "auth.sign_out_everywhere")
    assert (event.actor_id, event.entity_id) == (t.user_id("manager"), t.user_id("manager"))
    assert event.detail["sessions"] == sorted(session_ref(p.session_id) for p in sessions if p)
    laptop_session = sessions[0]
    assert laptop_session is not None
    assert event.detail["from_session"] == session_ref(laptop_session.session_id)
    assert not any(str(p.session_id) in str(event.detail) for p in sessions if p)
    # a dead token can no longer sign anyone out
    assert auth_routes.sign_out_everywhere(tokens[0]) == 0


def test_sign_out_records_its_reason(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    browser = _browser()
    token = _cookie_token(_post_sign_in(browser, t))
    principal = auth_routes.authenticate(token)
    assert principal is not None
    assert browser.post("/api/auth/signout", headers={"origin": ORIGIN}).status_code == 303
    assert _session(principal.session_id) == (True, "sign_out")
    [event] = _events(t, "auth.sign_out")
    assert event.entity_id is None
    assert event.detail == {"reason": "sign_out", "session_ref": session_ref(principal.session_id)}


def test_the_page_shell_offers_sign_out_everywhere() -> None:
    from pms_dashboard.ui.templates import header

    rendered = str(header("Goals"))
    assert "/api/auth/signout-everywhere" in rendered
    assert "sign-out-everywhere" in rendered and "Sign out everywhere" in rendered


# ---------------------------------------------------------------------------- CSRF


POST_ROUTES = [
    ("/api/auth/signin", {"organisation": "x", "email": "x@x.test", "password": "x"}),
    ("/api/auth/signout", {}),
    ("/api/auth/signout-everywhere", {}),
    ("/api/console/signin", {"email": "x@x.test", "password": "x", "code": "000000"}),
    ("/api/console/signout", {}),
]


def test_every_post_route_of_the_served_app_refuses_a_request_without_origin() -> None:
    """Also guards routes added later: none may change state for a request that does not
    say it comes from the app's own pages."""
    from pms_dashboard.pms_dashboard import api

    posts = [r.path for r in api.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert {path for path, _ in POST_ROUTES} <= set(posts)
    client = TestClient(Starlette(routes=api.routes), base_url=ORIGIN, follow_redirects=False)
    refused = {path: client.post(path, data={"x": "1"}).status_code for path in posts}
    assert refused == dict.fromkeys(posts, 403)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"referer": "https://evil.example/page"},
        {"origin": "https://evil.example", "referer": f"{ORIGIN}/signin"},
        {"origin": "http://localhost:3000.evil.example"},
    ],
    ids=["none", "foreign-origin", "null-origin", "foreign-referer", "origin-wins", "suffix"],
)
@pytest.mark.parametrize(("path", "form"), POST_ROUTES, ids=[p for p, _ in POST_ROUTES])
def test_post_routes_refuse_requests_not_from_the_app(path: str, form: dict, headers: dict) -> None:
    response = _browser().post(path, data=form, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"error": CROSS_ORIGIN_REFUSED}
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [{}, {"origin": "https://evil.example"}, {"referer": "https://evil.example/"}],
    ids=["none", "foreign-origin", "foreign-referer"],
)
def test_a_refused_sign_in_or_sign_out_changes_nothing(
    make_tenant: MakeTenant, headers: dict[str, str]
) -> None:
    t = make_tenant()
    browser = _browser()
    token = _cookie_token(_post_sign_in(browser, t))
    count = "SELECT count(*) FROM {} WHERE tenant_id = :t"
    before = [_owner(count.format(table), t=t.id) for table in ("auth_session", "audit_event")]
    form = {"organisation": t.slug, "email": f"emp1@{t.slug}.test", "password": TEST_PASSWORD}
    for path, data in (("/api/auth/signin", form), ("/api/auth/signout", {})):
        assert browser.post(path, data=data, headers=headers).status_code == 403
    after = [_owner(count.format(table), t=t.id) for table in ("auth_session", "audit_event")]
    assert after == before
    assert auth_routes.authenticate(token) is not None  # neither signed out nor rotated


@pytest.mark.parametrize(
    "headers",
    [{"origin": ORIGIN}, {"referer": f"{ORIGIN}/signin?organisation=x"}],
    ids=["origin", "referer-only"],
)
def test_requests_from_the_apps_own_pages_pass(make_tenant: MakeTenant, headers: dict) -> None:
    t = make_tenant()
    browser = _browser()
    form = {"organisation": t.slug, "email": f"emp1@{t.slug}.test", "password": TEST_PASSWORD}
    response = browser.post("/api/auth/signin", data=form, headers=headers)
    assert response.status_code == 303
    assert response.headers["location"] == f"{ORIGIN}/overview"
    assert auth_routes.authenticate(_cookie_token(response)) is not None


# ------------------------------------------------------------------ security headers

EXPECTED_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}


def _assert_security_headers(response) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["form-action"].startswith("'self'")
    # nothing that could stop a Reflex page from running
    assert not {"default-src", "script-src", "style-src", "connect-src"} & set(directives)
    assert "camera=()" in response.headers["permissions-policy"]


def test_security_headers_on_route_responses_redirects_and_404s(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    browser = _browser()
    _assert_security_headers(browser.get("/api/auth/me"))  # 401 JSON
    _assert_security_headers(browser.get("/no/such/page"))  # 404
    signed_in = _post_sign_in(browser, t)
    assert signed_in.status_code == 303
    _assert_security_headers(signed_in)
    _assert_security_headers(browser.post("/api/auth/signout"))  # 403
    assert "strict-transport-security" not in signed_in.headers  # plain http here


def test_dev_mode_lets_forms_post_to_the_backend_and_settings_add_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import reflex as rx

    backend = rx.config.get_config().api_url.rstrip("/")
    inner = Starlette(routes=[Route("/", lambda r: PlainTextResponse("ok"))])
    csp = TestClient(SecurityHeaders(inner)).get("/").headers["content-security-policy"]
    assert csp.endswith(f"form-action 'self' {backend}")  # tests run in dev mode
    monkeypatch.setattr(get_settings(), "csp_form_action", "https://idp.example/ ")
    monkeypatch.setattr(get_settings(), "public_url", "https://pms.example")
    response = TestClient(SecurityHeaders(inner)).get("/")
    assert response.headers["content-security-policy"].endswith(
        f"form-action 'self' {backend} https://idp.example"
    )
    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_a_header_the_route_sets_itself_wins_and_websockets_pass_untouched() -> None:
    async def framed(request):
        return PlainTextResponse("ok", headers={"x-frame-options": "SAMEORIGIN"})

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.close()

    client = TestClient(
        SecurityHeaders(Starlette(routes=[Route("/f", framed), WebSocketRoute("/ws", echo)]))
    )
    assert client.get("/f").headers["x-frame-options"] == "SAMEORIGIN"
    with client.websocket_connect("/ws") as ws:
        ws.send_text("ping")
        assert ws.receive_text() == "ping"


def test_the_served_app_wraps_everything_reflex_mounts_in_the_middleware() -> None:
    """What `rx.App` does with `api_transformer`: Reflex's own app (pages, the event
    websocket) mounted inside our routes, then wrapped, the security headers outermost."""
    from pms_dashboard.pms_dashboard import api, app

    transformers = list(app.api_transformer)  # type: ignore[arg-type]
    assert transformers[0] is api and transformers[-1] is SecurityHeaders
    client = TestClient(served_app(), base_url=ORIGIN)
    _assert_security_headers(client.get("/goals"))
    _assert_security_headers(client.get("/api/auth/me"))
    _assert_security_headers(client.get("/nowhere"))
    with client.websocket_connect("/_event", headers={"host": "localhost:3000"}) as ws:
        assert ws.receive_text() == "hello"


def test_leave_for_sends_the_browser_on_without_a_redirect() -> None:
    from pms_dashboard.auth.http import leave_for

    url = 'https://idp.example/authorize?a=1&b="><script>x</script>'
    response = TestClient(SecurityHeaders(leave_for(url))).get("/")
    assert response.status_code == 200 and "location" not in response.headers
    escaped = "https://idp.example/authorize?a=1&amp;b=&quot;&gt;&lt;script&gt;x&lt;/script&gt;"
    assert f'content="0;url={escaped}"' in response.text
    assert "<script>" not in response.text
    assert response.headers["cache-control"] == "no-store"
    _assert_security_headers(response)


# ---------------------------------------------------------------------- throttling


def _attempt(
    t: TenantFixture, ip: str, key: str = "manager", password: str = TEST_PASSWORD
) -> int | str:
    """One sign-in through the real service: "signed in", "failed", or, when the throttle
    refuses it, the seconds it says to wait."""
    try:
        auth_routes.sign_in_with_password(
            slug=t.slug, email=f"{key}@{t.slug}.test", password=password, ip=ip
        )
    except service.SignInThrottled as err:
        return err.retry_after
    except service.SignInError:
        return "failed"
    return "signed in"


def _time_passes(seconds: float, *, ip: str) -> None:
    """The attempts recorded for an address move `seconds` into the past, as if that much
    time had passed for them."""
    _owner(
        "UPDATE signin_attempt SET attempted_at = attempted_at - make_interval(secs => :s)"
        " WHERE ip = :ip",
        s=seconds,
        ip=ip,
    )


def _fail_from(t: TenantFixture, ip: str, failures: int, key: str = "manager") -> list[int]:
    """`failures` wrong passwords from one address, waiting out (by moving time) each delay
    the throttle asks for; the waits it asked for, in order."""
    waits: list[int] = []
    while failures:
        outcome = _attempt(t, ip, key, password=f"guess {failures}")
        if isinstance(outcome, int):
            waits.append(outcome)
            _time_passes(outcome, ip=ip)
        else:
            assert outcome == "failed"
            failures -= 1
    return waits


def test_the_defaults_slow_a_pair_and_keep_only_a_high_hard_limit_per_account() -> None:
    settings = get_settings()
    assert (settings.signin_pair_free_failures, settings.signin_pair_delay_seconds) == (3, 1.0)
    assert settings.signin_pair_max_delay_minutes == 15
    assert settings.signin_max_account_failures == 100
    assert settings.signin_max_address_failures == 30


def test_the_owner_signs_in_from_another_address_while_an_attacker_hammers_the_account(
    make_tenant: MakeTenant, counted_password_checks: list[int]
) -> None:
    t = make_tenant()
    attacker = _address()
    waits = _fail_from(t, attacker, 12)  # one address: delayed after the third failure
    assert len(waits) == 9
    for _ in range(4):  # and three failures from each of four more addresses: no delays
        assert _fail_from(t, _address(), 3) == []
    assert len(_events(t, "auth.sign_in_failed")) == 24  # far past the old lockout at 5

    owner = _address()
    assert _attempt(t, owner) == "signed in"  # the right password, from a fresh address
    [signed_in] = _events(t, "auth.sign_in")
    assert (signed_in.actor_id, signed_in.ip) == (t.user_id("manager"), owner)

    checks = counted_password_checks[0]
    # the attacker's pair is still delayed, even with the right password (unchecked): the
    # owner's success elsewhere does not clear it
    wait = _attempt(t, attacker)
    assert isinstance(wait, int) and 1 <= wait <= 15 * 60
    assert counted_password_checks[0] == checks
    # the attacker's address is not locked for other accounts (its pair is with this one)
    assert _attempt(t, attacker, "emp1") == "signed in"
    # only the pair was slowed: its refusals are in the trail, not in the flagged queue
    refusals = _events(t, "auth.throttled")
    assert refusals and {(e.detail["scope"], e.flagged, e.ip) for e in refusals} == {
        ("pair", False, attacker)
    }


def test_a_pairs_delay_doubles_with_each_failure_up_to_its_cap_and_refusals_do_not_extend_it(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch, counted_password_checks: list[int]
) -> None:
    # 10 s delays keep a slow machine's own pauses out of the numbers; a window long enough
    # to hold every failure while the delays reach the 15-minute cap
    monkeypatch.setattr(get_settings(), "signin_pair_delay_seconds", 10.0)
    monkeypatch.setattr(get_settings(), "signin_window_minutes", 60)
    t = make_tenant()
    ip = _address()
    waits = _fail_from(t, ip, 12)
    expected = [10, 20, 40, 80, 160, 320, 640, 900, 900]
    assert len(waits) == len(expected)
    assert all(e - 2 <= w <= e for w, e in zip(waits, expected, strict=True)), waits

    checks = counted_password_checks[0]
    hammered = [_attempt(t, ip) for _ in range(5)]  # the right password, during the delay
    assert all(isinstance(w, int) and 898 <= w <= 900 for w in hammered), hammered
    assert counted_password_checks[0] == checks  # refused before any password check
    with pytest.raises(service.SignInThrottled, match=r"^Too many attempts\. Try again in 15"):
        auth_routes.sign_in_with_password(
            slug=t.slug, email=f"manager@{t.slug}.test", password=TEST_PASSWORD, ip=ip
        )
    _time_passes(900, ip=ip)  # the delay, not extended by the refusals, is over
    assert _attempt(t, ip) == "signed in"


def test_a_success_from_the_pair_clears_its_failures(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "signin_pair_delay_seconds", 30.0)
    t = make_tenant()
    ip = _address()
    waits = _fail_from(t, ip, 5)
    assert len(waits) == 2 and 28 <= waits[0] <= 30 and 58 <= waits[1] <= 60, waits
    wait = _attempt(t, ip)
    assert isinstance(wait, int) and 118 <= wait <= 120  # the third delay: 4 x 30 s
    _time_passes(wait, ip=ip)
    assert _attempt(t, ip) == "signed in"
    # cleared: three failures go through again, then the first (not the fourth) delay
    assert [_attempt(t, ip, password="typo") for _ in range(3)] == ["failed"] * 3
    wait = _attempt(t, ip, password="typo")
    assert isinstance(wait, int) and 28 <= wait <= 30
    assert str(service.SignInThrottled(wait)) == f"Too many attempts. Try again in {wait} seconds."


def test_the_route_says_the_wait_in_seconds_and_lets_the_owner_in(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "signin_pair_delay_seconds", 30.0)
    t = make_tenant()
    attacker = _browser()
    for _ in range(3):
        assert _query(_post_sign_in(attacker, t, password="wrong"))["error"] == "invalid"
    refused = _post_sign_in(attacker, t)  # the right password, during the delay
    assert "set-cookie" not in refused.headers
    query = _query(refused)
    assert (query["error"], query["organisation"]) == ("throttled", t.slug)
    assert query["retry"] in {"28s", "29s", "30s"}
    owner = _post_sign_in(_browser(), t)
    assert owner.headers["location"] == f"{ORIGIN}/overview" and _cookie_token(owner)


def test_the_account_hard_limit_refuses_everyone_and_is_flagged_and_logged(
    make_tenant: MakeTenant,
    monkeypatch: pytest.MonkeyPatch,
    counted_password_checks: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(get_settings(), "signin_max_account_failures", 12)  # 100 by default
    t = make_tenant()
    for _ in range(4):  # an attack spread over addresses: no pair is ever delayed
        assert _fail_from(t, _address(), 3) == []
    checks = counted_password_checks[0]

    owner = _address()
    with caplog.at_level("WARNING", logger="pms_dashboard.auth.service"):
        wait = _attempt(t, owner)  # the right password, from a fresh address: refused
        again = _attempt(t, _address())  # and from any other
    assert isinstance(wait, int) and 15 * 60 - 5 <= wait <= 15 * 60
    assert isinstance(again, int)
    assert counted_password_checks[0] == checks
    assert _attempt(t, owner, "emp1") == "signed in"  # only this account is refused

    [event] = _events(t, "auth.throttled")  # the first refusal, not one per refused attempt
    assert (event.actor_id, event.flagged, event.ip) == (t.user_id("manager"), True, owner)
    assert event.detail == {
        "email": f"manager@{t.slug}.test",
        "scope": "account",
        "retry_after_minutes": 15,
        "retry_after_seconds": wait,
    }
    [logged] = [r for r in caplog.records if r.levelname == "WARNING"]
    message = logged.getMessage()
    assert "account limit" in message and str(t.id) in message and owner in message
    assert str(t.user_id("manager")) in message and "manager@" not in message


def test_the_account_limit_ends_when_the_oldest_failure_leaves_the_window(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "signin_max_account_failures", 5)
    t = make_tenant()
    for _ in range(5):
        assert _attempt(t, _address(), "emp2", password="wrong") == "failed"
    assert isinstance(_attempt(t, _address(), "emp2"), int)
    key = throttle.account_key(t.slug, f"emp2@{t.slug}.test")
    _owner(  # time passes: the oldest failure is now 15 minutes old
        "UPDATE signin_attempt SET attempted_at = now() - interval '15 minutes 1 second'"
        " WHERE id = (SELECT min(id) FROM signin_attempt WHERE account_key = :k)",
        k=key,
    )
    assert _attempt(t, _address(), "emp2") == "signed in"


def test_the_migration_downgrades_to_the_account_lockout_and_back() -> None:
    """0013's downgrade restores 0009's functions: five failures lock the account for every
    address again (checked on the functions themselves: the code is 0013's)."""
    from alembic import command

    from pms_dashboard.db import migrate

    def signatures() -> list[str]:
        return [
            r[0]
            for r in _owner(
                "SELECT p.oid::regprocedure::text FROM pg_proc AS p"
                " WHERE p.pronamespace = 'app'::regnamespace"
                "   AND p.proname LIKE 'signin_attempt_%' ORDER BY 1"
            )
        ]

    key = throttle.account_key("downgrade", f"{uuid.uuid4().hex}@example.test")
    old_begin = "SELECT * FROM app.signin_attempt_begin(:k, :ip, 900, 5, 30)"
    command.downgrade(migrate.alembic_config(), "0012")
    try:
        assert signatures() == [
            "app.signin_attempt_begin(text,text,integer,integer,integer)",
            "app.signin_attempt_end(bigint,boolean)",
        ]
        assert (
            _owner(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'signin_attempt' AND column_name = 'scope'"
            )
            == []
        )
        for _ in range(5):
            [row] = _owner(old_begin, k=key, ip=_address())
            _owner("SELECT app.signin_attempt_end(:id, false)", id=row.attempt_id)
        [refused] = _owner(old_begin, k=key, ip=_address())
        assert (refused.attempt_id, refused.scope) == (None, "account")
    finally:
        migrate.upgrade()
    assert signatures() == [
        "app.signin_attempt_begin(text,text,integer,integer,integer,integer,double precision,"
        "integer)",
        "app.signin_attempt_end(bigint,boolean)",
    ]
    [allowed] = _owner(
        "SELECT * FROM app.signin_attempt_begin(:k, :ip, 900, 100, 30, 3, 1, 900)",
        k=key,
        ip=_address(),
    )
    assert allowed.attempt_id is not None  # five failures no longer lock the account


def test_thirty_failures_from_one_address_lock_it_for_every_account(
    make_tenant: MakeTenant, counted_password_checks: list[int]
) -> None:
    a, b = make_tenant(), make_tenant()
    ip = _address()
    sprayer = _browser(ip)
    for i in range(29):  # a different (unknown) account each time: no account lockout
        form = {"organisation": a.slug, "email": f"guess{i}@{a.slug}.test", "password": "x"}
        response = sprayer.post("/api/auth/signin", data=form, headers={"origin": ORIGIN})
        assert _query(response)["error"] == "invalid"
    # a success from the address does not reset its count
    assert _cookie_token(_post_sign_in(sprayer, a, "emp1"))
    assert _query(_post_sign_in(sprayer, b, "emp1", password="x"))["error"] == "invalid"  # 30th
    checks = counted_password_checks[0]

    refused = _post_sign_in(sprayer, b, "admin")  # right password, never failed before
    assert _query(refused)["error"] == "throttled"
    assert counted_password_checks[0] == checks
    # another address is not affected
    assert _post_sign_in(_browser(), b, "admin").headers["location"] == f"{ORIGIN}/overview"

    [event] = _events(b, "auth.throttled")
    assert (event.actor_id, event.flagged, event.ip) == (b.user_id("admin"), True, ip)
    assert event.detail["scope"] == "address"


@pytest.mark.parametrize(
    ("limit", "one_address", "allowed"),
    [("signin_max_account_failures", False, 5), ("signin_pair_delay_seconds", True, 3)],
    ids=["account-from-many-addresses", "pair"],
)
def test_a_parallel_burst_gets_no_more_than_the_limit_through(
    make_tenant: MakeTenant,
    monkeypatch: pytest.MonkeyPatch,
    counted_password_checks: list[int],
    limit: str,
    one_address: bool,
    allowed: int,
) -> None:
    """Check and reserve are one atomic step per account in PostgreSQL, so attempts racing
    on separate connections (as from several app processes) cannot all pass the check:
    not the account's hard limit (here 5) from many addresses, nor a pair's three free
    failures (then a 60 s delay) from one."""
    monkeypatch.setattr(get_settings(), limit, {"signin_pair_delay_seconds": 60.0}.get(limit, 5))
    t = make_tenant()
    ip = _address()

    def attempt(_: int) -> str:
        outcome = _attempt(t, ip if one_address else _address(), "emp1", password="wrong")
        return "throttled" if isinstance(outcome, int) else outcome

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    assert sorted(outcomes) == ["failed"] * allowed + ["throttled"] * (12 - allowed)
    assert counted_password_checks[0] == allowed


def test_reserve_attempt_throttles_other_sign_in_paths_by_address(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the single sign-on callback uses: the same limits without a password form."""
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import tenant_session

    monkeypatch.setattr(get_settings(), "signin_max_address_failures", 2)
    t = make_tenant()
    ip = _address()
    for success in (False, True, False):  # a success does not reset the address
        attempt = auth_routes.reserve_attempt(ip=ip, tenant_id=t.id)
        assert attempt.id is not None and not attempt.throttled
        with tenant_session(TenantContext(tenant_id=t.id)) as s:
            throttle.end(session=s, attempt=attempt, success=success)
    with pytest.raises(service.SignInThrottled) as err:
        auth_routes.reserve_attempt(ip=ip, tenant_id=t.id, email=f"emp1@{t.slug}.test")
    assert err.value.retry_minutes == 15
    assert str(err.value) == "Too many attempts. Try again in 15 minutes."
    [event] = _events(t, "auth.throttled")
    assert (event.actor_id, event.flagged, event.detail["scope"]) == (
        t.user_id("emp1"),
        True,
        "address",
    )
    assert auth_routes.reserve_attempt(ip=_address(), tenant_id=t.id).id is not None


def test_console_sign_in_shares_the_per_address_limit(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "signin_max_address_failures", 3)
    t = make_tenant()
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example",
        display_name="Ops",
        password=CONSOLE_PASSWORD,
    )
    ip = _address()
    browser = _browser(ip)
    _post_sign_in(browser, t, password="wrong")  # a tenant failure counts for the address
    for _ in range(2):
        form = {"email": new.email, "password": "wrong", "code": "000000"}
        response = browser.post("/api/console/signin", data=form, headers={"origin": ORIGIN})
        assert _query(response) == {"error": "invalid"}

    def console_sign_in(client: TestClient):
        code = pyotp.TOTP(new.totp_secret).at(time.time())
        form = {"email": new.email, "password": CONSOLE_PASSWORD, "code": code}
        return client.post("/api/console/signin", data=form, headers={"origin": ORIGIN})

    head = _owner("SELECT coalesce(max(seq), 0) FROM platform_event")[0][0]
    refused = console_sign_in(browser)
    assert _query(refused)["error"] == "throttled" and "set-cookie" not in refused.headers
    assert refused.headers["location"].startswith(f"{ORIGIN}/console/signin?")
    assert _query(_post_sign_in(browser, t))["error"] == "throttled"  # and the other way
    events = _owner("SELECT action, ip FROM platform_event WHERE seq > :h ORDER BY seq", h=head)
    assert [tuple(e) for e in events] == [("console.sign_in_throttled", ip)]

    ok = console_sign_in(_browser())
    assert ok.headers["location"] == f"{ORIGIN}/console"
    assert token_from_cookie_header(ok.headers["set-cookie"].split(";")[0], CONSOLE_COOKIE)


def test_attempts_are_hashed_pruned_after_a_day_and_closed_to_the_runtime_roles(
    make_tenant: MakeTenant,
) -> None:
    t = make_tenant()
    ip = _address()
    _owner(
        "INSERT INTO signin_attempt (attempted_at, ip, outcome)"
        " SELECT now() - interval '25 hours', :ip, 'failure' FROM generate_series(1, 50)",
        ip=ip,
    )
    _post_sign_in(_browser(ip), t, "emp1", password="wrong")
    rows = _owner(
        "SELECT account_key, outcome, attempted_at > now() - interval '1 hour'"
        " FROM signin_attempt WHERE ip = :ip",
        ip=ip,
    )
    key = throttle.account_key(t.slug, f"emp1@{t.slug}.test")
    assert [tuple(r) for r in rows] == [(key, "failure", True)]  # the old 50 are gone
    assert t.slug not in key and len(key) == 64

    privileges = _owner(
        "SELECT r, p, has_table_privilege(r, 'public.signin_attempt', p)"
        " FROM unnest(ARRAY['pms_app', 'pms_auditor']) AS r,"
        "      unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p"
    )
    assert [tuple(p) for p in privileges if p[2]] == []
    functions = _owner(
        "SELECT p.proname, p.prosecdef, p.proconfig,"
        "       has_function_privilege('pms_app', p.oid, 'EXECUTE'),"
        "       has_function_privilege('pms_auditor', p.oid, 'EXECUTE'),"
        "       EXISTS (SELECT 1 FROM aclexplode(p.proacl) WHERE grantee = 0)"
        " FROM pg_proc AS p WHERE p.pronamespace = 'app'::regnamespace"
        "   AND p.proname LIKE 'signin_attempt_%' ORDER BY 1"
    )
    assert [tuple(f) for f in functions] == [
        (name, True, ["search_path=pg_catalog, pg_temp"], True, True, False)
        for name in ("signin_attempt_begin", "signin_attempt_end")
    ]


@pytest.fixture
def app_connection() -> Iterator:
    from pms_dashboard.db import engine as db_engine

    with db_engine.app_engine().connect() as conn:
        yield conn
        conn.rollback()


def test_the_app_role_cannot_read_or_wipe_attempts(app_connection) -> None:
    from sqlalchemy.exc import DBAPIError, ProgrammingError

    for sql in ("SELECT * FROM signin_attempt", "DELETE FROM signin_attempt"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            app_connection.execute(text(sql))
        app_connection.rollback()
    with pytest.raises(DBAPIError, match="sha256"):
        app_connection.execute(
            text("SELECT * FROM app.signin_attempt_begin('not a hash', '', 60, 100, 30, 3, 1, 900)")
        )


# --------------------------------------------------------------- what the pages show


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ("15", "Too many attempts. Try again in 15 minutes."),
        ("1", "Too many attempts. Try again in 1 minute."),
        ("4s", "Too many attempts. Try again in 4 seconds."),
        ("1s", "Too many attempts. Try again in 1 second."),
        ("60s", "Too many attempts. Try again later."),
        ("0s", "Too many attempts. Try again later."),
        ("<script>", "Too many attempts. Try again later."),
        ("99999", "Too many attempts. Try again later."),
    ],
)
def test_the_sign_in_pages_show_the_wait(retry: str, message: str) -> None:
    from reflex.istate.data import RouterData

    from pms_dashboard.ui.pages.signin import SignInPageState
    from pms_dashboard.ui.states.console import ConsoleSignInState
    from tests.ui_harness import call, state_for

    for state_cls in (SignInPageState, ConsoleSignInState):
        st = state_for(state_cls, None, "/signin")
        st.router = RouterData.from_router_data(
            {"headers": {"origin": ORIGIN}, "asPath": f"/signin?error=throttled&retry={retry}"}
        )
        call(st, state_cls.on_load)
        assert st.error == message, state_cls
