"""No published secret is ever used: the keyring (generated, private, kept), the refusal of
the once-published development defaults in every mode, a server run with `make run`'s
settings refusing tokens signed with them, the runtime roles' passwords, and signing-key
rotation (old sessions live until they expire; new tokens carry the new key id)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest
from joserfc import jws, jwt
from joserfc.jwk import OctKey
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from pms_dashboard import cli, keyring
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth import service, tokens
from pms_dashboard.auth.cookies import CONSOLE_COOKIE, SESSION_COOKIE
from pms_dashboard.console import routes as console_routes
from pms_dashboard.db import engine as db_engine
from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE, PROJECT_ROOT, Settings, get_settings
from tests.app_process import free_port
from tests.conftest import TEST_PASSWORD, TenantFixture, create_console_admin

MakeTenant = Callable[..., TenantFixture]
# What this project once published as development defaults (kept here on purpose: these
# are exactly the values an attacker would try).
PUBLISHED = (
    "dev-only-secret-key-change-me-0000000000000000",
    "dev-only-pms-app",
    "dev-only-pms-auditor",
)
SECRET_VARS = ("SECRET_KEY", "PMS_APP_DB_PASSWORD", "PMS_AUDITOR_DB_PASSWORD", "PMS_SECRETS_FILE")


@pytest.fixture
def set_env() -> Iterator[Callable[..., None]]:
    """Change environment variables (None: unset) for one test and re-read the settings;
    everything is put back afterwards."""
    saved: dict[str, str | None] = {}

    def change(**values: str | None) -> None:
        for name, value in values.items():
            saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()

    yield change
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


@pytest.fixture
def own_keyring(tmp_path: Path, set_env: Callable[..., None]) -> Path:
    """A copy of the test installation's keyring (same role passwords, so the database still
    answers) that this test may rotate without touching anyone else's."""
    source = get_settings().keyring_path
    keyring.ensure()
    copy = tmp_path / "secrets.json"
    copy.write_bytes(source.read_bytes())
    copy.chmod(0o600)
    set_env(PMS_SECRETS_FILE=str(copy))
    return copy


def _sign_in(t: TenantFixture, key: str = "admin") -> service.SignedIn:
    return auth_routes.sign_in_with_password(
        slug=t.slug, email=f"{key}@{t.slug}.test", password=TEST_PASSWORD
    )


def token_kid(token: str) -> str | None:
    """The key id a token's header names (read, not verified)."""
    return jws.extract_compact(token.encode()).headers().get("kid")


def forge(payload: dict, key: str, kid: str | None) -> str:
    header = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid is not None else {})
    return jwt.encode(header, payload, OctKey.import_key(key.encode()), algorithms=["HS256"])


def tenant_payload(signed: service.SignedIn) -> dict:
    p = signed.principal
    return {
        "iss": tokens.ISSUER,
        "sub": str(p.user_id),
        "tid": str(p.tenant_id),
        "role": p.role,
        "sid": str(p.session_id),
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
    }


# ------------------------------------------------------------------------ the keyring


def test_the_keyring_is_generated_once_private_and_kept(
    tmp_path: Path, set_env: Callable[..., None]
) -> None:
    path = tmp_path / "fresh" / "secrets.json"
    set_env(PMS_SECRETS_FILE=str(path), SECRET_KEY=None)
    assert not path.exists()
    assert keyring.ensure() is True
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    first = keyring.load()
    assert keyring.ensure() is False  # the second run reuses it
    keyring._CACHE.clear()  # as a restarted process would: read from disk again
    again = keyring.load()
    assert again == first
    values = [first.current.key, first.data_key, *first.db_passwords.values()]
    assert len(set(values)) == len(values) and not set(values) & set(PUBLISHED)
    assert all(len(v) >= 32 for v in values)
    assert not list(path.parent.glob("*.tmp"))  # no stray temporary files


