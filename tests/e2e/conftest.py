"""Browser tests: the real app in production mode on a free port — two worker processes
whose Reflex state lives in Debian's redis-server — driven by Debian's Chromium through
Playwright. The app uses the same test database as the other tests."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pms_dashboard.settings import PROJECT_ROOT, get_settings

CHROMIUM = os.environ.get("PMS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 420  # first build in a fresh clone installs the frontend packages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REDIS_SERVER = os.environ.get("PMS_REDIS_SERVER", "/usr/bin/redis-server")
WORKERS = 2  # several worker processes, their Reflex state in Redis: the scale-out set-up


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, no persistence, for the session."""
    if not Path(REDIS_SERVER).exists():
        pytest.fail(f"{REDIS_SERVER} is missing: run `make test` (it installs Debian's redis)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def _app_env(port: int, redis: str) -> dict[str, str]:
    settings = get_settings()
    arch = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x64"
    bun = PROJECT_ROOT / f".tools/bun/node_modules/@oven/bun-linux-{arch}/bin/bun"
    env = dict(os.environ)
    env.setdefault("REFLEX_BUN_PATH", str(bun))
    env.update(
        {
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "REFLEX_STATE_MANAGER_MODE": "redis",
            "REFLEX_REDIS_URL": redis,
            "GRANIAN_WORKERS": str(WORKERS),
            "PMS_ENV": "test",
            "PMS_EMBEDDED_DB": settings.embedded_db_name,
            "PMS_PUBLIC_URL": f"http://localhost:{port}",
        }
    )
    return env


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            # the backend answers /ping; the sign-in page proves the frontend is served too
            for path in ("/ping", "/signin/"):
                with urllib.request.urlopen(f"{url}{path}", timeout=5):  # noqa: S310 (loopback)
                    pass
            return
        except OSError:
            time.sleep(1)
    pytest.fail(f"app did not start in {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def app_url(
    database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app, built and served in production mode by several workers sharing their
    state in Redis (as a scaled-out deployment runs), for the whole session."""
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reflex",
                "run",
                "--env",
                "prod",
                "--frontend-port",
                str(port),
                "--backend-port",
                str(port),
            ],
            cwd=PROJECT_ROOT,
            env=_app_env(port, redis_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://localhost:{port}"
    try:
        _wait_until_up(url, proc, log)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


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
