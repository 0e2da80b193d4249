"""Review templates, cycles, writing reviews, calibration and sharing results.

Every function takes the caller's tenant session and the actor (`TenantContext`), checks
permission here (never in the page), validates input into a `ReviewError` with a message
safe to show, writes an audit event in the same transaction, and never commits.

Refusals are deliberately uniform: every id a caller names is resolved first, before any
permission check (`auth.resolve`): one that is malformed, unknown or another tenant's is
refused as not found in this organisation, whoever asks; one of the tenant's that is not
the actor's to touch raises `PermissionDenied`. State problems the actor can see anyway
("already launched") are `ReviewError`s. Permission is always checked before state, so a
refusal reveals nothing about the state.

Audit details keep the before/after of every changed field; for free text (summaries,
comments) they keep the length instead of the words: the audit trail is append-only and
must not become a second, unerasable copy of what people wrote about each other.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.permissions import (
    Action,
    PermissionDenied,
    Resource,
    may,
    require,
    visible_user_ids,
)
from pms_dashboard.auth.resolve import (
    IdKind,
    RawId,
    resolve,
    resolve_all,
    resolve_emails,
    resolve_name,
)
from pms_dashboard.paging import Page, page_count
from pms_dashboard.people.models import User
from pms_dashboard.reviews.models import (
    CalibrationChange,
    CycleStatus,
    OutcomeStatus,
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewKind,
    ReviewOutcome,
    ReviewRating,
    ReviewStatus,
    ReviewTemplate,
)
from pms_dashboard.reviews.schemas import (
    MAX_PAGE_SIZE,
    MAX_PEERS,
    CalibrationAdjust,
    CalibrationChangeRow,
    CriterionRow,
    CycleCreate,
    CycleRow,
    CycleStatusView,
    LaunchResult,
    MyResults,
    MyReviewRow,
    NineBox,
    NineBoxCell,
    PeerCriterion,
    PeerNomination,
    RatingRow,
    ReviewDetail,
    ReviewDraft,
    ReviewError,
    SharedCycleRow,
    StatusQuery,
    StatusRow,
    TemplateCreate,
    TemplateRow,
    parse,
)
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.customization import RatingScale, get_customization
from pms_dashboard.tenancy.models import utcnow

PERFORMANCE_BUCKETS = ("low", "mid", "high")
NINEBOX_NAMES_PER_CELL = 30
NOT_ENOUGH_PEERS = "Not enough peer responses to keep them anonymous."
MIN_ANONYMOUS_PEERS = 2
_CENT = Decimal("0.01")


# ------------------------------------------------------------------------------ helpers


def _denied(
    resource: Resource, action: Action, target_id: uuid.UUID | None = None
) -> PermissionDenied:
    return PermissionDenied(resource, action, target_id=target_id)


def _id(
    session: Session, actor: TenantContext, kind: IdKind, raw: RawId, action: Action
) -> uuid.UUID:
    """One id the caller named, resolved in the tenant (else refused as not found)."""
    return resolve(session=session, actor=actor, kind=kind, raw=raw, action=action)


def _actor_id(actor: TenantContext, resource: Resource, action: Action) -> uuid.UUID:
    if actor.user_id is None:
        raise _denied(resource, action)
    return actor.user_id


def _iso(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _num(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _scale(session: Session) -> RatingScale:
    return get_customization(session=session).rating_scale


def _check_score(scale: RatingScale, score: int) -> None:
    if not scale.low <= score <= scale.high:
        raise ReviewError(f"Scores are whole numbers from {scale.low} to {scale.high}.")


def _cycle(
    session: Session, cycle_id: uuid.UUID, action: Action, *, lock: bool = False
) -> ReviewCycle:
    query = select(ReviewCycle).where(col(ReviewCycle.id) == cycle_id)
    cycle = session.scalars(query.with_for_update() if lock else query).first()
    if cycle is None:
        raise _denied(Resource.cycle, action, cycle_id)
    return cycle


def _criteria(session: Session, template_id: uuid.UUID) -> list[ReviewCriterion]:
    return list(
        session.scalars(
            select(ReviewCriterion)
            .where(col(ReviewCriterion.template_id) == template_id)
            .order_by(col(ReviewCriterion.position), col(ReviewCriterion.name))
        )
    )


def _names(session: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(col(User.id), col(User.display_name)).where(col(User.id).in_(wanted))
    ).all()
    return {i: n for i, n in rows}


def _outcome_for(
    session: Session, cycle_id: uuid.UUID, reviewee_id: uuid.UUID, *, lock: bool = False
) -> ReviewOutcome | None:
    query = select(ReviewOutcome).where(
        col(ReviewOutcome.cycle_id) == cycle_id, col(ReviewOutcome.reviewee_id) == reviewee_id
    )
    return session.scalars(query.with_for_update() if lock else query).first()


def weighted_score(scores: list[tuple[int, Decimal]]) -> Decimal:
    """Weighted mean of (score, weight) pairs, to two decimals, half up."""
    total_weight = sum((w for _, w in scores), Decimal(0))
    if not scores or total_weight <= 0:
        raise ReviewError("Nothing to score.")
    total = sum((Decimal(s) * w for s, w in scores), Decimal(0))
    return (total / total_weight).quantize(_CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------- templates


def create_template(
    *, session: Session, actor: TenantContext, data: TemplateCreate | dict[str, Any]
) -> TemplateRow:
    """A new review template with its weighted criteria (HR and tenant admins)."""
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    data = parse(TemplateCreate, data)
    taken = session.scalar(
        select(col(ReviewTemplate.id)).where(
            func.lower(col(ReviewTemplate.name)) == data.name.lower()
        )
    )
    if taken is not None:
        raise ReviewError("A template with this name already exists.")
    template = ReviewTemplate(name=data.name, description=data.description)
    session.add(template)
    session.flush()
    criteria = [
        ReviewCriterion(
            template_id=template.id,
            name=c.name,
            description=c.description,
            weight=c.weight,
            position=i,
        )
        for i, c in enumerate(data.criteria)
    ]
    session.add_all(criteria)
    session.flush()
    audit.record(
        session=session,
        action="review_template.create",
        actor_id=actor.user_id,
        entity_type="review_template",
        entity_id=template.id,
        detail={
            "after": {
                "name": data.name,
                "criteria": [{"name": c.name, "weight": str(c.weight)} for c in criteria],
            }
        },
    )
    return _template_row(template, criteria)


def _template_row(template: ReviewTemplate, criteria: list[ReviewCriterion]) -> TemplateRow:
    return TemplateRow(
        id=str(template.id),
        name=template.name,
        description=template.description,
        criteria=[
            CriterionRow(
                id=str(c.id),
                name=c.name,
                description=c.description,
                weight=float(c.weight),
                position=c.position,
            )
            for c in criteria
        ],
    )


def list_templates(*, session: Session, actor: TenantContext) -> list[TemplateRow]:
    """Every template of the tenant with its criteria (HR and tenant admins)."""
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    templates = list(session.scalars(select(ReviewTemplate).order_by(col(ReviewTemplate.name))))
    by_template: dict[uuid.UUID, list[ReviewCriterion]] = defaultdict(list)
    if templates:
        for c in session.scalars(
            select(ReviewCriterion)
            .where(col(ReviewCriterion.template_id).in_([t.id for t in templates]))
            .order_by(col(ReviewCriterion.position), col(ReviewCriterion.name))
        ):
            by_template[c.template_id].append(c)
    return [_template_row(t, by_template[t.id]) for t in templates]


# ------------------------------------------------------------------------------- cycles


def create_cycle(
    *, session: Session, actor: TenantContext, data: CycleCreate | dict[str, Any]
) -> CycleRow:
    """A draft cycle on a template, with its period, deadlines and participants filter
    (departments and teams some person of the tenant has, managers by id or email)."""
    data = parse(CycleCreate, data)
    manage, who = Action.manage, data.participants
    template_id = _id(session, actor, IdKind.template, data.template_id, manage)
    kw: dict[str, Any] = {"session": session, "actor": actor, "action": manage}
    managers = resolve_all(kind=IdKind.manager, raw=who.managers, **kw)
    managers = list(dict.fromkeys([*managers, *resolve_emails(raw=who.manager_emails, **kw)]))
    for kind, names in ((IdKind.department, who.departments), (IdKind.team, who.teams)):
        for name in names:
            resolve_name(kind=kind, raw=name, **kw)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    template = session.scalars(
        select(ReviewTemplate).where(col(ReviewTemplate.id) == template_id)
    ).one()
    taken = session.scalar(
        select(col(ReviewCycle.id)).where(func.lower(col(ReviewCycle.name)) == data.name.lower())
    )
    if taken is not None:
        raise ReviewError("A cycle with this name already exists.")
    cycle = ReviewCycle(
        name=data.name,
        template_id=template.id,
        period_start=data.period_start,
        period_end=data.period_end,
        self_review_due=data.self_review_due,
        manager_review_due=data.manager_review_due,
        participants={
            **data.participants.as_json(),
            "managers": [str(m) for m in managers],
        },
    )
    session.add(cycle)
    session.flush()
    audit.record(
        session=session,
        action="review_cycle.create",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={
            "after": {
                "name": cycle.name,
                "template_id": str(template.id),
                "period_start": _iso(cycle.period_start),
                "period_end": _iso(cycle.period_end),
                "self_review_due": _iso(cycle.self_review_due),
                "manager_review_due": _iso(cycle.manager_review_due),
                "participants": cycle.participants,
                "status": cycle.status,
            }
        },
    )
    return _cycle_row(cycle, template.name, _names(session, set(managers)))


def _participants_summary(participants: dict[str, Any], names: dict[uuid.UUID, str]) -> str:
    parts: list[str] = []
    if participants.get("departments"):
        parts.append("Departments: " + ", ".join(participants["departments"]))
    if participants.get("teams"):
        parts.append("Teams: " + ", ".join(participants["teams"]))
    if participants.get("managers"):
        people = []
        for m in participants["managers"]:
            try:
                people.append(names.get(uuid.UUID(str(m)), "(former manager)"))
            except ValueError:
                continue
        parts.append("Organisations of: " + ", ".join(people))
    return "; ".join(parts) or "Everyone"


def _cycle_row(cycle: ReviewCycle, template_name: str, names: dict[uuid.UUID, str]) -> CycleRow:
    return CycleRow(
        id=str(cycle.id),
        name=cycle.name,
        template_name=template_name,
        period_start=_iso(cycle.period_start),
        period_end=_iso(cycle.period_end),
        self_review_due=_iso(cycle.self_review_due),
        manager_review_due=_iso(cycle.manager_review_due),
        status=cycle.status,
        launched_at=_iso(cycle.launched_at),
        participants=_participants_summary(cycle.participants or {}, names),
    )


def _manager_ids_of(participants: dict[str, Any]) -> set[uuid.UUID]:
    out: set[uuid.UUID] = set()
    for m in participants.get("managers") or []:
        try:
            out.add(uuid.UUID(str(m)))
        except ValueError:
            continue
    return out


def list_cycles(*, session: Session, actor: TenantContext, limit: int = 200) -> list[CycleRow]:
    """The tenant's cycles, newest period first (everyone may see that a cycle exists)."""
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    rows = session.execute(
        select(ReviewCycle, col(ReviewTemplate.name))
        .join(ReviewTemplate, col(ReviewTemplate.id) == col(ReviewCycle.template_id))
        .order_by(
            col(ReviewCycle.period_start).desc(),
            col(ReviewCycle.created_at).desc(),
            col(ReviewCycle.id),
        )
        .limit(min(max(limit, 1), 500))
    ).all()
    managers: set[uuid.UUID | None] = set()
    for cycle, _ in rows:
        managers |= _manager_ids_of(cycle.participants or {})
    names = _names(session, managers)
    return [_cycle_row(cycle, template_name, names) for cycle, template_name in rows]


