"""Check-ins and progress: a check-in records confidence and new key-result values (or a
progress figure, for a goal measured only by check-ins); progress then rolls up the
alignment chain at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Uuid, bindparam, null, select, union_all
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource
from pms_dashboard.auth.resolve import IdKind, RawId, found_here, resolve_all
from pms_dashboard.goals.models import Goal, GoalCheckIn, GoalStatus, KeyResult
from pms_dashboard.goals.rules import (
    KEY_RESULTS_OF,
    MAX_ALIGNMENT_DEPTH,
    kr_progress,
    load_goal,
    now,
    record,
)
from pms_dashboard.goals.schemas import CheckInInput, GoalError
from pms_dashboard.tenancy.context import TenantContext


def check_in(
    *, session: Session, actor: TenantContext, goal_id: RawId, data: CheckInInput
) -> uuid.UUID:
    """Record a check-in: new key-result values (progress then follows from them) or, for a
    goal measured only by check-ins, a progress figure; rolls up to the parents."""
    goal = load_goal(session, actor, goal_id, Action.check_in)
    krs = {k.id: k for k in session.scalars(KEY_RESULTS_OF, {"goal": goal.id})}
    for kr_id in krs:  # read whole under the tenant's scoping: resolving them sends nothing
        found_here(session, actor, IdKind.key_result, kr_id)
    resolve_all(  # an id that is not the tenant's (or no id) is refused as one
        session=session,
        actor=actor,
        kind=IdKind.key_result,
        raw=list(data.key_results),
        action=Action.check_in,
    )
    values = {uuid.UUID(str(k)): v for k, v in data.key_results.items()}  # resolved above
    if goal.status in (GoalStatus.archived.value, GoalStatus.draft.value):
        raise GoalError(f"This goal is {goal.status}: reopen it to check in.")
    if actor.user_id is None:
        raise PermissionDenied(Resource.goal, Action.check_in)
    unknown = set(values) - set(krs)
    if unknown:
        raise GoalError("A key result in the check-in does not belong to this goal.")
    kr_changes = {}
    for kr_id, value in values.items():
        kr = krs[kr_id]
        if kr.current_value != value:
            kr_changes[str(kr_id)] = {"before": str(kr.current_value), "after": str(value)}
            kr.current_value = value
    session.flush()
    parts, aligned = _parts(session, goal.id)  # with the new values (the refusals below
    if krs or aligned:  # roll the flushed ones back with everything else)
        if data.progress is not None:
            raise GoalError(
                "This goal's progress comes from its key results and aligned goals; "
                "update those instead of the percentage.",
                field="progress",
            )
        goal.progress = _weighted(parts, goal.progress)
    else:
        if data.progress is None:
            raise GoalError("Give the progress (0-100%) for this goal.", field="progress")
        goal.progress = data.progress
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
    session.flush()  # the goal's new progress with its confidence: one update
    if goal.parent_id:
        recompute_progress(session=session, goal_ids=[goal.parent_id])
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
        goal = _goal(session, goal_id)
        if goal is None:
            continue
        parts, _ = _parts(session, goal_id)
        new = _weighted(parts, goal.progress)
        if new != goal.progress:
            goal.progress = new
            session.flush()
        if goal.parent_id is not None:
            pending.append(goal.parent_id)


def _goal(session: Session, goal_id: uuid.UUID) -> Goal | None:
    """The goal, read only if this unit of work has not read it yet (its key is the
    tenant's id and the goal's)."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is not None:
        return session.get(Goal, (tenant_id, goal_id))
    return session.scalars(select(Goal).where(col(Goal.id) == goal_id)).first()


_GOAL = bindparam("goal", type_=Uuid)
# A goal's parts (built once): key results (weight, start, target, current) and aligned
# goals not archived (weight, progress).
_PARTS: Any = union_all(
    select(
        col(KeyResult.weight),
        col(KeyResult.start_value),
        col(KeyResult.target_value),
        col(KeyResult.current_value),
        null().label("progress"),
    ).where(col(KeyResult.goal_id) == _GOAL),
    select(col(Goal.weight), null(), null(), null(), col(Goal.progress)).where(
        col(Goal.parent_id) == _GOAL, col(Goal.status) != GoalStatus.archived.value
    ),
)


def _parts(session: Session, goal_id: uuid.UUID) -> tuple[list[tuple[Decimal, Decimal]], int]:
    """What `goal_id`'s progress is made of, read in one statement: (weight, progress) of each
    of its key results and of each aligned goal not archived; and how many are aligned goals."""
    rows: Sequence[Any] = session.execute(_PARTS, {"goal": goal_id}).all()
    parts = [
        (weight, kr_progress(start, target, current) if progress is None else progress)
        for weight, start, target, current, progress in rows
    ]
    return parts, sum(1 for *_, progress in rows if progress is not None)


def _weighted(parts: list[tuple[Decimal, Decimal]], otherwise: Decimal) -> Decimal:
    """The weighted mean of `parts` to two places (`otherwise` when there are none)."""
    if not parts:
        return otherwise
    total_weight = sum((w for w, _ in parts), Decimal(0))
    value = sum((w * p for w, p in parts), Decimal(0)) / total_weight
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
