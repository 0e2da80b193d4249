"""What a manager sees beside the review they write: the person's self review, once
submitted, their goals of the cycle's period and their latest check-ins on those goals, so
the rating is decided with the evidence in view instead of from memory. Only for the
manager review's own writer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.goals.detail import newest_check_ins
from pms_dashboard.goals.models import Goal, GoalStatus
from pms_dashboard.goals.schemas import CheckInView
from pms_dashboard.reviews.models import Review, ReviewCycle, ReviewKind, ReviewStatus
from pms_dashboard.reviews.schemas import ContextGoal, ReviewContext, ReviewDetail
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
) -> list[CheckInView]:
    """The newest check-ins on the reviewee's goals of the period, newest first."""
    period = _goals_of_period(reviewee_id, cycle)
    return newest_check_ins(session, *period, limit=MAX_CHECK_INS)