def get_cycle(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleRow:
    """One cycle, for its detail page."""
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.view)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    cycle = _cycle(session, cycle_id, Action.view)
    template_name = session.scalar(
        select(col(ReviewTemplate.name)).where(col(ReviewTemplate.id) == cycle.template_id)
    )
    names = _names(session, set(_manager_ids_of(cycle.participants or {})))
    return _cycle_row(cycle, template_name or "", names)


def _participant_query(participants: dict[str, Any]) -> Select[Any]:
    """Active people matching the filter: in a department, in a team, or below a manager."""
    query = select(User).where(col(User.is_active))
    conditions: list[ColumnElement[bool]] = []
    if participants.get("departments"):
        conditions.append(col(User.department).in_(participants["departments"]))
    if participants.get("teams"):
        conditions.append(col(User.team).in_(participants["teams"]))
    managers = _manager_ids_of(participants)
    if managers:
        tree = (
            select(col(User.id))
            .where(col(User.manager_id).in_(managers))
            .cte("participant_tree", recursive=True)
        )
        tree = tree.union(select(col(User.id)).join(tree, col(User.manager_id) == tree.c.id))
        conditions.append(col(User.id).in_(select(tree.c.id)))
    if conditions:
        query = query.where(or_(*conditions))
    elif participants.get("managers"):  # only unreadable ids: match nobody, not everybody
        query = query.where(col(User.id).is_(None))
    return query.order_by(col(User.display_name), col(User.id))


