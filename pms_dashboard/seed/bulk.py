"""Synthetic tenants for load tests (`seed --tenants N [--tier T] [--region R]`): each
tenant provisioned through `tenancy.provision.create_tenant` in the tier and region asked
for, then its rows written with COPY at its placement as the owner (BYPASSRLS: COPY FROM is
refused on RLS tables otherwise): one transaction per placement database and schema per
chunk of tenants (a pool chunk's tenants together), so a tenant's rows commit whole. A
tenant provisioned without people (a run interrupted between provisioning and its COPY) is
removed and made again by the next run; whole ones are skipped. Rows are generated as
ready-made text so Python stays out of the way. Ids are random (version 4).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

import pms_dashboard.models  # noqa: F401  (every table in the metadata)
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.db import clusters
from pms_dashboard.db.engine import OWNER, owner_engine
from pms_dashboard.goals.models import REFRESH_LATEST_CHECK_IN
from pms_dashboard.keys import access as keys
from pms_dashboard.keys import envelope
from pms_dashboard.keys import service as key_admin
from pms_dashboard.keys.envelope import Place
from pms_dashboard.seed.base import SeedError, refuse_in_production
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.placement import Placement, Tier
from pms_dashboard.tenancy.provision import create_tenant, delete_tenant
from pms_dashboard.tenancy.registry import SLUG_RE, TenantError
from pms_dashboard.tenancy.session import owner_session

FIRST_NAMES = (
    "Amara", "Ben", "Carla", "Deniz", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jamal",
    "Kira", "Lena", "Mateo", "Nadia", "Oscar", "Paula", "Quentin", "Rosa", "Sami", "Tess",
    "Umar", "Vera", "Wen", "Xavier", "Yara", "Zoltan", "Anika", "Bruno", "Chiara", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat",
    "Ivanova", "Jensen", "Kaur", "Lopez", "Moreau", "Novak", "Okoro", "Petrov", "Quinn",
    "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
DEPARTMENTS = (
    ("Engineering", ("Platform", "Payments", "Mobile")),
    ("Sales", ("EMEA", "Americas", "APAC")),
    ("Customer Success", ("Onboarding", "Retention")),
    ("Marketing", ("Growth", "Brand")),
    ("Operations", ("Finance", "People")),
)
JOB_TITLES = ("Analyst", "Specialist", "Engineer", "Senior Engineer", "Lead", "Associate")
GOAL_VERBS = (
    "Improve", "Reduce", "Launch", "Automate", "Grow", "Standardise", "Migrate", "Simplify",
    "Expand", "Document", "Streamline", "Pilot", "Scale", "Modernise", "Consolidate",
)  # fmt: skip
GOAL_OBJECTS = (
    "the onboarding flow", "invoice processing", "customer churn", "release frequency",
    "support backlog", "the partner programme", "data quality", "the pricing page",
    "forecast accuracy", "cloud spend", "the mobile app", "pipeline coverage",
    "incident response", "hiring funnel", "renewal rate", "the design system",
    "API latency", "NPS in key accounts", "the analytics warehouse", "security training",
)  # fmt: skip
KR_TEMPLATES = (
    ("Completion", "0.00", "100.00", "%"),
    ("Revenue booked", "0.00", "250000.00", "EUR"),
    ("Tickets resolved", "0.00", "400.00", "tickets"),
    ("Median response time", "48.00", "12.00", "h"),
    ("Accounts activated", "0.00", "60.00", "accounts"),
)
CHECK_IN_NOTES = (
    "On plan this week.",
    "Blocked on a dependency from another team.",
    "Good progress after the last sprint.",
    "Scope trimmed to hit the date.",
    "Waiting on customer feedback.",
    "",
)
# draft 10%, active 60%, completed 20%, archived 10%
_STATUS_BY_DECILE = ("draft",) + ("active",) * 6 + ("completed",) * 2 + ("archived",)
_BEHIND = ("at_risk", "off_track")
_BULK_TABLES = ("app_user", "goal", "key_result", "goal_check_in")
_COPY_SQL = {
    "app_user": "COPY app_user (tenant_id, id, email, display_name, role, manager_id, "
    "department, team, job_title, password_hash) FROM STDIN",
    "goal": "COPY goal (tenant_id, id, owner_id, parent_id, title, period, start_date, "
    "due_date, status, progress) FROM STDIN",
    "key_result": "COPY key_result (tenant_id, id, goal_id, title, start_value, target_value, "
    "current_value, unit, weight) FROM STDIN",
    "goal_check_in": "COPY goal_check_in (tenant_id, id, goal_id, author_id, progress, "
    "confidence, note, created_at) FROM STDIN",
}


@dataclass
class BulkSeedResult:
    """What `seed_bulk` did."""

    tenants_created: int = 0
    tenants_skipped: int = 0
    users: int = 0
    goals: int = 0
    key_results: int = 0
    check_ins: int = 0
    seconds: float = 0.0

    def add(self, other: BulkSeedResult) -> None:
        """Fold in the counts of one chunk."""
        self.tenants_created += other.tenants_created
        self.tenants_skipped += other.tenants_skipped
        self.users += other.users
        self.goals += other.goals
        self.key_results += other.key_results
        self.check_ins += other.check_ins

    @property
    def rows(self) -> int:
        """Rows inserted in every table, tenants included."""
        return self.tenants_created + self.users + self.goals + self.key_results + self.check_ins

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _random_ids(n: int) -> list[str]:
    """n random version-4 UUIDs as 32 hex digits (PostgreSQL's uuid input accepts them);
    about ten times faster than str(uuid4()) per id."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])
    hexed = raw.hex()
    return [hexed[i : i + 32] for i in range(0, 32 * n, 32)]


def _spread(index: int, ratio: float) -> int:
    """How many children item `index` gets so that n items get round(n * ratio) in total,
    evenly spread (ratio 0.5: every other item gets one)."""
    return int((index + 1) * ratio + 1e-9) - int(index * ratio + 1e-9)


class _Calendar:
    """Dates around today as ready-made text, so row generation does no date arithmetic."""

    PAST, FUTURE = 400, 200

    def __init__(self, today: date) -> None:
        days = [today + timedelta(days=d) for d in range(-self.PAST, self.FUTURE + 1)]
        self.iso = [d.isoformat() for d in days]
        self.period = [f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in days]
        self.noon = [f"{d.isoformat()} 12:00:00+00" for d in days]

    def index(self, offset: int) -> int:
        """Index of today + offset days (offset in [-PAST, FUTURE])."""
        return offset + self.PAST


@dataclass(frozen=True)
class _BulkShape:
    users_per_tenant: int
    goals_per_user: int
    key_results_per_goal: float
    check_ins_per_goal: float
    password_hash: str
    calendar: _Calendar
    tier: str = Tier.pool.value
    region: str | None = None  # None: the home region
    encrypted: bool = False  # opted in to encrypted free text (the platform's key)


def _bulk_tenant_rows(
    tenant_id: str, slug: str, shape: _BulkShape, out: dict[str, list[tuple[Any, ...]]]
) -> None:
    """Append the synthetic rows of one tenant to `out` (one list of tuples per table)."""
    rng = random.Random(slug)
    user_ids = _random_ids(shape.users_per_tenant)
    _bulk_users(rng, tenant_id, slug, user_ids, shape, out["app_user"])
    _bulk_goals(rng, tenant_id, user_ids, shape, out)


def _bulk_users(
    rng: random.Random,
    tenant_id: str,
    slug: str,
    user_ids: list[str],
    shape: _BulkShape,
    users: list[tuple[Any, ...]],
) -> None:
    """The tenant's people: the first manages all the others."""
    randrange, manager = rng.randrange, user_ids[0]
    for u, user_id in enumerate(user_ids):
        first, last = (
            FIRST_NAMES[randrange(len(FIRST_NAMES))],
            LAST_NAMES[randrange(len(LAST_NAMES))],
        )
        department, teams = DEPARTMENTS[u % len(DEPARTMENTS)]
        users.append(
            (
                tenant_id,
                user_id,
                f"user{u:04d}@{slug}.example",
                f"{first} {last}",
                "manager" if u == 0 else "employee",
                None if u == 0 else manager,
                department,
                teams[u % len(teams)],
                "Manager" if u == 0 else JOB_TITLES[u % len(JOB_TITLES)],
                shape.password_hash,
            )
        )


def _bulk_goals(
    rng: random.Random,
    tenant_id: str,
    user_ids: list[str],
    shape: _BulkShape,
    out: dict[str, list[tuple[Any, ...]]],
) -> None:
    """Each person's goals with varied status, dates and progress, and their key results and
    check-ins in the shape's ratios (ids of those filled in later, in one batch)."""
    rand, randrange, cal = rng.random, rng.randrange, shape.calendar
    goal_ids = _random_ids(len(user_ids) * shape.goals_per_user)
    goals, krs, check_ins = out["goal"], out["key_result"], out["goal_check_in"]
    g_index = kr_index = ci_index = 0
    for u, owner in enumerate(user_ids):
        for j in range(shape.goals_per_user):
            goal_id = goal_ids[g_index]
            status = _STATUS_BY_DECILE[int(rand() * 10)]
            start = randrange(-365, 1)
            due = min(start + randrange(14, 181), _Calendar.FUTURE)
            if status == "draft":
                progress = 0
            elif status == "completed":
                progress = 100
            else:
                progress = randrange(0, 100)
            # Half of each report's goals support the manager's goal with the same position.
            parent = goal_ids[j] if u and j % 2 == 0 else None
            goals.append(
                (tenant_id, goal_id, owner, parent,
                 f"{rng.choice(GOAL_VERBS)} {rng.choice(GOAL_OBJECTS)}",
                 cal.period[cal.index(start)], cal.iso[cal.index(start)],
                 cal.iso[cal.index(due)], status, str(progress))
            )  # fmt: skip
            for _ in range(_spread(g_index, shape.key_results_per_goal)):
                title, lo, hi, unit = KR_TEMPLATES[kr_index % len(KR_TEMPLATES)]
                current = float(lo) + (float(hi) - float(lo)) * progress / 100
                krs.append((tenant_id, None, goal_id, title, lo, hi, f"{current:.2f}", unit, "1"))
                kr_index += 1
            for _ in range(_spread(g_index, shape.check_ins_per_goal)):
                when = randrange(start, 1)
                confidence = (
                    "on_track" if progress >= 60 else ("at_risk", "off_track")[ci_index % 2]
                )
                note = CHECK_IN_NOTES[ci_index % len(CHECK_IN_NOTES)]
                check_ins.append(
                    (tenant_id, None, goal_id, owner, str(progress), confidence, note,
                     cal.noon[cal.index(when)])
                )  # fmt: skip
                ci_index += 1
            g_index += 1


def _with_ids(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Fill the id (second column) of rows generated without one, in one batch."""
    ids = _random_ids(len(rows))
    for row, row_id in zip(rows, ids, strict=True):
        yield (row[0], row_id, *row[2:]) if row[1] is None else row


def _copy_rows(cursor: Any, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with cursor.copy(_COPY_SQL[table]) as copy:
        for row in rows:
            copy.write_row(row)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _seed_chunk(chunk: Sequence[str], shape: _BulkShape) -> BulkSeedResult:
    """Provision one chunk of tenants, then COPY their rows at their placements: one
    transaction per placement database and schema (a tenant's rows commit whole)."""
    done = BulkSeedResult()
    made = [p for p in (_provision(slug, shape) for slug in chunk) if p is not None]
    done.tenants_created = len(made)
    done.tenants_skipped = len(chunk) - len(made)
    data_keys = {p.tenant_id: _opt_in(p.tenant_id) for p in made} if shape.encrypted else {}
    for members in _by_target(made).values():
        try:
            _load_at(members, shape, done, data_keys)
        except BaseException:
            for p in members:  # provisioned, never filled: nothing of them stays
                delete_tenant(p.tenant_id)
            raise
    return done


def _provision(slug: str, shape: _BulkShape) -> Placement | None:
    """A new tenant in the shape's tier and region; None when a concurrent run made it."""
    name = slug.replace("-", " ").title()
    try:
        return create_tenant(slug=slug, name=name, tier=shape.tier, region=shape.region).placement
    except (TenantError, IntegrityError):
        if placements.by_slug(slug) is not None:
            return None
        raise


def _opt_in(tenant_id: uuid.UUID) -> bytes:
    """Opt a new tenant in to encrypted free text with the platform's key; its data key (kept
    in memory for this run only, to seal the rows it COPYs)."""
    with owner_session(tenant_id) as s:
        key_admin.use_key(session=s, tenant_id=tenant_id, choice=key_admin.KeyChoice("platform"))
        return keys.data_key(s, tenant_id=tenant_id, version=1)


def _sealed_notes(
    rows: Iterable[tuple[Any, ...]], data_keys: dict[uuid.UUID, bytes]
) -> Iterator[tuple[Any, ...]]:
    """Check-in rows (tenant, id, goal, author, progress, confidence, note, at) with their
    notes sealed for the tenants in `data_keys`."""
    for row in rows:
        tenant_id = uuid.UUID(str(row[0]))
        key = data_keys.get(tenant_id)
        if key is None or not row[6]:
            yield row
            continue
        place = Place(tenant_id, "goal_check_in", "note", uuid.UUID(str(row[1])))
        note = envelope.seal(key=key, version=1, place=place, plaintext=row[6])
        yield (*row[:6], note, *row[7:])


def _by_target(found: Iterable[Placement]) -> dict[tuple[str, str], list[Placement]]:
    """Placements grouped by the database and schema that hold their rows."""
    groups: dict[tuple[str, str], list[Placement]] = {}
    for p in found:
        groups.setdefault((p.owner_base_url, p.search_path), []).append(p)
    return groups


@contextmanager
def _owner_at(placement: Placement) -> Iterator[Connection]:
    """A transaction as the owner in the placement's database, its schema on the
    search_path (transaction-locally); committed on success."""
    with placements.engine_of(placement, OWNER).begin() as conn:
        conn.execute(
            sql_text("SELECT set_config('search_path', :s, true)"), {"s": placement.search_path}
        )
        yield conn


def _load_at(
    members: list[Placement],
    shape: _BulkShape,
    done: BulkSeedResult,
    data_keys: dict[uuid.UUID, bytes],
) -> None:
    """Every row of tenants sharing one database and schema, in one transaction."""
    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _BULK_TABLES}
    for p in members:
        _bulk_tenant_rows(str(p.tenant_id), p.slug, shape, out)
    with _owner_at(members[0]) as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            _copy_rows(cur, "app_user", out["app_user"])
            _copy_rows(cur, "goal", out["goal"])
            _copy_rows(cur, "key_result", _with_ids(out["key_result"]))
            check_ins = _sealed_notes(_with_ids(out["goal_check_in"]), data_keys)
            _copy_rows(cur, "goal_check_in", check_ins)
        conn.execute(
            sql_text(REFRESH_LATEST_CHECK_IN), {"tenant_ids": [p.tenant_id for p in members]}
        )
    done.users += len(out["app_user"])
    done.goals += len(out["goal"])
    done.key_results += len(out["key_result"])
    done.check_ins += len(out["goal_check_in"])


def _existing(slugs: Sequence[str]) -> list[Placement]:
    """The placements of the slugs the catalog already has."""
    with owner_engine().connect() as conn:
        ids = (
            conn.execute(
                sql_text("SELECT tenant_id FROM tenant_placement WHERE slug = ANY(:s)"),
                {"s": list(slugs)},
            )
            .scalars()
            .all()
        )
        conn.rollback()
    return [placements.lookup(tid) for tid in ids]


def _unfilled(found: list[Placement]) -> list[Placement]:
    """The tenants of `found` without people: provisioned, their rows never committed."""
    empty: list[Placement] = []
    for members in _by_target(found).values():
        with _owner_at(members[0]) as conn:
            have = set(
                conn.execute(
                    sql_text("SELECT DISTINCT tenant_id FROM app_user WHERE tenant_id = ANY(:t)"),
                    {"t": [p.tenant_id for p in members]},
                ).scalars()
            )
        empty += [p for p in members if p.tenant_id not in have]
    return empty


def bulk_slugs(*, tenants: int, prefix: str = "load") -> list[str]:
    """Slugs of the synthetic tenants: prefix-0001, prefix-0002, …"""
    return [f"{prefix}-{i:04d}" for i in range(1, tenants + 1)]


def seed_bulk(
    *,
    tenants: int,
    users_per_tenant: int,
    goals_per_user: int,
    prefix: str = "load",
    key_results_per_goal: float = 1.0,
    check_ins_per_goal: float = 0.5,
    goals_per_transaction: int = 20_000,
    workers: int | None = None,
    progress: bool = False,
    tier: str = "pool",
    region: str | None = None,
    encrypted: bool = False,
) -> BulkSeedResult:
    """Synthetic tenants `prefix-0001`… for load tests in `tier` and `region` (default: the
    home region's pool); existing whole tenants are skipped.

    Each tenant gets `users_per_tenant` users (the first manages the rest, all with the demo
    password), `goals_per_user` goals each with varied status, dates and progress, and key
    results and check-ins in the given ratios per goal. Each is provisioned like any tenant,
    then its rows go in with COPY as the owner at its placement (BYPASSRLS: COPY FROM is
    refused on RLS tables otherwise), in chunks of about `goals_per_transaction` goals, so an
    interrupted run keeps whole tenants; `workers` threads (default: one per CPU, at most 4)
    load chunks in parallel. `encrypted`: each new tenant is opted in to encrypted free text
    with the platform's key first, and its check-in notes are written sealed.
    """
    refuse_in_production()
    _check_bulk(tenants, users_per_tenant, goals_per_user, prefix, key_results_per_goal,
                check_ins_per_goal)  # fmt: skip
    region = _check_placement(tier, region)
    started = time.perf_counter()
    result = BulkSeedResult()
    slugs = bulk_slugs(tenants=tenants, prefix=prefix)
    found = _existing(slugs)
    for p in _unfilled(found):  # provisioned by an interrupted run, never filled
        delete_tenant(p.tenant_id)
        found.remove(p)
    existing = {p.slug for p in found}
    todo = [s for s in slugs if s not in existing]
    result.tenants_skipped = len(existing)
    shape = _BulkShape(
        users_per_tenant=users_per_tenant,
        goals_per_user=goals_per_user,
        key_results_per_goal=key_results_per_goal,
        check_ins_per_goal=check_ins_per_goal,
        password_hash=hash_password(get_settings().demo_password) if todo else "",
        calendar=_Calendar(date.today()),
        tier=tier,
        region=region,
        encrypted=encrypted,
    )
    per_chunk = max(1, goals_per_transaction // max(1, users_per_tenant * goals_per_user))
    chunks = list(_chunks(todo, per_chunk))
    with _progress_bar(progress, total=tenants, done=len(existing)) as advance:

        def record(done: BulkSeedResult, chunk_size: int) -> None:
            result.add(done)
            result.seconds = time.perf_counter() - started
            advance(chunk_size, result.rows_per_second)

        _load_chunks(chunks, shape, workers, record)
    if result.tenants_created:
        _analyze(_existing(todo))
    result.seconds = time.perf_counter() - started
    return result


def _check_placement(tier: str, region: str | None) -> str:
    """The region to seed in (default: home), or SeedError for a bad tier or region."""
    if tier not in {t.value for t in Tier}:
        raise SeedError("tier must be pool, schema or database")
    try:
        return clusters.region(region).name if region else clusters.home_region().name
    except clusters.UnknownRegion as err:
        raise SeedError(str(err)) from None


def _analyze(found: list[Placement]) -> None:
    """Fresh statistics where rows went in, so the first queries after a big load get
    sensible plans (once per database and schema)."""
    for members in _by_target(found).values():
        schema = members[0].search_path
        tables = ", ".join(f'"{schema}".{t}' for t in ("tenant", *_BULK_TABLES))
        with placements.engine_of(members[0], OWNER).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f"ANALYZE {tables}"
            )


def _check_bulk(
    tenants: int,
    users_per_tenant: int,
    goals_per_user: int,
    prefix: str,
    key_results_per_goal: float,
    check_ins_per_goal: float,
) -> None:
    """Refuse sizes and prefixes that make no sense, before anything is written."""
    if tenants < 0 or users_per_tenant < 1 or goals_per_user < 0:
        raise SeedError("need tenants >= 0, users per tenant >= 1 and goals per user >= 0")
    if min(key_results_per_goal, check_ins_per_goal) < 0:
        raise SeedError("key results and check-ins per goal must not be negative")
    if not SLUG_RE.fullmatch(f"{prefix}-{max(tenants, 1):04d}"):
        raise SeedError("prefix must be lower-case letters, digits and hyphens")


def _load_chunks(
    chunks: list[Sequence[str]],
    shape: _BulkShape,
    workers: int | None,
    record: Callable[[BulkSeedResult, int], None],
) -> None:
    """Each chunk on its own, `workers` at a time (default: one per CPU, at most 4);
    `record` hears of each chunk done."""
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            record(_seed_chunk(chunk, shape), len(chunk))
        return
    # The server does most of the work (foreign-key checks, index upkeep), so parallel
    # connections scale with its cores; chunks are independent tenants.
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seed")
    try:
        futures = {pool.submit(_seed_chunk, c, shape): len(c) for c in chunks}
        for future in as_completed(futures):
            record(future.result(), futures[future])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _progress_bar(
    enabled: bool, *, total: int, done: int
) -> Iterator[Callable[[int, float], None]]:
    """rich progress (tenants done / total, rows/s); yields `advance(tenants, rows_per_s)`."""
    if not enabled:
        yield lambda _n, _rate: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]seeding tenants"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} rows/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task("seed", total=total, completed=done, rate=0.0)
        yield lambda n, rate: bar.update(task, advance=n, rate=rate)
