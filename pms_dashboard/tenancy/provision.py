"""Creating a tenant in a tier and region: the rows at its placement, then the catalog.

Order, so that a crash never leaves the catalog pointing at nothing: the placement is made
first (a pool tenant's row; a schema cloned at head with the tenant's row, in one
transaction; a database copied from its cluster's template, then the tenant's row), and the
catalog row with its platform audit event is written last, in one transaction. A failure
before the catalog commit removes what was made; a crash leaves at most an unreferenced
schema or database, never a half-registered tenant.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import psycopg
from sqlalchemy import Connection, create_engine, pool, text
from sqlalchemy.engine import make_url

from pms_dashboard.db import clusters, provision, targets
from pms_dashboard.db.engine import owner_url
from pms_dashboard.db.roles import ensure_roles
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.placement import Placement, Tier
from pms_dashboard.tenancy.registry import SLUG_RE, TenantError


@dataclass(frozen=True)
class Created:
    placement: Placement
    seconds: float


def _owner_conn(url: str) -> Connection:
    return create_engine(url, poolclass=pool.NullPool).connect()


def _validate(slug: str, name: str, tier: str, region: str, url: str | None) -> tuple[str, str]:
    slug, name = slug.strip().lower(), name.strip()
    if not SLUG_RE.fullmatch(slug):
        raise TenantError("slug must be 2-63 characters: lower-case letters, digits and hyphens")
    if not name:
        raise TenantError("name must not be empty")
    if tier not in {t.value for t in Tier}:
        raise TenantError("tier must be pool, schema or database")
    try:
        clusters.region(region)
    except clusters.UnknownRegion as err:
        raise TenantError(str(err)) from None
    if url and tier != Tier.database:
        raise TenantError("--url (a dedicated cluster) is only for the database tier")
    if url:
        try:
            parsed = make_url(url)
        except Exception:
            raise TenantError("--url must be a postgresql:// URL") from None
        if not parsed.drivername.startswith("postgres") or not parsed.database:
            raise TenantError("--url must be a postgresql:// URL naming a database")
    return slug, name[:200]


def _slug_taken(slug: str) -> bool:
    with _owner_conn(owner_url()) as conn:
        return bool(
            conn.execute(
                text("SELECT 1 FROM tenant_placement WHERE slug = :s"), {"s": slug}
            ).first()
        )


_INSERT_TENANT = text(
    "INSERT INTO tenant (id, slug, name, isolation_tier, region)"
    " VALUES (:id, :slug, :name, :tier, :region)"
)


def create_tenant(
    *,
    slug: str,
    name: str,
    tier: str = "pool",
    region: str | None = None,
    url: str | None = None,
    admin_id: uuid.UUID | None = None,
    ip: str = "",
    justification: str | None = None,
) -> Created:
    """Provision a new organisation; TenantError (nothing made) on bad input or a taken
    slug. `admin_id`: the console's super-admin who asked (None: the command line), with
    the `justification` they gave (kept in the platform event)."""
    started = time.perf_counter()
    region = region or clusters.home_region().name
    slug, name = _validate(slug, name, tier, region, url)
    if _slug_taken(slug):
        raise TenantError(f"a tenant with slug {slug!r} already exists")
    tenant_id = uuid.uuid4()
    made = _make_placement(tenant_id, slug, name, Tier(tier), region, url)
    try:
        _register(made, slug, Tier(tier), region, url, admin_id, ip, justification)
    except Exception:
        _unmake(made)
        raise
    found = placements.fetch(tenant_id)
    return Created(found, time.perf_counter() - started)


@dataclass(frozen=True)
class _Made:
    tenant_id: uuid.UUID
    tier: Tier
    database_url: str  # owner URL of the database holding the rows
    schema: str | None
    created_database: bool


def _make_placement(
    tenant_id: uuid.UUID,
    slug: str,
    name: str,
    tier: Tier,
    region: str,
    url: str | None,
    *,
    with_row: bool = True,
) -> _Made:
    """The placement's structure, and (`with_row`) the tenant's row in it; a move makes it
    without the row (its copy brings every row, the tenant's own first)."""
    r = clusters.region(region)
    pool_url = clusters.region_owner_url(r)
    row = {"id": tenant_id, "slug": slug, "name": name, "tier": tier.value, "region": region}
    if tier == Tier.pool:
        if with_row:
            with _owner_conn(pool_url) as conn, conn.begin():
                conn.execute(_INSERT_TENANT, row)
        return _Made(tenant_id, tier, pool_url, None, False)
    if tier == Tier.schema:
        schema = clusters.tenant_schema(tenant_id)
        with _owner_conn(pool_url) as conn, conn.begin():
            provision.create_schema(conn, schema, database_key=pool_url)
            if with_row:
                conn.execute(_INSERT_TENANT, row)
        return _Made(tenant_id, tier, pool_url, schema, False)
    base = url or pool_url
    base_db = make_url(base).database or "pms"
    template = clusters.template_database(base_db)
    if url:
        ensure_template(clusters.with_database(base, template), region)
    database_url = clusters.with_database(base, clusters.tenant_database(base_db, tenant_id))
    try:
        provision.ensure_database(database_url, template=template)
    except psycopg.errors.ObjectInUse as err:
        raise TenantError(
            "the template database is in use (a migration running?); try again"
        ) from err
    made = _Made(tenant_id, tier, database_url, None, True)
    try:
        with _owner_conn(database_url) as conn:
            ensure_roles(conn)  # per-database role settings are not copied from a template
            conn.commit()
            if with_row:
                with conn.begin():
                    conn.execute(_INSERT_TENANT, row)
    except Exception:
        _unmake(made)
        raise
    return made


def ensure_template(template_url: str, region: str) -> None:
    """A dedicated cluster's template database, created and migrated to head once."""
    from pms_dashboard.db import migrate

    provision.ensure_database(template_url)
    target = targets.Target("template", region, template_url)
    if migrate.revisions_of([target])[target] != migrate.head_revision():
        migrate.upgrade_target(target)


def _register(
    made: _Made,
    slug: str,
    tier: Tier,
    region: str,
    url: str | None,
    admin_id: uuid.UUID | None,
    ip: str,
    justification: str | None = None,
) -> None:
    database = make_url(made.database_url).database if tier == Tier.database else None
    host = port = enc = None
    cluster = region
    if url:
        host, port = clusters.server_of(url)
        enc = targets.encrypt_dedicated_url(url)
        cluster = f"dedicated-{host}-{port}"[:64]
    revision = _revision_of(made)
    with _owner_conn(owner_url()) as conn, conn.begin():
        conn.execute(
            text(
                "INSERT INTO tenant_placement (tenant_id, slug, tier, region, cluster, host,"
                " port, database, schema, owner_url_enc, revision) VALUES (:t, :slug, :tier,"
                " :region, :cluster, :host, :port, :database, :schema, :enc, :revision)"
            ),
            {
                "t": made.tenant_id,
                "slug": slug,
                "tier": tier.value,
                "region": region,
                "cluster": cluster,
                "host": host,
                "port": port,
                "database": database,
                "schema": made.schema,
                "enc": enc,
                "revision": revision,
            },
        )
        detail = {"tenant": slug, "tier": tier.value, "region": region, "cluster": cluster}
        if justification:
            detail["justification"] = justification
        _platform_event(conn, "tenant.created", made.tenant_id, detail, admin_id, ip)


def _platform_event(
    conn: Connection,
    action: str,
    tenant_id: uuid.UUID,
    detail: dict[str, str],
    admin_id: uuid.UUID | None,
    ip: str,
) -> None:
    """The platform trail's record of a tenant made or removed, in `conn`'s transaction."""
    payload = {"tenant_id": str(tenant_id), **detail}
    conn.execute(
        text("SELECT app.append_platform_event(:admin, :action, CAST(:detail AS jsonb), :ip)"),
        {"admin": admin_id, "action": action, "detail": json.dumps(payload), "ip": ip},
    )


def _revision_of(made: _Made) -> str | None:
    with _owner_conn(made.database_url) as conn:
        schema = made.schema or "public"
        return conn.execute(text(f'SELECT version_num FROM "{schema}".alembic_version')).scalar()


def delete_tenant(tenant_id: uuid.UUID, *, admin_id: uuid.UUID | None = None, ip: str = "") -> None:
    """Remove an organisation and everything of it: the catalog row first (with a platform
    event 'tenant.deleted'), so nothing routes to it any more, then its schema or database
    dropped, or a pool tenant's rows deleted (they cascade from its `tenant` row).
    UnknownTenant if the catalog has no such tenant; a crash in between leaves at most an
    unreferenced schema or database, as `create_tenant` may."""
    found = placements.fetch(tenant_id)
    if found.dedicated_cluster:
        database_url = placements.dedicated_owner_url(tenant_id)
    else:
        database_url = found.owner_base_url
    made = _Made(tenant_id, found.tier, database_url, found.schema, found.tier == Tier.database)
    with _owner_conn(owner_url()) as conn, conn.begin():
        conn.execute(text("DELETE FROM tenant_placement WHERE tenant_id = :t"), {"t": tenant_id})
        detail = {"tenant": found.slug, "tier": found.tier.value, "region": found.region}
        _platform_event(conn, "tenant.deleted", tenant_id, detail, admin_id, ip)
    placements.forget(tenant_id)
    _unmake(made)


def _unmake(made: _Made) -> None:
    """Remove what `_make_placement` made (the catalog never named it)."""
    from pms_dashboard.db.engine import dispose_database

    if made.created_database:
        dispose_database(made.database_url)
        provision.drop_database(made.database_url)
        return
    with _owner_conn(made.database_url) as conn, conn.begin():
        if made.schema:
            provision.drop_schema(conn, made.schema)
        else:
            conn.execute(text("DELETE FROM tenant WHERE id = :t"), {"t": made.tenant_id})
