"""Seeding (demo and bulk) and the command line, against the migrated test database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import col

from pms_dashboard import models, seed
from pms_dashboard.auth.routes import sign_in_with_password as sign_in
from pms_dashboard.auth.service import SignInError
from pms_dashboard.cli import main
from pms_dashboard.db import clusters
from pms_dashboard.db.engine import owner_url
from pms_dashboard.goals.models import Goal
from pms_dashboard.seed import base, bulk, data, demo_reviews
from pms_dashboard.seed import demo as demo_seeding
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.provision import create_tenant
from pms_dashboard.tenancy.session import owner_session, tenant_session

TABLES = (
    "app_user",
    "goal",
    "key_result",
    "goal_check_in",
    "review_template",
    "review_criterion",
    "review_cycle",
    "review",
    "review_rating",
)


DEMO_SLUGS = ("acme", "globex", "initech")
DEMO_GOALS = [("acme", 23), ("globex", 24), ("initech", 23)]
DEMO_PLACES = (("acme", "pool", "eu-central"), ("globex", "database", "us-east"),
               ("initech", "schema", "eu-central"))  # fmt: skip
TENANT_TABLES = tuple(sorted(m.__tablename__ for m in models.TENANT_MODELS))


def _counts(slug: str) -> dict[str, int]:
    """Rows per table of one tenant, read as the owner at its placement (none: zeros)."""
    tid = _tenant_id(slug)
    if tid is None:
        return dict.fromkeys(TABLES, 0)
    with owner_session(tid) as s:
        return {
            t: s.execute(
                text(f"SELECT count(*) FROM {t} WHERE tenant_id = :t"), {"t": tid}
            ).scalar_one()
            for t in TABLES
        }


def _tenant_count() -> int:
    """Tenants in the catalog."""
    with owner_session() as s:
        return s.execute(text("SELECT count(*) FROM tenant_placement")).scalar_one()


@pytest.fixture(scope="module")
def demo() -> None:
    seed.seed_demo()


def test_demo_seed_twice_adds_nothing_the_second_time(demo: None) -> None:
    before = {slug: _counts(slug) for slug in DEMO_SLUGS}
    again = seed.seed_demo()
    assert again.created == []
    assert sorted(again.skipped) == list(DEMO_SLUGS)
    assert again.total_rows == 0
    assert {slug: _counts(slug) for slug in DEMO_SLUGS} == before


@pytest.mark.parametrize(("slug", "goals"), DEMO_GOALS)
def test_demo_tenant_has_the_designed_shape(demo: None, slug: str, goals: int) -> None:
    counts = _counts(slug)
    assert counts["app_user"] == 10
    assert counts["goal"] == goals
    assert counts["key_result"] >= goals  # every goal measured by at least one key result
    assert counts["goal_check_in"] >= 8
    assert counts["review_template"] == 1
    assert 3 <= counts["review_criterion"] <= 4
    assert counts["review_cycle"] == 2
    tid = _tenant_id(slug)
    assert tid is not None
    with owner_session(tid) as s:
        # Made through the review services: last half-year closed, calibrated and shared for
        # the six employees (two peers each for three of them); this half-year under way.
        cycles = dict(
            s.execute(
                text("SELECT status, id FROM review_cycle WHERE tenant_id = :t"), {"t": tid}
            ).all()
        )
        assert set(cycles) == {"closed", "active"}
        shared = s.execute(
            text(
                "SELECT count(*) FROM review_outcome WHERE cycle_id = :c AND status = 'shared'"
                " AND potential IS NOT NULL AND final_rating IS NOT NULL"
            ),
            {"c": cycles["closed"]},
        ).scalar_one()
        assert shared == 6
        peers = s.execute(
            text(
                "SELECT status, count(*) FROM review WHERE cycle_id = :c AND kind = 'peer'"
                " GROUP BY status"
            ),
            {"c": cycles["closed"]},
        ).all()
        assert peers == [("submitted", 6)]
        fresh = (
            s.execute(
                text(
                    "SELECT r.status FROM review r JOIN app_user u ON u.tenant_id = r.tenant_id"
                    " AND u.id = r.reviewee_id WHERE r.cycle_id = :c AND r.kind = 'self'"
                    " AND u.email LIKE 'priya.nair@%'"
                ),
                {"c": cycles["active"]},
            )
            .scalars()
            .all()
        )
        assert fresh == (["not_started"] if slug == "acme" else [])


@pytest.mark.parametrize(("slug", "goals"), DEMO_GOALS)
def test_demo_tenant_has_a_sound_organisation_and_aligned_goals(
    demo: None, slug: str, goals: int
) -> None:
    tid = _tenant_id(slug)
    assert tid is not None
    with owner_session(tid) as s:
        roles = dict(
            s.execute(
                text("SELECT role, count(*) FROM app_user WHERE tenant_id = :t GROUP BY role"),
                {"t": tid},
            ).all()
        )
        assert roles == {"tenant_admin": 1, "hr_admin": 1, "manager": 2, "employee": 6}
        # Every employee reports to a manager; managers report to a head, not to nobody.
        bad_tree = s.execute(
            text(
                "SELECT u.email FROM app_user u LEFT JOIN app_user m"
                " ON m.tenant_id = u.tenant_id AND m.id = u.manager_id"
                " WHERE u.tenant_id = :t AND ("
                "  (u.role = 'employee' AND m.role IS DISTINCT FROM 'manager')"
                "  OR (u.role = 'manager'"
                "      AND coalesce(m.role, '') NOT IN ('tenant_admin', 'hr_admin')))"
            ),
            {"t": tid},
        ).all()
        assert bad_tree == []
        # Each person has 2-4 goals; aligned goals point at a goal of the owner's manager.
        per_owner = s.execute(
            select(func.count()).where(col(Goal.tenant_id) == tid).group_by(col(Goal.owner_id))
        ).scalars()
        assert all(2 <= n <= 4 for n in per_owner)
        misaligned = s.execute(
            text(
                "SELECT g.title FROM goal g JOIN goal p ON p.tenant_id = g.tenant_id"
                " AND p.id = g.parent_id JOIN app_user o ON o.tenant_id = g.tenant_id"
                " AND o.id = g.owner_id WHERE g.tenant_id = :t AND p.owner_id <> o.manager_id"
            ),
            {"t": tid},
        ).all()
        assert misaligned == []
        aligned = s.execute(
            text("SELECT count(*) FROM goal WHERE tenant_id = :t AND parent_id IS NOT NULL"),
            {"t": tid},
        ).scalar_one()
        assert aligned >= goals // 2
        confidences = set(
            s.execute(
                text("SELECT DISTINCT confidence FROM goal_check_in WHERE tenant_id = :t"),
                {"t": tid},
            ).scalars()
        )
        assert confidences == {"on_track", "at_risk", "off_track"}
        weights = s.execute(
            text("SELECT sum(weight) FROM review_criterion WHERE tenant_id = :t"), {"t": tid}
        ).scalar_one()
        assert weights == 1


def _own_acme() -> data.TenantSpec:
    """Acme's organisation under a slug of its own, so these tests leave acme alone."""
    return replace(data.ACME, slug=f"demo-{uuid.uuid4().hex[:10]}")


