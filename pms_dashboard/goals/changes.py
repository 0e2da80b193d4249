"""Goal changes: create, edit (with key results kept by id) and archive; each checks who
may do it to whose goal, refuses alignment loops, recomputes progress up the chain and is
audited with what changed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource, require
from pms_dashboard.auth.resolve import (
    IdKind,
    RawId,
    parse_id,
    resolve,
    resolve_all,
    resolve_optional,
)
from pms_dashboard.goals.alignment import ancestors
from pms_dashboard.goals.checkins import recompute_progress
from pms_dashboard.goals.models import Goal, GoalStatus, KeyResult
from pms_dashboard.goals.rules import MAX_ALIGNMENT_DEPTH, load_goal, now, record
from pms_dashboard.goals.schemas import GoalError, GoalInput, KeyResultInput
from pms_dashboard.keys import access as keys
from pms_dashboard.tenancy.context import TenantContext

PARENT = "parent_id"  # the input a refusal of the parent goal is about


@dataclass(frozen=True, slots=True)
class _InputIds:
    """The ids a goal form names, resolved in the tenant before anything else is checked."""

    owner_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    key_results: list[uuid.UUID | None]  # one per `data.key_results` item (None: a new one)


def _resolve_input(
    session: Session, actor: TenantContext, data: GoalInput, action: Action
) -> _InputIds:
    kw: dict[str, Any] = {"session": session, "actor": actor, "action": action}
    owner_id = resolve_optional(kind=IdKind.owner, raw=data.owner_id, **kw)
    parent_id = resolve_optional(kind=IdKind.parent, raw=data.parent_id, **kw)
    given = [kr.id for kr in data.key_results or [] if kr.id not in (None, "")]
    resolve_all(kind=IdKind.key_result, raw=given, **kw)
    krs = [None if kr.id in (None, "") else parse_id(kr.id) for kr in data.key_results or []]
    return _InputIds(owner_id, parent_id, krs)


def _snapshot(session: Session, goal: Goal) -> dict[str, Any]:
    assert goal.tenant_id is not None
    return {
        "title": goal.title,
        "description": keys.for_audit(
            session, tenant_id=goal.tenant_id, plaintext=goal.description
        ),
        "owner_id": str(goal.owner_id),
        "parent_id": str(goal.parent_id) if goal.parent_id else None,
        "period": goal.period,
        "start_date": goal.start_date.isoformat(),
        "due_date": goal.due_date.isoformat(),
        "status": goal.status,
        "weight": str(goal.weight),
        "progress": str(goal.progress),
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {"before": before.get(k), "after": v} for k, v in after.items() if before.get(k) != v
    }


def _check_parent(
    session: Session, actor: TenantContext, parent_id: uuid.UUID | None, goal_id: uuid.UUID | None
) -> Goal | None:  # (parent_id is resolved already)
    """The parent to align to: visible to the actor, not archived, and not the goal itself
    or anything aligned below it (no loops)."""
    if parent_id is None:
        return None
    try:
        parent = load_goal(session, actor, parent_id, Action.view)
    except PermissionDenied:
        raise GoalError(
            "The parent goal was not found or you cannot see it.", field=PARENT
        ) from None
    if parent.status == GoalStatus.archived.value:
        raise GoalError("You cannot align to an archived goal.", field=PARENT)
    chain = [parent.id, *(a.goal.id for a in ancestors(session, parent))]
    if goal_id is not None and goal_id in chain:
        raise GoalError(
            "A goal cannot be aligned to itself or to a goal aligned below it.", field=PARENT
        )
    if len(chain) >= MAX_ALIGNMENT_DEPTH:
        raise GoalError(
            f"Alignment chains are limited to {MAX_ALIGNMENT_DEPTH} levels.", field=PARENT
        )
    return parent


def _owner_for(session: Session, actor: TenantContext, owner_id: uuid.UUID | None) -> uuid.UUID:
    owner = owner_id or actor.user_id
    if owner is None:
        raise PermissionDenied(Resource.goal, Action.create)
    user = session.scalars(select(User).where(col(User.id) == owner)).first()
    if user is None:
        raise PermissionDenied(Resource.goal, Action.create)
    require(
        session=session, actor=actor, resource=Resource.goal, action=Action.create, subject_id=owner
    )
    if not user.is_active:
        raise GoalError("Goals cannot be given to a deactivated person.", field="owner_id")
    return owner


def create_goal(*, session: Session, actor: TenantContext, data: GoalInput) -> uuid.UUID:
    """A new goal for the actor (or for someone the actor manages), with its key results."""
    ids = _resolve_input(session, actor, data, Action.create)
    owner_id = _owner_for(session, actor, ids.owner_id)
    _check_parent(session, actor, ids.parent_id, None)
    goal = Goal(
        owner_id=owner_id,
        parent_id=ids.parent_id,
        title=data.title,
        description=data.description,
        period=data.period,
        start_date=data.start_date,
        due_date=data.due_date,
        weight=data.weight,
        status=data.status,
    )
    session.add(goal)
    session.flush()
    kr_changes = _apply_key_results(session, goal, data.key_results or [], ids.key_results)
    recompute_progress(session=session, goal_ids=[goal.id])
    after = _snapshot(session, goal)
    record(session, actor, "goal.create", goal, {"after": after, "key_results": kr_changes})
    return goal.id


def update_goal(*, session: Session, actor: TenantContext, goal_id: RawId, data: GoalInput) -> None:
    """Edit a goal; when `data.key_results` is given it replaces the key results (kept by
    id, new ones added, missing ones removed)."""
    gid = resolve(session=session, actor=actor, kind=IdKind.goal, raw=goal_id, action=Action.edit)
    ids = _resolve_input(session, actor, data, Action.edit)
    goal = load_goal(session, actor, gid, Action.edit)
    if goal.status == GoalStatus.archived.value:
        raise GoalError("Archived goals cannot be edited.")
    before = _snapshot(session, goal)
    old_parent = goal.parent_id
    if ids.owner_id is not None and ids.owner_id != goal.owner_id:
        goal.owner_id = _owner_for(session, actor, ids.owner_id)
    if ids.parent_id != goal.parent_id:  # keep an existing alignment the editor cannot see
        _check_parent(session, actor, ids.parent_id, goal.id)
    goal.parent_id = ids.parent_id
    goal.title, goal.description, goal.period = data.title, data.description, data.period
    goal.start_date, goal.due_date = data.start_date, data.due_date
    goal.weight, goal.status = data.weight, data.status
    goal.updated_at = now()
    kr_changes = (
        _apply_key_results(session, goal, data.key_results, ids.key_results)
        if data.key_results is not None
        else {}
    )
    session.flush()
    recompute_progress(session=session, goal_ids=[goal.id, *([old_parent] if old_parent else [])])
    changes = _diff(before, _snapshot(session, goal))
    if changes or kr_changes:
        record(session, actor, "goal.update", goal, {"changes": changes, "key_results": kr_changes})


def archive_goal(*, session: Session, actor: TenantContext, goal_id: RawId) -> None:
    """Archive a goal: it leaves lists and stops counting towards its parent."""
    goal = load_goal(session, actor, goal_id, Action.archive)
    if goal.status == GoalStatus.archived.value:
        raise GoalError("That goal is already archived.")
    before = goal.status
    goal.status = GoalStatus.archived.value
    goal.updated_at = now()
    session.flush()
    if goal.parent_id:
        recompute_progress(session=session, goal_ids=[goal.parent_id])
    change = {"before": before, "after": goal.status}
    record(session, actor, "goal.archive", goal, {"changes": {"status": change}})


def _apply_key_results(
    session: Session, goal: Goal, wanted: list[KeyResultInput], ids: list[uuid.UUID | None]
) -> dict[str, Any]:
    """`ids`: each item's resolved id (None for a new key result)."""
    existing = {
        k.id: k for k in session.scalars(select(KeyResult).where(col(KeyResult.goal_id) == goal.id))
    }
    changes: dict[str, Any] = {"added": [], "updated": [], "removed": []}
    keep: set[uuid.UUID] = set()
    for item, item_id in zip(wanted, ids, strict=True):
        if item_id is None:
            new = KeyResult(
                goal_id=goal.id,
                title=item.title,
                target_value=item.target_value,
                current_value=item.start_value,  # unless the item says where it stands
            )
            _set_key_result(new, item)
            session.add(new)
            changes["added"].append({"title": new.title, "target": str(new.target_value)})
            continue
        kr = existing.get(item_id)
        if kr is None:
            raise GoalError(f"Key result '{item.title}' does not belong to this goal.")
        keep.add(kr.id)
        if _set_key_result(kr, item):
            changes["updated"].append({"id": str(kr.id), "title": kr.title})
    for kr_id, kr in existing.items():
        if kr_id not in keep:
            session.delete(kr)
            changes["removed"].append({"id": str(kr_id), "title": kr.title})
    session.flush()
    return {k: v for k, v in changes.items() if v}


def _set_key_result(kr: KeyResult, item: KeyResultInput) -> bool:
    """Give `kr` the values of `item` (its current value only when given); whether any
    changed."""

    def values() -> tuple[Any, ...]:
        return kr.title, kr.start_value, kr.target_value, kr.current_value, kr.unit, kr.weight

    before = values()
    kr.title, kr.start_value, kr.target_value = item.title, item.start_value, item.target_value
    if item.current_value is not None:
        kr.current_value = item.current_value
    kr.unit, kr.weight = item.unit, item.weight
    return values() != before
