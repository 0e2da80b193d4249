"""What a manager sees beside the review they write: the person's self review, once
submitted, their goals of the cycle's period and their latest check-ins on those goals, so
the rating is decided with the evidence in view instead of from memory. Only for the
manager review's own writer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.goals.models import Goal, GoalCheckIn, GoalStatus
from pms_dashboard.reviews.models import Review, ReviewCycle, ReviewKind, ReviewStatus
from pms_dashboard.reviews.schemas import (
    ContextCheckIn,
    ContextGoal,
    ReviewContext,
    ReviewDetail,
)
from pms_dashboard.tenancy.context import TenantContext

MAX_GOALS = 25
MAX_CHECK_INS = 5


def manager_context(
    session: Session,
    actor: TenantContext,
    review: Review,
    cycle: ReviewCycle,
    detail_of: Callable[[Review], ReviewDetail],
) -> ReviewContext | None:
    """The context of `review` if it is a manager review written by the actor, else None.
    `detail_of` shows a review read-only (the writer's module owns how)."""
    if review.kind != ReviewKind.manager.value or review.reviewer_id != actor.user_id:
        return None
    own = session.scalars(
        select(Review).where(
            col(Review.cycle_id) == cycle.id,
            col(Review.reviewee_id) == review.reviewee_id,
            col(Review.kind) == ReviewKind.self_review.value,
        )
    ).first()
    submitted = own is not None and own.status == ReviewStatus.submitted.value
    if own is None:
        note = "This cycle has no self review for them."
    elif not submitted:
        note = "Their self review is not submitted yet."
    else:
        note = ""
    goals = session.execute(
        select(
            col(Goal.id),
            col(Goal.title),
            col(Goal.status),
            col(Goal.progress),
            col(Goal.confidence),
        )
        .where(*_goals_of_period(review.reviewee_id, cycle))
        .order_by(col(Goal.due_date), col(Goal.title))
        .limit(MAX_GOALS)
    ).all()
    return ReviewContext(
        self_review=detail_of(own) if submitted and own is not None else None,
        self_review_note=note,
        goals=[
            ContextGoal(
                id=str(g.id),
                title=g.title,
                status=g.status,
                progress=int(g.progress),
                confidence=g.confidence or "",
            )
            for g in goals
        ],
        check_ins=_latest_check_ins(session, review.reviewee_id, cycle),
    )


def _goals_of_period(reviewee_id: uuid.UUID, cycle: ReviewCycle) -> tuple[Any, ...]:
    """The reviewee's goals the cycle weighs: not archived, overlapping its period."""
    return (
        col(Goal.owner_id) == reviewee_id,
        col(Goal.status) != GoalStatus.archived.value,
        col(Goal.start_date) <= cycle.period_end,
        col(Goal.due_date) >= cycle.period_start,
    )


def _latest_check_ins(
    session: Session, reviewee_id: uuid.UUID, cycle: ReviewCycle
) -> list[ContextCheckIn]:
    """The newest check-ins on the reviewee's goals of the period, newest first; loaded as
    objects so their notes are opened as everywhere else (`keys.fields`)."""
    rows = session.execute(
        select(GoalCheckIn, col(Goal.title))
        .join(
            Goal,
            and_(col(Goal.tenant_id) == GoalCheckIn.tenant_id, col(Goal.id) == GoalCheckIn.goal_id),
        )
        .where(*_goals_of_period(reviewee_id, cycle))
        .order_by(col(GoalCheckIn.created_at).desc(), col(GoalCheckIn.id))
        .limit(MAX_CHECK_INS)
    ).all()
    return [
        ContextCheckIn(
            goal_id=str(ci.goal_id),
            goal_title=title,
            at=ci.created_at,
            progress=ci.progress,
            confidence=ci.confidence,
            note=ci.note,
        )
        for ci, title in rows
    ]
