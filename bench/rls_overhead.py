"""What row-level security costs: the dashboard's heaviest queries with and without the policy.

A database of 1,000 tenants (10 people and 1,000 goals each: 1,000,000 goals, with key
results and check-ins in proportion), review cycles for one tenant in ten, and a 1,000-event
audit trail per tenant. On a median-size tenant, each query is the exact SQL its service
emits (captured with a `before_cursor_execute` listener while the service runs in a real
tenant session), replayed with the same parameters on two connections:

- (a) as the app runs it: `pms_app` (the console's `pms_auditor` for the audit search) in a
  transaction with `app.current_tenant_id` set, so the tenant policy applies;
- (b) the baseline: the same text as the owner, which has BYPASSRLS, so no policy applies;
  the app already puts `tenant_id = :t` into every ORM query, so the rows are the same.

Both sides run in the same process, alternately, on connections of their engine (psycopg
prepares a statement after five executions on both). A sample is the wall time of all of
the service's statements, rows fetched, inside an open transaction whose context set-up is
not counted. Part two: the cost of `tenant_session(ctx)` itself against a bare transaction.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import Timing, measure_interleaved, prepare_database, write_section

PREFIX = "rls"
TENANTS, USERS_PER_TENANT, GOALS_PER_USER = 1_000, 10, 100
REVIEWS_EVERY = 10  # every tenth tenant runs review cycles
AUDIT_EVENTS = 1_000  # per tenant
RUNS, WARMUP = 1_000, 10
SESSION_RUNS = 2_000
BREAKDOWN_RUNS = 51  # EXPLAIN (ANALYZE) per side, for a query over the target
TARGET = 1.10
SET_TENANT = "SELECT set_config('app.current_tenant_id', %s, true)"
SET_ADMIN = "SELECT set_config('app.current_admin_id', %s, true)"
# The one statement the app leaves to RLS alone: the tenant's own settings row
# (`organisation.service.get_customization`; `tenant` is not a tenant-owned table, so the
# ORM adds no criteria). The owner gets the filter the policy stands for.
_RLS_ONLY = re.compile(r"^SELECT tenant\.settings\s+FROM tenant\s*$")
_OWNER_FILTER = " WHERE tenant.id = %(bench_tenant_id)s::UUID"


# ------------------------------------------------------------------------------- seeding


def _slugs(every: int = 1) -> list[str]:
    return [f"{PREFIX}-{i:04d}" for i in range(every, TENANTS + 1, every)]


def seed() -> None:
    """Goals etc. with seed_bulk, then review cycles and audit trails; whatever exists is kept."""
    from pms_dashboard.seed import seed_bulk

    seed_bulk(tenants=TENANTS, users_per_tenant=USERS_PER_TENANT, goals_per_user=GOALS_PER_USER,
              prefix=PREFIX, progress=True)  # fmt: skip
    _seed_reviews()
    _seed_audit()


def _half_years(today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(previous, current) half-year as (start, end)."""
    if today.month <= 6:
        return (date(today.year - 1, 7, 1), date(today.year - 1, 12, 31)), (
            date(today.year, 1, 1),
            date(today.year, 6, 30),
        )
    return (date(today.year, 1, 1), date(today.year, 6, 30)), (
        date(today.year, 7, 1),
        date(today.year, 12, 31),
    )


PREVIOUS_CYCLE, CURRENT_CYCLE = "Previous half-year review", "Current half-year review"


