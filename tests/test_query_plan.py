"""The "my goals" query, run as pms_app under a tenant context, uses the tenant_id-leading
index and checks the tenant policy once per scan (a one-time filter), never once per row of
the table (pms_dashboard.tenancy.rls explains the policy's form).

The plans are taken of the exact SQL and parameters the service sends (captured from the
engine), with EXPLAIN (ANALYZE, FORMAT JSON, VERBOSE) on a pms_app connection.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from pms_dashboard.auth.models import User
from pms_dashboard.db import engine as db_engine
from pms_dashboard.goals import service
from pms_dashboard.goals.schemas import GoalListQuery
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.provision import create_tenant
from pms_dashboard.tenancy.session import owner_session, tenant_session

TENANTS, USERS_PER_TENANT, GOALS_PER_USER = 6, 10, 100  # 6,000 goals (+ KRs and check-ins)
TENANT_TABLES_IN_QUERY = ("goal", "app_user", "key_result")
# Where an expression is evaluated for every row a node sees. (An Index Cond's expression is
# computed once per index scan; a bitmap's Recheck Cond only on lossy pages.)
PER_ROW_KEYS = ("Filter", "Join Filter", "Hash Cond", "Merge Cond")
POLICY = re.compile(r"current_setting\('app\.current_tenant_id'")


@dataclass(frozen=True)
class Data:
    tenant_id: uuid.UUID
    owner_id: uuid.UUID


@pytest.fixture(scope="module")
def data(database: str) -> Data:
    """Several tenants with thousands of goals, loaded by the owner with COPY, then ANALYZEd."""
    users: list[tuple[uuid.UUID, uuid.UUID]] = []
    for _ in range(TENANTS):
        slug = f"plan-{uuid.uuid4().hex[:10]}"
        tenant_id = create_tenant(slug=slug, name=slug).placement.tenant_id
        with owner_session(tenant_id) as s:
            for i in range(USERS_PER_TENANT):
                user = User(tenant_id=tenant_id, email=f"u{i}@{slug}.test", display_name=f"U{i}")
                s.add(user)
                s.flush()
                users.append((tenant_id, user.id))
    goals = [
        (tid, uuid.uuid4(), uid, f"goal {k}", date(2026, 1, 1), date(2026, 1 + k % 12, 1 + k % 28))
        for tid, uid in users
        for k in range(GOALS_PER_USER)
    ]
    with db_engine.owner_engine().connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            with cur.copy(
                "COPY goal (tenant_id, id, owner_id, title, start_date, due_date, status)"
                " FROM STDIN"
            ) as copy:
                for g in goals:
                    copy.write_row((*g, "active"))
            with cur.copy(
                "COPY key_result (tenant_id, goal_id, title, start_value, target_value,"
                " current_value, unit, weight) FROM STDIN"
            ) as copy:
                for tid, gid, *_ in goals:
                    copy.write_row((tid, gid, "kr", 0, 10, 3, "", 1))
            with cur.copy(
                "COPY goal_check_in (tenant_id, goal_id, author_id, progress, confidence, note)"
                " FROM STDIN"
            ) as copy:
                for tid, gid, uid, *_ in goals:
                    copy.write_row((tid, gid, uid, 30, "on_track", ""))
        conn.commit()
        for table in TENANT_TABLES_IN_QUERY:
            conn.execute(text(f"ANALYZE {table}"))
        conn.commit()
    tenant_id, owner_id = users[len(users) // 2]
    return Data(tenant_id=tenant_id, owner_id=owner_id)


@pytest.fixture(scope="module")
def app_engine() -> Iterator[Engine]:
    engine = create_engine(db_engine.role_url("pms_app"), pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _service_statements(engine: Engine, data: Data) -> list[tuple[str, Any]]:
    """Run the service once as pms_app and capture the SQL it sends (count, then page)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        actor = TenantContext(tenant_id=data.tenant_id, user_id=data.owner_id, role="employee")
        with tenant_session(actor, engine=engine) as s:
            page = service.list_goals(session=s, actor=actor, query=GoalListQuery(page_size=20))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert page.total == GOALS_PER_USER
    assert len(page.rows) == 20
    assert [r.key_results for r in page.rows] == [1] * 20
    return captured


