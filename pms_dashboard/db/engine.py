"""Database URLs and engines for the three roles.

- owner: whatever DATABASE_URL connects as (or the embedded `pms_owner`); runs migrations,
  seeding and platform administration. Never used to serve a request.
- `pms_app`: the web app's only runtime role; subject to row-level security.
- `pms_auditor`: the super-admin console's role; subject to its own policies.

Engines (connection pools) are created once per process; nothing about a tenant is kept in
them — the tenant context is set per transaction (see `pms_dashboard.tenancy.session`).
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from pms_dashboard.db.embedded import EmbeddedCluster
from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE, Settings, get_settings


def embedded_cluster(settings: Settings | None = None) -> EmbeddedCluster:
    """The embedded cluster described by the settings."""
    s = settings or get_settings()
    return EmbeddedCluster(root=s.data_dir, port=s.embedded_port)


@lru_cache(maxsize=4)
def _resolve_owner_url(database_url: str | None, db_name: str, data_dir: str, port: int) -> str:
    if database_url:
        url = make_url(database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    from pms_dashboard.db import embedded

    return embedded.ensure_database(embedded_cluster(), db_name)


def owner_url(settings: Settings | None = None) -> str:
    """SQLAlchemy URL of the migration/owner role (starts the embedded server if needed)."""
    s = settings or get_settings()
    return _resolve_owner_url(s.database_url, s.embedded_db_name, str(s.data_dir), s.embedded_port)


def role_url(role: str, settings: Settings | None = None) -> str:
    """URL for a runtime role: the owner's server and database, another user."""
    from pms_dashboard import keyring

    s = settings or get_settings()
    password = keyring.db_password(role, s)
    url = make_url(owner_url(s)).set(username=role, password=password)
    return url.render_as_string(hide_password=False)


_ENGINES: dict[tuple[str, int, str], Engine] = {}


def _engine(url: str, pool_size: int, application_name: str) -> Engine:
    key = (url, pool_size, application_name)
    if key not in _ENGINES:
        _ENGINES[key] = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"application_name": application_name},
        )
    return _ENGINES[key]


def owner_engine() -> Engine:
    """Engine of the migration/owner role (CLI, migrations, seeding)."""
    return _engine(owner_url(), 4, "pms-owner")


def app_engine() -> Engine:
    """Engine of `pms_app`, the runtime role every request uses."""
    s = get_settings()
    return _engine(role_url(APP_ROLE), s.app_pool_size, "pms-app")


def auditor_engine() -> Engine:
    """Engine of `pms_auditor`, the super-admin console's role."""
    return _engine(role_url(AUDITOR_ROLE), 4, "pms-auditor")


def reset_engines() -> None:
    """Dispose every pool (tests that change settings or restart the server)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
    _resolve_owner_url.cache_clear()
