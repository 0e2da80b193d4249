"""Migrations over every target: a test revision (kept outside the project's history, in a
version location of its own) adding a column and an index, applied by `db upgrade` over 50
schema tenants and 5 database tenants in two regions, with one target made to fail.

Runs in a database set of its own (PMS_EMBEDDED_DB=pms_test_tiermig on both clusters), so
the other tests keep seeing the project's real head."""

from __future__ import annotations

import os
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from pms_dashboard import cli
from pms_dashboard.db import clusters, embedded, migrate
from pms_dashboard.db import engine as db_engine
from pms_dashboard.db.targets import Target
from pms_dashboard.settings import PROJECT_ROOT, get_settings
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.provision import create_tenant
from tests.tiers import HOME, OTHER

DATABASE = "pms_test_tiermig"
REVISION = "t9001"
INDEX = "ix_goal_tenant_id_test_note"


def _reread_settings() -> None:
    """Forget everything resolved from the settings (engines, URLs, placements)."""
    db_engine.reset_engines()
    placements.forget()
    get_settings.cache_clear()


def _drop_all() -> None:
    for region in clusters.regions():
        embedded.drop_databases(clusters.embedded_cluster_of(region), DATABASE)


@pytest.fixture
def own_database() -> Iterator[None]:
    """This test's own databases on every region's cluster, migrated to the real head."""
    settings = get_settings()
    if settings.database_url is not None or settings.region_urls:
        pytest.skip("needs the embedded clusters (a database set of its own)")
    saved = os.environ["PMS_EMBEDDED_DB"]
    os.environ["PMS_EMBEDDED_DB"] = DATABASE
    _reread_settings()
    try:
        _drop_all()
        assert all(o.ok for o in migrate.upgrade(jobs=2))
        yield
    finally:
        _drop_all()
        os.environ["PMS_EMBEDDED_DB"] = saved
        _reread_settings()


@pytest.fixture
def test_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A revision on top of the real head, in a version location of its own that only this
    test's Alembic configuration (and its worker processes) reads."""
    head = migrate.head_revision()
    (tmp_path / f"{REVISION}_test_note.py").write_text(
        textwrap.dedent(
            f'''
            """Test revision: a column and an index on goal (tests only)."""
            import sqlalchemy as sa
            from alembic import op

            revision = "{REVISION}"
            down_revision = "{head}"
            branch_labels = None
            depends_on = None


            def upgrade() -> None:
                op.add_column("goal", sa.Column("test_note", sa.Text(), nullable=True))
                op.create_index("{INDEX}", "goal", ["tenant_id", "test_note"])


            def downgrade() -> None:
                op.drop_index("{INDEX}", table_name="goal")
                op.drop_column("goal", "test_note")
            '''
        )
    )
    real = migrate.alembic_config

    def with_test_revision(target: Target | None = None) -> Config:
        cfg = real(target)
        versions = [str(PROJECT_ROOT / "alembic" / "versions"), str(tmp_path)]
        cfg.set_main_option("version_locations", os.pathsep.join(versions))
        return cfg

    monkeypatch.setattr(migrate, "alembic_config", with_test_revision)
    assert migrate.head_revision() == REVISION
    return head or ""


def _columns(target: Target) -> set[str]:
    engine = create_engine(target.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_schema = :s AND table_name = 'goal'"
                    ),
                    {"s": target.schema},
                ).scalars()
            )
    finally:
        engine.dispose()


def _index_exists(target: Target) -> bool:
    engine = create_engine(target.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text("SELECT to_regclass(:ix)"), {"ix": f'"{target.schema}".{INDEX}'}
                ).scalar()
            )
    finally:
        engine.dispose()


