"""Goal services against the real database as pms_app: progress from key results, roll-up
through alignment, check-ins, validation, permissions, lists and health counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text, update
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.goals import service
from pms_dashboard.goals.models import Goal, GoalCheckIn, KeyResult
from pms_dashboard.goals.schemas import (
    CheckInInput,
    GoalError,
    GoalInput,
    GoalListQuery,
    KeyResultInput,
)
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, ctx

TODAY = date.today()


def goal_input(title: str = "Ship the thing", **kw) -> GoalInput:
    base = {
        "title": title,
        "start_date": TODAY - timedelta(days=30),
        "due_date": TODAY + timedelta(days=60),
    }
    return GoalInput(**(base | kw))


def create(t: TenantFixture, who: str, data: GoalInput) -> uuid.UUID:
    with tenant_session(ctx(t, who)) as s:
        return service.create_goal(session=s, actor=ctx(t, who), data=data)


def detail(t: TenantFixture, who: str, goal_id: uuid.UUID):
    with tenant_session(ctx(t, who)) as s:
        return service.goal_detail(session=s, actor=ctx(t, who), goal_id=goal_id)


def owner_progress(goal_id: uuid.UUID) -> Decimal:
    with owner_session() as s:
        return s.scalar(select(Goal.progress).where(Goal.id == goal_id))


@pytest.fixture
def t(make_tenant: Callable[..., TenantFixture]) -> TenantFixture:
    return make_tenant()


def test_progress_follows_key_results_and_rolls_up_weighted_to_parents(t):
    parent = create(t, "manager", goal_input("Team objective"))
    revenue = KeyResultInput(title="Revenue", start_value=0, target_value=200, unit="k")
    incidents = KeyResultInput(title="Incidents", start_value=10, target_value=2, current_value=6)
    child_a = create(
        t, "emp1", goal_input("Child A", parent_id=parent, key_results=[revenue, incidents])
    )
    assert owner_progress(child_a) == Decimal("25.00")  # (0% + 50%) / 2
    child_b = create(t, "emp2", goal_input("Child B", parent_id=parent, weight=Decimal(3)))
    assert owner_progress(parent) == Decimal("6.25")  # (25*1 + 0*3) / 4

    kr = {k.title: k.id for k in detail(t, "emp1", child_a).key_results}
    with tenant_session(ctx(t, "emp1")) as s:
        service.check_in(
            session=s,
            actor=ctx(t, "emp1"),
            goal_id=child_a,
            data=CheckInInput(
                confidence="at_risk",
                note="Halfway on revenue",
                key_results={uuid.UUID(kr["Revenue"]): Decimal(100)},
            ),
        )
    assert owner_progress(child_a) == Decimal("50.00")  # (50% + 50%) / 2
    with tenant_session(ctx(t, "emp1")) as s:
        rows = service.list_goals(session=s, actor=ctx(t, "emp1"), query=GoalListQuery()).rows
    assert [(r.title, r.confidence, r.stale) for r in rows] == [("Child A", "at_risk", False)]
    assert owner_progress(parent) == Decimal("12.50")
    with tenant_session(ctx(t, "emp2")) as s:
        service.check_in(
            session=s,
            actor=ctx(t, "emp2"),
            goal_id=child_b,
            data=CheckInInput(confidence="on_track", progress=Decimal(80)),
        )
    assert owner_progress(parent) == Decimal("72.50")  # (50 + 80*3) / 4

    d = detail(t, "manager", parent)
    assert d.progress_source == "aligned"
    assert {c.title for c in d.children} == {"Child A", "Child B"}
    hist = detail(t, "emp1", child_a).check_ins
    assert [(h.progress, h.confidence, h.note) for h in hist] == [
        (50, "at_risk", "Halfway on revenue")
    ]

    with tenant_session(ctx(t, "manager")) as s:
        service.archive_goal(session=s, actor=ctx(t, "manager"), goal_id=child_b)
    assert owner_progress(parent) == Decimal("50.00")  # archived children stop counting


def test_rollup_walks_the_whole_chain(t):
    top = create(t, "manager", goal_input("Top goal"))
    mid = create(t, "manager", goal_input("Mid goal", parent_id=top))
    leaf = create(t, "emp1", goal_input("Leaf goal", parent_id=mid))
    with tenant_session(ctx(t, "emp1")) as s:
        service.check_in(
            session=s,
            actor=ctx(t, "emp1"),
            goal_id=leaf,
            data=CheckInInput(confidence="on_track", progress=Decimal(40)),
        )
    assert [owner_progress(g) for g in (leaf, mid, top)] == [Decimal(40)] * 3


def _kr_of(t, goal_id):
    with tenant_session(ctx(t, "emp1")) as s:
        return s.scalars(select(col(KeyResult.id)).where(col(KeyResult.goal_id) == goal_id)).one()


def test_a_check_in_asks_nothing_more_about_its_goals_own_key_results(t, make_tenant):
    """The goal's key results are read whole under the tenant's scoping, so the ids in the
    form need no look-up of their own; one of another organisation is still refused as
    not found, and nothing is written."""
    goal = create(
        t, "emp1", goal_input("KRs", key_results=[KeyResultInput(title="k", target_value=10)])
    )
    kr = _kr_of(t, goal)
    sent: list[str] = []

    def grab(_conn, _cursor, statement, *_):
        sent.append(" ".join(statement.split()))

    from sqlalchemy import event

    from pms_dashboard.db.engine import app_engine

    event.listen(app_engine(), "before_cursor_execute", grab)
    try:
        with tenant_session(ctx(t, "emp1")) as s:
            service.check_in(
                session=s,
                actor=ctx(t, "emp1"),
                goal_id=goal,
                data=CheckInInput(confidence="on_track", key_results={kr: Decimal(4)}),
            )
    finally:
        event.remove(app_engine(), "before_cursor_execute", grab)
    assert not [q for q in sent if q.startswith("SELECT key_result.id FROM key_result")]
    assert any(q.startswith("INSERT INTO goal_check_in") for q in sent)
    other = make_tenant()
    foreign_goal = create(
        other, "emp1", goal_input("Theirs", key_results=[KeyResultInput(title="x", target_value=1)])
    )
    foreign = CheckInInput(confidence="on_track", key_results={_kr_of(other, foreign_goal): 1})
    with (
        pytest.raises(PermissionDenied, match="key result was not found"),
        tenant_session(ctx(t, "emp1")) as s,
    ):
        service.check_in(session=s, actor=ctx(t, "emp1"), goal_id=goal, data=foreign)
    with owner_session() as s:
        kept = s.scalars(select(col(KeyResult.current_value)).where(col(KeyResult.id) == kr))
        assert [Decimal(v) for v in kept] == [Decimal(4)]


def test_check_in_rules(t):
    with_krs = create(
        t,
        "emp1",
        goal_input("With KRs", key_results=[KeyResultInput(title="k", target_value=10)]),
    )
    plain = create(t, "emp1", goal_input("Plain"))
    draft = create(t, "emp1", goal_input("Draft", status="draft"))
    other = create(t, "emp2", goal_input("Someone else's"))
    cases = [
        (with_krs, CheckInInput(confidence="on_track", progress=Decimal(10)), "key results"),
        (plain, CheckInInput(confidence="on_track"), "Give the progress"),
        (draft, CheckInInput(confidence="on_track", progress=Decimal(5)), "draft"),
        (
            plain,  # a key result of another of the tenant's goals
            CheckInInput(confidence="on_track", key_results={_kr_of(t, with_krs): Decimal(1)}),
            "does not belong",
        ),
    ]
    for goal_id, data, message in cases:
        with pytest.raises(GoalError, match=message), tenant_session(ctx(t, "emp1")) as s:
            service.check_in(session=s, actor=ctx(t, "emp1"), goal_id=goal_id, data=data)
    # a key result id that is not the tenant's: refused like any unknown id
    unknown = CheckInInput(confidence="on_track", key_results={uuid.uuid4(): Decimal(1)})
    with (
        pytest.raises(PermissionDenied, match="key result was not found"),
        tenant_session(ctx(t, "emp1")) as s,
    ):
        service.check_in(session=s, actor=ctx(t, "emp1"), goal_id=plain, data=unknown)
    with pytest.raises(PermissionDenied), tenant_session(ctx(t, "emp1")) as s:
        service.check_in(
            session=s,
            actor=ctx(t, "emp1"),
            goal_id=other,
            data=CheckInInput(confidence="on_track", progress=Decimal(5)),
        )
    with owner_session() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(GoalCheckIn)
                .where(col(GoalCheckIn.tenant_id) == t.id)
            )
            == 0
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": "x"}, "at least 3"),
        ({"due_date": TODAY - timedelta(days=40)}, "must be on or after the start date"),
        ({"due_date": TODAY + timedelta(days=5 * 366)}, "three years"),
        ({"weight": Decimal(0)}, "greater than 0"),
        ({"key_results": [{"title": "k", "start_value": 5, "target_value": 5}]}, "differ"),
        (
            {
                "key_results": [
                    {"title": "Same", "target_value": 1},
                    {"title": "same", "target_value": 2},
                ]
            },
            "different from the others",
        ),
        ({"status": "archived"}, "Input should be"),
        ({"owner_id": ["a list"]}, "owner_id"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        goal_input(**kwargs)


@pytest.mark.parametrize("field", ["owner_id", "parent_id"])
def test_a_malformed_id_in_a_goal_is_refused_like_an_unknown_one(t, field):
    refusals = []
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        with pytest.raises(PermissionDenied) as refused, tenant_session(ctx(t, "emp1")) as s:
            service.create_goal(
                session=s, actor=ctx(t, "emp1"), data=goal_input("Ghi", **{field: bad})
            )
        refusals.append(refused.value.message)
    assert refusals[0] == refusals[1] and "not found in this organisation" in refusals[0]


def test_alignment_refuses_loops_invisible_and_archived_parents(t, make_tenant):
    a = create(t, "manager", goal_input("Goal A"))
    b = create(t, "emp1", goal_input("Goal B", parent_id=a))
    c = create(t, "emp1", goal_input("Goal C", parent_id=b))
    with pytest.raises(GoalError, match="aligned below it"), tenant_session(ctx(t, "manager")) as s:
        service.update_goal(
            session=s, actor=ctx(t, "manager"), goal_id=a, data=goal_input("Goal A", parent_id=c)
        )
    # emp2 cannot see emp1's goals (peers): aligning to them is refused as "not found"
    with pytest.raises(GoalError, match="not found"), tenant_session(ctx(t, "emp2")) as s:
        service.create_goal(session=s, actor=ctx(t, "emp2"), data=goal_input("Goal D", parent_id=b))
    # but may align to the management chain's goals
    create(t, "emp2", goal_input("Goal E", parent_id=a))
    other = make_tenant()
    foreign = create(other, "manager", goal_input("Foreign"))
    with (
        pytest.raises(PermissionDenied, match="parent goal was not found in this organisation"),
        tenant_session(ctx(t, "manager")) as s,
    ):
        service.create_goal(
            session=s, actor=ctx(t, "manager"), data=goal_input("Goal F", parent_id=foreign)
        )
    with tenant_session(ctx(t, "manager")) as s:
        service.archive_goal(session=s, actor=ctx(t, "manager"), goal_id=c)
    with pytest.raises(GoalError, match="archived"), tenant_session(ctx(t, "manager")) as s:
        service.create_goal(
            session=s, actor=ctx(t, "manager"), data=goal_input("Goal G", parent_id=c)
        )


def test_who_may_touch_whose_goal(t, make_tenant):
    emp1_goal = create(t, "emp1", goal_input("Mine"))
    mgr_goal = create(t, "manager", goal_input("Manager's"))
    # manager edits a report's goal and creates one for a report
    with tenant_session(ctx(t, "manager")) as s:
        service.update_goal(
            session=s, actor=ctx(t, "manager"), goal_id=emp1_goal, data=goal_input("Mine, edited")
        )
        service.create_goal(
            session=s,
            actor=ctx(t, "manager"),
            data=goal_input("Assigned", owner_id=t.user_id("emp1")),
        )
    # employees: not a peer's goal, not their manager's (read only), not create for others
    refused = [
        (
            "emp2",
            lambda s, a: service.update_goal(
                session=s, actor=a, goal_id=emp1_goal, data=goal_input("hijack")
            ),
        ),
        ("emp2", lambda s, a: service.goal_detail(session=s, actor=a, goal_id=emp1_goal)),
        (
            "emp1",
            lambda s, a: service.update_goal(
                session=s, actor=a, goal_id=mgr_goal, data=goal_input("hijack")
            ),
        ),
        ("emp1", lambda s, a: service.archive_goal(session=s, actor=a, goal_id=mgr_goal)),
        (
            "emp1",
            lambda s, a: service.create_goal(
                session=s, actor=a, data=goal_input("x" * 5, owner_id=t.user_id("emp2"))
            ),
        ),
        ("emp1", lambda s, a: service.goal_detail(session=s, actor=a, goal_id="garbage")),
        ("emp1", lambda s, a: service.goal_detail(session=s, actor=a, goal_id=uuid.uuid4())),
    ]
    for who, op in refused:
        with pytest.raises(PermissionDenied), tenant_session(ctx(t, who)) as s:
            op(s, ctx(t, who))
    assert detail(t, "emp1", mgr_goal).may_edit is False  # the chain's goal is readable
    # another tenant's admin: the id does not exist for them
    other = make_tenant()
    with pytest.raises(PermissionDenied), tenant_session(ctx(other, "admin")) as s:
        service.update_goal(
            session=s, actor=ctx(other, "admin"), goal_id=emp1_goal, data=goal_input("hijack")
        )
    with owner_session() as s:
        titles = set(s.scalars(select(Goal.title).where(Goal.tenant_id == t.id)))
    assert titles == {"Mine, edited", "Manager's", "Assigned"}


def test_every_change_is_audited_with_before_and_after(t):
    g = create(t, "emp1", goal_input("Audited"))
    with tenant_session(ctx(t, "emp1")) as s:
        service.update_goal(
            session=s, actor=ctx(t, "emp1"), goal_id=g, data=goal_input("Audited twice")
        )
        service.archive_goal(session=s, actor=ctx(t, "emp1"), goal_id=g)
    with owner_session() as s:
        events = s.execute(
            select(AuditEvent.action, AuditEvent.detail, AuditEvent.actor_id)
            .where(AuditEvent.tenant_id == t.id, AuditEvent.entity_id == g)
            .order_by(AuditEvent.occurred_at)
        ).all()
    assert [e.action for e in events] == ["goal.create", "goal.update", "goal.archive"]
    assert events[1].detail["changes"]["title"] == {"before": "Audited", "after": "Audited twice"}
    assert {e.actor_id for e in events} == {t.user_id("emp1")}


def test_key_results_are_replaced_by_id(t):
    g = create(
        t,
        "emp1",
        goal_input(
            "KRs",
            key_results=[
                KeyResultInput(title="keep", target_value=10),
                KeyResultInput(title="drop", target_value=10),
            ],
        ),
    )
    kept = next(k for k in detail(t, "emp1", g).key_results if k.title == "keep")
    data = goal_input(
        "KRs",
        key_results=[
            KeyResultInput(
                id=uuid.UUID(kept.id), title="keep renamed", target_value=20, current_value=5
            ),
            KeyResultInput(title="new", target_value=4, current_value=4),
        ],
    )
    with tenant_session(ctx(t, "emp1")) as s:
        service.update_goal(session=s, actor=ctx(t, "emp1"), goal_id=g, data=data)
    krs = {k.title: k for k in detail(t, "emp1", g).key_results}
    assert set(krs) == {"keep renamed", "new"}
    assert krs["keep renamed"].id == kept.id and krs["keep renamed"].progress == 25
    assert owner_progress(g) == Decimal("62.50")
    other_goal = create(
        t, "emp1", goal_input("Other", key_results=[KeyResultInput(title="o", target_value=1)])
    )
    others_kr = KeyResultInput(id=_kr_of(t, other_goal), title="not this goal's", target_value=1)
    with pytest.raises(GoalError, match="does not belong"), tenant_session(ctx(t, "emp1")) as s:
        service.update_goal(
            session=s,
            actor=ctx(t, "emp1"),
            goal_id=g,
            data=goal_input("KRs", key_results=[others_kr]),
        )
    unknown_kr = KeyResultInput(id=uuid.uuid4(), title="nobody's", target_value=1)
    with (
        pytest.raises(PermissionDenied, match="key result was not found"),
        tenant_session(ctx(t, "emp1")) as s,
    ):
        service.update_goal(
            session=s,
            actor=ctx(t, "emp1"),
            goal_id=g,
            data=goal_input("KRs", key_results=[unknown_kr]),
        )


def test_lists_scope_filters_stale_and_health(t):
    create(t, "manager", goal_input("Manager goal"))
    e1 = create(t, "emp1", goal_input("Employee one goal", period="2026 H2"))
    create(t, "emp2", goal_input("Employee two goal", due_date=TODAY + timedelta(days=3)))
    with owner_session() as s:  # make e1 old and never checked in: stale; e2 recently created
        s.execute(
            update(Goal)
            .where(Goal.id == e1)
            .values(created_at=func.now() - text("interval '40 days'"))
        )
        s.execute(
            text("UPDATE app_user SET department = 'Ops' WHERE id = :u"), {"u": t.user_id("emp2")}
        )

    def titles(who: str, **q) -> list[str]:
        with tenant_session(ctx(t, who)) as s:
            page = service.list_goals(
                session=s, actor=ctx(t, who), query=GoalListQuery(sort="title", **q)
            )
        return [r.title for r in page.rows]

    assert titles("manager", scope="mine") == ["Manager goal"]
    assert titles("manager", scope="team") == ["Employee one goal", "Employee two goal"]
    assert titles("manager", scope="all") == [
        "Employee one goal",
        "Employee two goal",
        "Manager goal",
    ]
    assert titles("emp1", scope="all") == ["Employee one goal"]
    assert titles("admin", scope="all") == [
        "Employee one goal",
        "Employee two goal",
        "Manager goal",
    ]
    assert titles("admin", scope="team") == []  # nobody reports to the admin
    assert titles("manager", scope="all", stale_only=True) == ["Employee one goal"]
    assert titles("manager", scope="all", due_within_days=7) == ["Employee two goal"]
    assert titles("manager", scope="all", department="Ops") == ["Employee two goal"]
    assert titles("manager", scope="all", period="2026 H2") == ["Employee one goal"]
    assert titles("manager", scope="all", owner_id=t.user_id("emp2")) == ["Employee two goal"]
    assert titles("manager", scope="all", search="TWO") == ["Employee two goal"]
    assert titles("manager", scope="all", search="%") == []  # LIKE wildcards are literal

    with tenant_session(ctx(t, "manager")) as s:
        assert service.periods(session=s) == ["2026 H2"]
        health = service.goal_health(session=s, actor=ctx(t, "manager"))
    assert (health.total, health.no_check_in, health.stale, health.due_soon) == (3, 3, 1, 1)
    with tenant_session(ctx(t, "emp2")) as s:
        assert service.goal_health(session=s, actor=ctx(t, "emp2")).total == 1


def test_alignment_tree_hides_goals_the_viewer_may_not_open(t):
    top = create(t, "manager", goal_input("Top goal"))
    a = create(t, "emp1", goal_input("Emp1 part", parent_id=top))
    create(t, "emp2", goal_input("Emp2 part", parent_id=top))
    create(t, "emp1", goal_input("Emp1 sub", parent_id=a))
    with tenant_session(ctx(t, "manager")) as s:
        nodes = service.alignment_tree(session=s, actor=ctx(t, "manager"), root_id=top)
    assert [(n.title, n.depth) for n in nodes] == [
        ("Top goal", 0),
        ("Emp1 part", 1),
        ("Emp1 sub", 2),
        ("Emp2 part", 1),
    ]
    with tenant_session(ctx(t, "emp1")) as s:
        nodes = service.alignment_tree(session=s, actor=ctx(t, "emp1"), root_id=top)
    assert [n.title for n in nodes] == [
        "Top goal",
        "Emp1 part",
        "Emp1 sub",
        "A goal you cannot open",
    ]
    assert nodes[-1].id == "" and nodes[-1].owner == ""
    # the goal page's detail carries the same tree, from its one opening of the goal
    for who in ("manager", "emp1"):
        with tenant_session(ctx(t, who)) as s:
            tree = service.alignment_tree(session=s, actor=ctx(t, who), root_id=top)
            shown = service.goal_detail(session=s, actor=ctx(t, who), goal_id=top, tree_nodes=60)
        assert shown.tree == tree


def test_the_goal_page_says_where_its_progress_comes_from(t: TenantFixture) -> None:
    """Key results and aligned goals weigh in together: the page says both, not only one."""
    kr = KeyResultInput(title="Signed", start_value=Decimal(0), target_value=Decimal(10))
    with_krs = create(t, "manager", goal_input("With key results", key_results=[kr]))
    plain = create(t, "manager", goal_input("Plain"))
    assert detail(t, "manager", with_krs).progress_source == "key_results"
    assert detail(t, "manager", plain).progress_source == "check_ins"
    create(t, "manager", goal_input("Aligned below", parent_id=with_krs))
    create(t, "manager", goal_input("Aligned below plain", parent_id=plain))
    assert detail(t, "manager", with_krs).progress_source == "both"
    assert detail(t, "manager", plain).progress_source == "aligned"


def test_a_kept_list_statement_binds_what_moves_and_is_the_viewers_own(t, make_tenant):
    """Lists keep their statements per viewer and filters (`lists._list_statements`): the
    page, the stale cutoff and today are bound on each run, and nobody else's list is
    reused for a viewer."""
    from pms_dashboard.goals import lists
    from pms_dashboard.organisation.service import update_tenant_settings
    from tests.conftest import add_goals

    add_goals(t, "emp1", 7)
    add_goals(t, "emp2", 2)
    other = make_tenant()
    add_goals(other, "emp1", 3)
    old = create(t, "emp1", goal_input("Old goal"))
    with owner_session() as s:  # created 40 days ago, never checked in: stale at 14 days
        s.execute(
            update(Goal)
            .where(Goal.id == old)
            .values(created_at=func.now() - text("interval '40 days'"))
        )

    def titles(tenant: TenantFixture, who: str, **q) -> tuple[list[str], int]:
        with tenant_session(ctx(tenant, who)) as s:
            page = service.list_goals(
                session=s, actor=ctx(tenant, who), query=GoalListQuery(sort="title", **q)
            )
        return [r.title for r in page.rows], page.total

    first, total = titles(t, "emp1", page_size=5)
    kept = lists._list_statements.cache_info().hits
    second, _ = titles(t, "emp1", page_size=5, page=2)
    assert lists._list_statements.cache_info().hits == kept + 1  # the same statements
    assert total == 8 and len(first) == 5 and len(second) == 3
    assert sorted(first + second) == first + second  # page 2 goes on where page 1 ended
    assert titles(t, "emp1", page_size=5, page=9)[0] == second  # clamped to the last page
    assert titles(t, "emp2")[0] == ["Goal 0", "Goal 1"]  # their own, not emp1's
    assert titles(other, "emp1")[0] == ["Goal 0", "Goal 1", "Goal 2"]  # nor the tenant's
    assert titles(t, "emp1", stale_only=True)[0] == ["Old goal"]
    with tenant_session(ctx(t, "admin")) as s:
        update_tenant_settings(session=s, actor=ctx(t, "admin"), changes={"stale_after_days": 60})
    assert titles(t, "emp1", stale_only=True)[0] == []  # the cutoff is read on each run
    with tenant_session(ctx(t, "emp1")) as s:
        assert service.goal_health(session=s, actor=ctx(t, "emp1")).stale == 0
    assert titles(t, "emp1", due_within_days=31)[0] == ["Goal 0", "Goal 1"]  # due in 30, 31
