"""Check-ins and progress: a check-in records confidence and new key-result values (or a
progress figure, for a goal measured only by check-ins); progress then rolls up the
alignment chain at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import literal, select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource
from pms_dashboard.auth.resolve import IdKind, RawId, resolve, resolve_all
from pms_dashboard.goals.models import Goal, GoalCheckIn, GoalStatus, KeyResult
from pms_dashboard.goals.rules import MAX_ALIGNMENT_DEPTH, kr_progress, load_goal, now, record
from pms_dashboard.goals.schemas import CheckInInput, GoalError
from pms_dashboard.tenancy.context import TenantContext


def check_in(
    *, session: Session, actor: TenantContext, goal_id: RawId, data: CheckInInput
) -> uuid.UUID:
    """Record a check-in: new key-result values (progress then follows from them) or, for a
    goal measured only by check-ins, a progress figure; rolls up to the parents."""
    gid = resolve(
        session=session, actor=actor, kind=IdKind.goal, raw=goal_id, action=Action.check_in
    )
    resolve_all(
        session=session,
        actor=actor,
        kind=IdKind.key_result,
        raw=list(data.key_results),
        action=Action.check_in,
    )
    values = {uuid.UUID(str(k)): v for k, v in data.key_results.items()}  # resolved above
    goal = load_goal(session, actor, gid, Action.check_in)
    if goal.status in (GoalStatus.archived.value, GoalStatus.draft.value):
        raise GoalError(f"This goal is {goal.status}: reopen it to check in.")
    if actor.user_id is None:
        raise PermissionDenied(Resource.goal, Action.check_in)
    krs = {
        k.id: k for k in session.scalars(select(KeyResult).where(col(KeyResult.goal_id) == goal.id))
    }
    unknown = set(values) - set(krs)
    if unknown:
        raise GoalError("A key result in the check-in does not belong to this goal.")
    has_children = session.scalar(
        select(literal(True)).where(
            col(Goal.parent_id) == goal.id, col(Goal.status) != GoalStatus.archived.value
        )
    )
    kr_changes = {}
    for kr_id, value in values.items():
        kr = krs[kr_id]
        if kr.current_value != value:
            kr_changes[str(kr_id)] = {"before": str(kr.current_value), "after": str(value)}
            kr.current_value = value
    if krs or has_children:
        if data.progress is not None:
            raise GoalError(
                "This goal's progress comes from its key results and aligned goals; "
                "update those instead of the percentage.",
                field="progress",
            )
        session.flush()
        recompute_progress(session=session, goal_ids=[goal.id])
    else:
        if data.progress is None:
            raise GoalError("Give the progress (0-100%) for this goal.", field="progress")
        goal.progress = data.progress
        session.flush()
        if goal.parent_id:
            recompute_progress(session=session, goal_ids=[goal.parent_id])
    session.refresh(goal)
    entry = GoalCheckIn(
        goal_id=goal.id,
        author_id=actor.user_id,
        progress=goal.progress,
        confidence=data.confidence.value,
        note=data.note,
    )
    goal.updated_at = now()
    goal.confidence, goal.last_check_in_at = entry.confidence, entry.created_at
    session.add(entry)
    session.flush()
    detail = {"progress": str(goal.progress), "confidence": entry.confidence}
    record(session, actor, "goal.check_in", goal, detail | {"key_results": kr_changes})
    return entry.id


def recompute_progress(*, session: Session, goal_ids: Iterable[uuid.UUID]) -> None:
    """Recompute each goal from its components, then its parents, up the chain."""
    pending = list(dict.fromkeys(goal_ids))
    done: set[uuid.UUID] = set()
    while pending:
        goal_id = pending.pop(0)
        if goal_id in done or len(done) > 10 * MAX_ALIGNMENT_DEPTH:
            continue
        done.add(goal_id)
        goal = session.scalars(select(Goal).where(col(Goal.id) == goal_id)).first()
        if goal is None:
            continue
        parts: list[tuple[Decimal, Decimal]] = [
            (k.weight, kr_progress(k.start_value, k.target_value, k.current_value))
            for k in session.scalars(select(KeyResult).where(col(KeyResult.goal_id) == goal_id))
        ]
        parts += [
            (w, p)
            for w, p in session.execute(
                select(col(Goal.weight), col(Goal.progress)).where(
                    col(Goal.parent_id) == goal_id, col(Goal.status) != GoalStatus.archived.value
                )
            ).all()
        ]
        if parts:
            total_weight = sum((w for w, _ in parts), Decimal(0))
            value = sum((w * p for w, p in parts), Decimal(0)) / total_weight
            new = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if new != goal.progress:
                goal.progress = new
                session.flush()
        if goal.parent_id is not None:
            pending.append(goal.parent_id)
