"""The production app as a separate process, for the browser tests and the page benchmark:
a free port, its environment (state in Redis when given, several workers), start, wait
until pages are served, stop. Also the Chromium they drive."""

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
from contextlib import contextmanager
from pathlib import Path

from pms_dashboard.settings import PROJECT_ROOT, get_settings

CHROMIUM = os.environ.get("PMS_CHROMIUM", "/usr/bin/chromium")
REDIS_SERVER = os.environ.get("PMS_REDIS_SERVER", "/usr/bin/redis-server")
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


class AppDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(port: int, *, redis: str | None = None, workers: int = 1) -> dict[str, str]:
    settings = get_settings()
    arch = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x64"
    bun = PROJECT_ROOT / f".tools/bun/node_modules/@oven/bun-linux-{arch}/bin/bun"
    env = dict(os.environ)
    env.setdefault("REFLEX_BUN_PATH", str(bun))
    env.update(
        {
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "REFLEX_STATE_MANAGER_MODE": "redis" if redis else "memory",
            "GRANIAN_WORKERS": str(workers),
            "PMS_ENV": "test",
            "PMS_EMBEDDED_DB": settings.embedded_db_name,
            "PMS_PUBLIC_URL": f"http://localhost:{port}",
        }
    )
    if redis:
        env["REFLEX_REDIS_URL"] = redis
    return env


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AppDidNotStart(f"app exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            # the backend answers /ping; the sign-in page proves the frontend is served too
            for path in ("/ping", "/signin/"):
                with urllib.request.urlopen(f"{url}{path}", timeout=5):  # noqa: S310 (loopback)
                    pass
            return
        except OSError:
            time.sleep(1)
    raise AppDidNotStart(f"app did not start in {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


@contextmanager
def running_app(log: Path, *, redis: str | None = None, workers: int = 1) -> Iterator[str]:
    """`reflex run --env prod` on a free port (pages and API on one port); yields its URL."""
    with app_process(log, redis=redis, workers=workers) as (url, _pid):
        yield url


@contextmanager
def app_process(
    log: Path, *, redis: str | None = None, workers: int = 1
) -> Iterator[tuple[str, int]]:
    """`running_app`, also yielding the PID of the server process (its workers are its
    descendants), for measuring their memory."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reflex", "run", "--env", "prod",
             "--frontend-port", str(port), "--backend-port", str(port)],
            cwd=PROJECT_ROOT, env=app_env(port, redis=redis, workers=workers),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://localhost:{port}"
    try:
        _wait_until_up(url, proc, log)
        yield url, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, no persistence; yields its URL."""
    if not Path(REDIS_SERVER).exists():
        raise AppDidNotStart(f"{REDIS_SERVER} is missing: run `make test` (it installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
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
                raise AppDidNotStart("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
