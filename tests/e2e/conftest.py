"""Browser tests: the real app in production mode on a free port — two worker processes
whose Reflex state lives in Debian's redis-server — driven by Debian's Chromium through
Playwright. The app uses the same test database as the other tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app_process import CHROMIUM, CHROMIUM_ARGS, AppDidNotStart, running_app, running_redis
from tests.dns_server import DnsServer, running_dns

WORKERS = 2  # several worker processes, their Reflex state in Redis: the scale-out set-up


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, no persistence, for the session."""
    try:
        with running_redis(tmp_path_factory.mktemp("redis")) as url:
            yield url
    except AppDidNotStart as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """A DNS server on loopback that the app asks for SSO domain proofs (PMS_DNS_RESOLVER
    in the app's environment); tests put TXT records in it."""
    with running_dns() as server:
        os.environ["PMS_DNS_RESOLVER"] = server.address
        yield server
        os.environ.pop("PMS_DNS_RESOLVER", None)


@pytest.fixture(scope="session")
def app_url(
    database: str, redis_url: str, dns_server: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app, built and served in production mode by several workers sharing their
    state in Redis (as a scaled-out deployment runs), for the whole session."""
    log = tmp_path_factory.mktemp("app") / "app.log"
    try:
        with running_app(log, redis=redis_url, workers=WORKERS) as url:
            yield url
    except AppDidNotStart as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium (Playwright's own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        if os.environ.get("PMS_SKIP_BROWSER") == "1":
            pytest.skip("PMS_SKIP_BROWSER=1 and no chromium")
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


@pytest.fixture
def window(browser) -> Iterator[Callable[[dict[str, int]], Any]]:
    """Opens a fresh page in a window of the given size (each its own context, without
    cookies), closed after the test."""
    contexts: list[Any] = []

    def open_page(viewport: dict[str, int]) -> Any:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        return pg

    yield open_page
    for context in contexts:
        context.close()