def launch_cycle(*, session: Session, actor: TenantContext, cycle_id: RawId) -> LaunchResult:
    """Draft -> active: a self review per participant, a manager review by their current
    (active) manager if they have one, and an outcome with that manager as a snapshot."""
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = _cycle(session, cycle_id, Action.manage, lock=True)
    if cycle.status != CycleStatus.draft.value:
        raise ReviewError("This cycle has already been launched.")
    if not _criteria(session, cycle.template_id):
        raise ReviewError("The cycle's template has no criteria.")
    people = list(session.scalars(_participant_query(cycle.participants or {})))
    if not people:
        raise ReviewError("No active people match this cycle's participants.")
    manager_ids = {p.manager_id for p in people if p.manager_id is not None}
    active_managers = (
        set(
            session.scalars(
                select(col(User.id)).where(col(User.id).in_(manager_ids), col(User.is_active))
            )
        )
        if manager_ids
        else set()
    )
    reviews: list[Review] = []
    outcomes: list[ReviewOutcome] = []
    for person in people:
        manager_id = person.manager_id if person.manager_id in active_managers else None
        reviews.append(
            Review(
                cycle_id=cycle.id,
                reviewee_id=person.id,
                reviewer_id=person.id,
                kind=ReviewKind.self_review.value,
            )
        )
        if manager_id is not None:
            reviews.append(
                Review(
                    cycle_id=cycle.id,
                    reviewee_id=person.id,
                    reviewer_id=manager_id,
                    kind=ReviewKind.manager.value,
                )
            )
        outcomes.append(
            ReviewOutcome(cycle_id=cycle.id, reviewee_id=person.id, manager_id=manager_id)
        )
    session.add_all(reviews)
    session.add_all(outcomes)
    before = cycle.status
    cycle.status = CycleStatus.active.value
    cycle.launched_at = utcnow()
    session.flush()
    audit.record(
        session=session,
        action="review_cycle.launch",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={
            "before": {"status": before},
            "after": {"status": cycle.status, "launched_at": _iso(cycle.launched_at)},
            "participants": len(people),
            "reviews": len(reviews),
        },
    )
    return LaunchResult(participants=len(people), reviews=len(reviews))