def _seed_reviews() -> None:
    """Two cycles in every tenth tenant, made through the review services as HR would (a
    template, cycles over everyone, launched), then, as the owner, reviews submitted and
    outcomes moved along: last half-year's closed and shared, this one's about 60% done."""
    from rich.progress import track
    from sqlalchemy import text

    from pms_dashboard.reviews import cycles, templates
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import owner_session, tenant_session

    with owner_session() as s:
        todo = s.execute(
            text(
                "SELECT t.id, u.id FROM tenant t JOIN app_user u ON u.tenant_id = t.id "
                "AND u.email = 'user0000@' || t.slug || '.example' "
                "WHERE t.slug = ANY(:slugs) AND NOT EXISTS "
                "(SELECT 1 FROM review_cycle c WHERE c.tenant_id = t.id) ORDER BY t.slug"
            ),
            {"slugs": _slugs(REVIEWS_EVERY)},
        ).all()
    if not todo:
        return
    previous, current = _half_years(date.today())
    for tenant_id, admin_id in track(todo, description="seeding review cycles"):
        # The tenant's top manager acting as HR (seeding only: nobody's role changes).
        hr = TenantContext(tenant_id=tenant_id, user_id=admin_id, role="hr_admin")
        with tenant_session(hr) as s:
            template = templates.create_template(
                session=s,
                actor=hr,
                data={
                    "name": "Half-year review",
                    "criteria": [
                        {"name": "Impact", "weight": "0.6"},
                        {"name": "Execution", "weight": "0.4"},
                    ],
                },
            )
            for name, (start, end) in ((PREVIOUS_CYCLE, previous), (CURRENT_CYCLE, current)):
                cycle = cycles.create_cycle(
                    session=s,
                    actor=hr,
                    data={"name": name, "template_id": template.id,
                          "period_start": start, "period_end": end},
                )  # fmt: skip
                cycles.launch_cycle(session=s, actor=hr, cycle_id=uuid.UUID(cycle.id))
    ids = {"ids": [tenant_id for tenant_id, _ in todo], "prev": PREVIOUS_CYCLE}
    with owner_session() as s:
        s.execute(
            text(
                "WITH pick AS (SELECT r.tenant_id, r.id FROM review r JOIN review_cycle c "
                "ON c.tenant_id = r.tenant_id AND c.id = r.cycle_id "
                "WHERE r.tenant_id = ANY(:ids) AND (c.name = :prev OR random() < 0.6)) "
                "UPDATE review r SET status = 'submitted', submitted_at = now(), "
                "score = round((1 + random() * 4)::numeric, 2) FROM pick "
                "WHERE r.tenant_id = pick.tenant_id AND r.id = pick.id"
            ),
            ids,
        )
        s.execute(
            text(
                "UPDATE review_outcome o SET computed_score = (SELECT round(avg(r.score), 2) "
                "FROM review r WHERE r.tenant_id = o.tenant_id AND r.cycle_id = o.cycle_id "
                "AND r.reviewee_id = o.reviewee_id AND r.status = 'submitted'), "
                "status = CASE WHEN EXISTS (SELECT 1 FROM review r WHERE r.tenant_id = "
                "o.tenant_id AND r.cycle_id = o.cycle_id AND r.reviewee_id = o.reviewee_id "
                "AND r.kind = 'manager' AND r.status = 'submitted') THEN 'manager_done' "
                "WHEN EXISTS (SELECT 1 FROM review r WHERE r.tenant_id = o.tenant_id "
                "AND r.cycle_id = o.cycle_id AND r.reviewee_id = o.reviewee_id "
                "AND r.kind = 'self' AND r.status = 'submitted') THEN 'self_done' "
                "ELSE 'not_started' END WHERE o.tenant_id = ANY(:ids)"
            ),
            ids,
        )
        s.execute(
            text(
                "UPDATE review_outcome o SET status = 'shared', shared_at = now(), "
                "final_rating = round(o.computed_score), potential = 1 + floor(random() * 3) "
                "FROM review_cycle c WHERE c.tenant_id = o.tenant_id AND c.id = o.cycle_id "
                "AND c.name = :prev AND o.tenant_id = ANY(:ids)"
            ),
            ids,
        )
        s.execute(
            text(
                "UPDATE review_cycle SET status = 'closed' "
                "WHERE name = :prev AND tenant_id = ANY(:ids)"
            ),
            ids,
        )
    _analyze("review_cycle, review, review_outcome")


def _seed_audit(per_transaction: int = 25) -> None:
    """AUDIT_EVENTS events per tenant, appended by the app's own function
    (`append_audit_event`) so every chain still verifies."""
    from rich.progress import track
    from sqlalchemy import text

    from pms_dashboard.tenancy.session import owner_session

    with owner_session() as s:
        todo = s.execute(
            text(
                "SELECT t.id, :n - coalesce((SELECT max(e.seq) FROM audit_event e "
                "WHERE e.tenant_id = t.id), 0) FROM tenant t WHERE t.slug = ANY(:slugs) "
                "ORDER BY t.slug"
            ),
            {"slugs": _slugs(), "n": AUDIT_EVENTS},
        ).all()
    todo = [(tenant_id, missing) for tenant_id, missing in todo if missing > 0]
    if not todo:
        return
    append = text(
        "SELECT count(append_audit_event(NULL, (ARRAY['goal.update', 'goal.create', "
        "'goal.check_in', 'review.save', 'auth.sign_in', 'access.denied'])[1 + i % 6], "
        "'goal', gen_random_uuid(), '{}'::jsonb, i % 6 = 5, '10.0.0.' || (i % 250)::text)) "
        "FROM generate_series(1, :n) AS i"
    )
    chunks = [todo[i : i + per_transaction] for i in range(0, len(todo), per_transaction)]
    for chunk in track(chunks, description="seeding audit trails"):
        with owner_session() as s:
            for tenant_id, missing in chunk:
                s.execute(text(SET_TENANT.replace("%s", ":t")), {"t": str(tenant_id)})
                s.execute(append, {"n": int(missing)})
    _analyze("audit_event")


def _analyze(tables: str) -> None:
    from pms_dashboard.db.engine import owner_engine

    with owner_engine().connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"ANALYZE {tables}")


# ------------------------------------------------------------------ the tenant measured


@dataclass(frozen=True)
class Subject:
    """The median-size tenant measured, and the people whose lists are queried."""

    tenant_id: uuid.UUID
    slug: str
    goals: int
    manager_id: uuid.UUID  # the top manager: everyone else reports to them
    employee_id: uuid.UUID
    cycle_id: uuid.UUID  # the running review cycle


