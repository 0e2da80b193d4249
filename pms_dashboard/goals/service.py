"""Goal queries. Paged on the server: a page never loads more than `page_size` rows."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.goals.models import Goal, GoalCheckIn, GoalStatus, KeyResult
from pms_dashboard.goals.schemas import GoalListQuery, GoalRow
from pms_dashboard.paging import Page, page_count


def list_goals_for_owner(*, session: Session, owner_id: uuid.UUID, query: GoalListQuery) -> Page:
    """One page of the goals owned by `owner_id`, with key-result count and latest
    confidence, filtered and sorted as `query` asks."""
    conditions: list[ColumnElement[bool]] = [col(Goal.owner_id) == owner_id]
    if query.status:
        conditions.append(col(Goal.status) == query.status)
    else:
        conditions.append(col(Goal.status) != GoalStatus.archived.value)
    if query.search:
        conditions.append(col(Goal.title).ilike(f"%{_escape_like(query.search)}%", escape="\\"))

    total: int = session.scalar(select(func.count()).select_from(Goal).where(*conditions)) or 0

    kr_count = (
        select(func.count())
        .where(col(KeyResult.goal_id) == Goal.id, col(KeyResult.tenant_id) == Goal.tenant_id)
        .correlate(Goal)
        .scalar_subquery()
    )
    latest_confidence = (
        select(col(GoalCheckIn.confidence))
        .where(col(GoalCheckIn.goal_id) == Goal.id, col(GoalCheckIn.tenant_id) == Goal.tenant_id)
        .order_by(col(GoalCheckIn.created_at).desc())
        .limit(1)
        .correlate(Goal)
        .scalar_subquery()
    )
    sort_column = col(getattr(Goal, query.sort))
    order = sort_column.desc() if query.descending else sort_column.asc()
    page = min(query.page, page_count(total, query.page_size))
    rows = session.execute(
        select(Goal, kr_count.label("key_results"), latest_confidence.label("confidence"))
        .where(*conditions)
        .order_by(order, col(Goal.id))
        .limit(query.page_size)
        .offset((page - 1) * query.page_size)
    ).all()
    return Page(
        rows=[GoalRow.from_goal(g, key_results=n, confidence=c) for g, n, c in rows],
        total=total,
        page=page,
        page_size=query.page_size,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