def _tenant_id(slug: str) -> uuid.UUID | None:
    """The tenant's id, from the catalog."""
    with owner_session() as s:
        return s.execute(
            text("SELECT tenant_id FROM tenant_placement WHERE slug = :s"), {"s": slug}
        ).scalar()


def _marked(tenant_id: uuid.UUID) -> int:
    """How many completion markers the organisation's audit trail holds."""
    with owner_session(tenant_id) as s:
        return s.execute(
            text("SELECT count(*) FROM audit_event WHERE tenant_id = :t AND action = :a"),
            {"t": tenant_id, "a": demo_seeding.COMPLETE_ACTION},
        ).scalar_one()


def _data_schemas(pool_db: str) -> Iterator[tuple[str, str, str, Connection]]:
    """(region, database, schema, owner connection with that search_path) of every data
    schema in every region's cluster: the pool database `pool_db` (public and each schema
    tenant's schema) and each tenant database `<pool_db>_t_<id>`."""
    for r in clusters.regions():
        with _connect(clusters.region_owner_url(r)) as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname = :p"
                     " OR datname ~ ('^' || :p || '_t_[0-9a-f]{16}$') ORDER BY 1"),
                {"p": pool_db},
            ).scalars().all()  # fmt: skip
        for name in names:
            with _connect(clusters.region_owner_url(r, name)) as conn:
                schemas = conn.execute(
                    text("SELECT table_schema FROM information_schema.tables"
                         " WHERE table_name = 'tenant' ORDER BY 1")
                ).scalars().all()  # fmt: skip
                for schema in schemas:
                    conn.execute(text("SELECT set_config('search_path', :s, false)"), {"s": schema})
                    yield r.name, name, schema, conn


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _located(tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[tuple[str, str, str], int]]:
    """Where each tenant's rows are, scanning every tenant table (and `tenant`) of every data
    schema of every database of every cluster: tenant -> {(region, database, schema): rows}."""
    found: dict[uuid.UUID, dict[tuple[str, str, str], int]] = {t: {} for t in tenant_ids}
    for region, database, schema, conn in _data_schemas(clusters.pool_database(
            clusters.home_region())):  # fmt: skip
        for table in ("tenant", *TENANT_TABLES):
            if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
                continue
            column = "id" if table == "tenant" else "tenant_id"
            rows = conn.execute(
                text(f"SELECT {column}, count(*) FROM {table} WHERE {column} = ANY(:ids)"
                     f" GROUP BY {column}"),
                {"ids": tenant_ids},
            ).all()  # fmt: skip
            for tid, n in rows:
                key = (region, database, schema)
                found[tid][key] = found[tid].get(key, 0) + n
    return found