def pick_subject() -> Subject:
    """The median tenant by goal count among the bench tenants (of those with review cycles,
    when several share the median count)."""
    from sqlalchemy import text

    from pms_dashboard.tenancy.session import owner_session

    with owner_session() as s:
        sizes = s.execute(
            text(
                "SELECT t.id, t.slug, count(g.id) AS goals, "
                "EXISTS (SELECT 1 FROM review_cycle c WHERE c.tenant_id = t.id) AS reviews "
                "FROM tenant t LEFT JOIN goal g ON g.tenant_id = t.id "
                "WHERE t.slug = ANY(:slugs) GROUP BY t.id, t.slug ORDER BY goals, t.slug"
            ),
            {"slugs": _slugs()},
        ).all()
        median = sizes[len(sizes) // 2].goals
        candidates = [r for r in sizes if r.goals == median and r.reviews]
        row = candidates[len(candidates) // 2]
        people = dict(
            s.execute(
                text("SELECT email, id FROM app_user WHERE tenant_id = :t AND email = ANY(:e)"),
                {"t": row.id, "e": [f"user{n:04d}@{row.slug}.example" for n in (0, 2)]},
            ).all()
        )
        cycle_id = s.execute(
            text("SELECT id FROM review_cycle WHERE tenant_id = :t AND status = 'active'"),
            {"t": row.id},
        ).scalar_one()
    return Subject(
        tenant_id=row.id,
        slug=row.slug,
        goals=int(row.goals),
        manager_id=people[f"user0000@{row.slug}.example"],
        employee_id=people[f"user0002@{row.slug}.example"],
        cycle_id=cycle_id,
    )


# ----------------------------------------------------------------- capture and replay


@dataclass
class Query:
    """One dashboard query: the statements its service sent, in order, with parameters."""

    name: str
    role: str  # the role that runs it in the app: pms_app or pms_auditor
    statements: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@contextmanager
def _capturing(engine: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every statement SQLAlchemy sends on `engine` while the block runs, as sent."""
    from sqlalchemy import event

    captured: list[tuple[str, dict[str, Any]]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, dict(parameters or {})))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def capture(subject: Subject) -> list[Query]:
    """Run each service as the app does and keep the SQL it emitted."""
    from sqlalchemy import func, select, text

    from pms_dashboard.audit.models import AuditEvent
    from pms_dashboard.console.search import DEFAULT_PAGE_SIZE, AuditQuery, audit_search_statement
    from pms_dashboard.db.engine import app_engine, auditor_engine
    from pms_dashboard.goals import service as goals
    from pms_dashboard.goals.schemas import GoalListQuery
    from pms_dashboard.reviews import calibration
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import auditor_session, tenant_session

    tid = subject.tenant_id
    manager = TenantContext(tenant_id=tid, user_id=subject.manager_id, role="manager")
    employee = TenantContext(tenant_id=tid, user_id=subject.employee_id, role="employee")
    runs: list[tuple[str, TenantContext, Callable[[Any], object]]] = [
        ("My goals (employee, page 1)", employee,
         lambda s: goals.list_goals(session=s, actor=employee, query=GoalListQuery(scope="mine"))),
        ("Team goals (top manager, page 1)", manager,
         lambda s: goals.list_goals(session=s, actor=manager, query=GoalListQuery(scope="team"))),
        ("Overview counts (goal_health, top manager)", manager,
         lambda s: goals.goal_health(session=s, actor=manager)),
        ("Review-cycle status (cycle_status, page 1)", manager,
         lambda s: calibration.cycle_status(session=s, actor=manager, cycle_id=subject.cycle_id)),
    ]  # fmt: skip
    queries = []
    for name, ctx, run in runs:
        with tenant_session(ctx) as s, _capturing(app_engine()) as sent:
            run(s)
        queries.append(Query(name, "pms_app", list(sent)))

    # The console's audit search as `search` runs it: the count, then the first page.
    statement = audit_search_statement(AuditQuery(tenant=subject.slug))
    tenant_column = AuditEvent.__table__.c.tenant_id  # type: ignore[attr-defined]
    with auditor_session() as s, _capturing(auditor_engine()) as sent:
        s.execute(text(SET_ADMIN.replace("%s", ":a")), {"a": str(uuid.uuid4())})
        sent.clear()
        total = s.execute(
            select(func.count()).select_from(statement.order_by(None).subquery())
        ).scalar_one()
        s.execute(
            statement.add_columns(tenant_column.label("tenant_id")).limit(DEFAULT_PAGE_SIZE)
        ).all()
    assert total >= AUDIT_EVENTS, total
    queries.append(Query("Audit search (console, one tenant, page 1)", "pms_auditor", list(sent)))
    return queries


class Side:
    """A connection of one role that replays captured statements inside a transaction."""

    def __init__(self, engine: Any, setup: list[tuple[str, tuple[Any, ...]]], owner: bool):
        self._fairy = engine.raw_connection()  # checked out for the whole benchmark
        self.conn = self._fairy.driver_connection
        self.setup = setup
        self.owner = owner
        self.backend_pid = int(self.conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        self.conn.rollback()

    def close(self) -> None:
        self.conn.rollback()
        self._fairy.close()

    def statement(self, sql: str, params: dict[str, Any], tenant_id: uuid.UUID) -> tuple[str, Any]:
        if self.owner and _RLS_ONLY.match(sql):
            return sql + _OWNER_FILTER, {**params, "bench_tenant_id": tenant_id}
        return sql, params

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        for sql, args in self.setup:
            self.conn.execute(sql, args)
        try:
            yield self.conn
        finally:
            self.conn.commit()

    def run(self, query: Query, tenant_id: uuid.UUID, per_statement: list[list[float]] | None = None
            ) -> tuple[float, list[list[tuple[Any, ...]]]]:  # fmt: skip
        """Milliseconds for the query's statements (rows fetched), and the rows."""
        rows = []
        total = 0.0
        with self.transaction() as conn:
            for i, (sql, params) in enumerate(query.statements):
                sql, params = self.statement(sql, params, tenant_id)
                start = time.perf_counter()
                rows.append(conn.execute(sql, params).fetchall())
                took = (time.perf_counter() - start) * 1000
                total += took
                if per_statement is not None:
                    per_statement[i].append(took)
        return total, rows

    def plan_counts(self) -> dict[str, tuple[int, int]]:
        """Generic and custom plans made so far, per prepared statement text (as the server
        has it, with $n placeholders) on this connection."""
        with self.transaction() as conn:
            return {
                text: (int(generic), int(custom))
                for text, generic, custom in conn.execute(
                    "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
                    prepare=False,
                )
            }

    def planned_each_run(
        self, query: Query, tenant_id: uuid.UUID, before: dict[str, tuple[int, int]]
    ) -> int:
        """How many of the query's statements got a fresh (custom) plan more often than they
        reused the cached generic one since `before`."""
        after = self.plan_counts()
        count = 0
        for sql, params in query.statements:
            text = _server_text(self.statement(sql, params, tenant_id)[0])
            generic, custom = after.get(text, (0, 0))
            generic0, custom0 = before.get(text, (0, 0))
            count += custom - custom0 > generic - generic0
        return count

    def explain(self, query: Query, tenant_id: uuid.UUID, options: str) -> list[str]:
        """EXPLAIN (`options`) of each statement, unprepared (so a custom plan)."""
        plans = []
        with self.transaction() as conn:
            for sql, params in query.statements:
                sql, params = self.statement(sql, params, tenant_id)
                plan = conn.execute(f"EXPLAIN ({options}) {sql}", params, prepare=False)
                plans.append("\n".join(r[0] for r in plan.fetchall()))
        return plans


@contextmanager
def one_cpu(sides: list[Side]) -> Iterator[int | None]:
    """This process and every side's server process on one CPU while the block runs (the
    CPU, or None when they cannot be pinned: no such call, or a server not on this machine).

    Left to the scheduler, the two sides' server processes sat on different CPUs relative to
    this one, and which side paid a cross-CPU wake-up on each round trip (+0.05-0.07 ms a
    statement) changed from run to run: a query of four statements measured 1.06 in one
    run and 1.49 in the next. On one CPU every round trip of both sides is a plain switch."""
    pids = [side.backend_pid for side in sides]
    local = hasattr(os, "sched_setaffinity") and all(_is_postgres(pid) for pid in pids)
    if not local:
        yield None
        return
    mine = os.sched_getaffinity(0)
    cpu = min(mine)
    try:
        for pid in [0, *pids]:
            os.sched_setaffinity(pid, {cpu})
    except OSError:  # not ours to pin: measured as the scheduler places them
        os.sched_setaffinity(0, mine)
        yield None
        return
    try:
        yield cpu
    finally:
        for pid in [0, *pids]:
            with suppress(OSError):
                os.sched_setaffinity(pid, mine)


def _is_postgres(pid: int) -> bool:
    """A PostgreSQL server process of this machine (a remote server's pid is not one)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


@dataclass(frozen=True)
class Breakdown:
    """Where a query's time goes on one side, per statement, from the server's own numbers:
    median planning and execution times of EXPLAIN (ANALYZE, TIMING OFF)."""

    planning_ms: list[float]
    execution_ms: list[float]
    shapes: list[tuple[str, ...]]  # plan nodes, without the Result nodes RLS adds
    plan: list[str]  # one full EXPLAIN (ANALYZE, BUFFERS) per statement


@dataclass(frozen=True)
class QueryResult:
    name: str
    rls: Timing
    owner: Timing
    rls_statements_ms: list[float]
    owner_statements_ms: list[float]
    planned: int  # statements PostgreSQL planned on every run (RLS side)
    planned_owner: int  # the same on the owner's side
    breakdown: tuple[Breakdown, Breakdown] | None  # (RLS, owner), when over target
    pinned_cpu: int | None  # where both sides ran (`one_cpu`), None: where the scheduler put them

    @property
    def ratio(self) -> float:
        return self.rls.ratio_to(self.owner)

    @property
    def planning(self) -> str:
        """Statements planned on every run, of all."""
        text = f"{self.planned} of {len(self.rls_statements_ms)}"
        return (
            text if self.planned == self.planned_owner else f"{text} (owner: {self.planned_owner})"
        )


def _server_text(sql: str) -> str:
    """The statement as psycopg sends it: %(name)s -> $n by first appearance, %% -> %."""
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return re.sub(r"%%|%\((\w+)\)s", number, sql)


def _shape(plan: str) -> tuple[str, ...]:
    """The plan's node types and relations, in order, leaving out Result nodes (RLS puts its
    one-time checks in them) so two plans can be compared."""
    nodes = []
    for line in plan.splitlines():
        if "(cost=" not in line:
            continue
        head = line.split("  (cost=")[0].strip().removeprefix("->").strip()
        name, _, relation = head.partition(" on ")
        name = name.split(" using ")[0]
        if name != "Result":
            nodes.append(f"{name} on {relation.split()[0]}" if relation else name)
    return tuple(nodes)


def _server_times(plan: str) -> tuple[float, float]:
    times = dict(re.findall(r"^(Planning|Execution) Time: ([\d.]+) ms", plan, re.MULTILINE))
    return float(times["Planning"]), float(times["Execution"])


def _breakdowns(
    sides: tuple[Side, Side], query: Query, tenant_id: uuid.UUID, runs: int = BREAKDOWN_RUNS
) -> tuple[Breakdown, Breakdown]:
    """(RLS, owner) breakdowns; the EXPLAINs alternate between the sides like the samples."""
    samples: list[list[list[str]]] = [[], []]
    for i in range(runs):
        for k in (0, 1) if i % 2 == 0 else (1, 0):
            samples[k].append(sides[k].explain(query, tenant_id, "ANALYZE, TIMING OFF"))
    out = []
    for side, runs_of_side in zip(sides, samples, strict=True):
        per_statement = [
            [_server_times(run[i]) for run in runs_of_side] for i in range(len(query.statements))
        ]
        full = side.explain(query, tenant_id, "ANALYZE, BUFFERS")
        out.append(
            Breakdown(
                planning_ms=[_median([p for p, _ in s]) for s in per_statement],
                execution_ms=[_median([e for _, e in s]) for s in per_statement],
                shapes=[_shape(plan) for plan in full],
                plan=full,
            )
        )
    return out[0], out[1]


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def measure_queries(
    subject: Subject, queries: list[Query], *, explain_over: bool = True, label: str = ""
) -> list[QueryResult]:
    from rich.progress import Progress

    from pms_dashboard.db.engine import app_engine, auditor_engine, owner_engine
    from pms_dashboard.db.roles import RUNTIME_SETTINGS

    tid = str(subject.tenant_id)
    context = [(SET_TENANT, (tid,))]
    # the owner plans as the runtime roles do (their settings are per role: db.roles)
    same_planning = [
        ("SELECT set_config(%s, %s, true)", (name, value))
        for name, value in RUNTIME_SETTINGS.items()
    ]
    sides = {
        "pms_app": Side(app_engine(), context, owner=False),
        "pms_auditor": Side(auditor_engine(), [(SET_ADMIN, (str(uuid.uuid4()),))], owner=False),
        "owner": Side(owner_engine(), context + same_planning, owner=True),
    }
    results = []
    try:
        with Progress() as bar, one_cpu(list(sides.values())) as cpu:
            task = bar.add_task(f"RLS overhead{label}", total=len(queries) * RUNS)
            for query in queries:
                rls, owner = sides[query.role], sides["owner"]
                _, rls_rows = rls.run(query, subject.tenant_id)
                _, owner_rows = owner.run(query, subject.tenant_id)
                if rls_rows != owner_rows:  # the baseline must return exactly the same rows
                    raise AssertionError(f"{query.name}: the owner's rows differ from the app's")
                per: dict[str, list[list[float]]] = {
                    side: [[] for _ in query.statements] for side in ("rls", "owner")
                }

                def on(side: Side, times: list[list[float]], q: Query = query
                       ) -> Callable[[], float]:  # fmt: skip
                    return lambda: side.run(q, subject.tenant_id, times)[0]

                before = {side: side.plan_counts() for side in (rls, owner)}
                timings = measure_interleaved(
                    {"rls": on(rls, per["rls"]), "owner": on(owner, per["owner"])},
                    runs=RUNS,
                    warmup=WARMUP,
                    self_timed=True,
                    advance=lambda: bar.advance(task),
                )
                rls_t, owner_t = timings["rls"], timings["owner"]
                over = rls_t.ratio_to(owner_t) > TARGET
                results.append(
                    QueryResult(
                        query.name,
                        rls_t,
                        owner_t,
                        [_median(s[WARMUP:]) for s in per["rls"]],
                        [_median(s[WARMUP:]) for s in per["owner"]],
                        rls.planned_each_run(query, subject.tenant_id, before[rls]),
                        owner.planned_each_run(query, subject.tenant_id, before[owner]),
                        (
                            _breakdowns((rls, owner), query, subject.tenant_id)
                            if over and explain_over
                            else None
                        ),
                        cpu,
                    )
                )
    finally:
        for side in sides.values():
            side.close()
    return results


# ------------------------------------------- the policy form the first revisions had


def use_policy_form(ctx: str) -> None:
    """Every tenant policy of the bench database reads the tenant through `ctx`."""
    from sqlalchemy import text

    from pms_dashboard.tenancy import rls
    from pms_dashboard.tenancy.session import owner_session

    with owner_session() as s:
        tables = s.execute(text(rls.TENANT_POLICY_TABLES)).scalars().all()
        for statement in rls.set_policy_expression(tables, ctx):
            s.execute(text(statement))


@contextmanager
def policy_form(ctx: str) -> Iterator[None]:
    """The policies in the form `ctx` while the block runs; the migrated form (`rls.CTX`)
    is put back whatever happens (and by `run()` first, after a run that was killed)."""
    from pms_dashboard.tenancy import rls

    use_policy_form(ctx)
    try:
        yield
    finally:
        use_policy_form(rls.CTX)


def measure_subselect_form(subject: Subject, queries: list[Query]) -> list[QueryResult]:
    """The app's queries again, under the policy form of revisions 0001-0010
    (`(SELECT app.current_tenant_id())`), for the record of why 0011 replaced it."""
    from pms_dashboard.tenancy import rls

    app_queries = [q for q in queries if q.role == "pms_app"]
    with policy_form(rls.SUBSELECT_CTX):
        return measure_queries(
            subject, app_queries, explain_over=False, label=" (sub-select policy)"
        )


def _policy_forms(results: list[QueryResult], subselect: list[QueryResult]) -> str:
    by_name = {r.name: r for r in results}
    rows = "\n".join(
        f"| {old.name} | {by_name[old.name].ratio:.2f} | {old.ratio:.2f} "
        f"| {old.rls.median_ms:.2f} / {old.owner.median_ms:.2f} |"
        for old in subselect
    )
    return f"""
### The policy's form

The same queries, measured the same way right after, with every tenant policy of the bench
database switched for the duration to the form revisions 0001-0010 had, `tenant_id =
(SELECT app.current_tenant_id())` (a SQL function in a sub-select), then switched back.
Revision 0011 replaced it with built-in functions and no sub-select
(`pms_dashboard.tenancy.rls` says why this is still checked once per scan, not per row).

| Query | ratio, current policy | ratio, sub-select policy | sub-select: RLS / owner median ms |
|---|---:|---:|---|
{rows}
"""


# ------------------------------------------------------- part two: the tenant session


def measure_session_cost(subject: Subject) -> tuple[dict[str, Timing], float]:
    """`tenant_session(ctx)` around one trivial statement, against a bare transaction with
    the same statement on the same engine, with the steps in between to see where the cost
    goes; and the loopback round trip of one statement on an open connection."""
    from rich.progress import Progress
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from pms_dashboard.db.engine import app_engine, role_url
    from pms_dashboard.settings import APP_ROLE
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import _begin_at, tenant_session

    engine = app_engine()
    no_ping = create_engine(role_url(APP_ROLE), pool_size=2, pool_pre_ping=False)
    one = text("SELECT 1")
    set_context = text("SELECT set_config('app.current_tenant_id', :t, true)")
    ctx = TenantContext(tenant_id=subject.tenant_id, user_id=subject.manager_id, role="manager")
    tid = str(subject.tenant_id)

    def bare() -> None:
        with engine.begin() as conn:
            conn.execute(one).scalar_one()

    def orm_session() -> None:
        with Session(bind=engine) as s, s.begin():
            s.execute(one).scalar_one()

    def separate_set_config() -> None:
        with Session(bind=engine) as s, s.begin():
            s.execute(set_context, {"t": tid})
            s.execute(one).scalar_one()

    def pipelined() -> None:
        with Session(bind=engine) as s:
            _begin_at(s, subject.tenant_id, None)
            s.execute(one).scalar_one()
            s.commit()

    def tenant() -> None:
        with tenant_session(ctx) as s:
            s.execute(one).scalar_one()

    def bare_no_ping() -> None:
        with no_ping.begin() as conn:
            conn.execute(one).scalar_one()

    try:
        with Progress() as bar:
            task = bar.add_task("tenant session cost", total=SESSION_RUNS)
            timings = measure_interleaved(
                {
                    "Bare transaction: `engine.begin()`, `SELECT 1` (baseline)": bare,
                    "Plain ORM `Session`, no tenant context": orm_session,
                    "ORM `Session` + `set_config` as a statement of its own": separate_set_config,
                    "ORM `Session` + `set_config` pipelined with BEGIN": pipelined,
                    "**`tenant_session(ctx)`** (the app's unit of work)": tenant,
                    "For reference: bare transaction, engine without pool pre-ping": bare_no_ping,
                },
                runs=SESSION_RUNS,
                warmup=50,
                advance=lambda: bar.advance(task),
            )
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            samples = []
            for _ in range(SESSION_RUNS):
                start = time.perf_counter()
                raw.execute("SELECT 1").fetchone()
                samples.append((time.perf_counter() - start) * 1000)
            conn.rollback()
    finally:
        no_ping.dispose()
    return timings, _median(samples)


# ---------------------------------------------------------------------------- report

_HEADER = (
    "| Query | RLS median ms | RLS p95 ms | owner median ms | owner p95 ms | ratio "
    "| planned each run | per statement, RLS / owner median ms |\n"
    "|---|---:|---:|---:|---:|---:|---|---|"
)


def _pct(a: float, b: float) -> str:
    return f"{(a / b - 1) * 100:+.0f}%" if b else "n/a"


# A tenant policy's check in a plan: a one-time filter on the policy's expression.
_POLICY_CHECK = re.compile(r"One-Time Filter: .*current_setting\('app\.current_tenant_id'")


def _investigation(over: list[QueryResult]) -> str:
    """What EXPLAIN (ANALYZE) says about each query over the target."""
    if not over:
        return ""
    lines = []
    planning_bound = same_shapes = True
    for r in over:
        assert r.breakdown is not None
        rls, owner = r.breakdown
        plan_rls, plan_owner = sum(rls.planning_ms), sum(owner.planning_ms)
        exec_rls, exec_owner = sum(rls.execution_ms), sum(owner.execution_ms)
        same = rls.shapes == owner.shapes
        checks = sum(len(_POLICY_CHECK.findall(plan)) for plan in rls.plan)
        planning_bound &= plan_rls - plan_owner > exec_rls - exec_owner and r.planned > 0
        same_shapes &= same
        lines.append(
            f"| {r.name} | {plan_rls:.2f} / {plan_owner:.2f} ({_pct(plan_rls, plan_owner)}) "
            f"| {exec_rls:.2f} / {exec_owner:.2f} ({_pct(exec_rls, exec_owner)}) "
            f"| {checks} | {'same' if same else '**different**'} | {r.planning} |"
        )
    why = ""
    if planning_bound and same_shapes:
        why = """
Why: the difference is mostly planning. These statements embed the reports-tree recursive
CTE, so they name tenant tables several times each, and PostgreSQL's plan cache did not
settle on a generic plan for them ("planned each run", from `pg_prepared_statements`), so
they are planned afresh on every run, on both sides. Under RLS every one of those
references adds the policy's clause to plan and, at run time, a one-time check of the
tenant setting ("policy checks"); the plans have the same shape, and the app's own
`tenant_id = :t` keeps the policy off the per-row filters (see `pms_dashboard.tenancy.rls`).
"""
    return (
        "\nOver the target: planning and execution per side from EXPLAIN (ANALYZE, TIMING OFF),"
        f" median of {BREAKDOWN_RUNS} alternating between the sides, summed over the query's"
        " statements (ms, RLS / owner):\n\n"
        "| Query | planning | execution | policy checks | plan shape | planned each run |\n"
        "|---|---|---|---:|---|---|\n" + "\n".join(lines) + "\n" + why
    )


def _session_summary(steps: list[Timing], round_trip_ms: float) -> str:
    """Where the tenant session's cost goes, step by step (medians)."""
    bare, orm, separate, pipelined, tenant, no_ping = (t.median_ms for t in steps)
    text = (
        f"`tenant_session(ctx)` costs {tenant - bare:.3f} ms more than a bare transaction: "
        f"the ORM session {orm - bare:+.3f} ms, the tenant context {pipelined - orm:+.3f} ms "
        f"pipelined with BEGIN ({separate - orm:+.3f} ms as a statement of its own), and "
        f"`tenant_session`'s own work on top of that {tenant - pipelined:+.3f} ms. The pool's "
        f"pre-ping, in all of them, is one more round trip per checkout: {bare - no_ping:.3f} ms."
    )
    if abs(separate - pipelined) < round_trip_ms:
        text += (
            f" Pipelining the context saves less than one loopback round trip "
            f"({round_trip_ms:.3f} ms) here: on this machine the client's work, not the network,"
            " is the cost; it pays where the database is across a network."
        )
    return text


def _settings_text() -> str:
    from pms_dashboard.db.roles import RUNTIME_SETTINGS

    return ", ".join(f"`{name} = {value}`" for name, value in RUNTIME_SETTINGS.items())


def _pinning_text(results: list[QueryResult]) -> str:
    if any(r.pinned_cpu is None for r in results):
        return "The processes ran where the scheduler put them (they could not be pinned here)."
    return (
        "This process and both sides' server processes ran on one CPU (`one_cpu`): left to "
        "the scheduler, one side's round trips could pay a cross-CPU wake-up the other's did "
        "not, which moved a query's ratio from 1.06 to 1.49 between runs."
    )


def report(subject: Subject, results: list[QueryResult], subselect: list[QueryResult],
           session: dict[str, Timing], round_trip_ms: float, seconds: float) -> str:  # fmt: skip
    rows = "\n".join(
        f"| {r.name} | {r.rls.median_ms:.2f} | {r.rls.p95_ms:.2f} | {r.owner.median_ms:.2f} "
        f"| {r.owner.p95_ms:.2f} | {'**' if r.ratio > TARGET else ''}{r.ratio:.2f}"
        f"{'**' if r.ratio > TARGET else ''} | {r.planning} | "
        + " + ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(r.rls_statements_ms,
                                                          r.owner_statements_ms, strict=True))
        + " |"
        for r in results
    )  # fmt: skip
    base = next(iter(session.values()))
    session_rows = "\n".join(
        f"| {t.name} | {t.median_ms:.3f} | {t.p95_ms:.3f} | {t.ratio_to(base):.2f} |"
        for t in session.values()
    )
    goals = TENANTS * USERS_PER_TENANT * GOALS_PER_USER
    return f"""{TENANTS:,} bench tenants of {USERS_PER_TENANT} people and \
{USERS_PER_TENANT * GOALS_PER_USER:,} goals each ({goals:,} goals, as many key results, half as \
many check-ins; review cycles in one tenant in {REVIEWS_EVERY}; {AUDIT_EVENTS:,} audit events \
per tenant), in the bench database beside the other benchmarks' tenants. Measured tenant: \
`{subject.slug}` ({subject.goals:,} goals, the median size).

Each query is the exact SQL its service emitted in a real tenant session (captured with a
`before_cursor_execute` listener), replayed with the same parameters **(a)** as `pms_app`
with `app.current_tenant_id` set, so the `tenant_isolation` policies apply (the audit search
as the console's `pms_auditor`, whose policy on audit events is `USING (true)`), and
**(b)** as the owner (BYPASSRLS: no policy), the same text — the app already adds
`tenant_id = :t` to every ORM query, and both sides are checked to return the same rows.
One exception: `SELECT tenant.settings FROM tenant` (the tenant's customization, read by
every goal list and count) has no tenant filter of its own and relies on RLS alone, so the
owner's copy gets `WHERE tenant.id = :t`. Samples alternate between the sides, {RUNS:,} each
after {WARMUP} warm-ups (psycopg prepares statements after five runs, as in the app), and
time all of a service's statements with rows fetched, inside an open transaction (the
context set-up is part two). {_pinning_text(results)}
Both sides plan alike: the owner's transactions take the
runtime roles' settings ({_settings_text()}, `pms_dashboard.db.roles`). "planned each
run": how many of the query's statements PostgreSQL planned afresh on every run instead of
reusing a cached generic plan (`pg_prepared_statements`). Target: ratio at most {TARGET:.2f}.

{_HEADER}
{rows}
{_investigation([r for r in results if r.ratio > TARGET])}{_policy_forms(results, subselect)}
### Per-request cost of the tenant session

`tenant_session(ctx)` around `SELECT 1` (ORM session, BEGIN with the tenant context, the
statement, COMMIT, close), against a bare transaction with the same statement on the same
`pms_app` engine (pool with pre-ping, as configured), and the steps in between.
{SESSION_RUNS:,} turns each, alternating. One statement's round trip on an open connection
(loopback): {round_trip_ms:.3f} ms.

| Unit of work | median ms | p95 ms | ratio |
|---|---:|---:|---:|
{session_rows}

{_session_summary(list(session.values()), round_trip_ms)}

Run time after seeding: {seconds:.0f} s.
"""


