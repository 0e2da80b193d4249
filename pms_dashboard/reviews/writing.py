"""Writing reviews: the reviewer's list, the form (saved as drafts, then submitted with a
weighted score), reading a report's review, and reopening a submitted one to correct it."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource, may, require
from pms_dashboard.auth.resolve import IdKind, RawId, resolve_all
from pms_dashboard.organisation.schemas import RatingScale
from pms_dashboard.reviews import context, status
from pms_dashboard.reviews.common import (
    CENT,
    actor_user_id,
    check_score,
    criteria_of,
    cycle_scale,
    denied,
    load_cycle,
    names_of,
    num,
    outcome_for,
    resolve_id,
)
from pms_dashboard.reviews.models import (
    CycleStatus,
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewKind,
    ReviewOutcome,
    ReviewRating,
    ReviewStatus,
)
from pms_dashboard.reviews.schemas import (
    MyReviewRow,
    RatingRow,
    ReviewDetail,
    ReviewDraft,
    ReviewError,
    parse,
)
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import utcnow


def weighted_score(scores: list[tuple[int, Decimal]]) -> Decimal:
    """Weighted mean of (score, weight) pairs, to two decimals, half up."""
    total_weight = sum((w for _, w in scores), Decimal(0))
    if not scores or total_weight <= 0:
        raise ReviewError("Nothing to score.")
    total = sum((Decimal(s) * w for s, w in scores), Decimal(0))
    return (total / total_weight).quantize(CENT, rounding=ROUND_HALF_UP)


def list_my_reviews(*, session: Session, actor: TenantContext) -> list[MyReviewRow]:
    """The reviews the actor writes, open cycles first, by due date."""
    actor_id = actor_user_id(actor, Resource.review, Action.write)
    reviewee = aliased(User)
    rows = session.execute(
        select(Review, ReviewCycle, col(reviewee.display_name))
        .join(ReviewCycle, col(ReviewCycle.id) == col(Review.cycle_id))
        .join(reviewee, col(reviewee.id) == col(Review.reviewee_id))
        .where(col(Review.reviewer_id) == actor_id)
        .order_by(
            (col(ReviewCycle.status) != CycleStatus.active.value),
            col(ReviewCycle.period_start).desc(),
            col(Review.kind),
            col(reviewee.display_name),
            col(Review.id),
        )
        .limit(500)
    ).all()
    out = []
    for review, cycle, name in rows:
        due = cycle.self_review_due if review.kind == ReviewKind.self_review.value else None
        due = due or cycle.manager_review_due
        out.append(
            MyReviewRow(
                id=str(review.id),
                cycle_name=cycle.name,
                cycle_status=cycle.status,
                reviewee_name=name,
                kind=review.kind,
                status=review.status,
                due=due,
            )
        )
    return out


def review_detail(
    session: Session, actor: TenantContext, review: Review, cycle: ReviewCycle, *, editable: bool
) -> ReviewDetail:
    """The review as the actor sees it, with whether they may edit and reopen it."""
    criteria = criteria_of(session, cycle.template_id)
    ratings = {
        r.criterion_id: r
        for r in session.scalars(
            select(ReviewRating).where(col(ReviewRating.review_id) == review.id)
        )
    }
    names = names_of(session, {review.reviewee_id, review.reviewer_id})
    scale = cycle_scale(session, cycle)
    return ReviewDetail(
        id=str(review.id),
        cycle_id=str(cycle.id),
        cycle_name=cycle.name,
        reviewee_name=names.get(review.reviewee_id, ""),
        reviewer_name=names.get(review.reviewer_id, ""),
        kind=review.kind,
        status=review.status,
        summary=review.summary,
        score=num(review.score),
        score_label=scale.label(num(review.score)),
        editable=editable,
        may_reopen=not editable and _may_reopen(session, actor, review, cycle),
        ratings=[
            RatingRow(
                criterion_id=str(c.id),
                name=c.name,
                description=c.description,
                weight=float(c.weight),
                score=int(r.score) if (r := ratings.get(c.id)) and r.score is not None else None,
                comment=r.comment if r else "",
                label=scale.label(num(r.score)) if r else "",
            )
            for c in criteria
        ],
        context=context.manager_context(
            session,
            actor,
            review,
            cycle,
            lambda own: review_detail(session, actor, own, cycle, editable=False),
        ),
    )


def get_review(*, session: Session, actor: TenantContext, review_id: RawId) -> ReviewDetail:
    """One review: editable for its reviewer while open; read-only for the reviewee's
    managers and admins (never a peer review, and never to the reviewee: they see their
    results only once shared)."""
    review_id = resolve_id(session, actor, IdKind.review, review_id, Action.view)
    actor_id = actor_user_id(actor, Resource.review, Action.view)
    review = session.scalars(select(Review).where(col(Review.id) == review_id)).one()
    cycle = load_cycle(session, review.cycle_id, Action.view)
    if review.reviewer_id == actor_id:
        editable = (
            cycle.status == CycleStatus.active.value
            and review.status != ReviewStatus.submitted.value
        )
        return review_detail(session, actor, review, cycle, editable=editable)
    if (
        review.kind == ReviewKind.peer.value
        or review.reviewee_id == actor_id
        or not may(
            session=session,
            actor=actor,
            resource=Resource.review,
            action=Action.view,
            subject_id=review.reviewee_id,
        )
    ):
        raise denied(Resource.review, Action.view)
    return review_detail(session, actor, review, cycle, editable=False)


def _writable_review(
    session: Session, actor: TenantContext, review_id: uuid.UUID
) -> tuple[Review, ReviewCycle]:
    """The actor's own review, locked, in an active cycle and not yet submitted (the id is
    resolved already)."""
    actor_id = actor_user_id(actor, Resource.review, Action.write)
    review = session.scalars(
        select(Review).where(col(Review.id) == review_id).with_for_update()
    ).first()
    if review is None or review.reviewer_id != actor_id:
        raise denied(Resource.review, Action.write, review_id)
    cycle = load_cycle(session, review.cycle_id, Action.write)
    if cycle.status != CycleStatus.active.value:
        raise ReviewError("This cycle is not open for reviews.")
    if review.status == ReviewStatus.submitted.value:
        raise ReviewError("This review is already submitted.")
    return review, cycle


def _apply_draft(
    session: Session,
    review: Review,
    criteria: list[ReviewCriterion],
    draft: ReviewDraft,
    scale: RatingScale,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the draft's summary and ratings (criterion ids resolved already), each score
    checked against the cycle's scale; return the changed fields before and after."""
    known = {c.id: c for c in criteria}
    ratings = [(uuid.UUID(str(r.criterion_id)), r) for r in draft.ratings]
    for criterion_id, rating in ratings:
        if criterion_id not in known:
            raise denied(Resource.review, Action.write)
        if rating.score is not None:
            check_score(scale, rating.score)
    existing = {
        r.criterion_id: r
        for r in session.scalars(
            select(ReviewRating).where(col(ReviewRating.review_id) == review.id)
        )
    }
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if draft.summary != review.summary:
        before["summary_chars"], after["summary_chars"] = len(review.summary), len(draft.summary)
        review.summary = draft.summary
    for criterion_id, rating in ratings:
        row = existing.get(criterion_id)
        old_score = int(row.score) if row is not None and row.score is not None else None
        old_comment = row.comment if row is not None else ""
        if row is None:
            if rating.score is None and not rating.comment:
                continue
            row = ReviewRating(review_id=review.id, criterion_id=criterion_id)
            session.add(row)
        key = known[criterion_id].name
        if old_score != rating.score:
            before[f"{key}.score"], after[f"{key}.score"] = old_score, rating.score
            row.score = Decimal(rating.score) if rating.score is not None else None
        if old_comment != rating.comment:
            before[f"{key}.comment_chars"] = len(old_comment)
            after[f"{key}.comment_chars"] = len(rating.comment)
            row.comment = rating.comment
    if status.can(review, status.START_WRITING):
        before["status"] = status.move(review, status.START_WRITING)
        after["status"] = review.status
    session.flush()
    return before, after


