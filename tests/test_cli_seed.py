"""Seeding (demo and bulk) and the command line, against the migrated test database."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import col

from pms_dashboard import seed
from pms_dashboard.auth.routes import sign_in_with_password as sign_in
from pms_dashboard.auth.service import SignInError
from pms_dashboard.cli import main
from pms_dashboard.db.engine import owner_url
from pms_dashboard.goals.models import Goal
from pms_dashboard.seed import base, bulk, data, demo_reviews
from pms_dashboard.seed import demo as demo_seeding
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant
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


def _counts(slug: str) -> dict[str, int]:
    """Rows per table of one tenant, read as the owner."""
    with owner_session() as s:
        return {
            t: s.execute(
                text(f"SELECT count(*) FROM {t} JOIN tenant ON tenant.id = {t}.tenant_id "
                     "WHERE tenant.slug = :slug"),
                {"slug": slug},
            ).scalar_one()
            for t in TABLES
        }  # fmt: skip


def _tenant_count() -> int:
    with owner_session() as s:
        return s.execute(select(func.count()).select_from(Tenant)).scalar_one()


@pytest.fixture(scope="module")
def demo() -> None:
    seed.seed_demo()


def test_demo_seed_twice_adds_nothing_the_second_time(demo: None) -> None:
    before = {slug: _counts(slug) for slug in ("acme", "globex")}
    again = seed.seed_demo()
    assert again.created == []
    assert sorted(again.skipped) == ["acme", "globex"]
    assert again.total_rows == 0
    assert {slug: _counts(slug) for slug in ("acme", "globex")} == before


@pytest.mark.parametrize(("slug", "goals"), [("acme", 23), ("globex", 24)])
def test_demo_tenant_has_the_designed_shape(demo: None, slug: str, goals: int) -> None:
    counts = _counts(slug)
    assert counts["app_user"] == 10
    assert counts["goal"] == goals
    assert counts["key_result"] >= goals  # every goal measured by at least one key result
    assert counts["goal_check_in"] >= 8
    assert counts["review_template"] == 1
    assert 3 <= counts["review_criterion"] <= 4
    assert counts["review_cycle"] == 2
    with owner_session() as s:
        tid = s.scalars(select(col(Tenant.id)).where(col(Tenant.slug) == slug)).one()
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
        assert fresh == ([] if slug == "globex" else ["not_started"])
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
    with owner_session() as s:
        return s.scalars(select(col(Tenant.id)).where(col(Tenant.slug) == slug)).first()


def _marked(tenant_id: uuid.UUID) -> int:
    """How many completion markers the organisation's audit trail holds."""
    with owner_session() as s:
        return s.execute(
            text("SELECT count(*) FROM audit_event WHERE tenant_id = :t AND action = :a"),
            {"t": tenant_id, "a": demo_seeding.COMPLETE_ACTION},
        ).scalar_one()


def _rows_of(tenant_id: uuid.UUID) -> int:
    """Rows of the tenant in every tenant table (audit events and outcomes included)."""
    with owner_session() as s:
        tables = s.execute(
            text("SELECT table_name FROM information_schema.columns WHERE column_name ="
                 " 'tenant_id' AND table_schema = 'public'")
        ).scalars().all()  # fmt: skip
        return sum(
            s.execute(
                text(f"SELECT count(*) FROM {t} WHERE tenant_id = :t"), {"t": tenant_id}
            ).scalar_one()
            for t in tables
        )


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


def test_a_half_seeded_demo_organisation_is_made_again_by_the_next_run(demo: None) -> None:
    """An organisation without the completion marker (as older code could leave it, in
    several transactions, or a tenant row made by hand) is deleted with everything of it
    and seeded again, in one transaction; then it is left as it is."""
    spec = _own_acme()
    with owner_session() as s:
        half = Tenant(slug=spec.slug, name=spec.name, region=spec.region)
        s.add(half)
        s.flush()
        s.execute(
            text("INSERT INTO app_user (tenant_id, email, display_name, role) VALUES"
                 " (:t, 'ada.admin@' || :slug || '.example', 'Ada Okafor', 'tenant_admin')"),
            {"t": half.id, "slug": spec.slug},
        )  # fmt: skip
    assert _rows_of(half.id) == 1

    done = seed.seed_demo(tenants=[spec])
    assert (done.created, done.repaired, done.skipped) == ([spec.slug], [spec.slug], [])
    assert done.rows["tenant"] == 1 and done.total_rows > 100
    tid = _tenant_id(spec.slug)
    assert tid is not None and tid != half.id and tid.version == 4
    assert _rows_of(half.id) == 0  # nothing of the half-made one is left
    assert _counts(spec.slug) == _counts("acme")
    assert _marked(tid) == 1

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


def test_demo_titles_differ_between_tenants(demo: None) -> None:
    with owner_session() as s:
        titles = {
            slug: set(
                s.execute(
                    text("SELECT g.title FROM goal g JOIN tenant t ON t.id = g.tenant_id"
                         " WHERE t.slug = :slug"),
                    {"slug": slug},
                ).scalars()
            )
            for slug in ("acme", "globex")
        }  # fmt: skip
    assert "Ship v2 checkout" in titles["acme"]
    assert "Reduce churn in EMEA" in titles["globex"]
    assert titles["acme"].isdisjoint(titles["globex"])


