"""A cycle's status page (funnel, rating distribution, nine-box) and calibration: moving a
final rating or potential with a reason kept in the history, then sharing the results.

Calibration is never of oneself: admins see and adjust everyone else, managers their reports
subtree (`visible_outcomes`, which the exports in `reporting` use too).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, Resource, require, visible_user_ids
from pms_dashboard.auth.resolve import IdKind, RawId
from pms_dashboard.keys import access as keys
from pms_dashboard.organisation.schemas import RatingScale
from pms_dashboard.paging import Page, page_count
from pms_dashboard.reviews import status
from pms_dashboard.reviews.common import (
    actor_user_id,
    check_score,
    cycle_scale,
    iso,
    load_cycle,
    names_of,
    num,
    resolve_id,
)
from pms_dashboard.reviews.models import (
    CalibrationChange,
    CycleStatus,
    OutcomeStatus,
    Review,
    ReviewCycle,
    ReviewKind,
    ReviewOutcome,
    ReviewStatus,
)
from pms_dashboard.reviews.results import MIN_ANONYMOUS_PEERS
from pms_dashboard.reviews.schemas import (
    CalibrationAdjust,
    CalibrationChangeRow,
    CycleStatusView,
    NineBox,
    NineBoxCell,
    ReviewError,
    ScoreLine,
    StatusQuery,
    StatusRow,
    parse,
)
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import utcnow

PERFORMANCE_BUCKETS = ("low", "mid", "high")
NINEBOX_NAMES_PER_CELL = 30


def visible_outcomes(
    actor: TenantContext, cycle_id: uuid.UUID, actor_id: uuid.UUID
) -> list[ColumnElement[bool]]:
    """Outcomes of the cycle about people the actor may see in calibration: admins all,
    others their reports subtree; never the actor's own (calibration is never of oneself)."""
    conditions: list[ColumnElement[bool]] = [
        col(ReviewOutcome.cycle_id) == cycle_id,
        col(ReviewOutcome.reviewee_id) != actor_id,
    ]
    visible = visible_user_ids(actor)
    if visible is not None:
        conditions.append(col(ReviewOutcome.reviewee_id).in_(visible))
    return conditions


def performance_expr() -> ColumnElement[Any]:
    """The rating in force: the calibrated one, else the manager review's score."""
    return func.coalesce(col(ReviewOutcome.final_rating), col(ReviewOutcome.computed_score))


NOT_RATED_LABEL = "Not rated"