def _resolve_draft(
    session: Session, actor: TenantContext, review_id: RawId, draft: Any, *, optional: bool
) -> tuple[uuid.UUID, ReviewDraft | None]:
    """The review's id and the draft (its criterion ids resolved), before anything else."""
    rid = resolve_id(session, actor, IdKind.review, review_id, Action.write)
    if draft is None and optional:
        return rid, None
    parsed = parse(ReviewDraft, draft)
    resolve_all(
        session=session, actor=actor, kind=IdKind.criterion,
        raw=[r.criterion_id for r in parsed.ratings], action=Action.write,
    )  # fmt: skip
    return rid, parsed


def save_review(
    *,
    session: Session,
    actor: TenantContext,
    review_id: RawId,
    draft: ReviewDraft | dict[str, Any],
) -> ReviewDetail:
    """Save the reviewer's draft (scores may be empty); only the reviewer, while open."""
    review_id, parsed = _resolve_draft(session, actor, review_id, draft, optional=False)
    review, cycle = _writable_review(session, actor, review_id)
    assert parsed is not None
    criteria = criteria_of(session, cycle.template_id)
    before, after = _apply_draft(session, review, criteria, parsed, cycle_scale(session, cycle))
    if after:
        audit.record(
            session=session,
            action="review.save",
            actor_id=actor.user_id,
            entity_type="review",
            entity_id=review.id,
            detail={"before": before, "after": after},
        )
    return review_detail(session, actor, review, cycle, editable=True)


