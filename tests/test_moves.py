"""Online tenant moves (pms_dashboard.moves): every direction, crash at every step, writers and a
reader during a move, a second process with a cached placement, the HTTP refusal."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from pms_dashboard import move_rows, moves
from pms_dashboard.goals import changes, checkins
from pms_dashboard.goals.models import Goal, GoalCheckIn
from pms_dashboard.goals.schemas import CheckInInput, GoalInput
from pms_dashboard.settings import PROJECT_ROOT
from pms_dashboard.tenancy import placement
from pms_dashboard.tenancy.placement import PlacementUnavailable
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, ctx
from tests.tiers import Where, rows_by_place, where

# What describes the placement rather than the organisation (the move changes them).
PLACEMENT_COLUMNS = {*move_rows.PLACEMENT_COLUMNS, "isolation_tier", "region"}


def _goals(t: TenantFixture, n: int = 6) -> list[uuid.UUID]:
    made = []
    actor = ctx(t, "manager")
    with tenant_session(actor) as s:
        for i in range(n):
            data = GoalInput(
                title=f"Goal {i} of {t.slug}",
                start_date=date.today() - timedelta(days=10),
                due_date=date.today() + timedelta(days=80),
            )
            made.append(changes.create_goal(session=s, actor=actor, data=data))
    return made


def _check_in(t: TenantFixture, goal_id: uuid.UUID, progress: int) -> uuid.UUID:
    actor = ctx(t, "manager")
    with tenant_session(actor) as s:
        data = CheckInInput(confidence="on_track", progress=Decimal(progress), note=f"p{progress}")
        return checkins.check_in(session=s, actor=actor, goal_id=goal_id, data=data)


def _rows(t: TenantFixture) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tenant per table, as the owner at its placement (placement columns
    and the move's own audit events left out)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    where = placement.fetch(t.id)
    with owner_session(t.id) as s:
        conn = s.connection().connection.dbapi_connection
        assert conn is not None
        for table in move_rows.tenant_tables(conn, where.search_path):  # type: ignore[arg-type]
            cols = [
                c
                for c in s.execute(
                    text(
                        "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass)"
                        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
                    ),
                    {"t": f'"{where.search_path}"."{table}"'},
                ).scalars()
                if c not in PLACEMENT_COLUMNS
            ]
            key = "id" if table == "tenant" else "tenant_id"
            extra = " AND action NOT LIKE 'tenant.move%'" if table == "audit_event" else ""
            if table == "audit_event":
                cols = [c for c in cols if c not in ("seq", "prev_hash", "hash")]
            found[table] = sorted(
                tuple(r)
                for r in s.execute(
                    text(f"SELECT {', '.join(cols)} FROM {table} WHERE {key} = :t{extra}"),
                    {"t": t.id},
                ).all()
            )
    return found


def _places_holding(tenant_id: uuid.UUID) -> set[Where]:
    """Every place on every region's cluster holding rows of this tenant (owner's scan)."""
    return set(rows_by_place([tenant_id])[tenant_id])


def _expected_place(tenant_id: uuid.UUID) -> Where:
    return where(placement.fetch(tenant_id))


DIRECTIONS = [
    ("pool", "eu-central", "schema", "eu-central"),
    ("schema", "eu-central", "database", "eu-central"),
    ("database", "eu-central", "pool", "eu-central"),
    ("pool", "eu-central", "pool", "us-east"),
]


@pytest.mark.parametrize(("tier", "region", "to_tier", "to_region"), DIRECTIONS)
def test_a_move_keeps_every_row_and_leaves_them_only_at_the_new_placement(
    make_tenant: Callable[..., TenantFixture], tier: str, region: str, to_tier: str, to_region: str
) -> None:
    t = make_tenant(tier=tier, region=region)
    goals = _goals(t)
    _check_in(t, goals[0], 40)
    before = _rows(t)
    result = moves.move_tenant(
        slug=t.slug, tier=to_tier, region=to_region, reason="contract says so"
    )
    after = placement.fetch(t.id)
    assert (after.tier.value, after.region) == (to_tier, to_region)
    assert result.state == "done" and result.checksums["goal"].startswith(f"{len(goals)}:")
    assert _rows(t) == before
    assert _places_holding(t.id) == {_expected_place(t.id)}
    # the chain continued across the move, unbroken, with both events in it
    with owner_session(t.id) as s:
        actions = (
            s.execute(
                text("SELECT action FROM audit_event WHERE tenant_id = :t ORDER BY seq"),
                {"t": t.id},
            )
            .scalars()
            .all()
        )
    assert actions[-2:] == ["tenant.move_started", "tenant.move_completed"] or (
        "tenant.move_started" in actions and actions[-1] == "tenant.move_completed"
    )
    _check_in(t, goals[1], 55)  # writable at the new placement


def test_a_move_needs_a_reason_and_a_new_place(make_tenant: Callable[..., TenantFixture]) -> None:
    t = make_tenant()
    with pytest.raises(moves.MoveError, match="reason"):
        moves.move_tenant(slug=t.slug, tier="schema", reason=" ")
    with pytest.raises(moves.MoveError, match="already lives"):
        moves.move_tenant(slug=t.slug, tier="pool", reason="nothing to do")
    with pytest.raises(moves.MoveError, match="unknown region"):
        moves.move_tenant(slug=t.slug, tier="schema", region="mars", reason="far away")
    assert placement.fetch(t.id).tier.value == "pool"


# ------------------------------------------------------------------ kill -9 at every step


def _move_in_child(slug: str, tier: str, region: str, crash_after: str, **env: str) -> int:
    code = (
        "from pms_dashboard.moves import move_tenant; "
        f"move_tenant(slug={slug!r}, tier={tier!r}, region={region!r}, reason='kill test',"
        f" crash_after={crash_after!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode


@pytest.mark.parametrize("step", ["copying", "frozen", "fenced", "flipped"])
def test_a_mover_killed_at_any_step_is_completed_or_rolled_back_by_a_rerun(
    make_tenant: Callable[..., TenantFixture], step: str
) -> None:
    t = make_tenant(tier="pool")
    goals = _goals(t, 3)
    before = _rows(t)
    assert _move_in_child(t.slug, "schema", "us-east", step) == 137
    placement.forget(t.id)
    outcome = moves.recover(t.id)
    assert outcome == ("rolled back" if step in ("copying", "frozen") else "completed")
    now = placement.fetch(t.id)
    assert now.state == "active"
    expected = ("pool", "eu-central") if step in ("copying", "frozen") else ("schema", "us-east")
    assert (now.tier.value, now.region) == expected
    assert _rows(t) == before
    assert _places_holding(t.id) == {_expected_place(t.id)}
    _check_in(t, goals[0], 70)  # writable again


def test_an_abandoned_freeze_lets_writes_resume_by_itself(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t = make_tenant(tier="pool")
    goals = _goals(t, 1)
    assert (
        _move_in_child(t.slug, "schema", "eu-central", "frozen", PMS_MOVE_FREEZE_LIMIT_SECONDS="2")
        == 137
    )
    placement.forget(t.id)
    with pytest.raises(PlacementUnavailable, match="being moved"):
        _check_in(t, goals[0], 10)
    with tenant_session(ctx(t, "manager")) as s:  # reads keep working
        assert s.scalars(select(Goal.id)).all() == goals
    time.sleep(2.5)
    _check_in(t, goals[0], 20)  # the limit passed: writes resume at the source
    assert moves.recover(t.id) == "rolled back"  # the re-run clears the abandoned move
    assert placement.fetch(t.id).tier.value == "pool"
    assert _places_holding(t.id) == {_expected_place(t.id)}


# ------------------------------------------------------------------ writers during a move


def test_writers_and_a_reader_during_a_move_lose_nothing(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t = make_tenant(tier="pool")
    goals = _goals(t, 8)
    acknowledged: list[uuid.UUID] = []
    refusals: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(goal_id: uuid.UUID) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                made = _check_in(t, goal_id, n % 100)
                with lock:
                    acknowledged.append(made)
            except PlacementUnavailable as err:
                with lock:
                    refusals.append(str(err))
                time.sleep(0.02)
            except BaseException as err:
                errors.append(err)
                return

    def reader() -> None:
        while not stop.is_set():
            try:
                with tenant_session(ctx(t, "manager")) as s:
                    assert len(s.scalars(select(Goal.id)).all()) == len(goals)
            except BaseException as err:
                errors.append(err)
                return

    # daemon threads, stopped whatever the move does: a move that fails must fail the
    # test, not leave writers running that keep the test run from ending
    threads = [threading.Thread(target=writer, args=(g,), daemon=True) for g in goals]
    threads.append(threading.Thread(target=reader, daemon=True))
    for th in threads:
        th.start()
    try:
        time.sleep(0.5)
        moves.move_tenant(slug=t.slug, tier="database", region="us-east", reason="load test")
        time.sleep(0.5)
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    assert not any(th.is_alive() for th in threads), "a writer or the reader did not stop"
    assert errors == []
    assert acknowledged
    assert set(refusals) <= {"Your organisation is being moved; try again in a minute."}
    with owner_session(t.id) as s:
        present = set(s.scalars(select(GoalCheckIn.id)).all())
    assert set(acknowledged) <= present
    assert placement.fetch(t.id).tier.value == "database"


def test_a_second_process_with_a_cached_placement_follows_the_move(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t = make_tenant(tier="schema")
    goals = _goals(t, 2)
    code = f"""
