"""The app's own address comes from configuration, never from the request: a forged Host
header is refused before any route runs, a form from a site that names itself in Host is
still cross-site, and a websocket from another site's page never opens."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from pms_dashboard.auth.http import (
    CROSS_ORIGIN_REFUSED,
    UNKNOWN_HOST,
    allowed_hosts,
    allowed_origins,
)
from pms_dashboard.settings import get_settings
from tests.conftest import served_app as _served

PUBLIC = "http://localhost:3000"  # PMS_PUBLIC_URL's default, what `make run` serves


def test_the_allowed_names_come_from_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().public_url == PUBLIC
    assert {PUBLIC, "http://127.0.0.1:3000", "http://[::1]:3000"} <= allowed_origins()
    assert not {o for o in allowed_origins() if "evil" in o}
    assert {"localhost:3000", "127.0.0.1:3000", "[::1]:3000"} <= allowed_hosts()
    monkeypatch.setattr(get_settings(), "public_url", "https://pms.example.com")
    monkeypatch.setattr(get_settings(), "allowed_hosts", "health.internal")
    assert "https://pms.example.com" in allowed_origins()
    assert {"pms.example.com", "health.internal"} <= allowed_hosts()


@pytest.mark.parametrize(
    "host", ["evil.example", "localhost:3000.evil.example", "localhost:4000", "", "pms.example"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/goals"), ("GET", "/api/auth/me"), ("POST", "/api/auth/signin")],
)
def test_an_unknown_host_header_is_refused_before_any_route(
    host: str, method: str, path: str
) -> None:
    client = TestClient(_served(), base_url=PUBLIC, follow_redirects=False)
    headers = {"host": host, "origin": f"http://{host}"}
    form = {"organisation": "acme", "email": "a@b.example", "password": "x"}
    response = client.request(
        method, path, headers=headers, data=form if method == "POST" else None
    )
    assert response.status_code == 400
    assert response.json() == {"error": UNKNOWN_HOST}
    assert "location" not in response.headers and "set-cookie" not in response.headers
    assert response.headers["x-frame-options"] == "DENY"  # the refusal has the headers too


@pytest.mark.parametrize("host", ["localhost:3000", "127.0.0.1:3000", "LOCALHOST:3000"])
def test_the_configured_host_and_its_loopback_names_are_served(host: str) -> None:
    client = TestClient(_served(), base_url=PUBLIC, follow_redirects=False)
    assert client.get("/goals", headers={"host": host}).text == "<html>page</html>"
    assert client.get("/api/auth/me", headers={"host": host}).status_code == 401


def test_a_site_naming_itself_in_host_and_origin_is_still_cross_site() -> None:
    """The attack that passed before: `Host: evil.example` with `Origin: http://evil.example`
    made the route believe the form came from its own pages (and redirect there)."""
    from pms_dashboard.pms_dashboard import api

    bare = TestClient(Starlette(routes=api.routes), base_url="http://evil.example")
    form = {"organisation": "acme", "email": "a@b.example", "password": "x"}
    for path in ("/api/auth/signin", "/api/auth/signout", "/api/console/signin"):
        response = bare.post(path, data=form, headers={"origin": "http://evil.example"})
        assert response.status_code == 403, path
        assert response.json() == {"error": CROSS_ORIGIN_REFUSED}
        assert "location" not in response.headers


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("evil.example", None),
        ("evil.example", "http://evil.example"),
        ("localhost:3000", "https://evil.example"),
        ("localhost:3000", "null"),
    ],
)
def test_a_websocket_from_another_site_or_host_never_opens(host: str, origin: str | None) -> None:
    client = TestClient(_served(), base_url=PUBLIC)
    headers = {"host": host} | ({"origin": origin} if origin else {})
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/_event", headers=headers),
    ):
        pass
    assert refused.value.code == 1008


@pytest.mark.parametrize("origin", [PUBLIC, "http://127.0.0.1:3000", None])
def test_the_apps_own_pages_open_the_websocket(origin: str | None) -> None:
    client = TestClient(_served(), base_url=PUBLIC)
    headers = {"host": "localhost:3000"} | (
        {"origin": origin} if origin else {}
    )  # scripts send none
    with client.websocket_connect("/_event", headers=headers) as ws:
        assert ws.receive_text() == "hello"
