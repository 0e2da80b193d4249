"""The ORM's tenant criteria (`tenancy.session._scope_to_tenant`, defence in depth on top of
row-level security) are added for the tenant classes a statement reaches, wherever in the
statement they are, and only for those: a statement on one class still cannot return another
tenant's row (as `pms_app`, and as the owner, whom RLS does not stop: there the criteria alone
hold), and the number of criteria a statement gets is that of its tenant tables, not that of
every tenant class."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, exists, func, select
from sqlalchemy.orm import ORMExecuteState, aliased
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.goals.models import Goal, KeyResult
from pms_dashboard.tenancy.models import tenant_models
from pms_dashboard.tenancy.session import TenantSession, owner_session, tenant_session
from tests.conftest import TenantFixture, ctx, new_tenant


@pytest.fixture(scope="module")
def two() -> tuple[TenantFixture, TenantFixture, uuid.UUID]:
    """Tenants A (the attacker's) and B, sharing the pool database; B's goal id."""
    a, b = new_tenant(), new_tenant()
    with owner_session(b.id) as s:
        goal = Goal(
            tenant_id=b.id,
            owner_id=b.user_id("emp1"),
            title="B's secret goal",
            start_date=date.today(),
            due_date=date.today() + timedelta(days=30),
        )
        s.add(goal)
        s.flush()
        s.add(KeyResult(tenant_id=b.id, goal_id=goal.id, title="kr", target_value=1))
        goal_id = goal.id
    return a, b, goal_id


class Criteria:
    """The tenant criteria each ORM statement of a session carried when it ran (a listener
    after `_scope_to_tenant`)."""

    def __init__(self) -> None:
        self.counts: list[int] = []

    def __call__(self, state: ORMExecuteState) -> None:
        options = state.statement._with_options
        self.counts.append(sum(isinstance(o, LoaderCriteriaOption) for o in options))


@pytest.fixture
def criteria() -> Iterator[Criteria]:
    seen = Criteria()
    event.listen(TenantSession, "do_orm_execute", seen)
    try:
        yield seen
    finally:
        event.remove(TenantSession, "do_orm_execute", seen)


def _foreign_reads(session: Any, goal_id: uuid.UUID) -> list[Any]:
    """B's goal asked for by id from A's session: by itself, with a correlated subquery,
    through a join to its owner (an aliased tenant class), inside IN and EXISTS (where no
    tenant class is at the top), and its key result by counting."""
    owner = aliased(User)
    krs = (
        select(func.count())
        .where(col(KeyResult.goal_id) == Goal.id, col(KeyResult.tenant_id) == Goal.tenant_id)
        .correlate(Goal)
        .scalar_subquery()
    )
    return [
        session.scalars(select(Goal).where(col(Goal.id) == goal_id)).all(),
        session.execute(
            select(col(Goal.title), krs, col(owner.display_name))
            .join(owner, col(owner.id) == Goal.owner_id)
            .where(col(Goal.id) == goal_id)
        ).all(),
        session.scalars(
            select(col(User.email)).where(
                col(User.id).in_(select(col(Goal.owner_id)).where(col(Goal.id) == goal_id))
            )
        ).all(),
        session.scalars(select(func.count()).select_from(KeyResult)).one(),
        session.scalar(select(exists().where(col(Goal.id) == goal_id))),
    ]


@pytest.mark.parametrize("as_owner", [False, True], ids=["pms_app", "owner, criteria alone"])
def test_an_attackers_id_from_another_tenant_yields_nothing(
    two: tuple[TenantFixture, TenantFixture, uuid.UUID], as_owner: bool
) -> None:
    a, _b, goal_id = two
    with tenant_session(ctx(a, "emp1"), as_owner=as_owner) as s:
        assert _foreign_reads(s, goal_id) == [[], [], [], 0, False]


def test_the_owner_without_criteria_would_see_it(
    two: tuple[TenantFixture, TenantFixture, uuid.UUID],
) -> None:
    """The previous test can fail: the owner's plain session (no criteria) does see it."""
    a, _b, goal_id = two
    with owner_session(a.id) as s:
        assert s.scalars(select(Goal.title).where(col(Goal.id) == goal_id)).all() == [
            "B's secret goal"
        ]


def test_each_statement_gets_criteria_for_its_own_tenant_tables_only(
    two: tuple[TenantFixture, TenantFixture, uuid.UUID], criteria: Criteria
) -> None:
    a, _b, goal_id = two
    with tenant_session(ctx(a, "emp1")) as s:
        _foreign_reads(s, goal_id)
    # Goal; Goal + KeyResult + User (aliased); User + Goal; KeyResult; Goal
    assert criteria.counts == [1, 3, 2, 1, 1]
    assert len(tenant_models()) > 3  # so "bounded" is not "all of them"


def test_a_statement_built_once_is_scoped_to_each_tenant_it_runs_for(
    two: tuple[TenantFixture, TenantFixture, uuid.UUID],
) -> None:
    """The scoped form of a statement is kept per tenant (`_scoped`): run by B, then by A,
    then by B again, each run carries its own tenant's criteria — as the owner, whom RLS
    does not stop, so a kept form of B's would show B's goal to A."""
    from sqlalchemy import Uuid, bindparam

    a, b, goal_id = two
    built_once = select(Goal.title).where(col(Goal.id) == bindparam("goal", type_=Uuid))
    runs = []
    for who in (b, a, b, a):
        with tenant_session(ctx(who, "emp1"), as_owner=True) as s:
            runs.append(s.scalars(built_once, {"goal": goal_id}).all())
    assert runs == [["B's secret goal"], [], ["B's secret goal"], []]


def test_a_column_read_on_core_is_scoped_like_an_orm_query(
    two: tuple[TenantFixture, TenantFixture, uuid.UUID],
) -> None:
    """`read_rows` (a list's count and page, on the session's connection) carries the same
    criteria: as the owner, whom RLS does not stop, A reads nothing of B's however the
    statement reaches it, and B reads its own; with no tenant context it refuses."""
    from pms_dashboard.tenancy.context import MissingTenantContext
    from pms_dashboard.tenancy.session import TenantSession, read_rows

    a, b, goal_id = two
    owner = aliased(User)
    statements = [
        select(col(Goal.title)).where(col(Goal.id) == goal_id),
        select(col(owner.email))
        .join(Goal, col(Goal.owner_id) == owner.id)
        .where(col(Goal.id) == goal_id),
        select(func.count()).select_from(KeyResult),
    ]

    def reads(who: TenantFixture) -> list[list[Any]]:
        with tenant_session(ctx(who, "emp1"), as_owner=True) as s:
            return [list(read_rows(s, statement).all()) for statement in statements]

    assert reads(a) == [[], [], [(0,)]]
    assert reads(b) == [[("B's secret goal",)], [(f"emp1@{b.slug}.test",)], [(1,)]]
    with owner_session(a.id) as s:  # a session with no tenant: refused before it runs
        bare = TenantSession(bind=s.connection())
        with pytest.raises(MissingTenantContext):
            read_rows(bare, statements[0])
        with pytest.raises(TypeError):
            read_rows(bare, Goal.__table__.delete())  # type: ignore[attr-defined]