import sys, uuid
from sqlalchemy import select
from decimal import Decimal
from pms_dashboard.goals import checkins
from pms_dashboard.goals.models import Goal
from pms_dashboard.goals.schemas import CheckInInput
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import tenant_session
actor = TenantContext(tenant_id=uuid.UUID({str(t.id)!r}), user_id=uuid.UUID(
    {str(t.user_id("manager"))!r}), role="manager")
with tenant_session(actor) as s:
    print(len(s.scalars(select(Goal.id)).all()), flush=True)
sys.stdin.readline()
with tenant_session(actor) as s:
    print(sorted(g.title for g in s.scalars(select(Goal)).all()), flush=True)
    print(checkins.check_in(session=s, actor=actor, goal_id={str(goals[0])!r},
          data=CheckInInput(confidence="on_track", progress=Decimal(33))), flush=True)
"""
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None and child.stderr is not None
    assert child.stdout.readline().strip() == "2"  # its placement is cached now
    moves.move_tenant(slug=t.slug, tier="database", region="eu-central", reason="upgrade")
    fresh = _goals(t, 1)  # written at the new placement after the move
    child.stdin.write("go\n")
    child.stdin.flush()
    titles = child.stdout.readline().strip()
    said = child.stdout.readline().strip()
    assert child.wait(30) == 0, child.stderr.read()[-2000:]
    check_in_id = uuid.UUID(said)
    assert "Goal 0 of" in titles and titles.count("Goal 0 of") == 2  # the new goal is seen
    with owner_session(t.id) as s:
        assert s.get(GoalCheckIn, (t.id, check_in_id)) is not None
        assert s.get(Goal, (t.id, fresh[0])) is not None
    assert _places_holding(t.id) == {_expected_place(t.id)}


def test_http_writes_during_the_freeze_get_503_with_retry_after(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    from starlette.testclient import TestClient

    from pms_dashboard.pms_dashboard import api
    from tests.conftest import TEST_PASSWORD

    t = make_tenant(tier="pool")
    assert (
        _move_in_child(t.slug, "schema", "eu-central", "frozen", PMS_MOVE_FREEZE_LIMIT_SECONDS="60")
        == 137
    )
    placement.forget(t.id)
    try:
        client = TestClient(api, base_url="http://localhost:3000")
        response = client.post(
            "/api/auth/signin",
            data={
                "organisation": t.slug,
                "email": f"admin@{t.slug}.test",
                "password": TEST_PASSWORD,
            },
            headers={"origin": "http://localhost:3000"},
            follow_redirects=False,
        )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "60"
        assert "being moved" in response.text
    finally:
        assert moves.recover(t.id) == "rolled back"


def test_rows_written_or_deleted_between_the_copy_and_the_freeze_are_carried_over(
    make_tenant: Callable[..., TenantFixture], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = make_tenant(tier="schema")
    goals = _goals(t, 3)
    dropped = _check_in(t, goals[0], 10)
    real_freeze = moves._freeze

    def writes_after_the_copy(found: Any, source: Any) -> None:
        # after the snapshot copy, before the freeze: an update, a delete and an insert
        with owner_session(t.id) as s:
            s.execute(text("UPDATE goal SET title = 'Renamed after the copy' WHERE id = :g"),
                      {"g": goals[1]})  # fmt: skip
            s.execute(text("DELETE FROM goal_check_in WHERE id = :c"), {"c": dropped})
        _goals(t, 1)
        real_freeze(found, source)

    monkeypatch.setattr(moves, "_freeze", writes_after_the_copy)
    moves.move_tenant(slug=t.slug, tier="database", region="us-east", reason="carry-over")
    with owner_session(t.id) as s:
        titles = list(s.scalars(select(Goal.title)).all())
        assert s.get(GoalCheckIn, (t.id, dropped)) is None
    assert "Renamed after the copy" in titles and len(titles) == 4  # 3 + the one added
    assert _places_holding(t.id) == {_expected_place(t.id)}


def _goal_index_use() -> tuple[int, int]:
    """Index scans on the home pool's `goal` table, and the entries read through its other
    indexes than the key (shared statistics, read afresh)."""
    with owner_session() as s:
        s.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = s.execute(
            text(
                "SELECT coalesce(sum(idx_scan), 0), coalesce(sum(idx_tup_read)"
                " FILTER (WHERE indexrelname <> 'pk_goal'), 0) FROM pg_stat_user_indexes"
                " WHERE schemaname = 'public' AND relname = 'goal'"
            )
        ).one()
    return int(row[0]), int(row[1])


def test_a_copy_into_a_pool_whose_statistics_predate_the_tenant_looks_rows_up_by_key(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    """The regression of a 100,000-goal tenant taking minutes to copy back into a pool: the
    foreign-key checks of its goals' parents were planned for its id against statistics
    in which it had no rows, and each read all its goals through another index."""
    _goals(make_tenant())  # the pool holds someone else's goals
    t = make_tenant(tier="schema")
    n = 1_500
    with owner_session(t.id) as s:  # a chain of goals, each the parent of the next
        s.execute(
            text(
                "WITH g AS (SELECT i, gen_random_uuid() AS id FROM generate_series(1, :n) AS i)"
                " INSERT INTO goal (tenant_id, id, owner_id, parent_id, title, start_date,"
                " due_date, status) SELECT :t, g.id, :owner, p.id, 'Goal ' || g.i,"
                " current_date, current_date + 30, 'active' FROM g LEFT JOIN g AS p"
                " ON p.i = g.i - 1"
            ),
            {"n": n, "t": t.id, "owner": t.user_id("manager")},
        )
    with owner_session() as s:  # what autovacuum leaves after the tenant left the pool
        s.execute(text("ANALYZE public.goal"))
    scans, read = _goal_index_use()
    moves.move_tenant(slug=t.slug, tier="pool", region="eu-central", reason="back to the pool")
    deadline = time.monotonic() + 15
    while (now := _goal_index_use())[0] - scans < n - 1 and time.monotonic() < deadline:
        time.sleep(0.2)  # the copying backend's counts arrive when it ends
    assert now[0] - scans >= n - 1  # one lookup per parent at least
    # by key: a few passes over the tenant's goals at most; by another index: ~n * n / 2
    assert now[1] - read < 20 * n, f"{now[1] - read} index entries read for {n} goals"
    with owner_session(t.id) as s:
        linked = s.execute(
            text("SELECT count(parent_id) FROM goal WHERE tenant_id = :t"), {"t": t.id}
        )
        assert linked.scalar_one() == n - 1  # every link copied


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE {s}.goal SET title = title || '!' WHERE tenant_id = %s AND id = %s",
        "UPDATE {s}.goal SET progress = progress + 1 WHERE tenant_id = %s AND id = %s",
        "UPDATE {s}.goal SET parent_id = NULL WHERE tenant_id = %s AND id = %s",
    ],
    ids=["text", "number", "link"],
)
def test_a_copy_that_differs_from_its_source_fails_verification_and_rolls_back(
    make_tenant: Callable[..., TenantFixture], monkeypatch: pytest.MonkeyPatch, tamper: str
) -> None:
    t = make_tenant(tier="pool")
    goals = _goals(t, 3)
    with owner_session(t.id) as s:
        s.execute(text("UPDATE goal SET parent_id = :p WHERE id = :g"),
                  {"p": goals[0], "g": goals[1]})  # fmt: skip
    before = _rows(t)
    real_verify_chain = moves._verify_chain

    def tampered(target: move_rows.Where, tenant_id: uuid.UUID) -> None:
        # after the copy, one value of one copied row changes (same row count)
        with move_rows._connect(target.url) as c:
            c.execute(tamper.format(s=f'"{target.schema}"'), [tenant_id, goals[1]])
            c.commit()
        real_verify_chain(target, tenant_id)

    monkeypatch.setattr(moves, "_verify_chain", tampered)
    with pytest.raises(move_rows.MoveError, match="verification failed: goal differs"):
        moves.move_tenant(slug=t.slug, tier="schema", region="us-east", reason="tampered")
    now = placement.fetch(t.id)
    assert (now.tier.value, now.region, now.state) == ("pool", "eu-central", "active")
    assert _rows(t) == before
    assert _places_holding(t.id) == {_expected_place(t.id)}
    _check_in(t, goals[2], 30)  # still writable at the source