def run() -> tuple[list[QueryResult], dict[str, Timing]]:
    from pms_dashboard.tenancy import rls

    prepare_database()
    use_policy_form(rls.CTX)  # as migrated, whatever an interrupted run left behind
    seed()
    started = time.perf_counter()
    subject = pick_subject()
    queries = capture(subject)
    results = measure_queries(subject, queries)
    subselect = measure_subselect_form(subject, queries)
    session, round_trip = measure_session_cost(subject)
    write_section(
        "Row-level security overhead on 1,000 tenants (benchmarks, load, faults)",
        report(subject, results, subselect, session, round_trip, time.perf_counter() - started),
    )
    return results, session


if __name__ == "__main__":
    query_results, session_results = run()
    for r in query_results:
        print(f"{r.name:50s} rls {r.rls.median_ms:7.2f} ms (p95 {r.rls.p95_ms:7.2f})  "
              f"owner {r.owner.median_ms:7.2f} ms  ratio {r.ratio:.2f}  {r.planning}")  # fmt: skip
        if r.breakdown:
            for label, side in zip(("RLS", "owner"), r.breakdown, strict=True):
                print(f"    {label:5s} planning {side.planning_ms}  execution {side.execution_ms}")
    for t in session_results.values():
        print(f"{t.name:65s} {t.median_ms:7.3f} ms  p95 {t.p95_ms:7.3f}")