def _move_cycle(
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    *,
    allowed_from: tuple[CycleStatus, ...],
    to: CycleStatus,
    refusal: str,
) -> CycleRow:
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = _cycle(session, cycle_id, Action.manage, lock=True)
    if cycle.status not in {s.value for s in allowed_from}:
        raise ReviewError(refusal)
    before = cycle.status
    cycle.status = to.value
    session.flush()
    audit.record(
        session=session,
        action=f"review_cycle.{to.value}",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={"before": {"status": before}, "after": {"status": cycle.status}},
    )
    return get_cycle(session=session, actor=actor, cycle_id=cycle.id)


def start_calibration(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleRow:
    """Active -> calibration: reviews can no longer be written; ratings can be adjusted."""
    return _move_cycle(
        session,
        actor,
        cycle_id,
        allowed_from=(CycleStatus.active,),
        to=CycleStatus.calibration,
        refusal="Only an active cycle can move to calibration.",
    )


def close_cycle(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleRow:
    """Calibration -> closed: nothing changes any more except sharing results."""
    return _move_cycle(
        session,
        actor,
        cycle_id,
        allowed_from=(CycleStatus.calibration,),
        to=CycleStatus.closed,
        refusal="Only a cycle in calibration can be closed.",
    )


# ----------------------------------------------------------------------------- peers


def _nomination_subject(
    session: Session, actor: TenantContext, cycle_id: uuid.UUID, reviewee_id: uuid.UUID
) -> tuple[ReviewOutcome, User]:
    """The participant's outcome and person, if the actor may nominate peers for them: an
    admin, or the reviewee's manager (now, or as recorded when the cycle was launched).
    The ids are resolved already."""
    actor_id = _actor_id(actor, Resource.review, Action.manage)
    outcome = _outcome_for(session, cycle_id, reviewee_id)
    if outcome is None:
        raise _denied(Resource.review, Action.manage, reviewee_id)
    reviewee = session.scalars(select(User).where(col(User.id) == reviewee_id)).first()
    if reviewee is None:
        raise _denied(Resource.review, Action.manage, reviewee_id)
    is_admin = may(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    if not is_admin and actor_id not in {reviewee.manager_id, outcome.manager_id}:
        raise _denied(Resource.review, Action.manage, reviewee_id)
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
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, manage)
    reviewee_id = _id(session, actor, IdKind.person, reviewee_id, manage)
    data = parse(PeerNomination, data)
    peer_ids = resolve_all(
        session=session, actor=actor, kind=IdKind.peer, raw=data.peer_ids, action=manage
    )
    if len(peer_ids) != len(data.peer_ids):
        raise ReviewError("peer ids: each peer can be nominated only once")
    outcome, _ = _nomination_subject(session, actor, cycle_id, reviewee_id)
    actor_id = actor.user_id
    cycle = _cycle(session, cycle_id, Action.manage, lock=True)
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


MAX_PEER_CANDIDATES = 200


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
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    reviewee_id = _id(session, actor, IdKind.person, reviewee_id, Action.manage)
    outcome, reviewee = _nomination_subject(session, actor, cycle_id, reviewee_id)
    cycle = _cycle(session, cycle_id, Action.manage)
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
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.manage)
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


# ------------------------------------------------------------------- writing a review


def list_my_reviews(*, session: Session, actor: TenantContext) -> list[MyReviewRow]:
    """The reviews the actor writes, open cycles first, by due date."""
    actor_id = _actor_id(actor, Resource.review, Action.write)
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
                due=_iso(due),
            )
        )
    return out


