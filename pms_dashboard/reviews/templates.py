"""Review templates: a name and weighted criteria, made and listed by HR and tenant admins."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.permissions import Action, Resource, require
from pms_dashboard.reviews.models import ReviewCriterion, ReviewTemplate
from pms_dashboard.reviews.schemas import (
    CriterionRow,
    ReviewError,
    TemplateCreate,
    TemplateRow,
    parse,
)
from pms_dashboard.tenancy.context import TenantContext


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
