"""Customer-managed keys: what encrypting a tenant's free text costs.

Two tenants of the same shape (bulk seed: 10 people, 2,000 goals each, 5 check-ins per
goal with notes, so 100,000 check-ins), one in plain text, one opted in with the platform's
key (its notes sealed). Measured in the same run, interleaved:

- the goal list's and the goal detail's events (called as the websocket calls them, as
  `pms_app` under RLS), encrypted tenant vs the plain one (target at most 1.10x);
- the check-ins export of the encrypted tenant (decrypted while streaming, in a tenant
  session as `pms_app`) vs a raw COPY of the same statement by the owner (the ciphertext,
  no decryption; target at least 0.5x throughput);
- unwraps: the `key.unwrap` events the encrypted tenant's events caused, per 10,000 events
  and per cache lifetime (target at most one per cache lifetime per process).
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench.common import measure_interleaved, prepare_database, summarize, write_section

SHAPE = {"users_per_tenant": 10, "goals_per_user": 2_000, "check_ins_per_goal": 5.0}
PLAIN, SEALED = "bench-enc-plain", "bench-enc-sealed"


def _seed(prefix: str, encrypted: bool) -> str:
    from pms_dashboard.seed import seed_bulk

    seed_bulk(tenants=1, prefix=prefix, progress=True, encrypted=encrypted, **SHAPE)  # type: ignore[arg-type]
    return f"{prefix}-0001"


# The same kind of goal in both tenants (their data differ: the seed's randomness follows
# the slug): five check-ins, one key result, no parent, nothing aligned below it.
COMPARABLE_GOAL = """
SELECT g.id FROM goal AS g WHERE g.tenant_id = :t AND g.parent_id IS NULL
   AND (SELECT count(*) FROM goal_check_in AS c WHERE c.tenant_id = :t AND c.goal_id = g.id) = 5
   AND (SELECT count(*) FROM key_result AS k WHERE k.tenant_id = :t AND k.goal_id = g.id) = 1
   AND NOT EXISTS (SELECT 1 FROM goal AS x WHERE x.tenant_id = :t AND x.parent_id = g.id)
 ORDER BY g.id LIMIT 1
"""


def _owner_sql(slug: str, sql: str, **params: Any) -> Any:
    """The first value of `sql` run as the owner at the tenant's placement (`:t` its id)."""
    from sqlalchemy import text

    from pms_dashboard.tenancy import placement
    from pms_dashboard.tenancy.session import owner_session

    found = placement.by_slug(slug)
    assert found is not None
    with owner_session(found.tenant_id) as s:
        return s.execute(text(sql), {"t": found.tenant_id, **params}).scalar()


def _manager(slug: str) -> tuple[str, Any]:
    """The first person's session token (everyone reports to them; promoted to tenant admin
    for the export) and the goal with the most check-ins."""
    from pms_dashboard.settings import get_settings
    from pms_dashboard.ui.driver import token_for

    email = f"user0000@{slug}.example"
    _owner_sql(slug, "UPDATE app_user SET role = 'tenant_admin' WHERE tenant_id = :t"
               " AND email = :e RETURNING id", e=email)  # fmt: skip
    goal_id = _owner_sql(slug, COMPARABLE_GOAL)
    return token_for(slug, email, get_settings().demo_password), goal_id


def _events(token: str, goal_id: Any) -> dict[str, Any]:
    from pms_dashboard.ui.driver import call, state_for
    from pms_dashboard.ui.states.goals import GoalDetailState, GoalsState

    def goal_list() -> None:
        listed = state_for(GoalsState, token, "/goals")
        for step in (GoalsState.load, lambda st: GoalsState.set_scope.fn(st, "team")):
            call(listed, step)
        assert listed.rows

    def goal_detail() -> None:
        st = state_for(GoalDetailState, token, f"/goals/{goal_id}", {"goal_id": str(goal_id)})
        call(st, GoalDetailState.load)
        assert st.check_ins and "Encrypted" not in str(st.check_ins[0])

    return {"Goal list, team (manager)": goal_list, "Goal detail, 5 check-ins": goal_detail}


def _unwraps(slug: str) -> int:
    sql = "SELECT count(*) FROM audit_event WHERE tenant_id = :t AND action = 'key.unwrap'"
    return int(_owner_sql(slug, sql))


