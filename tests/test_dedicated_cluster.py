"""A database-tier tenant on a dedicated cluster given at creation (`--url`): here the
us-east region's embedded cluster plays the customer's own server."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from pms_dashboard import moves
from pms_dashboard.auth.models import User
from pms_dashboard.db import clusters
from pms_dashboard.settings import PROJECT_ROOT, get_settings
from pms_dashboard.tenancy import placement
from pms_dashboard.tenancy.provision import create_tenant
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.tiers import rows_by_place, where


def _dedicated_url() -> str:
    away = clusters.regions()[-1]
    base = clusters.region_owner_url(away)
    return clusters.with_database(base, f"{get_settings().embedded_db_name}_dedicated")


def test_a_tenant_on_a_dedicated_cluster_lives_there_and_moves_back() -> None:
    url = _dedicated_url()
    slug = f"ded-{uuid.uuid4().hex[:8]}"
    made = create_tenant(slug=slug, name="Dedicated", tier="database", region="eu-central", url=url)
    p = made.placement
    assert p.dedicated_cluster and p.cluster.startswith("dedicated-")
    host, port = clusters.server_of(url)
    assert (p.host, p.port) == (host, port)
    assert p.database and p.database.startswith(make_url(url).database or "")
    # the catalog keeps the owner's URL only encrypted; the JSON for operators has no secret
    shown = subprocess.run(
        [sys.executable, "-m", "pms_dashboard.cli", "tenants", "placement", "--slug", slug],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    as_json = json.loads(shown)
    assert (as_json["host"], as_json["port"], as_json["tier"]) == (host, port, "database")
    password = make_url(url).password or ""
    assert password and password not in shown
    with owner_session() as s:
        stored = s.execute(
            text("SELECT owner_url_enc FROM tenant_placement WHERE tenant_id = :t"),
            {"t": p.tenant_id},
        ).scalar_one()
    assert stored and password not in stored
    # people are added and served through the one door, at that cluster only
    with owner_session(p.tenant_id) as s:
        s.add(User(tenant_id=p.tenant_id, email=f"a@{slug}.test", display_name="A", role="manager"))
    with tenant_session(ctx_of(p.tenant_id)) as s:
        assert [u.email for u in s.scalars(select(User)).all()] == [f"a@{slug}.test"]
    assert set(rows_by_place([p.tenant_id])[p.tenant_id]) == {where(p)}
    # and it moves back into the shared pool like any tenant
    moves.move_tenant(slug=slug, tier="pool", region="eu-central", reason="contract ended")
    back = placement.fetch(p.tenant_id)
    assert back.tier.value == "pool" and not back.dedicated_cluster
    assert set(rows_by_place([p.tenant_id])[p.tenant_id]) == {where(back)}


def ctx_of(tenant_id: uuid.UUID):
    from pms_dashboard.tenancy.context import TenantContext

    with owner_session(tenant_id) as s:
        user = s.scalars(select(User)).one()
    return TenantContext(tenant_id=tenant_id, user_id=user.id, role=user.role)
