"""The backend sign-in/sign-out routes: cookie flags, origin checks, server-side revocation."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.cookies import SESSION_COOKIE, token_from_cookie_header
from pms_dashboard.auth.routes import routes
from tests.conftest import TEST_PASSWORD

ORIGIN = "http://localhost:3000"


@pytest.fixture
def client() -> TestClient:
    return TestClient(Starlette(routes=routes), base_url=ORIGIN, follow_redirects=False)


def _sign_in(client: TestClient, slug: str, email: str, password: str, **headers: str):
    return client.post(
        "/api/auth/signin",
        data={"organisation": slug, "email": email, "password": password},
        headers={"origin": ORIGIN, **headers},
    )


def test_sign_in_sets_http_only_lax_cookie_and_redirects_to_goals(client, make_tenant):
    t = make_tenant()
    response = _sign_in(client, t.slug, f"manager@{t.slug}.test", TEST_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"].endswith("/overview")
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie or "samesite=lax" in set_cookie.lower()
    me = client.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json() == {
        "email": f"manager@{t.slug}.test",
        "display_name": "Manager",
        "role": "manager",
        "tenant": t.slug,
    }


def test_failed_sign_in_sets_no_cookie_and_shows_generic_error(client, make_tenant):
    t = make_tenant()
    response = _sign_in(client, t.slug, f"manager@{t.slug}.test", "wrong password")
    assert response.status_code == 303
    assert "error=invalid" in response.headers["location"]
    assert "set-cookie" not in response.headers
    assert client.get("/api/auth/me").status_code == 401


def test_cross_origin_sign_in_is_refused_before_checking_credentials(client, make_tenant):
    t = make_tenant()
    response = _sign_in(
        client, t.slug, f"manager@{t.slug}.test", TEST_PASSWORD, origin="https://evil.example"
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_sign_out_revokes_the_session_server_side(client, make_tenant):
    t = make_tenant()
    response = _sign_in(client, t.slug, f"emp1@{t.slug}.test", TEST_PASSWORD)
    token = token_from_cookie_header(response.headers["set-cookie"].split(";")[0])
    assert auth_routes.authenticate(token) is not None
    out = client.post("/api/auth/signout", headers={"origin": ORIGIN})
    assert out.status_code == 303
    assert "signin" in out.headers["location"]
    # The old token is dead even if a copy of the cookie survived somewhere.
    assert auth_routes.authenticate(token) is None
    stolen = TestClient(Starlette(routes=routes), base_url=ORIGIN)
    stolen.cookies.set(SESSION_COOKIE, token or "")
    assert stolen.get("/api/auth/me").status_code == 401


def test_me_without_cookie_is_401(client):
    assert client.get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("other=1", None),
        (f"{SESSION_COOKIE}=abc", "abc"),
        (f'a="x;y"; {SESSION_COOKIE}=tok.en.sig; b=2', "tok.en.sig"),
        (f"broken; {SESSION_COOKIE}=t", "t"),
    ],
)
def test_cookie_header_parsing(header, expected):
    assert token_from_cookie_header(header) == expected
