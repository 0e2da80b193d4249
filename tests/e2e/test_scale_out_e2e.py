"""Scale-out: the app runs as two worker processes whose Reflex state lives in Redis (see
conftest). One signed-in person is served by both workers, their requests landing on either
of them, and their pages keep working across them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bench import load as tabs
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


def _worker(tab: tabs.Tab) -> str:
    """The process at the server's end of the tab's websocket: the socket whose local port is
    the app's and whose peer is the tab's (the kernel's tables), and the process holding it."""
    mine = tab.sio.eio.ws.get_extra_info("sockname")[1]
    server = urlsplit(tab.url).port
    inodes = {
        fields[9]
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        for fields in (line.split() for line in Path(table).read_text().splitlines()[1:])
        if int(fields[1].rsplit(":", 1)[1], 16) == server
        and int(fields[2].rsplit(":", 1)[1], 16) == mine
    }
    assert len(inodes) == 1, inodes
    wanted = f"socket:[{inodes.pop()}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == wanted
                   for fd in os.listdir(f"/proc/{pid}/fd")):  # fmt: skip
                return pid
    raise AssertionError(f"no process holds the server's end of port {mine}")


def test_a_tabs_state_follows_it_from_worker_to_worker(app_url, demo) -> None:
    """A worker keeps the state of a tab it serves in memory while it holds the tab's lock
    (rxconfig: the opportunistic lock). A reload of the same tab (same tab id) may land on
    the other worker: what it finds there must be what the tab did last, wherever that was.
    Each load's first delta is the state as the server held it, before the page's on_load;
    the tab then sets a status filter that differs from the last one, and the next load,
    on whichever worker, must find it."""
    person = tabs.person("acme", "priya.nair@acme.example")
    cookie = tabs.sign_in(app_url, person)
    token = str(uuid.uuid4())
    statuses = ["active", "completed", "draft", "archived"]

    async def drive() -> list[tuple[str, str | None, str | None]]:
        names = tabs._names()
        loads: list[tuple[str, str | None, str | None]] = []  # worker, found, set before
        last = None
        for turn in range(40):
            tab = tabs.Tab(app_url, person, cookie, names, token=token)
            await tab.connect("/goals/")
            try:
                found = tab.snapshot.get(names["goals"], {}).get("status_rx_state_")
                loads.append((_worker(tab), found, last))
                last = statuses[turn % len(statuses)]
                merged = await tab.click("goals", "filter_status", {"status": last}, "rows")
                assert merged[names["goals"]]["status_rx_state_"] == last
            finally:
                await tab.close()
            moves = sum(a[0] != b[0] for a, b in itertools.pairwise(loads))
            if turn >= 8 and moves >= 3:
                break
        return loads

    with ThreadPoolExecutor(1) as pool:
        loads = pool.submit(asyncio.run, drive()).result()
    moves = sum(a[0] != b[0] for a, b in itertools.pairwise(loads))
    assert len({worker for worker, _, _ in loads}) == WORKERS and moves >= 3, loads
    # the first load finds a new tab; every later one what the tab set last, on any worker
    assert [found for _, found, _ in loads[1:]] == [last for _, _, last in loads[1:]], loads