def _rows_of(tenant_id: uuid.UUID) -> int:
    """Rows of the tenant anywhere (every table, audit events and outcomes included)."""
    return sum(_located([tenant_id])[tenant_id].values())


def _half_seeded(spec: data.TenantSpec) -> uuid.UUID:
    """An organisation provisioned without the completion marker, with one person (as a
    crash between provisioning and filling leaves it, or a hand-made one)."""
    created = create_tenant(slug=spec.slug, name=spec.name, tier=spec.tier, region=spec.region)
    tid = created.placement.tenant_id
    with owner_session(tid) as s:
        s.execute(
            text("INSERT INTO app_user (tenant_id, email, display_name, role) VALUES"
                 " (:t, 'ada.admin@' || :slug || '.example', 'Ada Okafor', 'tenant_admin')"),
            {"t": tid, "slug": spec.slug},
        )  # fmt: skip
    return tid


@pytest.mark.parametrize(
    ("module", "step"),
    [(demo_seeding, "_roll_up_goals"), (demo_reviews._DemoReviews, "current")],
    ids=["after-the-goals", "after-the-reviews"],
)
def test_a_demo_organisation_is_seeded_whole_or_not_at_all(
    demo: None, monkeypatch: pytest.MonkeyPatch, module: Any, step: str
) -> None:
    """A crash part-way (here: an error after the goals, or after every review but before
    the marker) leaves nothing of the organisation; the next run makes it whole."""
    spec = _own_acme()
    real = getattr(module, step)

    def crash(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise RuntimeError("killed part-way")

    monkeypatch.setattr(module, step, crash)
    with pytest.raises(RuntimeError, match="killed part-way"):
        seed.seed_demo(tenants=[spec])
    assert _tenant_id(spec.slug) is None
    assert _counts(spec.slug) == dict.fromkeys(TABLES, 0)
    monkeypatch.undo()

    done = seed.seed_demo(tenants=[spec])
    assert (done.created, done.repaired, done.skipped) == ([spec.slug], [], [])
    assert _counts(spec.slug) == _counts("acme")
    tid = _tenant_id(spec.slug)
    assert tid is not None and _marked(tid) == 1


@pytest.mark.parametrize("tier", ["pool", "schema", "database"])
def test_a_half_seeded_demo_organisation_is_made_again_by_the_next_run(
    demo: None, tier: str
) -> None:
    """An organisation provisioned without the completion marker (a crash between
    provisioning and filling, or one made by hand) is removed with everything of it (its
    catalog entry, its rows, schema or database) and made again; then it is left as it is."""
    spec = replace(_own_acme(), tier=tier, region="us-east" if tier == "database" else "eu-central")
    half = _half_seeded(spec)
    before = _located([half])[half]
    assert sum(before.values()) == 2  # its tenant row and the person

    done = seed.seed_demo(tenants=[spec])
    assert (done.created, done.repaired, done.skipped) == ([spec.slug], [spec.slug], [])
    assert done.rows["tenant"] == 1 and done.total_rows > 100
    tid = _tenant_id(spec.slug)
    assert tid is not None and tid != half and tid.version == 4
    assert _rows_of(half) == 0  # nothing of the half-made one is left
    assert placements.fetch(tid).tier == tier
    assert _counts(spec.slug) == _counts("acme")
    assert _marked(tid) == 1
    if tier != "pool":  # its own schema or database is gone, not merely emptied
        ((_region, database, schema),) = before
        with owner_session() as s:
            assert s.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            ).scalar_one() == (1 if schema == "public" else 0)
        if tier == "database":
            databases = [d for _r, d, _s, _c in _data_schemas(
                clusters.pool_database(clusters.home_region()))]  # fmt: skip
            assert database not in databases

    again = seed.seed_demo(tenants=[spec])
    assert (again.created, again.repaired, again.skipped, again.total_rows) == (
        [],
        [],
        [spec.slug],
        0,
    )
    assert _tenant_id(spec.slug) == tid and _marked(tid) == 1


