"""Scale-out: the app runs as two worker processes whose Reflex state lives in Redis (see
conftest). One signed-in person is served by both workers, their requests landing on either
of them, and their pages keep working across them."""

from __future__ import annotations

import httpx
import pytest

from pms_dashboard.auth.cookies import SESSION_COOKIE
from pms_dashboard.seed import seed_demo
from tests.e2e.conftest import WORKERS
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


def test_two_workers_serve_one_signed_in_person(page, browser, app_url, demo) -> None:
    sign_in(page, app_url, "acme", "maria.manager@acme.example")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    served_by = set()
    for _ in range(40):  # a new connection each time, as the browser opens them
        with httpx.Client(base_url=app_url, cookies={SESSION_COOKIE: token}) as client:
            response = client.get("/api/auth/me")
        assert response.status_code == 200
        assert response.json()["email"] == "maria.manager@acme.example"
        served_by.add(response.headers["x-served-by"])
    assert len(served_by) == WORKERS, served_by

    # Pages and their websocket events, on whichever worker each new connection lands. A
    # browser keeps its connection to a server alive between pages, so each load opens in a
    # fresh browser context (new connections) holding the same session cookie; loads go on
    # until both workers have served pages (at least each page twice, at most 32 loads).
    pages = [
        ("/goals?scope=all", ".goal-row"),
        ("/overview", "#stat-total"),
        ("/people", "#people-table"),
        ("/goals?scope=team", ".goal-row"),
    ]
    pages_by: set[str | None] = set()
    for load in range(32):
        if load >= 2 * len(pages) and len(pages_by) == WORKERS:
            break
        path, marker = pages[load % len(pages)]
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": app_url}])
            fresh = context.new_page()
            response = fresh.goto(f"{app_url}{path}")
            assert response is not None and response.ok
            pages_by.add(response.headers.get("x-served-by"))
            fresh.wait_for_selector(marker)
            fresh.wait_for_selector("text=Acme Corp")
        finally:
            context.close()
    assert len(pages_by) == WORKERS, pages_by
