"""Peer reviewers: nominated for a participant by their manager or an admin while the cycle
is active (1-5 active colleagues, never the reviewee or their manager, never twice)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, Resource, may
from pms_dashboard.auth.resolve import IdKind, RawId, resolve_all
from pms_dashboard.reviews.common import actor_user_id, denied, load_cycle, outcome_for, resolve_id
from pms_dashboard.reviews.models import CycleStatus, Review, ReviewKind, ReviewOutcome
from pms_dashboard.reviews.schemas import (
    MAX_PAGE_SIZE,
    MAX_PEERS,
    PeerNomination,
    ReviewError,
    parse,
)
from pms_dashboard.tenancy.context import TenantContext

MAX_PEER_CANDIDATES = 200


def _nomination_subject(
    session: Session, actor: TenantContext, cycle_id: uuid.UUID, reviewee_id: uuid.UUID
) -> tuple[ReviewOutcome, User]:
    """The participant's outcome and person, if the actor may nominate peers for them: an
    admin, or the reviewee's manager (now, or as recorded when the cycle was launched).
    The ids are resolved already."""
    actor_id = actor_user_id(actor, Resource.review, Action.manage)
    outcome = outcome_for(session, cycle_id, reviewee_id)
    if outcome is None:
        raise denied(Resource.review, Action.manage, reviewee_id)
    reviewee = session.scalars(select(User).where(col(User.id) == reviewee_id)).first()
    if reviewee is None:
        raise denied(Resource.review, Action.manage, reviewee_id)
    is_admin = may(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    if not is_admin and actor_id not in {reviewee.manager_id, outcome.manager_id}:
        raise denied(Resource.review, Action.manage, reviewee_id)
    return outcome, reviewee


def nominate_peers(
    *,
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    reviewee_id: RawId,
    data: PeerNomination | dict[str, Any],
) -> list[str]:
    """Peer reviews for a participant, nominated by their manager or an admin (1-5 active
    colleagues, never the reviewee, never twice); returns the new reviews' ids."""
    manage = Action.manage
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, manage)
    reviewee_id = resolve_id(session, actor, IdKind.person, reviewee_id, manage)
    data = parse(PeerNomination, data)
    peer_ids = resolve_all(
        session=session, actor=actor, kind=IdKind.peer, raw=data.peer_ids, action=manage
    )
    if len(peer_ids) != len(data.peer_ids):
        raise ReviewError("peer ids: each peer can be nominated only once")
    outcome, _ = _nomination_subject(session, actor, cycle_id, reviewee_id)
    actor_id = actor.user_id
    cycle = load_cycle(session, cycle_id, Action.manage, lock=True)
    if cycle.status != CycleStatus.active.value:
        raise ReviewError("Peers can be nominated only while the cycle is active.")
    peers = {u.id: u for u in session.scalars(select(User).where(col(User.id).in_(peer_ids)))}
    existing = set(
        session.scalars(
            select(col(Review.reviewer_id)).where(
                col(Review.cycle_id) == cycle_id,
                col(Review.reviewee_id) == reviewee_id,
                col(Review.kind) == ReviewKind.peer.value,
            )
        )
    )
    for peer_id in peer_ids:
        peer = peers[peer_id]
        if peer_id == reviewee_id:
            raise ReviewError("Nobody can be their own peer reviewer.")
        if not peer.is_active:
            raise ReviewError(f"{peer.display_name} is not active.")
        if peer_id == outcome.manager_id:
            raise ReviewError(f"{peer.display_name} already writes the manager review.")
        if peer_id in existing:
            raise ReviewError(f"{peer.display_name} is already a peer reviewer.")
    if len(existing) + len(peer_ids) > MAX_PEERS:
        raise ReviewError(f"At most {MAX_PEERS} peers can review one person.")
    reviews = [
        Review(
            cycle_id=cycle_id,
            reviewee_id=reviewee_id,
            reviewer_id=peer_id,
            kind=ReviewKind.peer.value,
        )
        for peer_id in peer_ids
    ]
    session.add_all(reviews)
    session.flush()
    for review in reviews:
        audit.record(
            session=session,
            action="review.nominate_peer",
            actor_id=actor_id,
            entity_type="review",
            entity_id=review.id,
            detail={
                "after": {
                    "cycle_id": str(cycle_id),
                    "reviewee_id": str(reviewee_id),
                    "reviewer_id": str(review.reviewer_id),
                    "kind": review.kind,
                }
            },
        )
    return [str(r.id) for r in reviews]


def peer_candidates(
    *,
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    reviewee_id: RawId,
    limit: int = MAX_PEER_CANDIDATES,
) -> list[dict[str, str]]:
    """Whom the actor may pick as peer reviewers of a participant ([{id, name}], by name):
    the tenant's active people except the reviewee, their manager(s) and those already
    nominated; only for someone the actor may nominate for (the rule of `nominate_peers`),
    while the cycle is active."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    reviewee_id = resolve_id(session, actor, IdKind.person, reviewee_id, Action.manage)
    outcome, reviewee = _nomination_subject(session, actor, cycle_id, reviewee_id)
    cycle = load_cycle(session, cycle_id, Action.manage)
    if cycle.status != CycleStatus.active.value:
        raise ReviewError("Peers can be nominated only while the cycle is active.")
    excluded = {i for i in (reviewee_id, reviewee.manager_id, outcome.manager_id) if i}
    nominated = select(col(Review.reviewer_id)).where(
        col(Review.cycle_id) == cycle_id,
        col(Review.reviewee_id) == reviewee_id,
        col(Review.kind) == ReviewKind.peer.value,
    )
    rows = session.execute(
        select(col(User.id), col(User.display_name))
        .where(
            col(User.is_active),
            col(User.id).not_in(list(excluded)),
            col(User.id).not_in(nominated),
        )
        .order_by(func.lower(col(User.display_name)), col(User.id))
        .limit(max(1, min(limit, MAX_PEER_CANDIDATES)))
    ).all()
    return [{"id": str(i), "name": name} for i, name in rows]


def nomination_targets(
    *,
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    outcome_ids: list[RawId],
) -> dict[str, str]:
    """Of these outcomes of the cycle (a status page), those whose reviewee the actor may
    nominate peers for (the rule of `nominate_peers`, whatever the cycle's status), as
    outcome id -> reviewee id. To offer the action and find its reviewee: `peer_candidates`
    and `nominate_peers` check everything again."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    outcome_ids = list(
        resolve_all(
            session=session, actor=actor, kind=IdKind.outcome, raw=outcome_ids[:MAX_PAGE_SIZE],
            action=Action.manage,
        )
    )  # fmt: skip
    if actor.user_id is None or not outcome_ids:
        return {}
    reviewee = aliased(User)
    query = (
        select(col(ReviewOutcome.id), col(ReviewOutcome.reviewee_id))
        .join(reviewee, col(reviewee.id) == col(ReviewOutcome.reviewee_id))
        .where(
            col(ReviewOutcome.cycle_id) == cycle_id,
            col(ReviewOutcome.id).in_(outcome_ids),
        )
    )
    if not may(session=session, actor=actor, resource=Resource.cycle, action=Action.manage):
        query = query.where(
            or_(
                col(ReviewOutcome.manager_id) == actor.user_id,
                col(reviewee.manager_id) == actor.user_id,
            )
        )
    return {str(o): str(r) for o, r in session.execute(query).all()}