def _detail(
    session: Session, review: Review, cycle: ReviewCycle, *, editable: bool
) -> ReviewDetail:
    criteria = _criteria(session, cycle.template_id)
    ratings = {
        r.criterion_id: r
        for r in session.scalars(
            select(ReviewRating).where(col(ReviewRating.review_id) == review.id)
        )
    }
    names = _names(session, {review.reviewee_id, review.reviewer_id})
    return ReviewDetail(
        id=str(review.id),
        cycle_name=cycle.name,
        reviewee_name=names.get(review.reviewee_id, ""),
        reviewer_name=names.get(review.reviewer_id, ""),
        kind=review.kind,
        status=review.status,
        summary=review.summary,
        score=_num(review.score),
        editable=editable,
        ratings=[
            RatingRow(
                criterion_id=str(c.id),
                name=c.name,
                description=c.description,
                weight=float(c.weight),
                score=int(r.score) if (r := ratings.get(c.id)) and r.score is not None else None,
                comment=r.comment if r else "",
            )
            for c in criteria
        ],
    )


def get_review(*, session: Session, actor: TenantContext, review_id: RawId) -> ReviewDetail:
    """One review: editable for its reviewer while open; read-only for the reviewee's
    managers and admins (never a peer review, and never to the reviewee: they see their
    results only once shared)."""
    review_id = _id(session, actor, IdKind.review, review_id, Action.view)
    actor_id = _actor_id(actor, Resource.review, Action.view)
    review = session.scalars(select(Review).where(col(Review.id) == review_id)).one()
    cycle = _cycle(session, review.cycle_id, Action.view)
    if review.reviewer_id == actor_id:
        editable = (
            cycle.status == CycleStatus.active.value
            and review.status != ReviewStatus.submitted.value
        )
        return _detail(session, review, cycle, editable=editable)
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
        raise _denied(Resource.review, Action.view)
    return _detail(session, review, cycle, editable=False)


def _writable_review(
    session: Session, actor: TenantContext, review_id: uuid.UUID
) -> tuple[Review, ReviewCycle]:
    """The actor's own review, locked, in an active cycle and not yet submitted (the id is
    resolved already)."""
    actor_id = _actor_id(actor, Resource.review, Action.write)
    review = session.scalars(
        select(Review).where(col(Review.id) == review_id).with_for_update()
    ).first()
    if review is None or review.reviewer_id != actor_id:
        raise _denied(Resource.review, Action.write, review_id)
    cycle = _cycle(session, review.cycle_id, Action.write)
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
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the draft's summary and ratings (criterion ids resolved already); return the
    changed fields before and after."""
    scale = _scale(session)
    known = {c.id: c for c in criteria}
    ratings = [(uuid.UUID(str(r.criterion_id)), r) for r in draft.ratings]
    for criterion_id, rating in ratings:
        if criterion_id not in known:
            raise _denied(Resource.review, Action.write)
        if rating.score is not None:
            _check_score(scale, rating.score)
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
    if review.status == ReviewStatus.not_started.value:
        before["status"], after["status"] = review.status, ReviewStatus.in_progress.value
        review.status = ReviewStatus.in_progress.value
    session.flush()
    return before, after


def _resolve_draft(
    session: Session, actor: TenantContext, review_id: RawId, draft: Any, *, optional: bool
) -> tuple[uuid.UUID, ReviewDraft | None]:
    """The review's id and the draft (its criterion ids resolved), before anything else."""
    rid = _id(session, actor, IdKind.review, review_id, Action.write)
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
    before, after = _apply_draft(session, review, _criteria(session, cycle.template_id), parsed)
    if after:
        audit.record(
            session=session,
            action="review.save",
            actor_id=actor.user_id,
            entity_type="review",
            entity_id=review.id,
            detail={"before": before, "after": after},
        )
    return _detail(session, review, cycle, editable=True)


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
    criteria = _criteria(session, cycle.template_id)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if parsed is not None:
        before, after = _apply_draft(session, review, criteria, parsed)
    scores = {
        r.criterion_id: r.score
        for r in session.scalars(
            select(ReviewRating).where(col(ReviewRating.review_id) == review.id)
        )
    }
    missing = [c.name for c in criteria if scores.get(c.id) is None]
    if missing:
        raise ReviewError("Score every criterion before submitting. Missing: " + ", ".join(missing))
    scale = _scale(session)
    for value in scores.values():
        if value is not None:
            _check_score(scale, int(value))
    score = weighted_score([(int(scores[c.id] or 0), c.weight) for c in criteria])
    before.setdefault("status", review.status)
    before["score"] = _num(review.score)
    review.status = ReviewStatus.submitted.value
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
    return _detail(session, review, cycle, editable=False)


