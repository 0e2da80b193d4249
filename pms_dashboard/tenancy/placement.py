"""Where a tenant lives, read from the catalog, and the rule that makes a cached answer safe.

A placement is (tier, region, cluster, database, schema) plus a state and a version:
- pool: the region's pool database, schema `public`;
- schema: a schema of its own in the region's pool database;
- database: a database of its own on the region's cluster (or a dedicated cluster).

The catalog (`tenant_placement`, home database) is read by the runtime roles only through
`app.placement_of(id)` / `app.placement_for_slug(slug)`, one tenant at a time.

**The caching rule.** A process may keep placements in memory (no time limit), because it
never *uses* one without proof that it is current: the one door (`tenancy.session`) sends,
in the same round trip as BEGIN and the tenant context, a read of the tenant's row *at the
target* (`tenant.placement_version`, `tenant.placement_state`). A move (a) changes that row
at the source (state `read_only` during the write freeze, `moved` at the flip, or removes
it with the source's rows) before (b) the catalog's version is raised. So a stale entry
meets a source whose row is missing, `moved` or of another version, and the door drops the
entry, reads the catalog again and opens the transaction at the new placement; it never
reads or writes the old one. A placement that still disagrees after a fresh read is refused
with `PlacementUnavailable` (the move is in flight), never served.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, text

from pms_dashboard.db import clusters
from pms_dashboard.db.engine import APP_ROLE, OWNER, engine_for
from pms_dashboard.errors import UserError


class Tier(StrEnum):
    pool = "pool"
    schema = "schema"
    database = "database"


TIER_WORDS = {
    Tier.pool: "shared pool",
    Tier.schema: "dedicated schema",
    Tier.database: "dedicated database",
}


class PlacementUnavailable(UserError):
    """The tenant's placement is changing (a move is in flight): try again shortly."""

    retry_after_s = 60

    def __init__(self) -> None:
        super().__init__("Your organisation is being moved; try again in a minute.")


class TenantFrozen(PlacementUnavailable):
    """A write during a move's write freeze: refused whole, nothing of it kept."""


class UnknownTenant(LookupError):
    """No placement for this tenant id (never created, or deleted)."""


@dataclass(frozen=True)
class Placement:
    """Where one tenant's rows live, as the catalog says at `version`."""

    tenant_id: uuid.UUID
    slug: str
    tier: Tier
    region: str
    cluster: str
    host: str | None
    port: int | None
    database: str | None
    schema: str | None
    state: str
    version: int

    @property
    def search_path(self) -> str:
        """The data schema a transaction at this placement resolves names in."""
        return self.schema or "public"

    @property
    def dedicated_cluster(self) -> bool:
        return self.host is not None

    @property
    def owner_base_url(self) -> str:
        """An owner-style URL of the placement's database for keying engines: the region's
        configured URL, or the dedicated cluster's address (the runtime roles' credentials
        replace the user and password)."""
        if self.host is not None:
            return f"postgresql+psycopg://owner@{self.host}:{self.port or 5432}/{self.database}"
        base = clusters.region_owner_url(clusters.region(self.region))
        return _database_url(base, self.database) if self.database else base

    @property
    def in_region_pool(self) -> bool:
        """Whether the rows are in the region's pool database (pool or schema tier)."""
        return self.tier != Tier.database

    def describe(self) -> str:
        """ "eu-central, dedicated database": where a tenant admin is told the data lives."""
        return f"{self.region}, {TIER_WORDS[self.tier]}"

    def as_json(self) -> dict[str, Any]:
        """For operators' scripts (`tenants placement`): never a password."""
        host, port = self.host, self.port
        if host is None:
            host, port = clusters.server_of(self.owner_base_url)
        database = self.database or clusters.pool_database(clusters.region(self.region))
        return {
            "tenant_id": str(self.tenant_id),
            "slug": self.slug,
            "tier": self.tier.value,
            "region": self.region,
            "cluster": self.cluster,
            "host": host,
            "port": port,
            "database": database,
            "schema": self.search_path,
            "state": self.state,
            "version": self.version,
        }


@lru_cache(maxsize=4096)
def _database_url(base: str, database: str) -> str:
    """`clusters.with_database`, remembered: the door asks for a database-tier tenant's URL
    on every transaction, and parsing and rendering it cost more than the engine look-up."""
    return clusters.with_database(base, database)


