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

import time
from typing import Any

from bench.common import measure_interleaved, prepare_database, summarize, write_section

SHAPE = {"users_per_tenant": 10, "goals_per_user": 2_000, "check_ins_per_goal": 5.0}
PLAIN, SEALED = "bench-enc-plain", "bench-enc-sealed"


def _seed(prefix: str, encrypted: bool) -> str:
    from pms_dashboard.seed import seed_bulk

    seed_bulk(tenants=1, prefix=prefix, progress=True, encrypted=encrypted, **SHAPE)  # type: ignore[arg-type]
    return f"{prefix}-0001"


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
    goal_id = _owner_sql(slug, "SELECT goal_id FROM goal_check_in WHERE tenant_id = :t"
                         " GROUP BY goal_id ORDER BY count(*) DESC LIMIT 1")  # fmt: skip
    return token_for(slug, email, get_settings().demo_password), goal_id


def _events(token: str, goal_id: Any) -> dict[str, Any]:
    from pms_dashboard.ui.driver import call, state_for
    from pms_dashboard.ui.states.goals import GoalDetailState, GoalsState

    def goal_list() -> None:
        st = state_for(GoalsState, token, "/goals")
        call(st, GoalsState.load)
        call(st, GoalsState.set_scope, "team")
        assert st.rows

    def goal_detail() -> None:
        st = state_for(GoalDetailState, token, f"/goals/{goal_id}", {"goal_id": str(goal_id)})
        call(st, GoalDetailState.load)
        assert st.check_ins and "Encrypted" not in st.check_ins[0].note

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


def run(runs: int = 25, export_runs: int = 5) -> None:
    from pms_dashboard.settings import get_settings

    prepare_database()
    plain, sealed = _seed(PLAIN, False), _seed(SEALED, True)
    plain_events, sealed_events = _events(*_manager(plain)), _events(*_manager(sealed))
    unwraps_before, started = _unwraps(sealed), time.perf_counter()
    rows = []
    for name in plain_events:
        timed = measure_interleaved(
            {"plain": plain_events[name], "sealed": sealed_events[name]}, runs=runs
        )
        p, s = timed["plain"], timed["sealed"]
        rows.append(f"| {name} | {p.median_ms:.1f} | {s.median_ms:.1f} | {s.p95_ms:.1f} "
                    f"| **{s.ratio_to(p):.2f}** |")  # fmt: skip
    events = len(plain_events) * (runs + 3)
    seconds, unwraps = time.perf_counter() - started, _unwraps(sealed) - unwraps_before
    lifetime = get_settings().key_cache_seconds
    pairs = [_export_pair(sealed) for _ in range(export_runs)]
    route = summarize("route", [p[0] * 1000 for p in pairs])
    copy = summarize("copy", [p[1] * 1000 for p in pairs])
    ratio = copy.median_ms / route.median_ms
    export_row = (
        f"| check-ins with notes | {pairs[0][2] - 1:,} | {copy.median_ms / 1000:.2f} "
        f"| {route.median_ms / 1000:.2f} | **{ratio:.2f}** |"
    )
    body = f"""{__doc__.split(chr(10), 2)[2].strip()}

| Event | plain median ms | encrypted median ms | encrypted p95 ms | ratio |
|---|---:|---:|---:|---:|
{chr(10).join(rows)}

| Export | rows | raw COPY s | decrypting route s | throughput ratio |
|---|---:|---:|---:|---:|
{export_row}

Unwraps: {unwraps} during {events:,} events of the encrypted tenant in {seconds:.0f} s
(cache lifetime {lifetime:.0f} s): {unwraps * 10_000 / max(events, 1):.1f} per 10,000 events,
{unwraps / max(1.0, seconds / lifetime):.2f} per cache lifetime in this process.
"""
    write_section("Encryption", body)
    print(body)


if __name__ == "__main__":
    run()