def test_processes_starting_together_share_one_keyring(
    tmp_path: Path, set_env: Callable[..., None]
) -> None:
    path = tmp_path / "secrets.json"
    set_env(PMS_SECRETS_FILE=str(path), SECRET_KEY=None)
    seen: list[str] = []
    start = threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        seen.append(keyring.load().current.kid)

    workers = [threading.Thread(target=first_use) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(seen) == 8 and len(set(seen)) == 1
    assert keyring.load().current.kid == seen[0]


def test_without_hard_links_the_keyring_is_still_created_once_and_private(
    tmp_path: Path, set_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_args: object) -> None:
        raise PermissionError(errno.EPERM, "hard links are not supported here")

    monkeypatch.setattr(keyring.os, "link", no_links)
    path = tmp_path / "secrets.json"
    set_env(PMS_SECRETS_FILE=str(path), SECRET_KEY=None)
    assert keyring.ensure() is True and keyring.ensure() is False
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not list(tmp_path.glob("*.tmp"))


def test_a_keyring_others_may_read_is_refused(tmp_path: Path, set_env: Callable[..., None]) -> None:
    path = tmp_path / "secrets.json"
    set_env(PMS_SECRETS_FILE=str(path), SECRET_KEY=None)
    keyring.ensure()
    path.chmod(0o644)
    with pytest.raises(keyring.KeyringError, match="chmod 600"):
        keyring.load()
    assert cli.main(["secrets", "status"]) == 2


def test_a_damaged_keyring_is_refused_without_showing_it(
    tmp_path: Path, set_env: Callable[..., None]
) -> None:
    path = tmp_path / "secrets.json"
    set_env(PMS_SECRETS_FILE=str(path), SECRET_KEY=None)
    path.write_text('{"version": 1, "signing_keys": "half-a-secret')
    path.chmod(0o600)
    with pytest.raises(keyring.KeyringError, match="not readable") as err:
        keyring.load()
    assert "half-a-secret" not in str(err.value)


@pytest.mark.parametrize("mode", ["development", "test", "production"])
@pytest.mark.parametrize("name", SECRET_VARS[:3])
@pytest.mark.parametrize("value", PUBLISHED)
def test_published_defaults_are_refused_in_every_mode(
    set_env: Callable[..., None], mode: str, name: str, value: str
) -> None:
    set_env(PMS_ENV=mode, DATABASE_URL="postgresql://owner@db.invalid/pms", **{name: value})
    if name == "SECRET_KEY" and len(value) < 32:
        with pytest.raises(ValidationError):
            Settings(_env_file=None)  # type: ignore[call-arg]
        return
    with pytest.raises(ValidationError, match="published with this project"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_production_needs_its_database_but_no_default_secret(
    set_env: Callable[..., None],
) -> None:
    set_env(PMS_ENV="production", DATABASE_URL=None, SECRET_KEY=None)
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    set_env(DATABASE_URL="postgresql://owner@db.invalid/pms")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.secret_key is None  # the generated keyring signs


# ------------------------------------------------------- a server run like `make run`


def _make_run_env() -> dict[str, str]:
    """The environment of `make run`: PMS_ENV unset (development), no secret given, the
    installation's data folder (this test database, so the sessions are real)."""
    s = get_settings()
    env = {k: v for k, v in os.environ.items() if k not in ("PMS_ENV", *SECRET_VARS)}
    env |= {
        "PMS_DATA_DIR": str(s.data_dir),
        "PMS_EMBEDDED_PORT": str(s.embedded_port),
        "PMS_EMBEDDED_DB": s.embedded_db_name,
    }
    if s.database_url:
        env["DATABASE_URL"] = s.database_url
    return env


@pytest.fixture(scope="module")
def make_run_server() -> Iterator[str]:
    """The app's HTTP routes (those `make run` serves) in a process of their own, started
    with `make run`'s settings; yields its URL."""
    port = free_port()
    env = _make_run_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pms_dashboard.pms_dashboard:api",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/auth/me", timeout=2).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"the server did not start:\n{out[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def test_make_run_states_its_mode() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "pms_dashboard.cli", "demo-signins", "--url", "http://x"],
        cwd=PROJECT_ROOT, env=_make_run_env(), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    first = shown.splitlines()[0]
    assert first.startswith("Mode: development (demo data, generated secrets in ")
    assert first.endswith("secrets.json)")


def test_a_make_run_server_refuses_tokens_signed_with_any_published_default(
    make_tenant: MakeTenant, make_run_server: str
) -> None:
    t = make_tenant()
    signed = _sign_in(t)
    payload = tenant_payload(signed)
    real_kid = token_kid(signed.token)
    paths = [f"/api/{p}" for p in ("auth/me", "export/audit.csv", "export/goals.csv")]
    paths.append("/api/export/people.csv")

    def status(path: str, token: str, cookie: str = SESSION_COOKIE) -> int:
        # generous: the console export reads every database the test run has made
        return httpx.get(
            f"{make_run_server}{path}", cookies={cookie: token}, timeout=60
        ).status_code

    # the real token works there (same keyring): the refusals below are about the key
    assert [status(p, signed.token) for p in paths] == [200] * len(paths)
    for value in PUBLISHED:
        for kid in (None, real_kid, "dev"):
            forged = forge(payload, value, kid)
            assert [status(p, forged) for p in paths] == [401] * len(paths), (value, kid)
    # and for the console: a super-admin's real session, a forged console token
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password="x" * 20
    )
    admin = console_routes.sign_in_with_code(
        email=new.email, password="x" * 20, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    console_payload = {
        "iss": tokens.CONSOLE_ISSUER,
        "sub": str(admin.admin.admin_id),
        "sid": str(admin.admin.session_id),
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    path = "/api/console/export/audit.csv?action=nothing.matches"
    assert status(path, admin.token, CONSOLE_COOKIE) == 200
    for value in PUBLISHED:
        for kid in (None, token_kid(admin.token)):
            assert status(path, forge(console_payload, value, kid), CONSOLE_COOKIE) == 401


def test_the_runtime_roles_refuse_the_published_passwords() -> None:
    """`cli db upgrade` (run by the test set-up) set the keyring's passwords on the roles."""
    owner = make_url(db_engine.owner_url())

    def log_in(role: str, password: str) -> bool:
        try:
            with psycopg.connect(
                host=owner.host, port=owner.port, dbname=owner.database, user=role,
                password=password, connect_timeout=5,
            ):  # fmt: skip
                return True
        except psycopg.OperationalError:
            return False

    for role in (APP_ROLE, AUDITOR_ROLE):
        assert log_in(role, keyring.db_password(role))
        assert not any(log_in(role, value) for value in PUBLISHED), role


# ------------------------------------------------------------------------- rotation


def _rotate_in_another_process() -> str:
    """`python -m pms_dashboard.cli secrets rotate`, as an operator runs it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "pms_dashboard.cli", "secrets", "rotate"],
        cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_rotation_keeps_old_sessions_and_signs_new_ones_with_the_new_key(
    make_tenant: MakeTenant, own_keyring: Path
) -> None:
    t = make_tenant()
    before = _sign_in(t, "manager")
    old_kid = token_kid(before.token)
    assert old_kid == keyring.load().current.kid

    output = _rotate_in_another_process()  # this process is not restarted
    ring = keyring.load()
    assert ring.current.kid != old_kid and ring.current.kid in output
    assert not any(k.key in output for k in ring.signing_keys)  # never a key
    assert ring.data_key not in output

    after = _sign_in(t, "emp1")
    assert token_kid(after.token) == ring.current.kid
    assert auth_routes.authenticate(before.token) is not None  # signed before: still valid
    assert auth_routes.authenticate(after.token) is not None
    # a token of the old key made now is not a way around the rotation for the current kid
    retired = next(k for k in ring.signing_keys if k.kid == old_kid)
    assert retired.retired_at is not None
    assert (
        auth_routes.authenticate(forge(tenant_payload(after), retired.key, ring.current.kid))
        is None
    )
    assert oct(own_keyring.stat().st_mode & 0o777) == "0o600"


def test_a_key_retired_longer_than_a_session_lifetime_is_refused_then_dropped(
    make_tenant: MakeTenant, own_keyring: Path
) -> None:
    t = make_tenant()
    old = _sign_in(t, "manager")
    old_kid = token_kid(old.token)
    keyring.rotate(keep_retired_for=tokens.session_lifetime())
    assert auth_routes.authenticate(old.token) is not None

    # the rotation happened a session lifetime (and a minute) ago
    doc = json.loads(own_keyring.read_text())
    long_ago = datetime.now(UTC) - tokens.session_lifetime() - timedelta(minutes=1)
    for k in doc["signing_keys"]:
        if k["kid"] == old_kid:
            k["retired_at"] = long_ago.isoformat()
    own_keyring.write_text(json.dumps(doc))
    assert auth_routes.authenticate(old.token) is None  # its key no longer verifies anything
    old_key = next(k["key"] for k in doc["signing_keys"] if k["kid"] == old_kid)
    assert auth_routes.authenticate(forge(tenant_payload(old), old_key, old_kid)) is None

    keyring.rotate(keep_retired_for=tokens.session_lifetime())
    assert old_kid not in {k.kid for k in keyring.load().signing_keys}


def test_tokens_name_their_key_and_an_unknown_or_missing_kid_is_refused(
    make_tenant: MakeTenant, own_keyring: Path
) -> None:
    signed = _sign_in(make_tenant(), "manager")
    current = keyring.load().current
    assert token_kid(signed.token) == current.kid
    payload = tenant_payload(signed)
    assert auth_routes.authenticate(forge(payload, current.key, current.kid)) is not None
    assert auth_routes.authenticate(forge(payload, current.key, None)) is None
    assert auth_routes.authenticate(forge(payload, current.key, "0123456789abcdef")) is None


def test_console_sessions_survive_a_rotation(own_keyring: Path) -> None:
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password="x" * 20
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password="x" * 20, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    keyring.rotate(keep_retired_for=tokens.session_lifetime())
    assert console_routes.authenticate(signed.token) is not None


def test_rotate_refuses_while_secret_key_comes_from_the_environment(
    own_keyring: Path, set_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    before = own_keyring.read_bytes()
    set_env(SECRET_KEY="an-operators-own-secret-key-of-sufficient-length")
    assert cli.main(["secrets", "rotate"]) == 2
    assert "SECRET_KEY is set in the environment" in capsys.readouterr().err
    assert own_keyring.read_bytes() == before
    # and that key, with its own kid, is the one tokens carry
    assert keyring.signing_keys()[-1].kid.startswith("env-")


def test_secrets_status_lists_kids_and_ages_never_keys(
    own_keyring: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring.rotate(keep_retired_for=tokens.session_lifetime())
    assert cli.main(["secrets", "status"]) == 0
    shown = capsys.readouterr().out
    ring = keyring.load()
    assert all(k.kid in shown for k in ring.signing_keys)
    assert "current" in shown and "still verifies" in shown
    assert not any(k.key in shown for k in ring.signing_keys)
