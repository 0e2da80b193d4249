"""Unwrapped data keys, in this process's memory only, each for at most PMS_KEY_CACHE_SECONDS
from its unwrap (a hard maximum age, not an idle timeout: a revoked key stops working within
it however busy the tenant is). Never written to the database, logs, Reflex state, Redis or
exports; `forget` drops a tenant's keys at once (key switched, rotated or deleted)."""

from __future__ import annotations

import threading
import time
import uuid

from pms_dashboard.settings import get_settings

_KEYS: dict[tuple[uuid.UUID, int], tuple[bytes, float]] = {}
_LOCK = threading.Lock()


def get(tenant_id: uuid.UUID, version: int) -> bytes | None:
    """The cached data key, or None when absent or older than the maximum age."""
    with _LOCK:
        found = _KEYS.get((tenant_id, version))
        if found is None:
            return None
        if time.monotonic() - found[1] >= get_settings().key_cache_seconds:
            del _KEYS[(tenant_id, version)]
            return None
        return found[0]


def put(tenant_id: uuid.UUID, version: int, key: bytes) -> None:
    """Remember a data key unwrapped just now (not at all when the maximum age is 0)."""
    if get_settings().key_cache_seconds <= 0:
        return
    with _LOCK:
        _KEYS[(tenant_id, version)] = (key, time.monotonic())


def forget(tenant_id: uuid.UUID | None = None) -> None:
    """Drop one tenant's cached keys (every tenant's when None)."""
    with _LOCK:
        for k in [k for k in _KEYS if tenant_id is None or k[0] == tenant_id]:
            del _KEYS[k]


def cached_count(tenant_id: uuid.UUID) -> int:
    """How many of the tenant's data keys this process holds (for the status page)."""
    with _LOCK:
        return sum(1 for t, _ in _KEYS if t == tenant_id)