def _export_pair(slug: str) -> tuple[float, float, int]:
    """(route seconds, raw COPY seconds, rows) of the check-ins export of `slug`."""
    from pms_dashboard.exports import service
    from pms_dashboard.exports.routes import export_stream
    from pms_dashboard.exports.stream import copy_csv
    from pms_dashboard.tenancy import placement
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import owner_session, tenant_session

    found = placement.by_slug(slug)
    assert found is not None
    sql = "SELECT id FROM app_user WHERE tenant_id = :t AND role = 'tenant_admin' LIMIT 1"
    admin = _owner_sql(slug, sql)
    ctx = TenantContext(tenant_id=found.tenant_id, user_id=admin, role="tenant_admin")
    request = service.prepare("check-ins", {"scope": "all"})
    start = time.perf_counter()
    rows = sum(chunk.count(b"\n") for chunk in export_stream(ctx, request, via="bench"))
    route_s = time.perf_counter() - start
    with tenant_session(ctx) as s:
        statement = request.spec.build(s, ctx, request.params)  # type: ignore[misc]
    start = time.perf_counter()
    with owner_session(found.tenant_id) as s:
        for _ in copy_csv(s, statement):
            pass
    return route_s, time.perf_counter() - start, rows


def _unwraps_during(slug: str, event: Any, count: int) -> tuple[int, float]:
    """Unwraps (audited `key.unwrap` events) while `event` runs `count` times from a cold
    cache, and the seconds it took."""
    from pms_dashboard.keys import cache

    cache.forget()
    before, started = _unwraps(slug), time.perf_counter()
    for _ in range(count):
        event()
    return _unwraps(slug) - before, time.perf_counter() - started


def _export_row(slug: str, runs: int) -> str:
    pairs = [_export_pair(slug) for _ in range(runs)]
    route = summarize("route", [p[0] * 1000 for p in pairs])
    copy = summarize("copy", [p[1] * 1000 for p in pairs])
    return (
        f"| check-ins with notes | {pairs[0][2] - 1:,} | {copy.median_ms / 1000:.2f} "
        f"| {route.median_ms / 1000:.2f} | **{copy.median_ms / route.median_ms:.2f}** |"
    )


def run(runs: int = 80, export_runs: int = 9, unwrap_events: int = 2_000) -> None:
    from pms_dashboard.settings import get_settings

    prepare_database()
    plain, sealed = _seed(PLAIN, False), _seed(SEALED, True)
    plain_events, sealed_events = _events(*_manager(plain)), _events(*_manager(sealed))
    rows = []
    for name in plain_events:
        timed = measure_interleaved(
            {"plain": plain_events[name], "sealed": sealed_events[name]}, runs=runs
        )
        p, s = timed["plain"], timed["sealed"]
        rows.append(f"| {name} | {p.median_ms:.1f} | {s.median_ms:.1f} | {s.p95_ms:.1f} "
                    f"| **{s.ratio_to(p):.2f}** |")  # fmt: skip
    export_row = _export_row(sealed, export_runs)
    detail = sealed_events["Goal detail, 5 check-ins"]
    unwraps, seconds = _unwraps_during(sealed, detail, unwrap_events)
    lifetime = get_settings().key_cache_seconds
    # the lifetimes the run began (a cold cache fills at the first event): 1 for a run
    # shorter than one lifetime
    lifetimes = max(1, math.ceil(seconds / lifetime)) if lifetime else 1
    per_lifetime = unwraps / lifetimes
    verdict = "met" if per_lifetime <= 1 else "**missed**"
    body = f"""{__doc__.split(chr(10), 2)[2].strip()}

| Event | plain median ms | encrypted median ms | encrypted p95 ms | ratio |
|---|---:|---:|---:|---:|
{chr(10).join(rows)}

The export holds the check-ins of the goals the list shows by default (not archived).

| Export | rows | raw COPY s | decrypting route s | throughput ratio |
|---|---:|---:|---:|---:|
{export_row}

Unwraps: {unwraps} during {unwrap_events:,} goal-detail events of the encrypted tenant in one
process from a cold cache, over {seconds:.0f} s with a cache lifetime of {lifetime:.0f} s:
{unwraps * 10_000 / unwrap_events:.0f} per 10,000 events, {per_lifetime:.2f} per cache lifetime
begun ({lifetimes}; the first unwrap fills the cold cache): target at most 1 ({verdict}).
"""
    write_section("Encryption", body)
    print(body)


if __name__ == "__main__":
    run()
