"""Isolation tiers side by side, in one run: pool, schema and database tenants.

Everything is built in a database name of the bench's own (`<PMS_EMBEDDED_DB>_tiers` on
every region's cluster: the pool and catalog, the template, the tenant databases), so
nothing else is disturbed, and dropped at the end (and at the start, after a killed run).

1. `tenant_session(ctx)` around one trivial statement (open, tenant context, search_path and
   fence in one round trip, `SELECT 1`, commit) for three tenants of the same size and
   content in the home region, one per tier; ratios to the pool tenant.
2. The list pages' events (goals and people) on the same three tenants, called as the
   websocket would (`ui.driver`: cookie check, tenant session, services, state update).
3. Tenant creation (`tenancy.provision.create_tenant`) per tier, every tenant the bench makes.
4. `db upgrade` (`db.migrate.upgrade`): a no-op run over every target, then one extra
   revision (a column and an index on `goal`) kept in a temporary folder, applied to every
   target by `bench.tiers_upgrade` in a process of its own.
5. PostgreSQL backends held while the database-tier tenants are used in turn, with
   `PMS_MAX_ENGINES` at its default and at a small value.

`python -m bench.tiers --schemas 1000 --databases 100` (the defaults); small sizes for a try.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import Timing, machine, measure_interleaved, summarize, write_section
from bench.tiers_upgrade import EXTRA_VERSIONS, TARGET_TIMES

TITLE = "Isolation tiers"
SUFFIX = "_tiers"
PREFIX = "tiers"
SAME = "tiers-same"  # the seed of every measured tenant's rows: same content in each tier
TIERS = ("pool", "schema", "database")
SESSION_TARGET = 1.05
CREATE_TARGET_S = {"schema": 1.0, "database": 2.0}
NOOP_TARGET_S = 30.0
EXTRA_REVISION = "bench_tiers_extra"


@dataclass(frozen=True)
class Sizes:
    """What the run builds and how often it measures; each a flag (`--session-runs`)."""

    schemas: int = field(default=1000, metadata={"help": "schema-tier tenants made"})
    databases: int = field(default=100, metadata={"help": "database-tier tenants made"})
    pools: int = field(default=20, metadata={"help": "pool-tier tenants made"})
    users: int = field(default=100, metadata={"help": "people in each measured tenant"})
    goals_per_user: int = field(default=10, metadata={"help": "goals of each of them"})
    session_runs: int = field(default=2000, metadata={"help": "tenant_session turns per tier"})
    page_runs: int = field(default=100, metadata={"help": "turns per list event and tier"})
    jobs: int = field(default=2, metadata={"help": "db upgrade --jobs for the extra revision"})
    small_engines: int = field(default=4, metadata={"help": "the small PMS_MAX_ENGINES"})


@dataclass
class Results:
    sizes: Sizes
    load_before: float = 0.0
    created: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TIERS})
    session: dict[str, Timing] = field(default_factory=dict)
    routing_us: dict[str, float] = field(default_factory=dict)
    pages: dict[str, dict[str, Timing]] = field(default_factory=dict)
    noop_s: list[float] = field(default_factory=list)
    targets: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    extra_per_target: dict[str, list[float]] = field(default_factory=dict)
    held: list[Held] = field(default_factory=list)
    seconds: float = 0.0
    load_after: float = 0.0


@dataclass(frozen=True)
class Held:
    max_engines: int
    uses: int
    max_backends: int
    end_backends: int
    engines: int
    pool_size: int


# ----------------------------------------------------------- the bench's own database


def _bench_env() -> dict[str, str]:
    """The settings pointing every region at the bench's own database name."""
    from pms_dashboard.db import clusters
    from pms_dashboard.settings import get_settings

    s = get_settings()
    env = {"PMS_EMBEDDED_DB": s.embedded_db_name + SUFFIX}
    if s.region_urls:
        env["PMS_REGIONS"] = ",".join(
            f"{name}={_suffixed(clusters, url)}" for name, url in s.region_urls.items()
        )
    if s.database_url:
        env["DATABASE_URL"] = _suffixed(clusters, s.database_url)
    return env


