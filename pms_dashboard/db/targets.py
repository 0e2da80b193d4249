"""Migration targets: every place one Alembic history is applied to.

- `catalog`: the home region's pool database (the placement catalog lives there too);
- `pool`: each other region's pool database;
- `template`: each cluster's template database, kept at head, copied for new tenant
  databases (so a new tenant never replays the history);
- `schema`: each schema-tier tenant's schema in its region's pool database;
- `database`: each database-tier tenant's database (region cluster or dedicated cluster).

A schema target holds the tenant-data tables only (the platform's tables, the shared `app`
functions and the roles belong to its database), so a revision touching anything but
tenant data does that part only when `migration_target().owns_database` is true. Schema
targets are made at head by `tenancy.provision` and migrated from there on: revisions up
to 0015 never run on them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import create_engine, pool, text

from pms_dashboard.db import clusters

Kind = Literal["catalog", "pool", "template", "schema", "database"]


@dataclass(frozen=True)
class Target:
    """One migration target: its owner URL (the database), its schema, its kind."""

    kind: Kind
    region: str
    url: str = field(repr=False)
    schema: str = "public"
    tenant_id: uuid.UUID | None = None
    slug: str | None = None

    @property
    def owns_database(self) -> bool:
        """Whether the target is a whole database (platform tables, `app` functions)."""
        return self.kind != "schema"

    @property
    def database(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).database or ""

    @property
    def label(self) -> str:
        """How a person reads the target in `db upgrade` / `db status`."""
        where = f"{self.database}" + (f".{self.schema}" if self.schema != "public" else "")
        who = f" ({self.slug})" if self.slug else ""
        return f"{self.kind:<8} {self.region:<12} {where}{who}"


def migration_target() -> Target:
    """The target the running migration applies to (inside a revision script); plain
    `alembic upgrade` without the CLI means the home database."""
    from alembic import context

    found = context.config.attributes.get("target") if context.config is not None else None
    if isinstance(found, Target):
        return found
    home = clusters.home_region()
    return Target("catalog", home.name, clusters.region_owner_url(home))


def database_targets() -> list[Target]:
    """The catalog, every other region's pool database and every cluster's template."""
    found: list[Target] = []
    for r in clusters.regions():
        pool_url = clusters.region_owner_url(r)
        found.append(Target("catalog" if r.is_home else "pool", r.name, pool_url))
        template = clusters.template_database(clusters.pool_database(r))
        found.append(Target("template", r.name, clusters.with_database(pool_url, template)))
    return found


def tenant_targets() -> list[Target]:
    """Every schema- and database-tier tenant's target, from the catalog."""
    from pms_dashboard.db.engine import owner_url

    engine = create_engine(owner_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass('public.tenant_placement')")).scalar()
            if exists is None:
                return []
            rows = conn.execute(
                text(
                    "SELECT tenant_id, slug, tier, region, database, schema, owner_url_enc"
                    " FROM tenant_placement WHERE tier <> 'pool' ORDER BY region, slug"
                )
            ).all()
    finally:
        engine.dispose()
    return [
        Target(
            "schema" if tier == "schema" else "database",
            region,
            placement_owner_url(region, database, owner_url_enc),
            schema or "public",
            tenant_id,
            slug,
        )
        for tenant_id, slug, tier, region, database, schema, owner_url_enc in rows
    ]


def placement_owner_url(region: str, database: str | None, owner_url_enc: str | None) -> str:
    """The owner's URL of a placement's database: the region's pool database, another
    database on the region's cluster, or a dedicated cluster's (stored encrypted)."""
    if owner_url_enc:
        from pms_dashboard import crypto

        url = crypto.decrypt(DEDICATED_PURPOSE, owner_url_enc)
        if url is None:
            raise RuntimeError(
                f"the owner URL of a dedicated cluster in {region} does not decrypt with this "
                "installation's data key"
            )
        return clusters.with_database(url, database) if database else url
    base = clusters.region_owner_url(clusters.region(region))
    return clusters.with_database(base, database) if database else base


DEDICATED_PURPOSE = "dedicated-cluster-url"


def encrypt_dedicated_url(url: str) -> str:
    """A dedicated cluster's owner URL as the catalog stores it (encrypted)."""
    from pms_dashboard import crypto

    return crypto.encrypt(DEDICATED_PURPOSE, clusters.with_database(url, "postgres"))


def all_targets() -> list[Target]:
    """Every target, databases first (a schema target lives in a pool database)."""
    return database_targets() + tenant_targets()