def test_concurrent_demo_seeds_make_one_organisation(demo: None) -> None:
    spec = _own_acme()
    results: list[seed.SeedResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(seed.seed_demo(tenants=[spec]))
        except BaseException as err:  # (reported below, not lost in the thread)
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert sorted(slug for r in results for slug in r.created) == [spec.slug]
    assert sorted(slug for r in results for slug in r.skipped) == [spec.slug]
    assert _counts(spec.slug) == _counts("acme")


def _titles(slug: str) -> set[str]:
    """The goal titles of one organisation, read at its placement."""
    tid = _tenant_id(slug)
    assert tid is not None
    with owner_session(tid) as s:
        return set(
            s.execute(text("SELECT title FROM goal WHERE tenant_id = :t"), {"t": tid}).scalars()
        )


def test_demo_titles_differ_between_tenants(demo: None) -> None:
    titles = {slug: _titles(slug) for slug in DEMO_SLUGS}
    assert "Ship v2 checkout" in titles["acme"]
    assert "Reduce churn in EMEA" in titles["globex"]
    assert "Halve the support backlog" in titles["initech"]
    for a, b in (("acme", "globex"), ("acme", "initech"), ("globex", "initech")):
        assert titles[a].isdisjoint(titles[b]), (a, b)


def test_demo_organisations_live_in_their_tiers_and_their_rows_only_there(demo: None) -> None:
    """Acme in eu-central's pool, Initech in a schema of its own in eu-central's pool
    database, Globex in a database of its own on us-east's cluster; scanning every table of
    every database of every cluster finds each one's rows only at its placement."""
    where = {slug: placements.by_slug(slug) for slug in DEMO_SLUGS}
    assert {s: (p.tier.value, p.region) for s, p in where.items() if p} == {
        slug: (tier, region) for slug, tier, region in DEMO_PLACES
    }
    found = _located([p.tenant_id for p in where.values() if p])
    for slug, p in where.items():
        assert p is not None
        placed = p.as_json()
        assert list(found[p.tenant_id]) == [(p.region, placed["database"], placed["schema"])]
        assert found[p.tenant_id][(p.region, placed["database"], placed["schema"])] > 100, slug


def _demo_ids(pool_db: str) -> dict[str, set[uuid.UUID]]:
    """Every id of the demo organisations' rows, by table (tenants included), wherever they
    are on the clusters of the installation whose pool database is `pool_db`."""
    out: dict[str, set[uuid.UUID]] = {t: set() for t in ("tenant", *TABLES)}
    for _region, _database, _schema, conn in _data_schemas(pool_db):
        ids = list(conn.execute(
            text("SELECT id FROM tenant WHERE slug = ANY(:s)"), {"s": list(DEMO_SLUGS)}
        ).scalars())  # fmt: skip
        out["tenant"] |= set(ids)
        for t in TABLES:
            out[t] |= set(
                conn.execute(
                    text(f"SELECT id FROM {t} WHERE tenant_id = ANY(:ids)"), {"ids": ids}
                ).scalars()
            )
    return out


def test_demo_ids_are_random_not_derived_from_names(demo: None) -> None:
    """Nothing in the source derives an id from a name, every demo id is a random (version
    4) UUID, and two seed runs on fresh databases (this test installation, and another one
    made here on the same clusters) have no id in common: an id of a demo organisation
    cannot be computed."""
    import inspect
    import os
    import subprocess
    import sys

    from pms_dashboard.db import embedded

    for module in (seed, base, data, demo_seeding, demo_reviews, bulk):
        source = inspect.getsource(module)
        assert "uuid5" not in source and "uuid3" not in source and "NAMESPACE" not in source
    here = _demo_ids(clusters.pool_database(clusters.home_region()))
    assert all(len(ids) > 0 for ids in here.values()), here
    assert len(here["tenant"]) == len(DEMO_SLUGS)
    assert {i.version for ids in here.values() for i in ids} == {4}
    if get_settings().database_url is not None or get_settings().region_urls:
        pytest.skip("a second fresh installation needs the embedded servers")
    other = f"{get_settings().embedded_db_name}_seed_{uuid.uuid4().hex[:8]}"
    env = os.environ | {"PMS_EMBEDDED_DB": other}
    try:
        for command in (["db", "upgrade"], ["seed", "demo"]):
            done = subprocess.run(
                [sys.executable, "-m", "pms_dashboard.cli", *command],
                env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-2000:]
        there = _demo_ids(other)
    finally:
        for r in clusters.regions():
            embedded.drop_databases(clusters.embedded_cluster_of(r), other)
    assert {t: len(ids) for t, ids in there.items()} == {t: len(ids) for t, ids in here.items()}
    for table, ids in here.items():
        assert ids.isdisjoint(there[table]), table


def test_demo_sign_ins_cover_every_seeded_user(demo: None) -> None:
    listed = seed.demo_sign_ins()
    assert len(listed) == 30
    assert {(d.slug, d.email, d.role) for d in listed} >= {
        ("acme", "maria.manager@acme.example", "manager"),
        ("acme", "hana.hr@acme.example", "hr_admin"),
        ("globex", "gus.manager@globex.example", "manager"),
        ("initech", "rafael.manager@initech.example", "manager"),
    }
    seeded = set()
    for slug in DEMO_SLUGS:
        tid = _tenant_id(slug)
        assert tid is not None
        with owner_session(tid) as s:
            seeded |= {
                (slug, email, role)
                for email, role in s.execute(
                    text("SELECT email, role FROM app_user WHERE tenant_id = :t"), {"t": tid}
                )
            }
    assert seeded == {(d.slug, d.email, d.role) for d in listed}


@pytest.mark.parametrize(
    ("slug", "email", "title", "other"),
    [
        ("acme", "maria.manager@acme.example", "Ship v2 checkout", "gus.manager@globex.example"),
        ("globex", "gus.manager@globex.example", "Renew every strategic account on time",
         "rafael.manager@initech.example"),
        ("initech", "rafael.manager@initech.example", "Reach 99.95% platform availability",
         "maria.manager@acme.example"),
    ],
)  # fmt: skip
def test_demo_users_sign_in_with_the_demo_password_in_their_own_tenant_only(
    demo: None, slug: str, email: str, title: str, other: str
) -> None:
    password = get_settings().demo_password
    signed = sign_in(slug=slug, email=email, password=password)
    assert signed.principal.role == "manager"
    assert signed.principal.tenant_slug == slug
    # The seeded rows are visible to pms_app under RLS in the user's tenant, at its placement.
    with tenant_session(signed.principal.context) as s:
        own = s.scalars(select(Goal).where(col(Goal.owner_id) == signed.principal.user_id)).all()
    assert title in {g.title for g in own}
    with pytest.raises(SignInError):
        sign_in(slug=slug, email=other, password=password)


def test_bulk_seed_creates_exactly_the_requested_rows_and_is_idempotent() -> None:
    prefix = f"b{uuid.uuid4().hex[:8]}"
    # One tenant per transaction, two connections: the parallel path must count exactly too.
    result = seed.seed_bulk(
        tenants=3,
        users_per_tenant=5,
        goals_per_user=20,
        prefix=prefix,
        goals_per_transaction=100,
        workers=2,
    )
    assert (result.tenants_created, result.tenants_skipped) == (3, 0)
    assert (result.users, result.goals) == (15, 300)
    assert (result.key_results, result.check_ins) == (300, 150)
    assert result.rows == 3 + 15 + 300 + 300 + 150

    slugs = seed.bulk_slugs(tenants=3, prefix=prefix)
    counts = {slug: _counts(slug) for slug in slugs}
    assert sum(c["goal"] for c in counts.values()) == 300
    for c in counts.values():
        assert (c["app_user"], c["goal"], c["key_result"], c["goal_check_in"]) == (5, 100, 100, 50)

    tid = _tenant_id(slugs[0])
    assert tid is not None
    with owner_session(tid) as s:
        tree = s.execute(
            text("SELECT role, manager_id IS NULL, count(*) FROM app_user"
                 " WHERE tenant_id = :t GROUP BY 1, 2 ORDER BY 1"),
            {"t": tid},
        ).all()  # fmt: skip
        statuses = set(
            s.execute(text("SELECT status FROM goal WHERE tenant_id = :t"), {"t": tid}).scalars()
        )
    assert [tuple(r) for r in tree] == [("employee", False, 4), ("manager", True, 1)]
    assert statuses >= {"active", "completed"}
    # Written with COPY as the owner, readable by pms_app through RLS in that tenant only.
    with tenant_session(TenantContext(tenant_id=tid)) as s:
        assert s.execute(select(func.count()).select_from(Goal)).scalar_one() == 100

    again = seed.seed_bulk(tenants=3, users_per_tenant=5, goals_per_user=20, prefix=prefix)
    assert (again.tenants_created, again.tenants_skipped, again.rows) == (0, 3, 0)
    assert {slug: _counts(slug) for slug in slugs} == counts


def test_bulk_seed_refuses_a_prefix_that_makes_bad_slugs() -> None:
    before = _tenant_count()
    with pytest.raises(seed.SeedError):
        seed.seed_bulk(tenants=1, users_per_tenant=1, goals_per_user=1, prefix="Bad Prefix")
    assert _tenant_count() == before


@pytest.mark.parametrize(
    ("tier", "region"), [("pool", None), ("schema", "eu-central"), ("database", "us-east")]
)
def test_cli_bulk_seed(capsys: pytest.CaptureFixture[str], tier: str, region: str | None) -> None:
    """`seed --tenants N --tier T --region R` provisions each tenant there and COPYs its rows
    at its placement, nowhere else; a re-run skips the whole ones."""
    prefix = f"c{uuid.uuid4().hex[:8]}"
    argv = ["seed", "--tenants", "2", "--users-per-tenant", "3", "--goals-per-user", "4"]
    argv += ["--prefix", prefix, "--no-progress", "--tier", tier]
    argv += ["--region", region] if region else []
    assert main(argv) == 0
    assert "2 tenants created" in capsys.readouterr().out
    assert _counts(f"{prefix}-0002")["goal"] == 12
    found = [placements.by_slug(f"{prefix}-000{n}") for n in (1, 2)]
    home = clusters.home_region().name
    assert {(p.tier.value, p.region) for p in found if p} == {(tier, region or home)}
    located = _located([p.tenant_id for p in found if p])
    for p in found:
        assert p is not None
        placed = p.as_json()
        # its tenant row, 3 people, 12 goals, 12 key results, 6 check-ins
        assert located[p.tenant_id] == {(p.region, placed["database"], placed["schema"]): 34}
    assert main(argv) == 0
    assert "0 tenants created, 2 already existed" in capsys.readouterr().out


def test_bulk_seed_remakes_a_tenant_provisioned_but_never_filled() -> None:
    """A run interrupted between provisioning a tenant and committing its rows leaves it
    without people: the next run removes it and makes it whole."""
    prefix = f"u{uuid.uuid4().hex[:8]}"
    slug = seed.bulk_slugs(tenants=1, prefix=prefix)[0]
    empty = create_tenant(slug=slug, name="Empty", tier="schema").placement
    done = seed.seed_bulk(tenants=1, users_per_tenant=2, goals_per_user=1, prefix=prefix)
    assert (done.tenants_created, done.tenants_skipped) == (1, 0)
    tid = _tenant_id(slug)
    assert tid is not None and tid != empty.tenant_id
    assert _rows_of(empty.tenant_id) == 0
    assert _counts(slug)["app_user"] == 2


def test_cli_bulk_seed_refuses_an_unknown_tier_or_region(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _tenant_count()
    argv = ["seed", "--tenants", "1", "--prefix", f"r{uuid.uuid4().hex[:8]}", "--no-progress"]
    assert main([*argv, "--region", "mars-north"]) == 2
    assert "mars-north" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse names the choices
        main([*argv, "--tier", "cluster"])
    assert _tenant_count() == before


def test_cli_seed_without_a_target_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed"]) == 2
    assert "seed demo" in capsys.readouterr().err


def test_cli_tenants_create_refuses_a_bad_slug_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _tenant_count()
    assert main(["tenants", "create", "--slug", "Bad Slug!", "--name", "x"]) == 2
    captured = capsys.readouterr()
    assert "slug must be" in captured.err
    assert captured.out == ""
    assert _tenant_count() == before


def test_cli_tenants_create_refuses_an_existing_slug(
    demo: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tenant_count()
    assert main(["tenants", "create", "--slug", "acme", "--name", "Another Acme"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert _tenant_count() == before


def test_cli_tenants_create_then_list(demo: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Tenants made in each tier (by the command line) are listed with their tier, region,
    placement, migration revision and user count, read at each one's placement."""
    from pms_dashboard.db import migrate

    made = {}
    for tier, region in (("pool", None), ("schema", "eu-central"), ("database", "us-east")):
        slug = f"initech-{tier}-{uuid.uuid4().hex[:6]}"
        argv = ["tenants", "create", "--slug", slug, "--name", "Initech", "--tier", tier]
        assert main(argv + (["--region", region] if region else [])) == 0
        assert slug in capsys.readouterr().out
        made[slug] = placements.by_slug(slug)
    assert main(["tenants", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "slug", "name", "tier", "region", "placement", "revision", "users"
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    head = migrate.head_revision()
    for slug, tier, region in DEMO_PLACES:
        assert rows[slug][-1] == "10" and {tier, region, head} <= set(rows[slug])
    home = clusters.home_region().name
    for slug, p in made.items():
        assert p is not None
        where = {
            "pool": ["pool"],
            "schema": ["schema", p.schema],
            "database": ["database", p.database],
        }
        assert rows[slug] == [
            slug, "Initech", p.tier.value, p.region if p.tier != "pool" else home,
            *where[p.tier.value], head, "0",
        ]  # fmt: skip
    assert lines[-1] == f"{len(rows)} tenants"


def test_cli_db_url_hides_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "url"]) == 0
    out = capsys.readouterr().out
    password = make_url(owner_url()).password
    assert password and password not in out
    assert "***" in out


def test_cli_demo_signins_lists_accounts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-signins", "--url", "http://localhost:3000"]) == 0
    out = capsys.readouterr().out
    assert "http://localhost:3000" in out
    assert "maria.manager@acme.example" in out
    assert "rafael.manager@initech.example" in out and "gus.manager@globex.example" in out
    assert "globex (us-east, dedicated database)" in out
    assert "initech (eu-central, dedicated schema)" in out
    assert get_settings().demo_password in out
