"""Review cycles: created as drafts on a template, launched to their participants, moved
through calibration to closed (HR and tenant admins); everyone may see that a cycle exists."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, or_, select, true
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, Resource, may, require
from pms_dashboard.auth.resolve import IdKind, RawId, resolve_all, resolve_emails, resolve_name
from pms_dashboard.reviews import status
from pms_dashboard.reviews.common import (
    criteria_of,
    iso,
    load_cycle,
    names_of,
    rating_scale,
    resolve_id,
)
from pms_dashboard.reviews.models import (
    CycleStatus,
    OutcomeStatus,
    Review,
    ReviewCycle,
    ReviewKind,
    ReviewOutcome,
    ReviewTemplate,
)
from pms_dashboard.reviews.schemas import (
    CycleCreate,
    CycleDraft,
    CycleRow,
    LaunchResult,
    ReviewError,
    parse,
)
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import utcnow


def can_manage_cycles(*, session: Session, actor: TenantContext) -> bool:
    """Whether to offer the actor cycle administration (the services check again)."""
    return may(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)


def _checked(
    session: Session,
    actor: TenantContext,
    data: CycleCreate | dict[str, Any],
    same_name_ok: uuid.UUID | None = None,
) -> tuple[CycleCreate, ReviewTemplate, list[uuid.UUID]]:
    """A cycle's fields, checked: its template and managers resolved in the tenant, its
    departments and teams ones some person has, its name not another cycle's."""
    data = parse(CycleCreate, data)
    manage, who = Action.manage, data.participants
    template_id = resolve_id(session, actor, IdKind.template, data.template_id, manage)
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
        select(col(ReviewCycle.id)).where(
            func.lower(col(ReviewCycle.name)) == data.name.lower(),
            col(ReviewCycle.id) != same_name_ok if same_name_ok else true(),
        )
    )
    if taken is not None:
        raise ReviewError("A cycle with this name already exists.")
    return data, template, managers


def _fields(cycle: ReviewCycle) -> dict[str, Any]:
    """A cycle's fields as its audit events record them."""
    return {
        "name": cycle.name,
        "template_id": str(cycle.template_id),
        "period_start": iso(cycle.period_start),
        "period_end": iso(cycle.period_end),
        "self_review_due": iso(cycle.self_review_due),
        "manager_review_due": iso(cycle.manager_review_due),
        "participants": cycle.participants,
        "status": cycle.status,
    }


def _assign(
    cycle: ReviewCycle, data: CycleCreate, template: ReviewTemplate, managers: list[uuid.UUID]
) -> None:
    cycle.name, cycle.template_id = data.name, template.id
    cycle.period_start, cycle.period_end = data.period_start, data.period_end
    cycle.self_review_due = data.self_review_due
    cycle.manager_review_due = data.manager_review_due
    cycle.participants = {
        **data.participants.as_json(),
        "managers": [str(m) for m in managers],
    }


def create_cycle(
    *, session: Session, actor: TenantContext, data: CycleCreate | dict[str, Any]
) -> CycleRow:
    """A draft cycle on a template, with its period, deadlines and participants filter
    (departments and teams some person of the tenant has, managers by id or email)."""
    data, template, managers = _checked(session, actor, data)
    cycle = ReviewCycle(
        name=data.name,
        template_id=template.id,
        period_start=data.period_start,
        period_end=data.period_end,
        self_review_due=data.self_review_due,
        manager_review_due=data.manager_review_due,
    )
    _assign(cycle, data, template, managers)
    session.add(cycle)
    session.flush()
    audit.record(
        session=session,
        action="review_cycle.create",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={"after": _fields(cycle)},
    )
    return _cycle_row(cycle, template.name, names_of(session, set(managers)))