def _explain(
    engine: Engine, data: Data, sql: str, params: Any, *, disable: tuple[str, ...] = ()
) -> dict[str, Any]:
    """EXPLAIN ANALYZE as pms_app in the tenant's context, with the `disable`d plan types
    (enable_<name> = off) ruled out."""
    with tenant_session(TenantContext(tenant_id=data.tenant_id), engine=engine) as s:
        assert s.connection().execute(text("SELECT current_user")).scalar_one() == "pms_app"
        for name in disable:
            s.connection().execute(text(f"SET LOCAL enable_{name} = off"))
        raw = s.connection().connection.dbapi_connection
        assert raw is not None
        row = raw.execute(  # type: ignore[attr-defined]
            "EXPLAIN (ANALYZE, FORMAT JSON, VERBOSE) " + sql, params
        ).fetchone()
    return row[0][0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _index_conds(plan: dict[str, Any], table: str) -> list[str]:
    """Index Cond of every index scan on `table` (bitmap index scans name only the index)."""
    conds = []
    for node in _nodes(plan):
        on_table = node.get("Relation Name") == table or (
            node["Node Type"] == "Bitmap Index Scan"
            and re.match(rf"(ix|pk|uq)_{table}_tenant_id", node.get("Index Name", ""))
        )
        if on_table and "Index Cond" in node:
            conds.append(node["Index Cond"])
    return conds


def _policy_checks(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes that check the tenant policy once per (re)scan: its one-time filters."""
    return [n for n in _nodes(plan) if POLICY.search(n.get("One-Time Filter", ""))]


def _policy_per_row(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every per-row condition that reads the tenant setting (there must be none)."""
    return [
        (n["Node Type"], key, n[key])
        for n in _nodes(plan)
        for key in PER_ROW_KEYS
        if key in n and POLICY.search(n[key])
    ]


def _assert_policy_checked_per_scan(plan: dict[str, Any], *, at_most: int) -> None:
    """The policy is in the plan, as one-time filters evaluated `at_most` times in all, and
    in no per-row condition."""
    checks = _policy_checks(plan)
    assert checks, "no one-time filter reads app.current_tenant_id"
    assert sum(n["Actual Loops"] for n in checks) <= at_most, checks
    assert _policy_per_row(plan) == []


def _assert_no_seq_scan_on_tenant_tables(plan: dict[str, Any]) -> None:
    # app_user holds a handful of rows here, so a seq scan of it is the planner's right call
    seq = [n["Relation Name"] for n in _nodes(plan) if n["Node Type"] == "Seq Scan"]
    assert [t for t in seq if t in TENANT_TABLES_IN_QUERY and t != "app_user"] == []


def test_my_goals_page_query_uses_tenant_index_and_checks_the_policy_per_scan(
    data: Data, app_engine: Engine
) -> None:
    statements = _service_statements(app_engine, data)
    page_sql, params = next((s, p) for s, p in statements if "LIMIT" in s)
    plan = _explain(app_engine, data, page_sql, params)

    goal_conds = _index_conds(plan, "goal")
    assert goal_conds, "goal is not read through an index"
    assert all("goal.tenant_id" in c for c in goal_conds), goal_conds
    assert all("goal.owner_id" in c for c in goal_conds), goal_conds
    for table in ("key_result",):
        conds = _index_conds(plan, table)
        assert conds and all(re.search(rf"{table}(_\d+)?\.tenant_id", c) for c in conds), (
            table,
            conds,
        )
    _assert_no_seq_scan_on_tenant_tables(plan)
    # once for the goals and their owners, and once per row of the page for the key-result
    # count beside each goal (a correlated sub-query): bounded by the page, not the table
    _assert_policy_checked_per_scan(plan, at_most=1 + 20)
    assert plan["Actual Rows"] == 20


def test_my_goals_count_query_uses_tenant_index_and_checks_the_policy_once(
    data: Data, app_engine: Engine
) -> None:
    statements = _service_statements(app_engine, data)
    count_sql, params = next((s, p) for s, p in statements if "count(*)" in s and "LIMIT" not in s)
    plan = _explain(app_engine, data, count_sql, params)
    conds = _index_conds(plan, "goal")
    assert conds and all("goal.tenant_id" in c for c in conds), conds
    _assert_no_seq_scan_on_tenant_tables(plan)
    _assert_policy_checked_per_scan(plan, at_most=1)


def test_rls_alone_puts_the_policy_into_the_index_condition(data: Data, app_engine: Engine) -> None:
    """Without the ORM's `tenant_id = :ctx`, the policy is what selects the tenant: it must
    reach the index condition, computed once for all the rows the scan returns, and appear
    in no per-row condition."""
    plan = _explain(
        app_engine,
        data,
        "SELECT id, title FROM goal WHERE owner_id = %s ORDER BY due_date",
        [data.owner_id],
    )
    conds = _index_conds(plan, "goal")
    assert conds, "goal is not read through an index"
    assert all(re.search(r"goal\.tenant_id = .*" + POLICY.pattern, c) for c in conds), conds
    assert plan["Actual Rows"] == GOALS_PER_USER
    assert _policy_per_row(plan) == []


def test_a_sequential_scan_checks_the_policy_once_not_per_row(
    data: Data, app_engine: Engine
) -> None:
    """The worst case for a policy without a sub-select: a sequential scan of the whole
    table. With the app's own `tenant_id = :t` in the statement the policy is still a
    one-time filter, and the per-row filter compares with the constant."""
    plan = _explain(
        app_engine,
        data,
        "SELECT count(*) FROM goal WHERE tenant_id = %s",
        [data.tenant_id],
        disable=("indexscan", "bitmapscan", "indexonlyscan"),
    )
    scans = [n for n in _nodes(plan) if n["Node Type"] == "Seq Scan"]
    assert [n["Relation Name"] for n in scans] == ["goal"], scans
    assert all("tenant_id" in n.get("Filter", "") for n in scans), scans
    _assert_policy_checked_per_scan(plan, at_most=1)
    assert plan["Actual Rows"] == 1
