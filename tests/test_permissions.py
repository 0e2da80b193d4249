"""The permission module as a matrix: role x resource x action x relation, both ways, and the
reports-to tree read from the database (transitive reports, a moved manager losing access)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import update

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import (
    RULES,
    Action,
    PermissionDenied,
    Relation,
    Resource,
    decide,
    relation_to,
    require,
    visible_user_ids,
)
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, add_person, ctx, set_manager

E, M, H, T = "employee", "manager", "hr_admin", "tenant_admin"
ALL = {E, M, H, T}
ADM = {H, T}

# The whole policy, written out by hand: (resource, action, relation) -> roles allowed.
# Every cell not listed here must be refused; the test walks the full product.
EXPECTED: dict[tuple[str, str, str], set[str]] = {
    ("goal", "view", "self"): ALL,
    ("goal", "view", "report"): ALL,
    ("goal", "view", "above"): ALL,
    ("goal", "view", "other"): ADM,
    **{("goal", a, "self"): ALL for a in ("create", "edit", "archive", "check_in")},
    **{("goal", a, "report"): ALL for a in ("create", "edit", "archive", "check_in")},
    **{("goal", a, "other"): ADM for a in ("create", "edit", "archive", "check_in")},
    ("person", "view", "self"): ALL,
    ("person", "view", "report"): ALL,
    ("person", "view", "above"): ALL,
    ("person", "view", "other"): ADM,
    ("person", "create", "self"): {T},
    ("person", "manage", "report"): {T},
    ("person", "manage", "above"): {T},
    ("person", "manage", "other"): {T},
    ("review", "view", "self"): ALL,
    ("review", "view", "report"): ALL,
    ("review", "view", "other"): ADM,
    ("review", "reopen", "report"): {M, H, T},
    ("review", "reopen", "other"): ADM,
    ("cycle", "view", "self"): ALL,
    ("cycle", "manage", "self"): ADM,
    ("calibration", "view", "report"): ALL,
    ("calibration", "view", "other"): ADM,
    ("calibration", "adjust", "report"): {M, H, T},
    ("calibration", "adjust", "other"): ADM,
    ("tenant_settings", "view", "self"): ALL,
    ("tenant_settings", "edit", "self"): {T},
    ("audit_log", "view", "self"): {T},
}

CELLS = [
    (role, res, act, rel)
    for role in sorted(ALL)
    for res in Resource
    for act in Action
    for rel in Relation
]


@pytest.mark.parametrize(("role", "resource", "action", "relation"), CELLS)
def test_matrix(role: str, resource: Resource, action: Action, relation: Relation) -> None:
    allowed = role in EXPECTED.get((resource.value, action.value, relation.value), set())
    assert decide(role, resource, action, relation) is allowed


def test_matrix_table_matches_every_rule_and_nothing_more() -> None:
    from_rules = {
        (res.value, act.value, rel.value): set(roles)
        for (res, act), by_rel in RULES.items()
        for rel, roles in by_rel.items()
        if roles
    }
    assert from_rules == EXPECTED


@pytest.mark.parametrize("role", [None, "", "superuser", "MANAGER", "admin"])
def test_unknown_roles_get_nothing(role: str | None) -> None:
    assert not any(decide(role, res, act, rel) for _, res, act, rel in CELLS)


def test_nobody_calibrates_their_own_rating_or_manages_themselves() -> None:
    for role in ALL:
        assert not decide(role, Resource.calibration, Action.adjust, Relation.self)
        assert not decide(role, Resource.calibration, Action.view, Relation.self)
        assert not decide(role, Resource.person, Action.manage, Relation.self)


# ------------------------------------------------------------------- the tree, from the DB


@pytest.fixture
def org(make_tenant: Callable[..., TenantFixture]) -> tuple[TenantFixture, dict[str, uuid.UUID]]:
    """director -> manager -> lead -> dev, plus a second branch director -> other_mgr -> ops.

    The fixture's own users are kept: manager (with emp1, emp2) is re-hung under director.
    """
    t = make_tenant()
    add_person(t, "director", M)
    set_manager(t, "manager", "director")
    add_person(t, "lead", M, "emp1")  # an employee's report: a lead
    add_person(t, "dev", E, "lead")
    add_person(t, "other_mgr", M, "director")
    add_person(t, "ops", E, "other_mgr")
    add_person(t, "hr", H)
    return t, {k: u.id for k, u in t.users.items()}


def _relation(t, ids, actor: str, subject: str | uuid.UUID, role: str = M) -> Relation:
    subject_id = ids[subject] if isinstance(subject, str) else subject
    with tenant_session(ctx(t, actor, role)) as s:
        return relation_to(session=s, actor=ctx(t, actor, role), subject_id=subject_id)


def test_relations_are_transitive_both_ways(org) -> None:
    t, ids = org
    assert _relation(t, ids, "director", "dev") is Relation.report  # four levels down
    assert _relation(t, ids, "manager", "dev") is Relation.report
    assert _relation(t, ids, "manager", "emp1") is Relation.report
    assert _relation(t, ids, "dev", "director") is Relation.above
    assert _relation(t, ids, "dev", "emp1") is Relation.above
    assert _relation(t, ids, "manager", "ops") is Relation.other  # sibling branch
    assert _relation(t, ids, "manager", "director") is Relation.above
    assert _relation(t, ids, "manager", "manager") is Relation.self
    assert _relation(t, ids, "emp2", "emp1") is Relation.other  # peers see no peer's goals
    assert _relation(t, ids, "manager", uuid.uuid4()) is Relation.none


def test_another_tenants_person_is_no_relation(org, make_tenant) -> None:
    t, ids = org
    other = make_tenant()
    assert _relation(t, ids, "director", other.user_id("emp1")) is Relation.none
    with tenant_session(ctx(t, "hr", H)) as s, pytest.raises(PermissionDenied):
        require(
            session=s,
            actor=ctx(t, "hr", H),
            resource=Resource.goal,
            action=Action.view,
            subject_id=other.user_id("emp1"),
        )


def test_a_manager_moved_to_another_team_loses_the_old_team(org) -> None:
    t, ids = org
    actor = ctx(t, "manager", M)
    with tenant_session(actor) as s:
        require(
            session=s,
            actor=actor,
            resource=Resource.goal,
            action=Action.edit,
            subject_id=ids["dev"],
        )
    # The manager's reports move to other_mgr; the manager moves under other_mgr too.
    with owner_session() as s:
        s.execute(
            update(User)
            .where(User.manager_id == ids["manager"])
            .values(manager_id=ids["other_mgr"])
        )
        s.execute(update(User).where(User.id == ids["manager"]).values(manager_id=ids["other_mgr"]))
    assert _relation(t, ids, "manager", "dev") is Relation.other
    assert _relation(t, ids, "manager", "emp1") is Relation.other
    assert _relation(t, ids, "manager", "ops") is Relation.other
    with tenant_session(actor) as s, pytest.raises(PermissionDenied) as err:
        require(
            session=s,
            actor=actor,
            resource=Resource.goal,
            action=Action.edit,
            subject_id=ids["dev"],
        )
    assert err.value.message == "You do not have access to that."
    assert _relation(t, ids, "other_mgr", "dev") is Relation.report


def test_visible_user_ids_is_self_plus_subtree_or_whole_tenant(org) -> None:
    t, ids = org
    expected = {
        "director": {"director", "manager", "emp1", "emp2", "lead", "dev", "other_mgr", "ops"},
        "manager": {"manager", "emp1", "emp2", "lead", "dev"},
        "lead": {"lead", "dev"},
        "dev": {"dev"},
    }
    names = {v: k for k, v in ids.items()}
    for who, want in expected.items():
        actor = ctx(t, who, M)
        with tenant_session(actor) as s:
            query = visible_user_ids(actor)
            assert query is not None
            got = {names[i] for i in s.scalars(query)}
        assert got == want, who
    assert visible_user_ids(ctx(t, "hr", H)) is None


def test_a_cycle_in_the_tree_does_not_hang(org) -> None:
    t, ids = org
    with owner_session() as s:  # lead -> dev -> lead (the people service refuses this)
        s.execute(update(User).where(User.id == ids["lead"]).values(manager_id=ids["dev"]))
    assert _relation(t, ids, "dev", "lead") is Relation.report
    assert _relation(t, ids, "lead", "dev") is Relation.report


def test_what_one_unit_of_work_remembers_is_forgotten_when_a_write_changes_it(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    """Relations and found ids are remembered within a unit of work (a page asks more than
    once); a change to a person, a bulk update and a deletion in the same unit of work are
    seen by the next question, never an answer from before them."""
    from datetime import date

    from pms_dashboard.auth.resolve import IdKind, NotFoundHere, resolve
    from pms_dashboard.goals.models import Goal

    t = make_tenant()
    manager, emp1 = ctx(t, "manager"), t.user_id("emp1")
    with tenant_session(manager) as s:
        assert relation_to(session=s, actor=manager, subject_id=emp1) is Relation.report
        person = s.get(User, (t.id, emp1))
        assert person is not None
        person.manager_id = t.user_id("admin")  # an ORM change, flushed before the next read
        s.flush()
        assert relation_to(session=s, actor=manager, subject_id=emp1) is Relation.other
        s.execute(update(User).where(User.id == emp1).values(manager_id=t.user_id("manager")))
        assert relation_to(session=s, actor=manager, subject_id=emp1) is Relation.report
        day = date(2026, 10, 1)
        goal = Goal(
            owner_id=emp1, title="Gone soon", period="2026-Q4", start_date=day, due_date=day
        )
        s.add(goal)
        s.flush()
        assert resolve(session=s, actor=manager, kind=IdKind.goal, raw=str(goal.id)) == goal.id
        s.delete(goal)
        s.flush()
        with pytest.raises(NotFoundHere):
            resolve(session=s, actor=manager, kind=IdKind.goal, raw=str(goal.id))
        s.rollback()