def _draft(session: Session, actor: TenantContext, cycle_id: RawId) -> ReviewCycle:
    """The draft cycle `cycle_id`, locked; a launched one is refused (its reviews exist)."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = load_cycle(session, cycle_id, Action.manage, lock=True)
    if cycle.status != CycleStatus.draft.value:
        raise ReviewError(
            "Only a draft cycle can be changed or deleted: this one is launched and its "
            "reviews exist."
        )
    return cycle


def get_draft(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleDraft:
    """A draft cycle's fields, to edit them (admins only; a launched cycle is refused)."""
    cycle = _draft(session, actor, cycle_id)
    who = cycle.participants or {}
    ids = [uuid.UUID(m) for m in who.get("managers", [])]
    emails = dict(
        session.execute(select(col(User.id), col(User.email)).where(col(User.id).in_(ids))).all()
    )
    return CycleDraft(
        id=str(cycle.id),
        name=cycle.name,
        template_id=str(cycle.template_id),
        period_start=cycle.period_start,
        period_end=cycle.period_end,
        self_review_due=cycle.self_review_due,
        manager_review_due=cycle.manager_review_due,
        departments=list(who.get("departments", [])),
        teams=list(who.get("teams", [])),
        manager_emails=[emails[i] for i in ids if i in emails],
    )


def update_cycle(
    *,
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    data: CycleCreate | dict[str, Any],
) -> CycleRow:
    """A draft cycle's name, template, period, deadlines or participants, changed (checked
    as when it was created); audited with before and after."""
    cycle = _draft(session, actor, cycle_id)
    data, template, managers = _checked(session, actor, data, same_name_ok=cycle.id)
    before = _fields(cycle)
    _assign(cycle, data, template, managers)
    session.flush()
    audit.record(
        session=session,
        action="review_cycle.update",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={"before": before, "after": _fields(cycle)},
    )
    return _cycle_row(cycle, template.name, names_of(session, set(managers)))


def delete_cycle(*, session: Session, actor: TenantContext, cycle_id: RawId) -> str:
    """A draft cycle deleted (nothing hangs on a draft: reviews come with the launch);
    audited with what it was. Returns its name."""
    cycle = _draft(session, actor, cycle_id)
    before = _fields(cycle)
    session.delete(cycle)
    session.flush()
    audit.record(
        session=session,
        action="review_cycle.delete",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={"before": before},
    )
    return cycle.name


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
        period_start=cycle.period_start,
        period_end=cycle.period_end,
        self_review_due=cycle.self_review_due,
        manager_review_due=cycle.manager_review_due,
        status=cycle.status,
        launched_at=cycle.launched_at,
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


# Built once (a bound limit): the overview and the cycles page ask it on every load.
_CYCLES = (
    select(ReviewCycle, col(ReviewTemplate.name))
    .join(ReviewTemplate, col(ReviewTemplate.id) == col(ReviewCycle.template_id))
    .order_by(
        col(ReviewCycle.period_start).desc(),
        col(ReviewCycle.created_at).desc(),
        col(ReviewCycle.id),
    )
    .limit(bindparam("limit", type_=Integer))
)


def list_cycles(*, session: Session, actor: TenantContext, limit: int = 200) -> list[CycleRow]:
    """The tenant's cycles, newest period first (everyone may see that a cycle exists)."""
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    rows = session.execute(_CYCLES, {"limit": min(max(limit, 1), 500)}).all()
    managers: set[uuid.UUID | None] = set()
    for cycle, _ in rows:
        managers |= _manager_ids_of(cycle.participants or {})
    names = names_of(session, managers)
    return [_cycle_row(cycle, template_name, names) for cycle, template_name in rows]