def _outcome_after_submit(session: Session, review: Review) -> dict[str, Any]:
    outcome = _outcome_for(session, review.cycle_id, review.reviewee_id, lock=True)
    if outcome is None or review.kind == ReviewKind.peer.value:
        return {}
    before = {"status": outcome.status, "computed_score": _num(outcome.computed_score)}
    if review.kind == ReviewKind.self_review.value:
        if outcome.status == OutcomeStatus.not_started.value:
            outcome.status = OutcomeStatus.self_done.value
    elif review.kind == ReviewKind.manager.value:
        if outcome.status in (OutcomeStatus.not_started.value, OutcomeStatus.self_done.value):
            outcome.status = OutcomeStatus.manager_done.value
        outcome.computed_score = review.score
    outcome.updated_at = utcnow()
    after = {"status": outcome.status, "computed_score": _num(outcome.computed_score)}
    return {"id": str(outcome.id), "before": before, "after": after}


def reopen_review(*, session: Session, actor: TenantContext, review_id: RawId) -> None:
    """Un-submit a review (the reviewee's managers and admins) so it can be corrected,
    while the cycle is active and the outcome not yet calibrated or shared."""
    review_id = _id(session, actor, IdKind.review, review_id, Action.reopen)
    _actor_id(actor, Resource.review, Action.reopen)
    review = session.scalars(
        select(Review).where(col(Review.id) == review_id).with_for_update()
    ).one()
    require(
        session=session,
        actor=actor,
        resource=Resource.review,
        action=Action.reopen,
        subject_id=review.reviewee_id,
    )
    cycle = _cycle(session, review.cycle_id, Action.reopen)
    if cycle.status != CycleStatus.active.value:
        raise ReviewError("Reviews can be reopened only while the cycle is active.")
    if review.status != ReviewStatus.submitted.value:
        raise ReviewError("This review is not submitted.")
    outcome = _outcome_for(session, review.cycle_id, review.reviewee_id, lock=True)
    if outcome is not None and outcome.status in (
        OutcomeStatus.calibrated.value,
        OutcomeStatus.shared.value,
    ):
        raise ReviewError("This result is already calibrated; it can no longer be reopened.")
    before = {"status": review.status, "score": _num(review.score)}
    review.status = ReviewStatus.in_progress.value
    review.submitted_at = None
    review.score = None
    outcome_change: dict[str, Any] = {}
    if outcome is not None and review.kind != ReviewKind.peer.value:
        o_before = {"status": outcome.status, "computed_score": _num(outcome.computed_score)}
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
            outcome.status = (
                OutcomeStatus.self_done.value if self_done else OutcomeStatus.not_started.value
            )
        elif outcome.status == OutcomeStatus.self_done.value:
            outcome.status = OutcomeStatus.not_started.value
        outcome.updated_at = utcnow()
        o_after = {"status": outcome.status, "computed_score": _num(outcome.computed_score)}
        outcome_change = {"id": str(outcome.id), "before": o_before, "after": o_after}
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


# ------------------------------------------------------------------- reviewee's results


