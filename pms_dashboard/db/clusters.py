"""Where each region's data lives: one PostgreSQL cluster per region, named by settings.

- `PMS_REGIONS=eu-central=postgresql://...,us-east=postgresql://...`: each region's cluster,
  given as the owner role's URL of the region's *pool database*; the first is the home
  region, whose pool database also holds the placement catalog.
- `DATABASE_URL` alone: a single region (the first name of `PMS_EMBEDDED_REGIONS`).
- Nothing set: every region of `PMS_EMBEDDED_REGIONS` gets an embedded cluster of its own
  (its own data folder and port), started on demand: the home region's in `<data_dir>/pg`
  on `PMS_EMBEDDED_PORT` (as before regions existed), the n-th other region's in
  `<data_dir>/regions/<name>/pg` on `PMS_EMBEDDED_PORT + n`.

On every cluster the databases are named after the region's pool database `P`:
`P_template` (kept at the head revision, the mould of new tenant databases) and
`P_t_<id>` (a database-tier tenant's). Schema-tier tenants live in schema `t_<id>` of `P`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.engine import URL, make_url

from pms_dashboard.db.embedded import EmbeddedCluster
from pms_dashboard.settings import Settings, get_settings


class UnknownRegion(ValueError):
    """A region name the deployment has no cluster for."""


@dataclass(frozen=True)
class Region:
    """A region: its name and the owner URL of its pool database (None: embedded, started
    on first use)."""

    name: str
    index: int
    url: str | None

    @property
    def is_home(self) -> bool:
        return self.index == 0


def regions(settings: Settings | None = None) -> tuple[Region, ...]:
    """Every region of the deployment, the home region first."""
    s = settings or get_settings()
    given = s.region_urls
    if given:
        return tuple(Region(name, i, url) for i, (name, url) in enumerate(given.items()))
    return tuple(
        Region(name, i, s.database_url if i == 0 else None) for i, name in enumerate(s.region_names)
    )


def region(name: str, settings: Settings | None = None) -> Region:
    """The region called `name`; UnknownRegion otherwise."""
    for r in regions(settings):
        if r.name == name:
            return r
    known = ", ".join(r.name for r in regions(settings))
    raise UnknownRegion(f"unknown region {name!r}; this deployment has: {known}")


def home_region(settings: Settings | None = None) -> Region:
    return regions(settings)[0]


def embedded_cluster_of(r: Region, settings: Settings | None = None) -> EmbeddedCluster:
    """The embedded cluster serving region `r` (only when no URL is configured for it)."""
    s = settings or get_settings()
    root = s.data_dir if r.index == 0 else s.data_dir / "regions" / r.name
    return EmbeddedCluster(root=root, port=s.embedded_port + r.index)


def _psycopg(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@lru_cache(maxsize=64)
def _region_url(name: str, index: int, url: str | None, pool_db: str) -> str:
    if url:
        return _psycopg(url).render_as_string(hide_password=False)
    from pms_dashboard.db import embedded

    r = Region(name, index, url)
    return embedded.ensure_database(embedded_cluster_of(r), pool_db)


def region_owner_url(r: Region, database: str | None = None) -> str:
    """The owner's URL of region `r`'s pool database (or of `database` on the same
    cluster); starts the region's embedded cluster when it is one."""
    s = get_settings()
    pool_url = _region_url(r.name, r.index, r.url, s.embedded_db_name)
    if database is None:
        return pool_url
    return make_url(pool_url).set(database=database).render_as_string(hide_password=False)


def pool_database(r: Region) -> str:
    """The name of region `r`'s pool database."""
    return make_url(region_owner_url(r)).database or ""


def template_database(pool_db: str) -> str:
    """The database new tenant databases of a cluster are copied from (kept at head)."""
    return f"{pool_db}_template"


def tenant_database(pool_db: str, tenant_id: uuid.UUID) -> str:
    """The database of a database-tier tenant."""
    return f"{pool_db}_t_{tenant_id.hex[:16]}"


def tenant_schema(tenant_id: uuid.UUID) -> str:
    """The schema of a schema-tier tenant (in its region's pool database)."""
    return f"t_{tenant_id.hex[:16]}"


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database of the same server, same credentials."""
    return _psycopg(url).set(database=database).render_as_string(hide_password=False)


def server_of(url: str) -> tuple[str, int]:
    """(host, port) of a URL, for placements and engines' keys."""
    parsed = make_url(url)
    return parsed.host or "localhost", int(parsed.port or 5432)


def reset() -> None:
    """Forget resolved URLs (tests that change settings)."""
    _region_url.cache_clear()
