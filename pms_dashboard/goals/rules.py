"""What every goal service shares: who sees which goals, what is stale or overdue, how a key
result's progress is measured, and loading a goal the actor may act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import BindParameter, ColumnElement, Uuid, and_, bindparam, func, literal, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import (
    Action,
    PermissionDenied,
    Relation,
    Resource,
    decide,
    relations_to,
    reports_subtree,
    require,
    visible_user_ids,
)
from pms_dashboard.auth.resolve import IdKind, NotFoundHere, RawId, found_here, parse_id
from pms_dashboard.goals.models import Goal, GoalStatus, KeyResult
from pms_dashboard.organisation.service import get_customization
from pms_dashboard.tenancy.context import TenantContext

MAX_ALIGNMENT_DEPTH = 12
DUE_SOON_DAYS = 14
HUNDRED = Decimal(100)
HIDDEN_TITLE = "A goal you cannot open"  # a goal in a chain or tree the viewer may not open


def now() -> datetime:
    return datetime.now(UTC)


def kr_progress(start: Decimal, target: Decimal, current: Decimal) -> Decimal:
    """Share of the way from start to target, 0-100 (works for "lower is better" too)."""
    if target == start:
        return HUNDRED if current == target else Decimal(0)
    share = (current - start) / (target - start)
    return max(Decimal(0), min(Decimal(1), share)) * HUNDRED


def stale_before(session: Session) -> datetime:
    """Goals with no check-in (nor creation) since this moment are stale (tenant setting)."""
    return now() - timedelta(days=get_customization(session=session).stale_after_days)


def stale_condition(cutoff: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Active, and neither checked in on nor created since `cutoff` (`stale_before`, or a
    bound parameter for it)."""
    return and_(
        col(Goal.status) == GoalStatus.active.value,
        func.coalesce(col(Goal.last_check_in_at), Goal.created_at) < cutoff,
    )


class Dated(Protocol):
    """What `flags` reads of a goal (a loaded goal, or a row of its columns)."""

    status: str
    due_date: date
    last_check_in_at: datetime | None
    created_at: datetime


def flags(goal: Dated, cutoff: datetime, today: date) -> tuple[bool, bool]:
    """(stale, overdue) of one goal: the same rule as `stale_condition`."""
    active = goal.status == GoalStatus.active.value
    return (
        active and (goal.last_check_in_at or goal.created_at) < cutoff,
        active and goal.due_date < today,
    )


def owned_by(owner: Any = User) -> ColumnElement[bool]:
    """The join of a goal to its owner's person row (`owner`: `User` or an alias of it)."""
    return and_(col(owner.id) == Goal.owner_id, col(owner.tenant_id) == Goal.tenant_id)


def record(
    session: Session, actor: TenantContext, action: str, goal: Goal, detail: dict[str, Any]
) -> None:
    """Audit a change to `goal` (`action`: goal.create, goal.update, ...) in the change's
    own transaction."""
    audit.record(
        session=session,
        action=action,
        actor_id=actor.user_id,
        entity_type="goal",
        entity_id=goal.id,
        detail=detail,
    )


def visible_goals(actor: TenantContext, scope: str) -> list[ColumnElement[bool]]:
    """Owner conditions for a list in `scope` ("mine", "team": everyone below the actor,
    "all": everything the actor may see)."""
    if actor.user_id is None:
        return [literal(False)]
    if scope == "mine":
        return [col(Goal.owner_id) == actor.user_id]
    visible = visible_user_ids(actor)
    conditions: list[ColumnElement[bool]] = []
    if visible is not None:
        conditions.append(col(Goal.owner_id).in_(visible))
    if scope == "team":
        conditions.append(col(Goal.owner_id) != actor.user_id)
        if visible is None:  # admins: "team" is still their own subtree
            conditions.append(col(Goal.owner_id).in_(reports_subtree(actor.user_id)))
    return conditions


# Reads every goal page and check-in makes, built once (with bound parameters): building a
# statement costs more than running one this small.
_GOAL_BY_ID = select(Goal).where(col(Goal.id) == bindparam("goal", type_=Uuid))
KEY_RESULTS_OF = (
    select(KeyResult)
    .where(col(KeyResult.goal_id) == bindparam("goal", type_=Uuid))
    .order_by(col(KeyResult.created_at), col(KeyResult.id))
)


def load_goal(session: Session, actor: TenantContext, goal_id: RawId, action: Action) -> Goal:
    """The goal, if it is one of the tenant's (else `NotFoundHere`) and the actor may do
    `action` to it (else `PermissionDenied`)."""
    gid = parse_id(goal_id)
    goal = session.scalars(_GOAL_BY_ID, {"goal": gid}).first() if gid else None
    if goal is None:  # read under the tenant's scoping: what `resolve` would have refused
        raise NotFoundHere(IdKind.goal, [gid] if gid else [], action=action)
    found_here(session, actor, IdKind.goal, goal.id)
    require(
        session=session,
        actor=actor,
        resource=Resource.goal,
        action=action,
        subject_id=goal.owner_id,
    )
    return goal


@dataclass(frozen=True, slots=True)
class Opened:
    """A goal the actor may look at, its owner's name, and how the owner stands to the actor
    (which decides what else the actor may do to it)."""

    goal: Goal
    owner: str
    relation: Relation


_OWNER = aliased(User, name="owner")
_GOAL_AND_OWNER = (  # built once: an alias costs more to build than the read to run
    select(Goal, col(_OWNER.display_name))
    .join(_OWNER, owned_by(_OWNER))
    .where(col(Goal.id) == bindparam("goal", type_=Uuid))
)


def open_goal(session: Session, actor: TenantContext, goal_id: RawId) -> Opened:
    """The goal to show, refused like `load_goal(..., Action.view)`."""
    gid = parse_id(goal_id)
    found = session.execute(_GOAL_AND_OWNER, {"goal": gid}).first() if gid else None
    if found is None:
        raise NotFoundHere(IdKind.goal, [gid] if gid else [], action=Action.view)
    goal, name = found
    found_here(session, actor, IdKind.goal, goal.id)
    relation = relations_to(session=session, actor=actor, subject_ids=[goal.owner_id])
    if not decide(actor.role, Resource.goal, Action.view, relation[goal.owner_id]):
        raise PermissionDenied(Resource.goal, Action.view, target_id=goal.owner_id)
    return Opened(goal, name, relation[goal.owner_id])