def list_my_results(*, session: Session, actor: TenantContext) -> list[SharedCycleRow]:
    """The cycles whose results have been shared with the actor, newest first."""
    actor_id = _actor_id(actor, Resource.review, Action.view)
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
            shared_at=_iso(o.shared_at.date() if o.shared_at else None),
        )
        for o, name in rows
    ]


def my_results(*, session: Session, actor: TenantContext, cycle_id: RawId) -> MyResults:
    """The actor's own shared result: self and manager reviews, and peer feedback averaged
    per criterion without names, shown only from two submitted peer reviews on."""
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.view)
    actor_id = _actor_id(actor, Resource.review, Action.view)
    outcome = _outcome_for(session, cycle_id, actor_id)
    if outcome is None:
        raise _denied(Resource.review, Action.view)
    if outcome.status != OutcomeStatus.shared.value:
        raise ReviewError("Your results for this cycle have not been shared yet.")
    cycle = _cycle(session, cycle_id, Action.view)
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
        return _detail(session, found[0], cycle, editable=False) if found else None

    peer_reviews = by_kind.get(ReviewKind.peer.value, [])
    shown = len(peer_reviews) >= MIN_ANONYMOUS_PEERS
    peers: list[PeerCriterion] = []
    summaries: list[str] = []
    if shown:
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
        for c in _criteria(session, cycle.template_id):
            scores = [r.score for r in by_criterion[c.id] if r.score is not None]
            mean = (
                (sum(scores, Decimal(0)) / len(scores)).quantize(_CENT, rounding=ROUND_HALF_UP)
                if scores
                else None
            )
            peers.append(
                PeerCriterion(
                    name=c.name,
                    mean=_num(mean),
                    count=len(scores),
                    # Sorted, not in submission order, so no comment can be lined up with
                    # another criterion's comment or with a nomination.
                    comments=sorted(r.comment for r in by_criterion[c.id] if r.comment.strip()),
                )
            )
        summaries = sorted(r.summary for r in peer_reviews if r.summary.strip())
    scale = _scale(session)
    return MyResults(
        cycle_id=str(cycle.id),
        cycle_name=cycle.name,
        final_rating=_num(outcome.final_rating),
        final_label=scale.label(_num(outcome.final_rating)),
        self_review=first(ReviewKind.self_review),
        manager_review=first(ReviewKind.manager),
        peer_count=len(peer_reviews),
        peers_shown=shown,
        peer_message="" if shown else NOT_ENOUGH_PEERS,
        peers=peers,
        peer_summaries=summaries,
    )


# --------------------------------------------------------------- cycle status, calibration


