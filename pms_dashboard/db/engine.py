"""Database URLs and engines for the three roles, on every cluster and database.

- owner: whatever the region's URL connects as (or the embedded `pms_owner`); runs
  migrations, seeding, provisioning and platform administration. Never serves a request.
- `pms_app`: the web app's only runtime role; subject to row-level security.
- `pms_auditor`: the super-admin console's role; subject to its own policies.

Engines (connection pools) are kept per (server, database, role). The pools of the regions'
pool databases (pool and schema tenants, the catalog) live as long as the process; those of
database-tier tenants are bounded: at most `PMS_MAX_ENGINES`, the least recently used
disposed first, and one idle for `PMS_ENGINE_IDLE_SECONDS` disposed at the next look-up, so
a thousand tenant databases never hold a thousand pools. Nothing about a tenant is kept in
an engine: the tenant context is set per transaction (`pms_dashboard.tenancy.session`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from pms_dashboard.db import clusters
from pms_dashboard.db.embedded import EmbeddedCluster
from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE, Settings, get_settings

OWNER = "owner"


def embedded_cluster(settings: Settings | None = None) -> EmbeddedCluster:
    """The home region's embedded cluster."""
    return clusters.embedded_cluster_of(clusters.home_region(settings), settings)


def owner_url(settings: Settings | None = None) -> str:
    """SQLAlchemy URL of the owner role on the home database (the catalog and the home
    region's pool); starts the embedded server if needed."""
    return clusters.region_owner_url(clusters.home_region(settings))


def as_role(url: str, role: str) -> str:
    """`url` (an owner URL) with a runtime role's name and password instead."""
    if role == OWNER:
        return url
    from pms_dashboard import keyring

    parsed = make_url(url).set(username=role, password=keyring.db_password(role))
    return parsed.render_as_string(hide_password=False)


def role_url(role: str, settings: Settings | None = None) -> str:
    """URL for a runtime role on the home database."""
    return as_role(owner_url(settings), role)


_APPLICATION = {OWNER: "pms-owner", APP_ROLE: "pms-app", AUDITOR_ROLE: "pms-auditor"}


class _Engines:
    """The process's engines: permanent ones for the regions' pool databases, and a bounded
    least-recently-used set for tenant databases."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.permanent: dict[tuple[str, str], Engine] = {}
        self.bounded: OrderedDict[tuple[str, str], tuple[Engine, float]] = OrderedDict()

    def get(self, url: str, role: str, *, bounded: bool) -> Engine:
        key = (url, role)
        with self.lock:
            if not bounded:
                engine = self.permanent.get(key)
                if engine is None:
                    engine = self.permanent[key] = _create(url, role, bounded=False)
                return engine
            now = time.monotonic()
            found = self.bounded.pop(key, None)
            engine = found[0] if found else _create(url, role, bounded=True)
            self.bounded[key] = (engine, now)
            self._evict(now)
            return engine

    def _evict(self, now: float) -> None:
        s = get_settings()
        while len(self.bounded) > s.max_engines:
            _, (engine, _) = self.bounded.popitem(last=False)
            engine.dispose()
        for key, (engine, used) in list(self.bounded.items()):
            if now - used > s.engine_idle_seconds:
                del self.bounded[key]
                engine.dispose()

    def dispose_url(self, url: str) -> None:
        """Drop every engine of one database (before it is dropped or copied)."""
        database = make_url(url).database
        server = clusters.server_of(url)
        with self.lock:
            for store in (self.permanent, self.bounded):
                for key in [k for k in store if _same_database(k[0], server, database)]:
                    value = store.pop(key)  # type: ignore[attr-defined]
                    (value[0] if isinstance(value, tuple) else value).dispose()

    def count(self) -> tuple[int, int]:
        with self.lock:
            return len(self.permanent), len(self.bounded)

    def clear(self) -> None:
        with self.lock:
            for engine in self.permanent.values():
                engine.dispose()
            for engine, _ in self.bounded.values():
                engine.dispose()
            self.permanent.clear()
            self.bounded.clear()


def _same_database(url: str, server: tuple[str, int], database: str | None) -> bool:
    return clusters.server_of(url) == server and make_url(url).database == database


def _create(url: str, role: str, *, bounded: bool) -> Engine:
    s = get_settings()
    if bounded:
        size, overflow = s.tenant_pool_size, s.tenant_pool_size
    elif role == APP_ROLE:
        size, overflow = s.app_pool_size, s.app_pool_size
    else:
        size, overflow = 4, 4
    return create_engine(
        as_role(url, role),
        pool_size=size,
        max_overflow=overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"application_name": _APPLICATION[role]},
    )


_ENGINES = _Engines()


def engine_for(url: str, role: str, *, bounded: bool = False) -> Engine:
    """The engine of `role` on the database of owner URL `url` (`bounded`: a tenant
    database's, subject to PMS_MAX_ENGINES)."""
    return _ENGINES.get(url, role, bounded=bounded)


def engine_counts() -> tuple[int, int]:
    """(permanent, bounded) engines held by this process (benchmarks, tests)."""
    return _ENGINES.count()


def dispose_database(url: str) -> None:
    """Dispose every engine of the database of `url` (it is about to be dropped/copied)."""
    _ENGINES.dispose_url(url)


def owner_engine() -> Engine:
    """Engine of the owner role on the home database (CLI, migrations, seeding)."""
    return engine_for(owner_url(), OWNER)


def app_engine() -> Engine:
    """Engine of `pms_app` on the home database (the catalog, and home pool tenants)."""
    return engine_for(owner_url(), APP_ROLE)


def auditor_engine() -> Engine:
    """Engine of `pms_auditor` on the home database (the console's catalog work)."""
    return engine_for(owner_url(), AUDITOR_ROLE)


def reset_engines() -> None:
    """Dispose every pool (tests that change settings or restart the server)."""
    _ENGINES.clear()
    clusters.reset()