def _demo_ids(conn: Any) -> dict[str, set[uuid.UUID]]:
    """Every id of the demo organisations' rows, by table (tenants included)."""
    out = {"tenant": set(conn.execute(text(
        "SELECT id FROM tenant WHERE slug IN ('acme', 'globex')")).scalars())}  # fmt: skip
    for t in TABLES:
        out[t] = set(
            conn.execute(
                text(f"SELECT x.id FROM {t} AS x JOIN tenant ON tenant.id = x.tenant_id"
                     " WHERE tenant.slug IN ('acme', 'globex')")
            ).scalars()
        )  # fmt: skip
    return out


def test_demo_ids_are_random_not_derived_from_names(demo: None) -> None:
    """Nothing in the source derives an id from a name, every demo id is a random (version
    4) UUID, and two seed runs on fresh databases (this test database, and another one made
    here) have no id in common: an id of a demo organisation cannot be computed."""
    import inspect
    import os
    import subprocess
    import sys

    from sqlalchemy import create_engine

    from pms_dashboard.db import embedded
    from pms_dashboard.db.engine import embedded_cluster

    for module in (seed, base, data, demo_seeding, demo_reviews, bulk):
        source = inspect.getsource(module)
        assert "uuid5" not in source and "uuid3" not in source and "NAMESPACE" not in source
    with owner_session() as s:
        here = _demo_ids(s)
    assert all(len(ids) > 0 for ids in here.values()), here
    assert {i.version for ids in here.values() for i in ids} == {4}
    if get_settings().database_url is not None:
        pytest.skip("a second fresh database needs the embedded server")
    other = f"{get_settings().embedded_db_name}_seed_{uuid.uuid4().hex[:8]}"
    env = os.environ | {"PMS_EMBEDDED_DB": other}
    cluster = embedded_cluster()
    try:
        for command in (["db", "upgrade"], ["seed", "demo"]):
            done = subprocess.run(
                [sys.executable, "-m", "pms_dashboard.cli", *command],
                env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-2000:]
        engine = create_engine(embedded.ensure_database(cluster, other))
        with engine.connect() as conn:
            there = _demo_ids(conn)
        engine.dispose()
    finally:
        import psycopg
        from psycopg import sql

        with psycopg.connect(cluster._conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(other)))  # fmt: skip
    assert {t: len(ids) for t, ids in there.items()} == {t: len(ids) for t, ids in here.items()}
    for table, ids in here.items():
        assert ids.isdisjoint(there[table]), table


def test_demo_sign_ins_cover_every_seeded_user(demo: None) -> None:
    listed = seed.demo_sign_ins()
    assert len(listed) == 20
    assert {(d.slug, d.email, d.role) for d in listed} >= {
        ("acme", "maria.manager@acme.example", "manager"),
        ("acme", "hana.hr@acme.example", "hr_admin"),
        ("globex", "gus.manager@globex.example", "manager"),
    }
    with owner_session() as s:
        seeded = {
            tuple(row)
            for row in s.execute(
                text("SELECT t.slug, u.email, u.role FROM app_user u"
                     " JOIN tenant t ON t.id = u.tenant_id WHERE t.slug IN ('acme', 'globex')")
            )
        }  # fmt: skip
    assert seeded == {(d.slug, d.email, d.role) for d in listed}


def test_demo_users_sign_in_with_the_demo_password_in_their_own_tenant_only(demo: None) -> None:
    password = get_settings().demo_password
    signed = sign_in(slug="acme", email="maria.manager@acme.example", password=password)
    assert signed.principal.role == "manager"
    assert signed.principal.tenant_slug == "acme"
    # The seeded rows are visible to pms_app under RLS in the user's tenant.
    with tenant_session(signed.principal.context) as s:
        own = s.scalars(select(Goal).where(col(Goal.owner_id) == signed.principal.user_id)).all()
    assert {g.title for g in own} >= {"Ship v2 checkout"}
    with pytest.raises(SignInError):
        sign_in(slug="acme", email="gus.manager@globex.example", password=password)


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

    with owner_session() as s:
        tid = s.scalars(select(col(Tenant.id)).where(col(Tenant.slug) == slugs[0])).one()
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


def test_cli_bulk_seed(capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}"
    argv = ["seed", "--tenants", "2", "--users-per-tenant", "3", "--goals-per-user", "4"]
    assert main([*argv, "--prefix", prefix, "--no-progress"]) == 0
    assert "2 tenants created" in capsys.readouterr().out
    assert _counts(f"{prefix}-0002")["goal"] == 12


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
    slug = f"initech-{uuid.uuid4().hex[:6]}"
    assert main(["tenants", "create", "--slug", slug, "--name", "Initech"]) == 0
    assert slug in capsys.readouterr().out
    assert main(["tenants", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["slug", "name", "tier", "region", "users"]
    acme = next(line.split() for line in lines if line.startswith("acme "))
    assert acme[-1] == "10"  # users column
    assert any(line.startswith(f"{slug} ") and line.split()[-1] == "0" for line in lines)


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
    assert get_settings().demo_password in out