_COLUMNS = "tenant_id, slug, tier, region, cluster, host, port, database, schema, state, version"


def _from_row(row: Any) -> Placement:
    return Placement(
        tenant_id=row.tenant_id,
        slug=row.slug,
        tier=Tier(row.tier),
        region=row.region,
        cluster=row.cluster,
        host=row.host,
        port=row.port,
        database=row.database,
        schema=row.schema,
        state=row.state,
        version=int(row.version),
    )


class _Cache:
    """Placements by tenant id, least recently used dropped beyond `size`."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.items: OrderedDict[uuid.UUID, Placement] = OrderedDict()

    def get(self, tenant_id: uuid.UUID) -> Placement | None:
        with self.lock:
            found = self.items.get(tenant_id)
            if found is not None:
                self.items.move_to_end(tenant_id)
            return found

    def put(self, placement: Placement) -> None:
        with self.lock:
            self.items[placement.tenant_id] = placement
            self.items.move_to_end(placement.tenant_id)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def drop(self, tenant_id: uuid.UUID) -> None:
        with self.lock:
            self.items.pop(tenant_id, None)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_CACHE = _Cache()


def _catalog() -> Any:
    """pms_app on the home database (the catalog's look-up functions)."""
    from pms_dashboard.db.engine import owner_url

    return engine_for(owner_url(), APP_ROLE)


def fetch(tenant_id: uuid.UUID, conn: Connection | None = None) -> Placement:
    """The catalog's current placement of a tenant (cached); UnknownTenant if none."""
    sql = text(f"SELECT {_COLUMNS} FROM app.placement_of(:t)")
    if conn is not None:
        row = conn.execute(sql, {"t": tenant_id}).first()
    else:
        with _catalog().connect() as c:
            row = c.execute(sql, {"t": tenant_id}).first()
            c.rollback()
    if row is None:
        _CACHE.drop(tenant_id)
        raise UnknownTenant(str(tenant_id))
    found = _from_row(row)
    _CACHE.put(found)
    return found


def lookup(tenant_id: uuid.UUID) -> Placement:
    """A placement for the door: the cached one (verified by the door at the target), else
    the catalog's."""
    return _CACHE.get(tenant_id) or fetch(tenant_id)


def forget(tenant_id: uuid.UUID | None = None) -> None:
    """Drop one cached placement (or all): the door found it stale, or a test moved it."""
    if tenant_id is None:
        _CACHE.clear()
    else:
        _CACHE.drop(tenant_id)


def by_slug(slug: str, conn: Connection | None = None) -> Placement | None:
    """The placement of the organisation a person typed at sign-in (None: no such slug)."""
    sql = text(f"SELECT {_COLUMNS} FROM app.placement_for_slug(:s)")
    if conn is not None:
        row = conn.execute(sql, {"s": slug}).first()
    else:
        with _catalog().connect() as c:
            row = c.execute(sql, {"s": slug}).first()
            c.rollback()
    if row is None:
        return None
    found = _from_row(row)
    _CACHE.put(found)
    return found


def listed(conn: Connection) -> list[Placement]:
    """Every tenant's placement, by slug: the catalog as a whole, which only the owner and
    the console's role may read (the console's fan-out over all placements)."""
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM tenant_placement ORDER BY slug")).all()
    return [_from_row(r) for r in rows]


def engine_of(placement: Placement, role: str) -> Any:
    """The engine of `role` on the placement's database (bounded for tenant databases); the
    owner's on a dedicated cluster uses its stored (encrypted) URL."""
    url = placement.owner_base_url
    if role == OWNER and placement.dedicated_cluster:
        url = dedicated_owner_url(placement.tenant_id)
    return engine_for(url, role, bounded=placement.tier == Tier.database)


def dedicated_owner_url(tenant_id: uuid.UUID) -> str:
    """The owner URL of a dedicated cluster's tenant database (owner only: the catalog's
    encrypted column, which the runtime roles cannot read)."""
    from pms_dashboard.db.engine import owner_engine
    from pms_dashboard.db.targets import placement_owner_url

    with owner_engine().connect() as c:
        row = c.execute(
            text(
                "SELECT region, database, owner_url_enc FROM tenant_placement WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).one()
        c.rollback()
    return placement_owner_url(row.region, row.database, row.owner_url_enc)