def _visible_outcomes(
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


def _performance_expr() -> ColumnElement[Any]:
    return func.coalesce(col(ReviewOutcome.final_rating), col(ReviewOutcome.computed_score))


def cycle_status(
    *,
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    query: StatusQuery | dict[str, Any] | None = None,
) -> CycleStatusView:
    """One page of per-reviewee rows the actor may see, with the status funnel and the
    rating distribution over all of them (counted in SQL)."""
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.view)
    actor_id = _actor_id(actor, Resource.calibration, Action.view)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    q = parse(StatusQuery, query or {})
    _cycle(session, cycle_id, Action.view)
    conditions = _visible_outcomes(actor, cycle_id, actor_id)
    scale = _scale(session)

    funnel_counts = dict(
        session.execute(
            select(col(ReviewOutcome.status), func.count())
            .where(*conditions)
            .group_by(col(ReviewOutcome.status))
        ).all()
    )
    funnel = [(s.value, int(funnel_counts.get(s.value, 0))) for s in OutcomeStatus]
    total = sum(n for _, n in funnel)

    rounded = func.round(_performance_expr())
    dist_counts: Counter[str] = Counter()
    for value, n in session.execute(
        select(rounded, func.count()).where(*conditions).group_by(rounded)
    ).all():
        dist_counts[scale.label(float(value)) if value is not None else "Not rated"] += int(n)
    distribution = [(scale.labels[s], dist_counts.get(scale.labels[s], 0)) for s in scale.scores]
    if dist_counts.get("Not rated"):
        distribution.append(("Not rated", dist_counts["Not rated"]))

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
    return CycleStatusView(
        page=Page(
            rows=[
                StatusRow(
                    outcome_id=str(o.id),
                    reviewee_name=name,
                    manager_name=manager_name or "",
                    status=o.status,
                    computed_score=_num(o.computed_score),
                    final_rating=_num(o.final_rating),
                    final_label=scale.label(_num(o.final_rating)),
                    potential=o.potential,
                )
                for o, name, manager_name in rows
            ],
            total=total,
            page=page,
            page_size=q.page_size,
        ),
        funnel=funnel,
        distribution=distribution,
    )


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
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.view)
    actor_id = _actor_id(actor, Resource.calibration, Action.view)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    _cycle(session, cycle_id, Action.view)
    scale = _scale(session)
    reviewee = aliased(User)
    rows = session.execute(
        select(
            col(ReviewOutcome.id),
            col(reviewee.display_name),
            _performance_expr(),
            col(ReviewOutcome.potential),
        )
        .join(reviewee, col(reviewee.id) == col(ReviewOutcome.reviewee_id))
        .where(*_visible_outcomes(actor, cycle_id, actor_id))
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
    oid = _id(session, actor, IdKind.outcome, outcome_id, action)
    query = select(ReviewOutcome).where(col(ReviewOutcome.id) == oid)
    return session.scalars(query.with_for_update() if lock else query).one()


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
    actor_id = _actor_id(actor, Resource.calibration, Action.adjust)
    require(
        session=session,
        actor=actor,
        resource=Resource.calibration,
        action=Action.adjust,
        subject_id=outcome.reviewee_id,
    )
    data = parse(CalibrationAdjust, change)
    cycle = _cycle(session, outcome.cycle_id, Action.adjust)
    if cycle.status != CycleStatus.calibration.value:
        raise ReviewError("Ratings can be adjusted only while the cycle is in calibration.")
    if outcome.status == OutcomeStatus.shared.value:
        raise ReviewError("This result has been shared; it can no longer be changed.")
    if data.final_rating is not None:
        _check_score(_scale(session), data.final_rating)
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
    history = CalibrationChange(
        outcome_id=outcome.id,
        actor_id=actor_id,
        old_rating=old_rating,
        new_rating=new_rating,
        old_potential=old_potential,
        new_potential=new_potential,
        reason=data.reason,
    )
    session.add(history)
    before = {
        "final_rating": _num(old_rating),
        "potential": old_potential,
        "status": outcome.status,
    }
    outcome.final_rating = new_rating
    outcome.potential = new_potential
    outcome.status = OutcomeStatus.calibrated.value
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
                "final_rating": _num(new_rating),
                "potential": new_potential,
                "status": outcome.status,
            },
            "reason": data.reason,
            "change_id": str(history.id),
        },
    )
    return _change_row(history, _names(session, {actor_id}))


def _change_row(change: CalibrationChange, names: dict[uuid.UUID, str]) -> CalibrationChangeRow:
    return CalibrationChangeRow(
        actor_name=names.get(change.actor_id, ""),
        old_rating=_num(change.old_rating),
        new_rating=_num(change.new_rating),
        old_potential=change.old_potential,
        new_potential=change.new_potential,
        reason=change.reason,
        created_at=_iso(change.created_at),
    )


def calibration_history(
    *, session: Session, actor: TenantContext, outcome_id: RawId
) -> list[CalibrationChangeRow]:
    """Every calibration move of one outcome, oldest first (who, from what, to what, why)."""
    outcome = _outcome_by_id(session, actor, outcome_id, Action.view, lock=False)
    require(
        session=session,
        actor=actor,
        resource=Resource.calibration,
        action=Action.view,
        subject_id=outcome.reviewee_id,
    )
    changes = list(
        session.scalars(
            select(CalibrationChange)
            .where(col(CalibrationChange.outcome_id) == outcome.id)
            .order_by(col(CalibrationChange.created_at), col(CalibrationChange.id))
        )
    )
    names = _names(session, {c.actor_id for c in changes})
    return [_change_row(c, names) for c in changes]


def share_results(*, session: Session, actor: TenantContext, cycle_id: RawId) -> int:
    """Share every calibrated outcome of the cycle with its reviewee (HR and tenant admins,
    during calibration or after close); returns how many were shared."""
    cycle_id = _id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = _cycle(session, cycle_id, Action.manage, lock=True)
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
        outcome.status = OutcomeStatus.shared.value
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
            "after": {"status": OutcomeStatus.shared.value, "shared_at": _iso(now)},
            "outcomes": [str(o.id) for o in outcomes],
        },
    )
    return len(outcomes)


def can_manage_cycles(*, session: Session, actor: TenantContext) -> bool:
    """Whether to offer the actor cycle administration (the services check again)."""
    return may(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)


def scale_options(*, session: Session) -> list[dict[str, str]]:
    """The tenant's rating scale as select options: value is the whole score."""
    scale = _scale(session)
    return [{"value": str(s), "label": f"{s} · {scale.labels[s]}"} for s in scale.scores]
