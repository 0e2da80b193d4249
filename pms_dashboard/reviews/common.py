"""What every review service shares: resolving ids, the rows they all read, the rating scale.

The rules the services follow are in the package's `__init__` docstring.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource
from pms_dashboard.auth.resolve import IdKind, RawId, resolve
from pms_dashboard.organisation.schemas import RatingScale
from pms_dashboard.organisation.service import get_customization
from pms_dashboard.reviews.models import ReviewCriterion, ReviewCycle, ReviewOutcome
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.tenancy.context import TenantContext

CENT = Decimal("0.01")


def denied(
    resource: Resource, action: Action, target_id: uuid.UUID | None = None
) -> PermissionDenied:
    """The uniform refusal: the same for "not yours" and "not there"."""
    return PermissionDenied(resource, action, target_id=target_id)


def resolve_id(
    session: Session, actor: TenantContext, kind: IdKind, raw: RawId, action: Action
) -> uuid.UUID:
    """One id the caller named, resolved in the tenant (else refused as not found)."""
    return resolve(session=session, actor=actor, kind=kind, raw=raw, action=action)


def actor_user_id(actor: TenantContext, resource: Resource, action: Action) -> uuid.UUID:
    """The acting person's id; an actor without one (a bare tenant context) is refused."""
    if actor.user_id is None:
        raise denied(resource, action)
    return actor.user_id


def iso(value: date | datetime | None) -> str:
    """A date or time as ISO 8601 text in an audit event's detail (JSON); empty when there
    is none. Outputs for pages keep dates and times as they are (`ui.format` shows them)."""
    return value.isoformat() if value is not None else ""


def num(value: Decimal | None) -> float | None:
    """A stored score (two places) as the float the outputs and audit details carry."""
    return float(value) if value is not None else None


def rating_scale(session: Session) -> RatingScale:
    """The tenant's rating scale (its own range and labels)."""
    return get_customization(session=session).rating_scale


def cycle_scale(session: Session, cycle: ReviewCycle) -> RatingScale:
    """The scale a cycle's ratings mean: the one it launched with (kept on the cycle, so a
    later change of the organisation's scale never re-reads them); a draft's is the
    organisation's current one."""
    if cycle.rating_scale:
        return RatingScale.model_validate(cycle.rating_scale)
    return rating_scale(session)


def check_score(scale: RatingScale, score: int) -> None:
    """Refuse a score outside the cycle's scale, in words."""
    if not scale.low <= score <= scale.high:
        raise ReviewError(f"Scores are whole numbers from {scale.low} to {scale.high}.")


def scale_options(*, session: Session, cycle_id: uuid.UUID | None = None) -> list[dict[str, str]]:
    """A (resolved) cycle's rating scale, else the tenant's, as select options: value is
    the whole score."""
    if cycle_id is None:
        scale = rating_scale(session)
    else:
        scale = cycle_scale(session, load_cycle(session, cycle_id, Action.view))
    return [{"value": str(s), "label": f"{s} · {scale.labels[s]}"} for s in scale.scores]


def load_cycle(
    session: Session, cycle_id: uuid.UUID, action: Action, *, lock: bool = False
) -> ReviewCycle:
    """A cycle by its (resolved) id, locked when it is about to change."""
    query = select(ReviewCycle).where(col(ReviewCycle.id) == cycle_id)
    cycle = session.scalars(query.with_for_update() if lock else query).first()
    if cycle is None:
        raise denied(Resource.cycle, action, cycle_id)
    return cycle


def criteria_of(session: Session, template_id: uuid.UUID) -> list[ReviewCriterion]:
    """A template's criteria in the order reviewers see them."""
    return list(
        session.scalars(
            select(ReviewCriterion)
            .where(col(ReviewCriterion.template_id) == template_id)
            .order_by(col(ReviewCriterion.position), col(ReviewCriterion.name))
        )
    )


def names_of(session: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of some people, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(col(User.id), col(User.display_name)).where(col(User.id).in_(wanted))
    ).all()
    return {i: n for i, n in rows}


def outcome_for(
    session: Session, cycle_id: uuid.UUID, reviewee_id: uuid.UUID, *, lock: bool = False
) -> ReviewOutcome | None:
    """A reviewee's outcome in a cycle, locked when it is about to change."""
    query = select(ReviewOutcome).where(
        col(ReviewOutcome.cycle_id) == cycle_id, col(ReviewOutcome.reviewee_id) == reviewee_id
    )
    return session.scalars(query.with_for_update() if lock else query).first()