def submit_review(
    *,
    session: Session,
    actor: TenantContext,
    review_id: RawId,
    draft: ReviewDraft | dict[str, Any] | None = None,
) -> ReviewDetail:
    """Save (optionally) and submit: every criterion scored, the weighted score computed,
    and the reviewee's outcome moved on (self done / manager done + computed score)."""
    review_id, parsed = _resolve_draft(session, actor, review_id, draft, optional=True)
    review, cycle = _writable_review(session, actor, review_id)
    criteria = criteria_of(session, cycle.template_id)
    scale = cycle_scale(session, cycle)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if parsed is not None:
        before, after = _apply_draft(session, review, criteria, parsed, scale)
    scores = {
        r.criterion_id: r.score
        for r in session.scalars(
            select(ReviewRating).where(col(ReviewRating.review_id) == review.id)
        )
    }
    missing = [c.name for c in criteria if scores.get(c.id) is None]
    if missing:
        raise ReviewError("Score every criterion before submitting. Missing: " + ", ".join(missing))
    for value in scores.values():
        if value is not None:
            check_score(scale, int(value))
    score = weighted_score([(int(scores[c.id] or 0), c.weight) for c in criteria])
    before.setdefault("status", review.status)
    before["score"] = num(review.score)
    status.move(review, status.SUBMIT)
    review.submitted_at = utcnow()
    review.score = score
    after.update({"status": review.status, "score": float(score)})
    outcome_change = _outcome_after_submit(session, review)
    session.flush()
    audit.record(
        session=session,
        action="review.submit",
        actor_id=actor.user_id,
        entity_type="review",
        entity_id=review.id,
        detail={"before": before, "after": after, "outcome": outcome_change},
    )
    return review_detail(session, actor, review, cycle, editable=False)


def _outcome_after_submit(session: Session, review: Review) -> dict[str, Any]:
    """Move the reviewee's outcome on after a self or manager review is submitted (the
    manager review's score becomes the computed score); the change, for the audit."""
    outcome = outcome_for(session, review.cycle_id, review.reviewee_id, lock=True)
    if outcome is None or review.kind == ReviewKind.peer.value:
        return {}
    before = {"status": outcome.status, "computed_score": num(outcome.computed_score)}
    manager = review.kind == ReviewKind.manager.value
    step = status.MANAGER_SUBMITTED if manager else status.SELF_SUBMITTED
    if status.can(outcome, step):  # (a self review after the manager's changes nothing)
        status.move(outcome, step)
    if manager:
        outcome.computed_score = review.score
    outcome.updated_at = utcnow()
    after = {"status": outcome.status, "computed_score": num(outcome.computed_score)}
    return {"id": str(outcome.id), "before": before, "after": after}