def get_cycle(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleRow:
    """One cycle, for its detail page."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.view)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.view)
    cycle = load_cycle(session, cycle_id, Action.view)
    template_name = session.scalar(
        select(col(ReviewTemplate.name)).where(col(ReviewTemplate.id) == cycle.template_id)
    )
    names = names_of(session, set(_manager_ids_of(cycle.participants or {})))
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


def _launch_rows(
    session: Session, cycle: ReviewCycle, people: list[User]
) -> tuple[list[Review], list[ReviewOutcome]]:
    """A self review per participant, a manager review by their current (active) manager if
    they have one, and an outcome with that manager as a snapshot."""
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
        kinds = [(person.id, ReviewKind.self_review)]
        if manager_id is not None:
            kinds.append((manager_id, ReviewKind.manager))
        reviews += [
            Review(cycle_id=cycle.id, reviewee_id=person.id, reviewer_id=by, kind=kind.value)
            for by, kind in kinds
        ]
        outcomes.append(
            ReviewOutcome(cycle_id=cycle.id, reviewee_id=person.id, manager_id=manager_id)
        )
    return reviews, outcomes


def launch_cycle(*, session: Session, actor: TenantContext, cycle_id: RawId) -> LaunchResult:
    """Draft -> active: the participants' reviews and outcomes are created (`_launch_rows`)."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = load_cycle(session, cycle_id, Action.manage, lock=True)
    status.check(cycle, status.LAUNCH)
    if not criteria_of(session, cycle.template_id):
        raise ReviewError("The cycle's template has no criteria.")
    people = list(session.scalars(_participant_query(cycle.participants or {})))
    if not people:
        raise ReviewError("No active people match this cycle's participants.")
    reviews, outcomes = _launch_rows(session, cycle, people)
    session.add_all(reviews)
    session.add_all(outcomes)
    before = status.move(cycle, status.LAUNCH)
    cycle.launched_at = utcnow()
    cycle.rating_scale = rating_scale(session).model_dump(mode="json")  # kept from now on
    session.flush()
    audit.record(
        session=session,
        action="review_cycle.launch",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={
            "before": {"status": before},
            "after": {"status": cycle.status, "launched_at": iso(cycle.launched_at)},
            "participants": len(people),
            "reviews": len(reviews),
        },
    )
    return LaunchResult(participants=len(people), reviews=len(reviews))


def launch_preview(*, session: Session, actor: TenantContext, cycle_id: RawId) -> LaunchResult:
    """What launching the draft would create (people, reviews), for the confirmation that
    asks first; nothing is written."""
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = load_cycle(session, cycle_id, Action.manage)
    status.check(cycle, status.LAUNCH)
    people = list(session.scalars(_participant_query(cycle.participants or {})))
    reviews, _ = _launch_rows(session, cycle, people)
    return LaunchResult(participants=len(people), reviews=len(reviews))


def _calibration_untouched(session: Session, cycle: ReviewCycle) -> None:
    """Refuse reopening once a rating was calibrated or a result shared: writing again would
    build on results people may already have seen."""
    touched = session.scalar(
        select(func.count())
        .select_from(ReviewOutcome)
        .where(
            col(ReviewOutcome.cycle_id) == cycle.id,
            col(ReviewOutcome.status).in_(
                [OutcomeStatus.calibrated.value, OutcomeStatus.shared.value]
            ),
        )
    )
    if touched:
        raise ReviewError(
            "Calibration can no longer be reopened: ratings have been calibrated or shared."
        )


def _move_cycle(
    session: Session,
    actor: TenantContext,
    cycle_id: RawId,
    step: status.Step,
    guard: Callable[[Session, ReviewCycle], None] | None = None,
    action: str = "",
) -> CycleRow:
    cycle_id = resolve_id(session, actor, IdKind.cycle, cycle_id, Action.manage)
    require(session=session, actor=actor, resource=Resource.cycle, action=Action.manage)
    cycle = load_cycle(session, cycle_id, Action.manage, lock=True)
    status.check(cycle, step)
    if guard is not None:
        guard(session, cycle)
    before = status.move(cycle, step)
    session.flush()
    audit.record(
        session=session,
        action=action or f"review_cycle.{cycle.status}",
        actor_id=actor.user_id,
        entity_type="review_cycle",
        entity_id=cycle.id,
        detail={"before": {"status": before}, "after": {"status": cycle.status}},
    )
    return get_cycle(session=session, actor=actor, cycle_id=cycle.id)


def start_calibration(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleRow:
    """Active -> calibration: reviews can no longer be written; ratings can be adjusted."""
    return _move_cycle(session, actor, cycle_id, status.START_CALIBRATION)


def reopen_calibration(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleRow:
    """Calibration -> active, the way back from a too-early "Start calibration": only while
    no rating is calibrated and no result shared, so nothing anyone saw changes."""
    return _move_cycle(
        session,
        actor,
        cycle_id,
        status.REOPEN_CALIBRATION,
        guard=_calibration_untouched,
        action="review_cycle.reopen_calibration",
    )


def close_cycle(*, session: Session, actor: TenantContext, cycle_id: RawId) -> CycleRow:
    """Calibration -> closed: nothing changes any more except sharing results."""
    return _move_cycle(session, actor, cycle_id, status.CLOSE)
