"""A reviewee's own results, once shared: their self and manager reviews, and peer feedback
averaged per criterion without names, shown only from two submitted peer reviews on."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.permissions import Action, Resource
from pms_dashboard.auth.resolve import IdKind, RawId
from pms_dashboard.reviews.common import (
    CENT,
    actor_user_id,
    criteria_of,
    cycle_scale,
    denied,
    load_cycle,
    num,
    outcome_for,
    resolve_id,
)
from pms_dashboard.reviews.models import (
    OutcomeStatus,
    Review,
    ReviewCycle,
    ReviewKind,
    ReviewOutcome,
    ReviewRating,
    ReviewStatus,
)
from pms_dashboard.reviews.schemas import (
    MyResults,
    PeerCriterion,
    ReviewDetail,
    ReviewError,
    SharedCycleRow,
)
from pms_dashboard.reviews.writing import review_detail
from pms_dashboard.tenancy.context import TenantContext

NOT_ENOUGH_PEERS = "Not enough peer responses to keep them anonymous."
MIN_ANONYMOUS_PEERS = 2


def list_my_results(*, session: Session, actor: TenantContext) -> list[SharedCycleRow]:
    """The cycles whose results have been shared with the actor, newest first."""
    actor_id = actor_user_id(actor, Resource.review, Action.view)
    rows = session.execute(
        select(ReviewOutcome, col(ReviewCycle.name))
        .join(ReviewCycle, col(ReviewCycle.id) == col(ReviewOutcome.cycle_id))
        .where(
            col(ReviewOutcome.reviewee_id) == actor_id,
            col(ReviewOutcome.status) == OutcomeStatus.shared.value,
        )
        .order_by(col(ReviewOutcome.shared_at).desc(), col(ReviewOutcome.id))
        .limit(100)
    ).all()
    return [
        SharedCycleRow(
            cycle_id=str(o.cycle_id),
            cycle_name=name,
            shared_at=o.shared_at,
        )
        for o, name in rows
    ]


def _peer_feedback(
    session: Session, cycle: ReviewCycle, peer_reviews: list[Review]
) -> tuple[list[PeerCriterion], list[str]]:
    """Peer scores per criterion (mean and count) with their comments, and the summaries,
    all without names and sorted, never in submission order."""
    ratings = list(
        session.scalars(
            select(ReviewRating).where(
                col(ReviewRating.review_id).in_([r.id for r in peer_reviews])
            )
        )
    )
    by_criterion: dict[uuid.UUID, list[ReviewRating]] = defaultdict(list)
    for rating in ratings:
        by_criterion[rating.criterion_id].append(rating)
    peers: list[PeerCriterion] = []
    for c in criteria_of(session, cycle.template_id):
        scores = [r.score for r in by_criterion[c.id] if r.score is not None]
        mean = (
            (sum(scores, Decimal(0)) / len(scores)).quantize(CENT, rounding=ROUND_HALF_UP)
            if scores
            else None
        )
        peers.append(
            PeerCriterion(
                name=c.name,
                mean=num(mean),
                count=len(scores),
                # Sorted, not in submission order, so no comment can be lined up with
                # another criterion's comment or with a nomination.
                comments=sorted(r.comment for r in by_criterion[c.id] if r.comment.strip()),
            )
        )
    return peers, sorted(r.summary for r in peer_reviews if r.summary.strip())


def my_results(*, session: Session, actor: TenantContext, cycle_id: RawId) -> MyResults:
    """The actor's own shared result: self and manager reviews, and peer feedback averaged
    per criterion without names, shown only from two submitted peer reviews on."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.view)
    actor_id = actor_user_id(actor, Resource.review, Action.view)
    outcome = outcome_for(session, cycle_id, actor_id)
    if outcome is None:
        raise denied(Resource.review, Action.view)
    if outcome.status != OutcomeStatus.shared.value:
        raise ReviewError("Your results for this cycle have not been shared yet.")
    cycle = load_cycle(session, cycle_id, Action.view)
    reviews = list(
        session.scalars(
            select(Review).where(
                col(Review.cycle_id) == cycle_id,
                col(Review.reviewee_id) == actor_id,
                col(Review.status) == ReviewStatus.submitted.value,
            )
        )
    )
    by_kind: dict[str, list[Review]] = defaultdict(list)
    for r in reviews:
        by_kind[r.kind].append(r)

    def first(kind: ReviewKind) -> ReviewDetail | None:
        found = by_kind.get(kind.value)
        return review_detail(session, actor, found[0], cycle, editable=False) if found else None

    peer_reviews = by_kind.get(ReviewKind.peer.value, [])
    shown = len(peer_reviews) >= MIN_ANONYMOUS_PEERS
    peers, summaries = _peer_feedback(session, cycle, peer_reviews) if shown else ([], [])
    scale = cycle_scale(session, cycle)
    return MyResults(
        cycle_id=str(cycle.id),
        cycle_name=cycle.name,
        final_rating=num(outcome.final_rating),
        final_label=scale.label(num(outcome.final_rating)),
        self_review=first(ReviewKind.self_review),
        manager_review=first(ReviewKind.manager),
        peer_count=len(peer_reviews),
        peers_shown=shown,
        peer_message="" if shown else NOT_ENOUGH_PEERS,
        peers=peers,
        peer_summaries=summaries,
    )