def _check_reopen(
    session: Session, actor: TenantContext, review: Review, cycle: ReviewCycle, *, lock: bool
) -> ReviewOutcome | None:
    """Refuse unless the actor may reopen the review now (permission first, then state);
    returns the reviewee's outcome."""
    require(
        session=session,
        actor=actor,
        resource=Resource.review,
        action=Action.reopen,
        subject_id=review.reviewee_id,
    )
    if cycle.status != CycleStatus.active.value:
        raise ReviewError("Reviews can be reopened only while the cycle is active.")
    status.check(review, status.REOPEN)
    outcome = outcome_for(session, review.cycle_id, review.reviewee_id, lock=lock)
    if outcome is not None:
        status.check_reopenable(outcome)
    return outcome


def _may_reopen(session: Session, actor: TenantContext, review: Review, cycle: ReviewCycle) -> bool:
    """Whether `reopen_review` would accept this review now, to offer it (no query for a
    review that is not submitted)."""
    if not status.can(review, status.REOPEN):
        return False
    try:
        _check_reopen(session, actor, review, cycle, lock=False)
    except (PermissionDenied, ReviewError):
        return False
    return True


def _outcome_after_reopen(
    session: Session, review: Review, outcome: ReviewOutcome | None
) -> dict[str, Any]:
    """Move the reviewee's outcome back after a self or manager review is reopened (the
    computed score goes with the manager review); the change, for the audit."""
    if outcome is None or review.kind == ReviewKind.peer.value:
        return {}
    before = {"status": outcome.status, "computed_score": num(outcome.computed_score)}
    if review.kind == ReviewKind.manager.value:
        self_done = session.scalar(
            select(func.count())
            .select_from(Review)
            .where(
                col(Review.cycle_id) == review.cycle_id,
                col(Review.reviewee_id) == review.reviewee_id,
                col(Review.kind) == ReviewKind.self_review.value,
                col(Review.status) == ReviewStatus.submitted.value,
            )
        )
        outcome.computed_score = None
        status.move(
            outcome, status.MANAGER_REOPENED_SELF_STANDS if self_done else status.MANAGER_REOPENED
        )
    elif status.can(outcome, status.SELF_REOPENED):  # (after the manager's, nothing moves)
        status.move(outcome, status.SELF_REOPENED)
    outcome.updated_at = utcnow()
    after = {"status": outcome.status, "computed_score": num(outcome.computed_score)}
    return {"id": str(outcome.id), "before": before, "after": after}


def reopen_review(*, session: Session, actor: TenantContext, review_id: RawId) -> None:
    """Un-submit a review (the reviewee's managers and admins) so it can be corrected,
    while the cycle is active and the outcome not yet calibrated or shared."""
    review_id = resolve_id(session, actor, IdKind.review, review_id, Action.reopen)
    actor_user_id(actor, Resource.review, Action.reopen)
    review = session.scalars(
        select(Review).where(col(Review.id) == review_id).with_for_update()
    ).one()
    cycle = load_cycle(session, review.cycle_id, Action.reopen)
    outcome = _check_reopen(session, actor, review, cycle, lock=True)
    before = {"status": review.status, "score": num(review.score)}
    status.move(review, status.REOPEN)
    review.submitted_at = None
    review.score = None
    outcome_change = _outcome_after_reopen(session, review, outcome)
    session.flush()
    audit.record(
        session=session,
        action="review.reopen",
        actor_id=actor.user_id,
        entity_type="review",
        entity_id=review.id,
        detail={
            "before": before,
            "after": {"status": review.status, "score": None},
            "outcome": outcome_change,
        },
    )
