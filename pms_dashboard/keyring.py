"""The installation's generated secrets: session-signing keys (each with a key id, so they
can be rotated), the data key that encrypts stored secrets, and the runtime database roles'
passwords.

They live in one JSON file (`<data_dir>/secrets.json`, or PMS_SECRETS_FILE), mode 0600,
created on first use with random values and reused afterwards, so no secret is ever a value
published with the project. The file is written atomically (a complete temporary file
linked or renamed into place), so a process never reads half of it, and rotations are
serialised by a lock file. Processes re-read it when it changes on disk, so a rotation
reaches running servers without a restart.

Environment variables win when set (SECRET_KEY, PMS_APP_DB_PASSWORD,
PMS_AUDITOR_DB_PASSWORD): an operator who sets them owns them, and a SECRET_KEY from the
environment is the only signing key (the file's keys are not used then). No value of this
file is ever printed or logged.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE, Settings, get_settings

FILE_MODE = 0o600
FORMAT_VERSION = 1
_KEY_BYTES = 48  # 384 bits: above the 256 HS256 wants


class KeyringError(RuntimeError):
    """The keyring cannot be used as it is; the message says why (never a secret)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One session-signing key; `retired_at` is set when a newer key replaced it."""

    kid: str
    key: str
    created_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Keyring:
    """The contents of the keyring file."""

    signing_keys: tuple[SigningKey, ...]
    data_key: str
    db_passwords: dict[str, str]

    @property
    def current(self) -> SigningKey:
        """The key new tokens are signed with (the newest one not retired)."""
        return [k for k in self.signing_keys if k.retired_at is None][-1]


# ------------------------------------------------------------------ the file on disk


def _now() -> datetime:
    return datetime.now(UTC)


def _new_signing_key(now: datetime) -> SigningKey:
    return SigningKey(
        kid=secrets.token_hex(8), key=secrets.token_urlsafe(_KEY_BYTES), created_at=now
    )


def _new_keyring() -> Keyring:
    return Keyring(
        signing_keys=(_new_signing_key(_now()),),
        data_key=secrets.token_urlsafe(_KEY_BYTES),
        db_passwords={role: secrets.token_urlsafe(24) for role in (APP_ROLE, AUDITOR_ROLE)},
    )


def _dump(ring: Keyring) -> str:
    return json.dumps(
        {
            "version": FORMAT_VERSION,
            "signing_keys": [
                {
                    "kid": k.kid,
                    "key": k.key,
                    "created_at": k.created_at.isoformat(),
                    "retired_at": k.retired_at.isoformat() if k.retired_at else None,
                }
                for k in ring.signing_keys
            ],
            "data_key": ring.data_key,
            "db_passwords": ring.db_passwords,
        },
        indent=2,
    )


def _parse(text: str, path: Path) -> Keyring:
    """The keyring in `text`, or KeyringError naming the file (never its content)."""
    try:
        raw: Any = json.loads(text)
        if raw.get("version") != FORMAT_VERSION:
            raise ValueError("unknown version")
        keys = tuple(
            SigningKey(
                kid=str(k["kid"]),
                key=str(k["key"]),
                created_at=datetime.fromisoformat(k["created_at"]),
                retired_at=datetime.fromisoformat(k["retired_at"]) if k["retired_at"] else None,
            )
            for k in raw["signing_keys"]
        )
        passwords = {role: str(raw["db_passwords"][role]) for role in (APP_ROLE, AUDITOR_ROLE)}
        ring = Keyring(signing_keys=keys, data_key=str(raw["data_key"]), db_passwords=passwords)
        if not any(k.retired_at is None for k in keys):
            raise ValueError("no current signing key")
        if min(len(k.key) for k in keys) < 32 or len(ring.data_key) < 32:
            raise ValueError("a key is too short")
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise KeyringError(
            f"the keyring {path} is not readable ({type(err).__name__}); restore it from a"
            " backup (deleting it makes new secrets: every session ends, stored secrets"
            " become unreadable and `cli db upgrade` must set the roles' passwords again)"
        ) from None
    return ring


def _write_all(fd: int, text: str) -> None:
    """Write `text` to the open file and make it durable before anyone is pointed at it."""
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _write_new(path: Path, text: str) -> Path:
    """A complete temporary file with `text`, mode 0600, next to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        _write_all(fd, text)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _create(path: Path) -> bool:
    """Create the keyring with fresh random values unless it exists; True if created now.
    Linking a complete file into place is atomic and never replaces one that another
    process created first."""
    text = _dump(_new_keyring())
    tmp = _write_new(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive creation instead
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return False
        _write_all(fd, text)
    finally:
        tmp.unlink(missing_ok=True)
    return True


_CACHE: dict[Path, tuple[tuple[int, int, int], Keyring]] = {}
_CACHE_LOCK = threading.Lock()


def _read(path: Path) -> Keyring:
    """The keyring at `path` (created on first use), re-read whenever the file changed."""
    try:
        info = path.stat()
    except FileNotFoundError:
        _create(path)
        info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise KeyringError(
            f"the keyring {path} may be read by other users; run `chmod 600 {path}`"
            " (and consider its secrets leaked if others did read it)"
        )
    signature = (info.st_ino, info.st_mtime_ns, info.st_size)
    with _CACHE_LOCK:
        cached = _CACHE.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
    ring = _parse(path.read_text(), path)
    with _CACHE_LOCK:
        _CACHE[path] = (signature, ring)
    return ring


def _path(settings: Settings | None) -> Path:
    return (settings or get_settings()).keyring_path


def load(settings: Settings | None = None) -> Keyring:
    """The installation's keyring (generated on first use)."""
    return _read(_path(settings))


def ensure(settings: Settings | None = None) -> bool:
    """Make sure the keyring exists and is usable; True if it was generated just now."""
    path = _path(settings)
    created = not path.exists() and _create(path)
    _read(path)
    return created


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise writers of one keyring (across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def rotate(*, keep_retired_for: timedelta, settings: Settings | None = None) -> SigningKey:
    """Add a new current signing key; the previous one is retired (still accepted for
    tokens it signed until they expire), and keys retired longer than `keep_retired_for`
    ago (every token they signed has expired) are dropped. Returns the new key."""
    s = settings or get_settings()
    if s.secret_key is not None:
        raise KeyringError(
            "SECRET_KEY is set in the environment, so it signs every session and the"
            " keyring's keys are not used; unset it to rotate generated keys with this"
            " command (changing SECRET_KEY itself ends every session signed with the old one)"
        )
    path = s.keyring_path
    with _locked(path):
        ring = _read(path)
        now = _now()
        kept = tuple(
            k if k.retired_at is not None else replace(k, retired_at=now)
            for k in ring.signing_keys
            if k.retired_at is None or now - k.retired_at < keep_retired_for
        )
        new = _new_signing_key(now)
        tmp = _write_new(path, _dump(replace(ring, signing_keys=(*kept, new))))
        os.replace(tmp, path)
    return new


# ---------------------------------------------------------- the values the app uses


def _env_kid(key: str) -> str:
    """A stable key id for a SECRET_KEY from the environment (a hash, never the key)."""
    return "env-" + hashlib.sha256(b"pms-kid:" + key.encode()).hexdigest()[:16]


def signing_keys(settings: Settings | None = None) -> tuple[SigningKey, ...]:
    """Every signing key in force, the current one last: SECRET_KEY alone when it is set,
    else the keyring's keys."""
    s = settings or get_settings()
    if s.secret_key is not None:
        epoch = datetime.fromtimestamp(0, UTC)
        return (SigningKey(kid=_env_kid(s.secret_key), key=s.secret_key, created_at=epoch),)
    return load(s).signing_keys


def data_key(settings: Settings | None = None) -> bytes:
    """The secret that the keys of stored secrets are derived from: SECRET_KEY when set
    (as it always was), else the keyring's own data key, which rotation never changes."""
    s = settings or get_settings()
    return (s.secret_key or load(s).data_key).encode()


def db_password(role: str, settings: Settings | None = None) -> str:
    """The password of a runtime role: its environment variable when set, else the
    keyring's."""
    s = settings or get_settings()
    given = {APP_ROLE: s.app_db_password, AUDITOR_ROLE: s.auditor_db_password}[role]
    return given if given is not None else load(s).db_passwords[role]


def describe_path(settings: Settings | None = None) -> str:
    """The keyring's path as people read it: relative to the working folder when inside it."""
    path = (settings or get_settings()).keyring_path
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _given(s: Settings) -> dict[str, bool]:
    """Which secrets the environment gives (True) and which the keyring must (False)."""
    return {
        "SECRET_KEY": s.secret_key is not None,
        "PMS_APP_DB_PASSWORD": s.app_db_password is not None,
        "PMS_AUDITOR_DB_PASSWORD": s.auditor_db_password is not None,
    }


def needed(settings: Settings | None = None) -> bool:
    """Whether any secret comes from the keyring (else it is never created)."""
    return not all(_given(settings or get_settings()).values())


def describe_mode(*notes: str, settings: Settings | None = None) -> str:
    """The mode this process runs in and where its secrets come from, in one line, e.g.
    "Mode: development (demo data, generated secrets in .pms/secrets.json)"."""
    s = settings or get_settings()
    from_env = [name for name, given in _given(s).items() if given]
    if not needed(s):
        sources = "secrets from the environment"
    else:
        sources = f"generated secrets in {describe_path(s)}" + (
            f", {', '.join(from_env)} from the environment" if from_env else ""
        )
    return f"Mode: {s.env} ({', '.join([*notes, sources])})"
