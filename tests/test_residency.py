"""Data residency: a tenant's rows are stored only at its placement (its region's cluster,
its database, its schema), and the catalog in the home region holds no personal data."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from pms_dashboard.db import clusters
from pms_dashboard.db.engine import owner_engine
from pms_dashboard.tenancy.placement import Tier
from pms_dashboard.tenancy.registry import SLUG_RE
from pms_dashboard.tenancy.session import tenant_session
from tests.conftest import TenantFixture, add_person, ctx, draft_cycle, new_tenant
from tests.tiers import PLACEMENTS, placement_of, rows_by_place, where


@pytest.fixture(scope="module")
def placed() -> list[TenantFixture]:
    """Two tenants in each tier of each region, each with people, a goal, a review cycle and
    an audit event written through the door."""
    from pms_dashboard.audit import service as audit_service

    tenants = []
    for tier, region in PLACEMENTS * 2:
        t = new_tenant(name=f"Residency Org {uuid.uuid4().hex[:6]}", tier=tier, region=region)
        add_person(t, "resident", display_name="Resident Person")
        draft_cycle(t)
        with tenant_session(ctx(t, "admin")) as s:
            audit_service.record(session=s, action="test.residency", entity_type="tenant")
        tenants.append(t)
    return tenants


def test_every_tenants_rows_are_only_at_its_placement(placed: list[TenantFixture]) -> None:
    found = rows_by_place(t.id for t in placed)
    for t in placed:
        at = placement_of(t.id)
        assert set(found[t.id]) == {where(at)}, (at.describe(), found[t.id])
        # its tenant row, five people, a template, a cycle, its audit events at least
        assert found[t.id][where(at)] >= 9
    regions = {placement_of(t.id).region for t in placed}
    assert regions == {r.name for r in clusters.regions()[:2]}


def test_the_residency_scan_finds_a_row_written_elsewhere(placed: list[TenantFixture]) -> None:
    """The scan is not blind: a row of a schema tenant copied by the owner into another
    region's pool database is found there."""
    t = next(t for t in placed if placement_of(t.id).tier == Tier.schema)
    at = placement_of(t.id)
    elsewhere = next(r for r in clusters.regions() if r.name != at.region)
    engine = create_engine(clusters.region_owner_url(elsewhere), poolclass=NullPool)
    stray = {"id": t.id, "slug": t.slug}
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO tenant (id, slug, name) VALUES (:id, :slug, 'stray')"), stray
            )
        found = rows_by_place([t.id])[t.id]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM tenant WHERE id = :id"), stray)
        engine.dispose()
    assert len(found) == 2, found


# ------------------------------------------------------------------ the catalog's columns

# Every column of the catalog and the kind of value it may hold: identifiers and routing
# words only. A new column fails this test until it is classified here.
CATALOG_COLUMNS = {
    "tenant_placement": {
        "tenant_id": "uuid",
        "slug": "slug",
        "tier": "tier",
        "region": "region",
        "cluster": "cluster",
        "host": "host",
        "port": "port",
        "database": "identifier",
        "schema": "identifier",
        "owner_url_enc": "ciphertext",
        "state": "state",
        "version": "version",
        "revision": "revision",
        "created_at": "timestamp",
        "updated_at": "timestamp",
    },
    "tenant_sso_domain": {"domain": "domain", "tenant_id": "uuid"},
}
PERSONAL = re.compile(
    r"name|mail|title|phone|address|birth|first|last|display|note|comment|person|user",
    re.IGNORECASE,
)
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _valid(kind: str, value: object) -> bool:
    """Whether a catalog value is of its column's kind (None: not set, allowed)."""
    if value is None or kind in ("uuid", "timestamp"):
        return value is None or isinstance(value, uuid.UUID) or hasattr(value, "tzinfo")
    text_value = str(value)
    checks = {
        "slug": lambda: SLUG_RE.fullmatch(text_value) is not None,
        "tier": lambda: text_value in {t.value for t in Tier},
        "region": lambda: text_value in {r.name for r in clusters.regions()},
        "cluster": lambda: re.fullmatch(r"[a-z0-9.-]{1,64}", text_value) is not None,
        "host": lambda: re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,255}", text_value) is not None,
        "port": lambda: isinstance(value, int),
        "identifier": lambda: IDENTIFIER.fullmatch(text_value) is not None,
        "ciphertext": lambda: re.fullmatch(r"[A-Za-z0-9_=:.-]+", text_value) is not None,
        "state": lambda: text_value in {"active", "read_only", "moving"},
        "version": lambda: isinstance(value, int),
        "revision": lambda: re.fullmatch(r"[0-9a-z_]{1,32}", text_value) is not None,
        "domain": lambda: re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", text_value) is not None,
    }
    return checks[kind]()


def test_the_catalog_has_only_routing_columns() -> None:
    with owner_engine().connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = ANY(:t)"
            ),
            {"t": list(CATALOG_COLUMNS)},
        ).all()
        conn.rollback()
    found: dict[str, set[str]] = {}
    for table, column in columns:
        found.setdefault(table, set()).add(column)
    assert found == {t: set(c) for t, c in CATALOG_COLUMNS.items()}
    named_like_personal = [(t, c) for t, cols in found.items() for c in cols if PERSONAL.search(c)]
    assert named_like_personal == []


def test_the_catalogs_values_are_ids_and_routing_words_only(
    placed: list[TenantFixture],
) -> None:
    """Every stored value is of its column's kind, and no tenant's name, people's names or
    emails appear anywhere in the catalog."""
    personal = set()
    for t in placed:
        with tenant_session(ctx(t, "admin")) as s:
            personal |= set(
                s.execute(text("SELECT name FROM tenant UNION SELECT email FROM app_user"
                               " UNION SELECT display_name FROM app_user")).scalars()
            )  # fmt: skip
    assert any("Residency Org" in p for p in personal)
    bad, dump = [], []
    with owner_engine().connect() as conn:
        for table, kinds in CATALOG_COLUMNS.items():
            for row in conn.execute(text(f"SELECT * FROM {table}")).mappings():
                for column, value in row.items():
                    dump.append(str(value))
                    if not _valid(kinds[column], value):
                        bad.append((table, column, value))
        conn.rollback()
    assert bad == []
    everything = "\n".join(dump)
    assert [p for p in personal if p in everything] == []
    assert "@" not in everything
