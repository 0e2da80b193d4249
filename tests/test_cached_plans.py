"""Cached plans (`tenancy.session.CACHED_PLANS`) keep every tenant to its own rows. A unit of
work by key may run on a generic plan PostgreSQL made and cached on the server session for
another tenant's unit of work: the plan holds parameters, never a tenant's values, and the
policy reads the tenant of the transaction that runs it. Shown on one pooled connection as
`pms_app`: tenant A's goal page runs often enough for its goal read to get a generic plan
(the server's own count), then tenant B asks for A's goal on the same server session."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from pms_dashboard.auth.permissions import Action
from pms_dashboard.auth.resolve import NotFoundHere
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.rules import load_goal
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import CACHED_PLANS, tenant_session
from tests.conftest import add_goals, ctx, new_tenant
from tests.tiers import one_connection_engine, placement_of

_GENERIC_GOAL_READS = """
    SELECT coalesce(sum(generic_plans), 0) FROM pg_prepared_statements
     WHERE statement LIKE 'SELECT goal.tenant_id, goal.id%' AND statement LIKE '%goal.id = %'
"""


def _own_goal(actor: TenantContext) -> uuid.UUID:
    with tenant_session(actor) as s:
        return uuid.UUID(goals.parent_options(session=s, actor=actor, limit=1)[0].id)


def test_a_generic_plan_made_for_one_tenant_reads_only_the_next_tenants_rows() -> None:
    a, b = new_tenant(), new_tenant()
    add_goals(a, "emp1", 1)
    add_goals(b, "emp1", 1)
    actor_a, actor_b = ctx(a, "emp1"), ctx(b, "emp1")
    goal_a, goal_b = _own_goal(actor_a), _own_goal(actor_b)
    assert placement_of(a.id).owner_base_url == placement_of(b.id).owner_base_url
    engine = one_connection_engine(placement_of(a.id))  # one server session for both
    try:
        # psycopg prepares a statement after 5 runs, and the server plans a prepared statement
        # afresh 5 times before it may keep a generic plan
        for _ in range(12):
            with tenant_session(actor_a, engine=engine, first=[CACHED_PLANS]) as s:
                assert load_goal(s, actor_a, goal_a, Action.view).id == goal_a
        with tenant_session(actor_b, engine=engine, first=[CACHED_PLANS]) as s:
            made = s.execute(text(_GENERIC_GOAL_READS)).scalar_one()
            assert made > 0  # A's runs ran on a generic plan
            with pytest.raises(NotFoundHere):
                load_goal(s, actor_b, goal_a, Action.view)
            assert load_goal(s, actor_b, goal_b, Action.view).id == goal_b
            # and that generic plan is what served both of B's reads
            assert s.execute(text(_GENERIC_GOAL_READS)).scalar_one() == made + 2
    finally:
        engine.dispose()