def _tallies(
    session: Session, conditions: list[ColumnElement[bool]], scale: RatingScale
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Over the visible outcomes, in one pass: the funnel (how many stand at each status, in
    order) and the distribution (how many carry each label of the scale, the rating in force
    rounded, then those not rated yet if any)."""
    rounded = func.round(performance_expr())
    statuses: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for at, value, n in session.execute(
        select(col(ReviewOutcome.status), rounded, func.count())
        .where(*conditions)
        .group_by(col(ReviewOutcome.status), rounded)
    ).all():
        statuses[at] += int(n)
        labels[scale.label(float(value)) if value is not None else NOT_RATED_LABEL] += int(n)
    funnel = [(s.value, statuses.get(s.value, 0)) for s in OutcomeStatus]
    distribution = [(scale.labels[s], labels.get(scale.labels[s], 0)) for s in scale.scores]
    if labels.get(NOT_RATED_LABEL):
        distribution.append((NOT_RATED_LABEL, labels[NOT_RATED_LABEL]))
    return funnel, distribution


def _status_page(
    session: Session,
    conditions: list[ColumnElement[bool]],
    scale: RatingScale,
    q: StatusQuery,
    total: int,
) -> Page:
    """One page of the visible outcomes, by reviewee name."""
    reviewee = aliased(User)
    manager = aliased(User)
    page = min(q.page, page_count(total, q.page_size))
    rows = session.execute(
        select(ReviewOutcome, col(reviewee.display_name), col(manager.display_name))
        .join(reviewee, col(reviewee.id) == col(ReviewOutcome.reviewee_id))
        .outerjoin(manager, col(manager.id) == col(ReviewOutcome.manager_id))
        .where(*conditions)
        .order_by(col(reviewee.display_name), col(ReviewOutcome.id))
        .limit(q.page_size)
        .offset((page - 1) * q.page_size)
    ).all()
    return Page(
        rows=[
            StatusRow(
                outcome_id=str(o.id),
                reviewee_name=name,
                manager_name=manager_name or "",
                status=o.status,
                computed_score=num(o.computed_score),
                final_rating=num(o.final_rating),
                final_label=scale.label(num(o.final_rating)),
                potential=o.potential,
            )
            for o, name, manager_name in rows
        ],
        total=total,
        page=page,
        page_size=q.page_size,
    )


def status_scope(
    session: Session, actor: TenantContext, cycle_id: RawId
) -> tuple[ReviewCycle, list[ColumnElement[bool]]]:
    """The cycle and the conditions on `ReviewOutcome` for the people the actor may see in
    it, after the status page's checks in their order: the id is the tenant's, the actor is
    a person who may view cycles, and the cycle may be opened."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.view)
    actor_id = actor_user_id(actor, Resource.calibration, Action.view)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    cycle = load_cycle(session, cycle_id, Action.view)
    return cycle, visible_outcomes(actor, cycle_id, actor_id)


def cycle_status(
    *,
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    query: StatusQuery | dict[str, Any] | None = None,
) -> CycleStatusView:
    """One page of per-reviewee rows the actor may see, with the status funnel and the
    rating distribution over all of them (counted in SQL)."""
    cycle, conditions = status_scope(session, actor, cycle_id)
    q = parse(StatusQuery, query or {})
    scale = cycle_scale(session, cycle)
    funnel, distribution = _tallies(session, conditions, scale)
    return CycleStatusView(
        page=_status_page(session, conditions, scale, q, sum(n for _, n in funnel)),
        funnel=funnel,
        distribution=distribution,
    )


def cycle_tallies(
    *, session: Session, actor: TenantContext, cycle_id: RawId
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """`cycle_status`'s funnel and rating distribution alone, after the same checks (the
    overview's charts: no page of rows to read)."""
    cycle, conditions = status_scope(session, actor, cycle_id)
    return _tallies(session, conditions, cycle_scale(session, cycle))


def performance_bucket(scale: RatingScale, score: Decimal | float | None) -> str | None:
    """low / mid / high by thirds of the scale (None when unrated)."""
    if score is None:
        return None
    span = Decimal(scale.high - scale.low)
    position = (Decimal(str(score)) - scale.low) * 3
    if position < span:
        return "low"
    if position < 2 * span:
        return "mid"
    return "high"


def ninebox(*, session: Session, actor: TenantContext, cycle_id: RawId) -> NineBox:
    """Nine-box grid of the visible people: performance (final rating, else computed score)
    by thirds of the scale against potential 1-3, with counts and names per box."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.view)
    actor_id = actor_user_id(actor, Resource.calibration, Action.view)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    scale = cycle_scale(session, load_cycle(session, cycle_id, Action.view))
    reviewee = aliased(User)
    rows = session.execute(
        select(
            col(ReviewOutcome.id),
            col(reviewee.display_name),
            performance_expr(),
            col(ReviewOutcome.potential),
        )
        .join(reviewee, col(reviewee.id) == col(ReviewOutcome.reviewee_id))
        .where(*visible_outcomes(actor, cycle_id, actor_id))
        .order_by(col(reviewee.display_name), col(ReviewOutcome.id))
    ).all()
    counts: Counter[tuple[str, int]] = Counter()
    people: dict[tuple[str, int], list[dict[str, str]]] = defaultdict(list)
    unplaced = 0
    for outcome_id, name, performance, potential in rows:
        bucket = performance_bucket(scale, performance)
        if bucket is None or potential is None:
            unplaced += 1
            continue
        key = (bucket, int(potential))
        counts[key] += 1
        if len(people[key]) < NINEBOX_NAMES_PER_CELL:
            people[key].append({"outcome_id": str(outcome_id), "name": name})
    cells = [
        NineBoxCell(performance=b, potential=p, count=counts[(b, p)], people=people[(b, p)])
        for p in (3, 2, 1)
        for b in PERFORMANCE_BUCKETS
    ]
    return NineBox(cells=cells, unplaced=unplaced)


def _outcome_by_id(
    session: Session, actor: TenantContext, outcome_id: RawId, action: Action, *, lock: bool
) -> ReviewOutcome:
    """The outcome the caller named (resolved in the tenant first)."""
    oid = resolve_id(session, actor, IdKind.outcome, outcome_id, action)
    query = select(ReviewOutcome).where(col(ReviewOutcome.id) == oid)
    return session.scalars(query.with_for_update() if lock else query).one()


def _calibration_change(
    outcome: ReviewOutcome, actor_id: uuid.UUID, data: CalibrationAdjust
) -> CalibrationChange:
    """The history row of a calibration move, refused when it would change nothing."""
    # The rating in force is the calibrated one, else the manager review's score: calibrating
    # only the potential confirms that score as the final rating.
    old_rating = (
        outcome.final_rating if outcome.final_rating is not None else outcome.computed_score
    )
    old_potential = outcome.potential
    new_rating = Decimal(data.final_rating) if data.final_rating is not None else old_rating
    new_potential = data.potential if data.potential is not None else old_potential
    unchanged = new_rating == old_rating and new_potential == old_potential
    if unchanged and (outcome.status == OutcomeStatus.calibrated.value or new_rating is None):
        # (confirming an uncalibrated score as it stands is a calibration decision too)
        raise ReviewError("Nothing to change: choose a different rating or potential.")
    return CalibrationChange(
        outcome_id=outcome.id,
        actor_id=actor_id,
        old_rating=old_rating,
        new_rating=new_rating,
        old_potential=old_potential,
        new_potential=new_potential,
        reason=data.reason,
    )


def adjust_calibration(
    *,
    session: Session,
    actor: TenantContext,
    outcome_id: RawId,
    change: CalibrationAdjust | dict[str, Any],
) -> CalibrationChangeRow:
    """Move a final rating and/or potential during calibration, with a reason kept in the
    history; never one's own, only the reviewee's managers (transitively) and admins."""
    outcome = _outcome_by_id(session, actor, outcome_id, Action.adjust, lock=True)
    actor_id = actor_user_id(actor, Resource.calibration, Action.adjust)
    require(
        session=session,
        actor=actor,
        resource=Resource.calibration,
        action=Action.adjust,
        subject_id=outcome.reviewee_id,
    )
    data = parse(CalibrationAdjust, change)
    cycle = load_cycle(session, outcome.cycle_id, Action.adjust)
    if cycle.status != CycleStatus.calibration.value:
        raise ReviewError("Ratings can be adjusted only while the cycle is in calibration.")
    status.check(outcome, status.CALIBRATE)
    if data.final_rating is not None:
        check_score(cycle_scale(session, cycle), data.final_rating)
    history = _calibration_change(outcome, actor_id, data)
    session.add(history)
    before = {
        "final_rating": num(history.old_rating),
        "potential": history.old_potential,
        "status": outcome.status,
    }
    outcome.final_rating = history.new_rating
    outcome.potential = history.new_potential
    status.move(outcome, status.CALIBRATE)
    outcome.updated_at = utcnow()
    session.flush()
    audit.record(
        session=session,
        action="calibration.adjust",
        actor_id=actor_id,
        entity_type="review_outcome",
        entity_id=outcome.id,
        detail={
            "before": before,
            "after": {
                "final_rating": num(history.new_rating),
                "potential": history.new_potential,
                "status": outcome.status,
            },
            "reason": keys.for_audit(session, tenant_id=actor.tenant_id, plaintext=data.reason),
            "change_id": str(history.id),
        },
    )
    return _change_row(history, names_of(session, {actor_id}))


def _change_row(change: CalibrationChange, names: dict[uuid.UUID, str]) -> CalibrationChangeRow:
    return CalibrationChangeRow(
        actor_name=names.get(change.actor_id, ""),
        old_rating=num(change.old_rating),
        new_rating=num(change.new_rating),
        old_potential=change.old_potential,
        new_potential=change.new_potential,
        reason=change.reason,
        created_at=change.created_at,
    )


def _calibration_view(session: Session, actor: TenantContext, outcome_id: RawId) -> ReviewOutcome:
    """The outcome, if the actor may see its calibration (resolved in the tenant first)."""
    outcome = _outcome_by_id(session, actor, outcome_id, Action.view, lock=False)
    require(
        session=session,
        actor=actor,
        resource=Resource.calibration,
        action=Action.view,
        subject_id=outcome.reviewee_id,
    )
    return outcome


def calibration_scores(
    *, session: Session, actor: TenantContext, outcome_id: RawId
) -> list[ScoreLine]:
    """What the calibrator decides on: the submitted self and manager review scores and the
    peers' mean, each with its name on the scale, and the weighted score computed so far."""
    return _scores(session, _calibration_view(session, actor, outcome_id))


def calibration_dialog(
    *, session: Session, actor: TenantContext, outcome_id: RawId
) -> tuple[list[CalibrationChangeRow], list[ScoreLine]]:
    """The calibration dialog's history and scores, from one look-up of the outcome."""
    outcome = _calibration_view(session, actor, outcome_id)
    return _history(session, outcome), _scores(session, outcome)


def _scores(session: Session, outcome: ReviewOutcome) -> list[ScoreLine]:
    scale = cycle_scale(session, load_cycle(session, outcome.cycle_id, Action.view))
    reviews = session.execute(
        select(col(Review.kind), col(Review.score)).where(
            col(Review.cycle_id) == outcome.cycle_id,
            col(Review.reviewee_id) == outcome.reviewee_id,
            col(Review.status) == ReviewStatus.submitted.value,
            col(Review.score).is_not(None),
        )
    ).all()
    lines: list[ScoreLine] = []
    for kind, label in (
        (ReviewKind.self_review, "Self review"),
        (ReviewKind.manager, "Manager review"),
    ):
        scores = [num(score) for k, score in reviews if k == kind.value]
        if scores:
            lines.append(ScoreLine(label, scores[0], scale.label(scores[0])))
    peers = [
        float(score) for k, score in reviews if k == ReviewKind.peer.value and score is not None
    ]
    if len(peers) >= MIN_ANONYMOUS_PEERS:
        mean = round(sum(peers) / len(peers), 2)
        lines.append(ScoreLine(f"Peers ({len(peers)}, mean)", mean, scale.label(mean)))
    computed = num(outcome.computed_score)
    if computed is not None:
        lines.append(ScoreLine("Computed", computed, scale.label(computed)))
    return lines


def calibration_history(
    *, session: Session, actor: TenantContext, outcome_id: RawId
) -> list[CalibrationChangeRow]:
    """Every calibration move of one outcome, oldest first (who, from what, to what, why)."""
    return _history(session, _calibration_view(session, actor, outcome_id))


def _history(session: Session, outcome: ReviewOutcome) -> list[CalibrationChangeRow]:
    changes = list(
        session.scalars(
            select(CalibrationChange)
            .where(col(CalibrationChange.outcome_id) == outcome.id)
            .order_by(col(CalibrationChange.created_at), col(CalibrationChange.id))
        )
    )
    names = names_of(session, {c.actor_id for c in changes})
    return [_change_row(c, names) for c in changes]


def share_results(*, session: Session, actor: TenantContext, cycle_id: RawId) -> int:
    """Share every calibrated outcome of the cycle with its reviewee (HR and tenant admins,
    during calibration or after close); returns how many were shared."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = load_cycle(session, cycle_id, Action.manage, lock=True)
    if cycle.status not in (CycleStatus.calibration.value, CycleStatus.closed.value):
        raise ReviewError("Results can be shared only during calibration or after closing.")
    outcomes = list(
        session.scalars(
            select(ReviewOutcome)
            .where(
                col(ReviewOutcome.cycle_id) == cycle.id,
                col(ReviewOutcome.status) == OutcomeStatus.calibrated.value,
            )
            .with_for_update()
        )
    )
    if not outcomes:
        raise ReviewError("There are no calibrated results to share.")
    now = utcnow()
    for outcome in outcomes:
        status.move(outcome, status.SHARE)
        outcome.shared_at = now
        outcome.updated_at = now
    session.flush()
    audit.record(
        session=session,
        action="review_cycle.share",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={
            "before": {"status": OutcomeStatus.calibrated.value},
            "after": {"status": OutcomeStatus.shared.value, "shared_at": iso(now)},
            "outcomes": [str(o.id) for o in outcomes],
        },
    )
    return len(outcomes)
