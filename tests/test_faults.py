"""Faults: the database restarts under write load, and the app process dies mid-write.

What a user must see: nothing committed is ever lost, nothing is half written (a goal
always has both its key results and its audit event, a check-in always has its audit
event), every tenant's audit chain still verifies, and the app carries on by itself once
the server is back — the same engines and pools, not recreated — with nothing left behind
in PostgreSQL by a process that was killed.

Both tests run against a cluster of their own (a data directory under pytest's tmp dir, a
free port), never the shared development/test server, which they would otherwise have to
restart. The module points the settings at it through DATABASE_URL and puts the settings
and engines back afterwards, so later tests in the session use the normal test database.
Every wait is bounded, so a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text
from sqlmodel import col

from pms_dashboard.audit import chain
from pms_dashboard.db import embedded, migrate
from pms_dashboard.db import engine as db_engine
from pms_dashboard.db.embedded import EmbeddedCluster
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.models import Confidence, KeyResult
from pms_dashboard.goals.schemas import CheckInInput
from pms_dashboard.settings import PROJECT_ROOT, get_settings
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import tenant_session
from tests.conftest import TenantFixture, ctx
from tests.fault_writer import goal_with_two_key_results

DB_NAME = "pms_faults"
WRITERS = 4  # threads writing in the restart test, over TENANTS tenants
TENANTS = 3
AFTER_RESTART_S = 3.0  # keep writing this long once the server is back
RECOVERY_LIMIT_S = 5.0  # the pools must serve again within this long of the server's return
ERROR_GRACE_S = 2.0  # ...and fail no request that starts later than this after it
HOLD_AFTER = 30  # goals the killed process commits before it opens the transaction we kill
KR_PER_GOAL = 2


# ------------------------------------------------------------------------ the own cluster


@dataclass(frozen=True)
class FaultDb:
    cluster: EmbeddedCluster
    owner_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings_changed() -> None:
    """Drop what was derived from the old settings: the settings object, URLs, pools."""
    get_settings.cache_clear()
    db_engine.reset_engines()


@pytest.fixture(scope="module")
def fault_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDb]:
    """A migrated database in a cluster of this module's own, which its tests may restart."""
    root = tmp_path_factory.mktemp("faults-pg")
    cluster = EmbeddedCluster(root=root, port=_free_port())
    try:
        with pytest.MonkeyPatch.context() as mp:
            url = embedded.ensure_database(cluster, DB_NAME)
            mp.setenv("DATABASE_URL", url)  # the app and the writer subprocess both use it
            _settings_changed()
            migrate.upgrade()
            with db_engine.owner_engine().begin() as conn:
                # Bounded waits on the server side too; a killed client's transaction must be
                # ended by PostgreSQL noticing the closed socket, not by an idle timeout.
                for setting, value in (
                    ("statement_timeout", "20s"),
                    ("lock_timeout", "20s"),
                    ("idle_in_transaction_session_timeout", "0"),
                ):
                    conn.exec_driver_sql(f"ALTER DATABASE {DB_NAME} SET {setting} = '{value}'")
            db_engine.reset_engines()  # new connections pick the settings up
            yield FaultDb(cluster=cluster, owner_url=url)
            db_engine.reset_engines()
    finally:
        _settings_changed()  # back to the session's test database
        try:
            embedded.stop(cluster, mode="immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------- checks


def _assert_nothing_lost_or_half_written(
    tenant_ids: list[uuid.UUID],
    committed_goals: set[uuid.UUID],
    committed_check_ins: Collection[uuid.UUID] = (),
) -> int:
    """Every committed goal and check-in is there, whole; nothing anywhere in these tenants is
    half written; every tenant's audit chain verifies. Returns the number of goals found."""
    params = {"tenants": tenant_ids}
    with db_engine.owner_engine().connect() as conn:  # the owner reads every tenant
        key_results = {
            gid: n
            for gid, n in conn.execute(
                text(
                    "SELECT g.id, count(k.id) FROM goal AS g LEFT JOIN key_result AS k"
                    " ON k.tenant_id = g.tenant_id AND k.goal_id = g.id"
                    " WHERE g.tenant_id = ANY(:tenants) GROUP BY g.id"
                ),
                params,
            ).all()
        }
        created: dict[uuid.UUID, int] = dict(
            conn.execute(
                text(
                    "SELECT entity_id, count(*) FROM audit_event WHERE tenant_id = ANY(:tenants)"
                    " AND action = 'goal.create' GROUP BY entity_id"
                ),
                params,
            ).all()
        )
        check_in_rows: dict[uuid.UUID, int] = dict(
            conn.execute(
                text(
                    "SELECT goal_id, count(*) FROM goal_check_in WHERE tenant_id = ANY(:tenants)"
                    " GROUP BY goal_id"
                ),
                params,
            ).all()
        )
        check_in_events: dict[uuid.UUID, int] = dict(
            conn.execute(
                text(
                    "SELECT entity_id, count(*) FROM audit_event WHERE tenant_id = ANY(:tenants)"
                    " AND action = 'goal.check_in' GROUP BY entity_id"
                ),
                params,
            ).all()
        )
        check_in_ids = set(
            conn.execute(
                text("SELECT id FROM goal_check_in WHERE id = ANY(:ids)"),
                {"ids": list(committed_check_ins)},
            ).scalars()
        )
        verifications = {t: chain.verify(conn, tenant_id=t) for t in tenant_ids}

    lost = committed_goals - key_results.keys()
    assert not lost, f"{len(lost)} committed goals are gone, e.g. {sorted(lost)[:3]}"
    partial = {g: n for g, n in key_results.items() if n != KR_PER_GOAL}
    assert not partial, f"goals without exactly {KR_PER_GOAL} key results: {partial}"
    assert created == dict.fromkeys(key_results, 1), (
        "every goal has exactly one goal.create audit event, and no event lacks its goal"
    )
    lost_check_ins = set(committed_check_ins) - check_in_ids
    assert not lost_check_ins, f"{len(lost_check_ins)} committed check-ins are gone"
    assert check_in_rows == check_in_events, "every check-in has its audit event and no more"
    for tenant_id, result in verifications.items():
        assert result.ok, f"audit chain of {tenant_id} broken: {result.breaks}"
        assert result.events > 0, f"tenant {tenant_id} has no audit events at all"
    return len(key_results)


def _rows_of_goal(goal_id: uuid.UUID) -> int:
    """How many rows a goal has anywhere (itself, key results, check-ins, audit events)."""
    with db_engine.owner_engine().connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM goal WHERE id = :g)"
                    " + (SELECT count(*) FROM key_result WHERE goal_id = :g)"
                    " + (SELECT count(*) FROM goal_check_in WHERE goal_id = :g)"
                    " + (SELECT count(*) FROM audit_event WHERE entity_id = :g)"
                ),
                {"g": goal_id},
            ).scalar_one()
        )