def _suffixed(clusters: Any, url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(clusters.with_database(url, (make_url(url).database or "pms") + SUFFIX))


def _reload() -> None:
    """Settings, engines and cached placements read afresh (after a change of settings)."""
    from pms_dashboard.db import engine
    from pms_dashboard.settings import get_settings
    from pms_dashboard.tenancy import placement

    get_settings.cache_clear()
    engine.reset_engines()
    placement.forget()


@contextmanager
def settings(changes: dict[str, str]) -> Iterator[None]:
    """The process's settings with `changes` while the block runs."""
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    _reload()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reload()


def drop_bench_databases() -> int:
    """Drop the bench's databases on every region's cluster; how many were dropped."""
    from sqlalchemy import create_engine, pool, text

    from pms_dashboard.db import clusters, engine, provision

    engine.reset_engines()
    dropped = 0
    for r in clusters.regions():
        pool_url = clusters.region_owner_url(r)
        name = clusters.pool_database(r)
        admin = create_engine(clusters.with_database(pool_url, "postgres"), poolclass=pool.NullPool)
        with admin.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT datname FROM pg_database WHERE datname = :n OR datname = :t"
                    " OR starts_with(datname, :p) ORDER BY datname"
                ),
                {"n": name, "t": clusters.template_database(name), "p": f"{name}_t_"},
            ).scalars()
            names = list(found)
        admin.dispose()
        for database in sorted(names, key=lambda d: d == name):  # the catalog last
            provision.drop_database(clusters.with_database(pool_url, database))
            dropped += 1
    clusters.reset()
    return dropped


# ------------------------------------------------------------------------ tenants


@dataclass(frozen=True)
class Subject:
    tier: str
    tenant_id: uuid.UUID
    slug: str


def _create(slug: str, tier: str, region: str, results: Results) -> uuid.UUID:
    from pms_dashboard.tenancy.provision import create_tenant

    started = time.perf_counter()
    made = create_tenant(slug=slug, name=slug.replace("-", " ").title(), tier=tier, region=region)
    results.created[tier].append(time.perf_counter() - started)
    return made.placement.tenant_id


def _fill(tenant_id: uuid.UUID, sizes: Sizes, password_hash: str) -> None:
    """The same people and goals as `seed_bulk` makes (seeded alike in every tier), written
    with COPY as the owner at the tenant's placement, then analysed there."""
    from sqlalchemy import text

    from pms_dashboard.goals.models import REFRESH_LATEST_CHECK_IN
    from pms_dashboard.seed import bulk
    from pms_dashboard.tenancy.session import owner_session

    shape = bulk._BulkShape(
        users_per_tenant=sizes.users,
        goals_per_user=sizes.goals_per_user,
        key_results_per_goal=1.0,
        check_ins_per_goal=0.5,
        password_hash=password_hash,
        calendar=bulk._Calendar(date.today()),
    )
    rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in bulk._BULK_TABLES}
    bulk._bulk_tenant_rows(str(tenant_id), SAME, shape, rows)
    with owner_session(tenant_id) as s:
        raw = s.connection().connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            bulk._copy_rows(cur, "app_user", rows["app_user"])
            bulk._copy_rows(cur, "goal", rows["goal"])
            bulk._copy_rows(cur, "key_result", bulk._with_ids(rows["key_result"]))
            bulk._copy_rows(cur, "goal_check_in", bulk._with_ids(rows["goal_check_in"]))
        s.execute(text(REFRESH_LATEST_CHECK_IN), {"tenant_ids": [str(tenant_id)]})
        s.execute(text("ANALYZE tenant, app_user, goal, key_result, goal_check_in"))


def make_tenants(sizes: Sizes, results: Results) -> tuple[list[Subject], list[uuid.UUID]]:
    """The three measured tenants (home region, filled alike), then the other pool, schema
    and database tenants, alternating between the regions; every creation is timed."""
    from rich.progress import Progress

    from pms_dashboard.auth.passwords import hash_password
    from pms_dashboard.db import clusters
    from pms_dashboard.settings import get_settings

    names = [r.name for r in clusters.regions()]
    home = names[0]
    subjects = [
        Subject(tier, _create(f"{PREFIX}-{tier}", tier, home, results), f"{PREFIX}-{tier}")
        for tier in TIERS
    ]
    password_hash = hash_password(get_settings().demo_password)
    for subject in subjects:
        _fill(subject.tenant_id, sizes, password_hash)
    plan = [("pool", i) for i in range(1, sizes.pools)]
    plan += [("schema", i) for i in range(1, sizes.schemas)]
    plan += [("database", i) for i in range(1, sizes.databases)]
    # interleaved, so each tier meets a catalog and pool database of every size
    plan.sort(key=lambda p: p[1] / {"pool": sizes.pools, "schema": sizes.schemas,
                                    "database": sizes.databases}[p[0]])  # fmt: skip
    databases = [s.tenant_id for s in subjects if s.tier == "database"]
    with Progress() as bar:
        task = bar.add_task("creating tenants", total=len(plan))
        for tier, i in plan:
            made = _create(f"{PREFIX}-{tier[0]}{i:05d}", tier, names[i % len(names)], results)
            if tier == "database":
                databases.append(made)
            bar.advance(task)
    return subjects, databases