def test_a_revision_over_schema_and_database_tenants_with_one_failure(
    own_database: None, test_revision: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old_head = test_revision
    started = time.perf_counter()
    slugs = [f"mig-s{i:02d}" for i in range(50)] + [f"mig-d{i}" for i in range(5)]
    for i, slug in enumerate(slugs):
        tier = "schema" if slug.startswith("mig-s") else "database"
        create_tenant(slug=slug, name=slug, tier=tier, region=(HOME, OTHER)[i % 2])
    made = time.perf_counter() - started

    by_slug = {t.slug: t for t in migrate.status() if t.slug}
    assert set(by_slug) == set(slugs)
    assert set(migrate.status().values()) == {old_head}  # all tenants made at the real head
    # The obstacle: an index of the revision's name already in one schema.
    blocked = by_slug["mig-s07"]
    engine = create_engine(blocked.url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE INDEX {INDEX} ON "{blocked.schema}".key_result (tenant_id)'))
    engine.dispose()

    capsys.readouterr()
    code = cli.main(["db", "upgrade", "--jobs", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1, out
    assert blocked.schema in failed[0] and "(mig-s07)" in failed[0]
    assert f"left at {old_head}" in failed[0]

    status = migrate.status()
    assert status[blocked] == old_head
    assert [t for t, rev in status.items() if rev != REVISION] == [blocked]
    assert "test_note" not in _columns(blocked)  # its transaction was rolled back whole
    for slug in ("mig-s06", "mig-d0", "mig-d1"):
        assert "test_note" in _columns(by_slug[slug])
        assert _index_exists(by_slug[slug])

    capsys.readouterr()
    assert cli.main(["db", "status"]) == 1
    listed = capsys.readouterr().out
    rows = [line.split() for line in listed.splitlines()]
    assert ["schema", blocked.region, blocked.label.split()[2], old_head] in rows
    assert f"1 at {old_head}" in listed and f"{len(status) - 1} at {REVISION}" in listed

    # The obstacle removed, a re-run finishes the job (only the one target is behind).
    engine = create_engine(blocked.url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f'DROP INDEX "{blocked.schema}".{INDEX}'))
    engine.dispose()
    outcomes = migrate.upgrade(jobs=2)
    assert [(o.target, o.ok) for o in outcomes] == [(blocked, True)]
    assert set(migrate.status().values()) == {REVISION}
    assert cli.main(["db", "status"]) == 0

    # New tenants are made at the new head (from the pool's tables and the template).
    for tier, region in (("schema", OTHER), ("database", HOME), ("database", OTHER)):
        slug = f"mig-new-{uuid.uuid4().hex[:6]}"
        create_tenant(slug=slug, name=slug, tier=tier, region=region)
        target = next(t for t in migrate.status() if t.slug == slug)
        assert migrate.revisions_of([target])[target] == REVISION
        assert "test_note" in _columns(target) and _index_exists(target)
    print(f"55 tenants made in {made:.1f} s; whole test {time.perf_counter() - started:.1f} s")


def test_role_bootstrap_from_parallel_workers_on_one_cluster() -> None:
    """`db upgrade --jobs N` migrates several databases of one cluster at once, and each
    re-states the cluster's runtime roles: none of them may fail for racing another."""
    from concurrent.futures import ThreadPoolExecutor

    from pms_dashboard.db.roles import ensure_roles
    from tests.conftest import new_tenant
    from tests.tiers import placement_of

    home = clusters.home_region()
    urls = [
        clusters.region_owner_url(home),
        clusters.region_owner_url(home, clusters.template_database(clusters.pool_database(home))),
        *(placement_of(new_tenant(tier="database", region=HOME).id).owner_base_url for _ in "ab"),
    ]

    def bootstrap(url: str) -> list[str]:
        engine = create_engine(url, poolclass=NullPool)
        errors = []
        try:
            for _ in range(15):
                try:
                    with engine.begin() as conn:
                        ensure_roles(conn)
                except Exception as err:  # collected: the assertion names them
                    errors.append(f"{type(err).__name__}: {err}".splitlines()[0])
        finally:
            engine.dispose()
        return errors

    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        errors = [e for found in pool.map(bootstrap, urls) for e in found]
    assert errors == [], "\n".join(errors)