# --------------------------------------------------- 1. PostgreSQL restarts under write load


def _is_outage(err: BaseException) -> bool:
    """A connection-level failure (server gone, shutting down, starting up), which a client
    meets during a restart; anything else is a bug the test must report."""
    return isinstance(_cause(err), psycopg.OperationalError | psycopg.InterfaceError)


def _cause(err: BaseException) -> BaseException:
    """The driver's exception under SQLAlchemy's wrapper."""
    return err.orig if isinstance(err, sa_exc.DBAPIError) and err.orig is not None else err


@dataclass
class WriterLog:
    """What one writer thread saw; only it writes here, the test reads after joining."""

    goals: set[uuid.UUID] = field(default_factory=set)
    check_ins: set[uuid.UUID] = field(default_factory=set)
    successes: list[float] = field(default_factory=list)
    outage_errors: list[tuple[float, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def _write_until(stop: threading.Event, ctx: TenantContext, log: WriterLog, seed: int) -> None:
    """Goals with two key results and check-ins on them, as fast as the server allows; a
    write is recorded only once its `with tenant_session` block has exited (committed)."""
    rng = random.Random(seed)
    mine: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
    n = 0
    while not stop.is_set():
        n += 1
        try:
            if mine and n % 2 == 0:
                goal_id, kr_ids = rng.choice(mine)
                data = CheckInInput(
                    confidence=rng.choice(list(Confidence)),
                    note=f"check-in {n}",
                    key_results={kr_ids[0]: Decimal(rng.randint(0, 40))},
                )
                with tenant_session(ctx) as s:
                    entry = goals.check_in(session=s, actor=ctx, goal_id=goal_id, data=data)
                log.check_ins.add(entry)
            else:
                with tenant_session(ctx) as s:
                    goal_id = goals.create_goal(
                        session=s, actor=ctx, data=goal_with_two_key_results(f"Goal {seed}-{n}")
                    )
                    kr_ids = list(
                        s.scalars(
                            select(col(KeyResult.id)).where(col(KeyResult.goal_id) == goal_id)
                        )
                    )
                log.goals.add(goal_id)
                mine.append((goal_id, kr_ids))
            log.successes.append(time.monotonic())
        except Exception as err:
            if _is_outage(err):
                log.outage_errors.append((time.monotonic(), type(_cause(err)).__name__))
            else:
                log.unexpected.append(repr(err))
            stop.wait(0.05)  # keep trying, without spinning


@dataclass
class Straggler:
    """A goal written but not yet committed when the server goes down."""

    ctx: TenantContext
    written: threading.Event = field(default_factory=threading.Event)
    restarted: threading.Event = field(default_factory=threading.Event)
    goal_id: uuid.UUID | None = None
    committed: bool = False
    error: BaseException | None = None

    def run(self) -> None:
        try:
            with tenant_session(self.ctx) as s:
                self.goal_id = goals.create_goal(
                    session=s, actor=self.ctx, data=goal_with_two_key_results("In flight")
                )
                self.written.set()
                self.restarted.wait(30)
            self.committed = True
        except Exception as err:
            self.error = err
        finally:
            self.written.set()


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_a_database_restart_under_write_load_loses_nothing_and_the_pools_recover(
    fault_db: FaultDb,
    make_tenant: Callable[..., TenantFixture],
    record_property: Callable[[str, object], None],
) -> None:
    tenants = [make_tenant() for _ in range(TENANTS)]
    people = ("emp1", "emp2", "manager")
    actors = [ctx(tenants[i % TENANTS], people[i // TENANTS]) for i in range(WRITERS)]
    engine = db_engine.app_engine()
    logs = [WriterLog() for _ in actors]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_write_until, args=(stop, a, log, i), daemon=True)
        for i, (a, log) in enumerate(zip(actors, logs, strict=True))
    ]
    for t in threads:
        t.start()
    # One transaction is sure to be open across the restart: it holds its tenant's audit-chain
    # lock, so that tenant's writers are sure to be waiting mid-transaction too.
    straggler = Straggler(ctx(tenants[0], "admin"))
    straggling = threading.Thread(target=straggler.run, daemon=True)
    try:
        _wait_for(lambda: all(len(log.successes) >= 5 for log in logs), 20, "the load to run")
        straggling.start()
        assert straggler.written.wait(10), "the in-flight goal was never written"
        down = time.monotonic()
        embedded.stop(fault_db.cluster, mode="fast")  # ends every session, mid-transaction too
        embedded.start(fault_db.cluster)  # same data directory, same port
        up = time.monotonic()
        straggler.restarted.set()
        _wait_for(
            lambda: all(log.successes and log.successes[-1] > up for log in logs),
            RECOVERY_LIMIT_S * 3,
            "every writer to commit again after the restart",
        )
        time.sleep(max(0.0, up + AFTER_RESTART_S - time.monotonic()))
    finally:
        stop.set()
        straggler.restarted.set()
        for t in [*threads, straggling]:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in [*threads, straggling]), "a writer hung"

    committed_goals = set().union(*(log.goals for log in logs))
    committed_check_ins = set().union(*(log.check_ins for log in logs))
    found = _assert_nothing_lost_or_half_written(
        [t.id for t in tenants], committed_goals, committed_check_ins
    )

    errors = sorted(e for log in logs for e in log.outage_errors)
    assert errors, "no writer met the outage: the restart proved nothing"
    assert all(down <= t for t, _ in errors), "writers failed before the server went down"
    unexpected = [e for log in logs for e in log.unexpected]
    assert not unexpected, f"errors other than the outage: {unexpected[:5]}"

    assert straggler.goal_id is not None and straggler.error is not None, "it committed?"
    assert not straggler.committed and _is_outage(straggler.error), repr(straggler.error)
    assert _rows_of_goal(straggler.goal_id) == 0, "the interrupted transaction left rows"

    recovery = min(t for log in logs for t in log.successes if t > up) - up
    last_error = errors[-1][0] - up
    assert recovery < RECOVERY_LIMIT_S
    assert last_error < ERROR_GRACE_S, "pooled connections kept failing after the restart"
    assert db_engine.app_engine() is engine, "the app's engine was replaced"

    summary = {
        "restart_s": round(up - down, 2),
        "recovery_s": round(recovery, 3),
        "last_error_after_up_s": round(last_error, 3),
        "outage_errors": len(errors),
        "error_kinds": sorted({kind for _, kind in errors}),
        "in_flight_error": type(_cause(straggler.error)).__name__,
        "committed_goals": len(committed_goals),
        "committed_check_ins": len(committed_check_ins),
        "goals_found": found,  # more than committed: a commit went through, its reply did not
        "commits_after_restart": sum(1 for log in logs for t in log.successes if t > up),
    }
    for key, value in summary.items():
        record_property(key, value)
    print(f"\nrestart under load: {summary}")


# ---------------------------------------------------------- 2. the app process is killed


def _pms_app_backends(cluster: EmbeddedCluster) -> list[tuple[int, str, str]]:
    """(pid, state, wait event type) of every `pms_app` session; read as the superuser, since
    PostgreSQL hides other roles' session states from the owner."""
    with psycopg.connect(cluster._conninfo(DB_NAME), connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pid, coalesce(state, ''), coalesce(wait_event_type, '')"
            " FROM pg_stat_activity WHERE usename = 'pms_app'"
        ).fetchall()
    return [(int(pid), str(state), str(wait)) for pid, state, wait in rows]


def test_killing_the_app_mid_write_loses_nothing_and_leaves_no_transaction_behind(
    fault_db: FaultDb,
    make_tenant: Callable[..., TenantFixture],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    held_tenant, other = make_tenant(), make_tenant()
    db_engine.reset_engines()  # this process now holds no pms_app connection: all are the child's
    stderr_path = tmp_path / "fault_writer.err"
    lines: queue.Queue[str | None] = queue.Queue()
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fault_writer",
                *("--tenant", f"{held_tenant.id}:{held_tenant.user_id('emp1')}"),
                *("--tenant", f"{other.id}:{other.user_id('emp1')}"),
                *("--hold-after", str(HOLD_AFTER)),
                *("--max-seconds", "60"),
            ],
            cwd=PROJECT_ROOT,
            env=os.environ | {"DATABASE_URL": fault_db.owner_url, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    printed: set[uuid.UUID] = set()  # goals the writer says it committed
    held: tuple[uuid.UUID, int] | None = None
    eof = False

    def take(line: str | None) -> None:
        nonlocal held, eof
        if line is None:
            eof = True
            return
        kind, goal_id, _tenant, pid = line.split()
        if kind == "goal":
            printed.add(uuid.UUID(goal_id))
        elif kind == "holding":
            held = (uuid.UUID(goal_id), int(pid))

    def stream_until(done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if eof:
                pytest.fail(f"the writer exited ({proc.poll()}): {stderr_path.read_text()}")
            try:
                take(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"timed out after {timeout} s waiting for {what}")

    try:
        stream_until(lambda: held is not None, 45, f"{HOLD_AFTER} commits and a held transaction")
        assert held is not None
        before_kill = len(printed)
        # The other tenant's writer keeps committing: kill it mid-stream.
        stream_until(lambda: len(printed) >= before_kill + 3, 15, "more commits")
        by_pid = {pid: (state, wait) for pid, state, wait in _pms_app_backends(fault_db.cluster)}
        assert by_pid.get(held[1], ("", ""))[0] == "idle in transaction", by_pid
        # The held tenant's own writer queues behind the held audit-chain lock.
        _wait_for(
            lambda: any(w == "Lock" for _, _, w in _pms_app_backends(fault_db.cluster)),
            5,
            "a writer blocked mid-transaction on the held tenant's audit lock",
        )
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    reader.join(timeout=10)
    while not lines.empty():  # lines the writer printed just before it died count too
        take(lines.get_nowait())

    _wait_for(
        lambda: not _pms_app_backends(fault_db.cluster),
        10,
        "PostgreSQL to end the dead process's sessions",
    )
    cleanup_s = time.monotonic() - killed

    # Its transactions were rolled back and its locks released: the held tenant takes writes.
    with tenant_session(ctx(held_tenant, "emp2")) as s:
        s.execute(text("SET LOCAL lock_timeout = '3s'"))
        after = goals.create_goal(
            session=s, actor=ctx(held_tenant, "emp2"), data=goal_with_two_key_results("After")
        )

    found = _assert_nothing_lost_or_half_written([held_tenant.id, other.id], {*printed, after})
    assert _rows_of_goal(held[0]) == 0, "the killed process's open transaction left rows"
    summary = {
        "committed_before_kill": len(printed),
        "goals_found": found,
        "sessions_gone_after_s": round(cleanup_s, 3),
    }
    for key, value in summary.items():
        record_property(key, value)
    print(f"\nkill mid-write: {summary}")