# ------------------------------------------------------------------ measurements


def measure_sessions(subjects: list[Subject], runs: int) -> dict[str, Timing]:
    """`tenant_session` + `SELECT 1` for each tier's tenant, taking turns."""
    from rich.progress import Progress
    from sqlalchemy import text

    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import tenant_session

    one = text("SELECT 1")

    def unit(tenant_id: uuid.UUID) -> Callable[[], None]:
        ctx = TenantContext(tenant_id=tenant_id)

        def run() -> None:
            with tenant_session(ctx) as s:
                s.execute(one).scalar_one()

        return run

    with Progress() as bar:
        task = bar.add_task("tenant_session cost", total=runs)
        return measure_interleaved(
            {s.tier: unit(s.tenant_id) for s in subjects},  # type: ignore[misc]
            runs=runs,
            warmup=50,
            advance=lambda: bar.advance(task),
        )


def measure_routing(subjects: list[Subject], calls: int = 20_000) -> dict[str, float]:
    """The door's routing inside the process (cached placement, then its engine): median
    microseconds per call, in batches of 100."""
    from pms_dashboard.settings import APP_ROLE
    from pms_dashboard.tenancy import placement

    found = {}
    for s in subjects:
        batches = []
        for _ in range(calls // 100):
            started = time.perf_counter()
            for _ in range(100):
                placement.engine_of(placement.lookup(s.tenant_id), APP_ROLE)
            batches.append((time.perf_counter() - started) * 1e4)
        found[s.tier] = statistics.median(batches)
    return found


def _page_events(slug: str) -> dict[str, Callable[[], None]]:
    """The goals and people list events of one tenant, as its manager and an employee."""
    from pms_dashboard.settings import get_settings
    from pms_dashboard.ui.driver import call, state_for, token_for
    from pms_dashboard.ui.states.goals import GoalsState
    from pms_dashboard.ui.states.people import PeopleState

    password = get_settings().demo_password
    manager = token_for(slug, f"user0000@{SAME}.example", password)
    employee = token_for(slug, f"user0002@{SAME}.example", password)

    def my_goals() -> None:
        st = state_for(GoalsState, employee, "/goals")
        call(st, GoalsState.load)
        assert st.rows

    def team_goals() -> None:
        st = state_for(GoalsState, manager, "/goals")
        call(st, GoalsState.load)
        call(st, GoalsState.set_scope, "team")
        assert st.rows

    def people() -> None:
        st = state_for(PeopleState, manager, "/people")
        call(st, PeopleState.load)
        assert st.rows

    return {
        "Goals list on_load: my goals (employee)": my_goals,
        "Goals list on_load + team scope, whole tenant (manager)": team_goals,
        "People list on_load (manager)": people,
    }


def measure_pages(subjects: list[Subject], runs: int) -> dict[str, dict[str, Timing]]:
    """Each list event on each tier's tenant, the tiers taking turns."""
    from rich.progress import Progress

    events = {s.tier: _page_events(s.slug) for s in subjects}
    names = list(events["pool"])
    found: dict[str, dict[str, Timing]] = {}
    with Progress() as bar:
        task = bar.add_task("list pages", total=runs * len(names))
        for name in names:
            found[name] = measure_interleaved(
                {tier: events[tier][name] for tier in TIERS},  # type: ignore[misc]
                runs=runs,
                warmup=5,
                advance=lambda: bar.advance(task),
            )
    return found


def measure_noop_upgrade(results: Results, runs: int = 3) -> None:
    """`db upgrade` with every target at head, `runs` times."""
    from pms_dashboard.db import migrate, targets

    results.targets = len(targets.all_targets())
    for _ in range(runs):
        started = time.perf_counter()
        outcomes = migrate.upgrade()
        results.noop_s.append(time.perf_counter() - started)
        assert not outcomes, [o.target.label for o in outcomes]


_REVISION = '''"""Benchmark only (bench.tiers): a column and an index on goal. Never in the
project's history: this file lives in a temporary folder while the benchmark runs."""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("goal", sa.Column("bench_note", sa.Text(), nullable=True))
    op.create_index("ix_goal_bench_note", "goal", ["tenant_id", "bench_note"])


def downgrade() -> None:
    op.drop_index("ix_goal_bench_note", table_name="goal")
    op.drop_column("goal", "bench_note")
'''


def measure_extra_revision(results: Results, jobs: int) -> None:
    """The extra revision over every target, by `db upgrade` in a process of its own."""
    from pms_dashboard.db import migrate

    with tempfile.TemporaryDirectory(prefix="pms-bench-") as folder:
        versions = Path(folder) / "versions"
        versions.mkdir()
        source = _REVISION.format(revision=EXTRA_REVISION, down=migrate.head_revision())
        (versions / f"{EXTRA_REVISION}.py").write_text(source)
        times = Path(folder) / "times.tsv"
        env = {**os.environ, EXTRA_VERSIONS: str(versions), TARGET_TIMES: str(times)}
        done = subprocess.run(
            [sys.executable, "-m", "bench.tiers_upgrade", "--jobs", str(jobs), "--noop-after"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        results.extra = json.loads(done.stdout.strip().splitlines()[-1])
        per: dict[str, list[float]] = {}
        for line in times.read_text().splitlines():
            kind, seconds = line.split("\t")
            per.setdefault(kind, []).append(float(seconds))
        results.extra_per_target = per


def _backends(counters: list[Any], pattern: str) -> int:
    from sqlalchemy import text

    sql = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'pms-app' AND starts_with(datname, :p)"
    )
    return sum(int(c.execute(sql, {"p": pattern}).scalar_one()) for c in counters)


def measure_connections(databases: list[uuid.UUID], max_engines: int, passes: int = 2) -> Held:
    """Use each database-tier tenant in turn (`passes` times) with `PMS_MAX_ENGINES` =
    `max_engines`; backends of `pms_app` on tenant databases counted after each use."""
    from sqlalchemy import create_engine, pool, text

    from pms_dashboard.db import clusters, engine
    from pms_dashboard.settings import get_settings
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import tenant_session

    with settings({"PMS_MAX_ENGINES": str(max_engines)}):
        admins = [
            create_engine(
                clusters.with_database(clusters.region_owner_url(r), "postgres"),
                poolclass=pool.NullPool,
                isolation_level="AUTOCOMMIT",
            )
            for r in clusters.regions()
        ]
        counters = [a.connect() for a in admins]
        pattern = clusters.pool_database(clusters.home_region()) + "_t_"
        counts = []
        try:
            for _ in range(passes):
                for tenant_id in databases:
                    with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
                        s.execute(text("SELECT count(*) FROM goal")).scalar_one()
                    counts.append(_backends(counters, pattern))
            time.sleep(0.2)  # a disposed pool's backends take a moment to exit
            end = _backends(counters, pattern)
            engines = engine.engine_counts()[1]
        finally:
            for c in counters:
                c.close()
            for a in admins:
                a.dispose()
        return Held(
            max_engines, len(counts), max(counts), end, engines, get_settings().tenant_pool_size
        )


# --------------------------------------------------------------------------- report


def _ms(t: Timing) -> str:
    return f"{t.median_ms:.2f} | {t.p95_ms:.2f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _session_table(r: Results) -> str:
    pool = r.session["pool"]
    rows = "\n".join(
        f"| {tier} | {_ms(t)} | {t.ratio_to(pool):.3f} |"
        + (" |" if tier == "pool" else f" {_verdict(t.ratio_to(pool) <= SESSION_TARGET)} |")
        for tier, t in r.session.items()
    )
    return (
        "| Tier | median ms | p95 ms | ratio to pool | target ≤ 1.05 |\n"
        f"|---|---:|---:|---:|---|\n{rows}"
    )


def _session_note(r: Results) -> str:
    """How much of each tier's door is routing inside the process, and what a miss is."""
    pool, route = r.session["pool"], r.routing_us
    each = ", ".join(f"{tier} {us:.1f} µs" for tier, us in route.items())
    text = (
        f"Routing inside the process (the cached placement, then its engine) per transaction: "
        f"{each}; the rest of the door's time is the round trips to the server."
    )
    for tier in ("schema", "database"):
        t = r.session[tier]
        if t.ratio_to(pool) > SESSION_TARGET:
            extra_us = (t.median_ms - pool.median_ms) * 1000
            text += (
                f" **Target missed for the {tier} tier**: {extra_us:.0f} µs more than the pool "
                f"tenant's door, of which routing in the process is "
                f"{route[tier] - route['pool']:.1f} µs; the rest is waiting on its database's "
                "backend (a profile of the door is dominated by psycopg waiting on the socket "
                "in every tier): the same statements, on another database of the same cluster."
            )
    return text


def _pages_table(r: Results) -> str:
    lines = []
    for name, by_tier in r.pages.items():
        pool = by_tier["pool"]
        cells = [f"{_ms(pool)}"]
        for tier in ("schema", "database"):
            t = by_tier[tier]
            ratio = t.ratio_to(pool)
            mark = "**" if ratio > SESSION_TARGET else ""
            cells.append(f"{_ms(t)} | {mark}{ratio:.3f}{mark}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return (
        "| Event | pool median ms | p95 | schema median ms | p95 | ratio | database median ms "
        "| p95 | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(lines)
    )


def _seconds(samples: list[float]) -> tuple[float, float]:
    t = summarize("", [s * 1000 for s in samples])
    return t.median_ms / 1000, t.p95_ms / 1000


def _creation_table(r: Results) -> str:
    lines = []
    for tier, samples in r.created.items():
        if not samples:
            continue
        median, p95 = _seconds(samples)
        tenth = max(1, len(samples) // 10)
        first, last = statistics.median(samples[:tenth]), statistics.median(samples[-tenth:])
        target = CREATE_TARGET_S.get(tier)
        verdict = f"< {target:.0f} s: {_verdict(p95 < target)}" if target else ""
        lines.append(
            f"| {tier} | {len(samples):,} | {median:.3f} | {p95:.3f} | {max(samples):.3f} "
            f"| {first:.3f} | {last:.3f} | {verdict} |"
        )
    return (
        "| Tier | tenants made | median s | p95 s | max s | first 10% median s "
        "| last 10% median s | target (p95) |\n|---|---:|---:|---:|---:|---:|---:|---|\n"
        + "\n".join(lines)
    )


def _upgrade_text(r: Results) -> str:
    s = r.sizes
    noop = statistics.median(r.noop_s)
    extra = r.extra
    per_kind = []
    for kind in ("catalog", "pool", "template", "schema", "database"):
        samples = r.extra_per_target.get(kind)
        if samples:
            median, p95 = _seconds(samples)
            per_kind.append(
                f"| {kind} | {len(samples):,} | {median * 1000:.0f} | {p95 * 1000:.0f} |"
            )
    migrated = int(extra.get("migrated", 0))
    failed = extra.get("failed") or []
    wall_per = extra["seconds"] / migrated * 1000 if migrated else float("nan")
    return f"""No-op `db upgrade` (`pms_dashboard.db.migrate.upgrade`, every target at head) over
{r.targets:,} targets ({s.schemas:,} schema tenants, {s.databases:,} database tenants, and each
region's pool/catalog and template databases): **{noop:.2f} s** (median of
{len(r.noop_s)} runs: {", ".join(f"{x:.2f}" for x in r.noop_s)} s); target < {NOOP_TARGET_S:.0f} s:
{_verdict(noop < NOOP_TARGET_S)} (django-tenants: 12 minutes for ~900 schemas).

One extra revision adding a column and an index to `goal` (a temporary revision in a folder of
its own, on top of the project's head, never part of its history), applied by `db upgrade
--jobs {s.jobs}` to every target: **{extra["seconds"]:.1f} s** for {migrated:,} targets
({wall_per:.0f} ms of wall time per target), {len(failed)} failed{
        ": " + "; ".join(failed[:3]) if failed else ""
    }. A no-op run right after, at the new head: {extra.get("noop_seconds", 0):.2f} s.
Time per target inside its worker (Alembic environment, connection, role check for whole
databases, the DDL, the version row, commit):

| Target kind | targets | median ms | p95 ms |
|---|---:|---:|---:|
{chr(10).join(per_kind)}"""


def _connections_table(r: Results) -> str:
    lines = [
        f"| {h.max_engines}{' (default)' if i == 0 else ''} | {h.uses:,} | {h.max_backends} "
        f"| {h.end_backends} | {h.engines} | {h.max_engines * h.pool_size} "
        f"| {_verdict(h.max_backends <= h.max_engines * h.pool_size)} |"
        for i, h in enumerate(r.held)
    ]
    return (
        "| PMS_MAX_ENGINES | tenant uses | backends held, max | at the end | engines kept "
        "| bound (engines x PMS_TENANT_POOL_SIZE) | bounded |\n"
        "|---|---:|---:|---:|---:|---:|---|\n" + "\n".join(lines)
    )


def report(r: Results) -> str:
    s = r.sizes
    cpus = os.cpu_count() or 1
    busy = (
        f" Other work was running on the machine (load average {r.load_before:.1f} before the "
        f"run, {r.load_after:.1f} after, on {cpus} CPUs), so absolute times are noisy; the "
        "tiers took turns in every comparison, so the ratios are not skewed by it."
        if r.load_before > 0.5
        else ""
    )
    goals = s.users * s.goals_per_user
    return f"""Machine: {machine()}.{busy} Run time {r.seconds / 60:.1f} minutes.

Built for this run in a database name of the bench's own on each region's cluster (two
embedded clusters on this machine, eu-central and us-east), dropped afterwards:
{s.pools:,} pool, {s.schemas:,} schema and {s.databases:,} database tenants, alternating
between the regions. Measured side by side: three tenants in the home region, one per tier,
each with the same {s.users:,} people and {goals:,} goals (with key results and check-ins;
the same generated rows in each), written with COPY and analysed. The pool database holds
only the bench's {s.pools:,} pool tenants (no data besides the measured one's).

### `tenant_session` cost

`tenant_session(ctx)` around `SELECT 1`: an ORM session, BEGIN with the tenant context, the
placement's `search_path` and the fence read pipelined in one round trip, the statement,
COMMIT, close. {s.session_runs:,} turns each, the tiers taking turns (who goes first rotates).

{_session_table(r)}

{_session_note(r)}

### List pages' event server time

Each event called as the browser's websocket would (`ui.driver`: cookie check, tenant session,
services, state update), as `pms_app` under RLS; {s.page_runs} turns each, tiers taking turns.

{_pages_table(r)}

### Tenant creation

`tenancy.provision.create_tenant` per tenant made (wall time: slug check, the placement — a
pool tenant's row, a schema cloned at head, or a database copied from the template —, the
catalog row and its platform audit event, the placement read back).

{_creation_table(r)}

### Migrations over every target

{_upgrade_text(r)}

### Connections held by database-tier tenants

Each of the {s.databases:,} database-tier tenants used in turn (a tenant session counting its
goals), twice over, in one process; after each use, the backends of `pms_app` on tenant
databases in `pg_stat_activity` of both clusters.

{_connections_table(r)}
"""


# ----------------------------------------------------------------------------- run


def run(sizes: Sizes | None = None) -> Results:
    from pms_dashboard.db import migrate
    from pms_dashboard.settings import Settings

    sizes = sizes or Sizes()
    results = Results(sizes, load_before=os.getloadavg()[0])
    started = time.perf_counter()
    with settings(_bench_env()):
        drop_bench_databases()
        try:
            migrate.upgrade()
            subjects, databases = make_tenants(sizes, results)
            results.session = measure_sessions(subjects, sizes.session_runs)
            results.routing_us = measure_routing(subjects)
            results.pages = measure_pages(subjects, sizes.page_runs)
            measure_noop_upgrade(results)
            default = int(Settings.model_fields["max_engines"].default)
            for limit in (default, sizes.small_engines):
                results.held.append(measure_connections(databases, limit))
            measure_extra_revision(results, sizes.jobs)
        finally:
            drop_bench_databases()
    results.seconds = time.perf_counter() - started
    results.load_after = os.getloadavg()[0]
    write_section(TITLE, report(results))
    return results


def _parse(argv: list[str] | None) -> Sizes:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tiers", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    for f in fields(Sizes):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=int, default=f.default, help=f.metadata["help"]
        )
    args = parser.parse_args(argv)
    sizes = Sizes(**vars(args))
    if min(sizes.schemas, sizes.databases, sizes.pools, sizes.users, sizes.jobs) < 1:
        parser.error("every size must be at least 1")
    if sizes.users < 3 or sizes.session_runs < 1 or sizes.page_runs < 1:
        parser.error("need at least 3 users and 1 run")
    return sizes


if __name__ == "__main__":
    done = run(_parse(None))
    print(report(done))
