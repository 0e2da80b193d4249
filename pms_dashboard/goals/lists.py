"""Goal lists: a page of the goals the actor may see, filtered and sorted on the server;
the overview's health counts; and the menus of a goal form (periods, parents, owners)."""

from __future__ import annotations

import functools
import uuid
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import management_chain, reports_subtree, visible_user_ids
from pms_dashboard.auth.resolve import IdKind, resolve, resolve_name
from pms_dashboard.db.text import escape_like
from pms_dashboard.goals.alignment import link
from pms_dashboard.goals.models import Confidence, Goal, GoalStatus, KeyResult
from pms_dashboard.goals.rules import (
    DUE_SOON_DAYS,
    flags,
    owned_by,
    stale_before,
    stale_condition,
    visible_goals,
)
from pms_dashboard.goals.schemas import (
    NO_CHECK_IN,
    GoalHealth,
    GoalLink,
    GoalListQuery,
    GoalRow,
    OwnerOption,
)
from pms_dashboard.paging import Page, page_count
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import limits
from pms_dashboard.tenancy.cache import cached
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import read_rows


def goal_list_conditions(
    *,
    session: Session,
    actor: TenantContext,
    query: GoalListQuery,
    owner: Any,
    cutoff: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE of a goal list: what the actor may see in `query.scope`, filtered as the
    query asks (`owner` is the alias of the owner's person row the caller joins). The page
    and its CSV export both use it, so an export holds exactly the rows of the list
    (`cutoff`: `stale_before`, when the caller has it already)."""
    filters = _resolved_filters(session=session, actor=actor, query=query)
    today = date.today()
    cutoff = cutoff or stale_before(session)
    return _conditions(actor, query, filters, owner, cutoff, today, _due_by(query, today))


def _due_by(query: GoalListQuery, today: date) -> date:
    """The last due date a `due_within_days` filter keeps."""
    return today + timedelta(days=query.due_within_days or 0)


class _Filters(NamedTuple):
    """A list's filters that name something of the tenant, resolved (or refused)."""

    owner_id: uuid.UUID | None
    department: str
    team: str


def _resolved_filters(*, session: Session, actor: TenantContext, query: GoalListQuery) -> _Filters:
    # filter values are resolved like any id or name a request carries: a person, team or
    # department that is not this tenant's is refused, never silently an empty list
    owner_id = department = team = None
    if query.owner_id:
        owner_id = resolve(session=session, actor=actor, kind=IdKind.owner, raw=query.owner_id)
    if query.department:
        department = resolve_name(
            session=session, actor=actor, kind=IdKind.department, raw=query.department
        )
    if query.team:
        team = resolve_name(session=session, actor=actor, kind=IdKind.team, raw=query.team)
    return _Filters(owner_id, department or "", team or "")


def _conditions(
    actor: TenantContext,
    query: GoalListQuery,
    filters: _Filters,
    owner: Any,
    cutoff: datetime | BindParameter[datetime],
    today: date | BindParameter[date],
    due_by: date | BindParameter[date],
) -> list[ColumnElement[bool]]:
    """`goal_list_conditions` with the filters resolved; the moving values (the stale
    `cutoff`, `today`, and `due_by`: today plus `query.due_within_days`) given, or bound
    parameters."""
    conditions = visible_goals(actor, query.scope)
    if query.status:
        conditions.append(col(Goal.status) == query.status)
    else:
        conditions.append(col(Goal.status) != GoalStatus.archived.value)
    if query.search:
        conditions.append(col(Goal.title).ilike(f"%{escape_like(query.search)}%", escape="\\"))
    if filters.owner_id:
        conditions.append(col(Goal.owner_id) == filters.owner_id)
    if filters.department:
        conditions.append(col(owner.department) == filters.department)
    if filters.team:
        conditions.append(col(owner.team) == filters.team)
    if query.period:
        conditions.append(col(Goal.period) == query.period)
    if query.stale_only:
        conditions.append(stale_condition(cutoff))
    if query.due_within_days is not None:
        conditions.append(col(Goal.status) == GoalStatus.active.value)
        conditions.append(col(Goal.due_date) <= due_by)
        conditions.append(col(Goal.due_date) >= today)
    if query.confidence == NO_CHECK_IN:
        conditions.append(col(Goal.confidence).is_(None))
    elif query.confidence:
        conditions.append(col(Goal.confidence) == query.confidence)
    return conditions


# The goal owner's person row in a list (one alias for every list: built once, not per call).
_OWNER = aliased(User, name="owner")
_ROW_COLUMNS = [
    col(getattr(Goal, name))
    for name in (
        "id", "title", "status", "period", "progress", "due_date", "confidence",
        "last_check_in_at", "created_at",
    )
]  # fmt: skip


# The moving values of a kept statement: bound on each run.
_CUTOFF = bindparam("cutoff", type_=DateTime(timezone=True))
_TODAY = bindparam("today", type_=Date)
_DUE_BY = bindparam("due_by", type_=Date)
_LIMIT = bindparam("limit", type_=Integer)
_OFFSET = bindparam("offset", type_=Integer)


class _ListKey(NamedTuple):
    """What decides a goal list's SQL: the viewer, the query but its page, and the resolved
    filters."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    role: str | None
    query: GoalListQuery
    filters: _Filters


@functools.lru_cache(maxsize=256)  # about 50 KB each, scoped forms and cache keys included
def _list_statements(key: _ListKey) -> tuple[Any, Any]:
    """A goal list's count and page statements, kept for the lists last asked for: a person
    paging, sorting or filtering their list again reuses them, and with them their tenant
    scoping and SQLAlchemy's cache key (building and scoping the two costs more than running
    them). A statement never changes once built; the moving values are bound parameters."""
    actor = TenantContext(tenant_id=key.tenant_id, user_id=key.user_id, role=key.role)
    query, owner = key.query, _OWNER
    conditions = _conditions(actor, query, key.filters, owner, _CUTOFF, _TODAY, _DUE_BY)
    counting = select(func.count()).select_from(Goal)
    if query.department or query.team:  # joins people only when it filters on them
        counting = counting.join(owner, owned_by(owner))
    kr_count = (
        select(func.count())
        .where(col(KeyResult.goal_id) == Goal.id, col(KeyResult.tenant_id) == Goal.tenant_id)
        .correlate(Goal)
        .scalar_subquery()
    )
    sort_column = (
        col(owner.display_name) if query.sort == "owner" else col(getattr(Goal, query.sort))
    )
    order = sort_column.desc() if query.descending else sort_column.asc()
    rows = (
        select(  # the columns a row shows (no goal objects: nothing to track or to open)
            *_ROW_COLUMNS,
            col(owner.display_name).label("owner"),
            kr_count.label("key_results"),
        )
        .join(owner, owned_by(owner))
        .where(*conditions)
        .order_by(order, col(Goal.id))
        .limit(_LIMIT)
        .offset(_OFFSET)
    )
    return counting.where(*conditions), rows


def list_goals(
    *, session: Session, actor: TenantContext, query: GoalListQuery, counted: bool = True
) -> Page:
    """One page of the goals the actor may see in `query.scope`, filtered and sorted
    (TenantBusy when the tenant already runs its share of list queries). Not `counted`: the
    first page only, its `total` the rows on it (for a short list with no pager)."""
    limits.take_slot(session, limits.LIST)
    today = date.today()
    cutoff = stale_before(session)
    filters = _resolved_filters(session=session, actor=actor, query=query)
    first_page = query.model_copy(update={"page": 1})  # the page is a bound parameter
    key = _ListKey(actor.tenant_id, actor.user_id, actor.role, first_page, filters)
    counting, listing = _list_statements(key)
    values: dict[str, Any] = {"cutoff": cutoff, "today": today, "due_by": _due_by(query, today)}
    total = (read_rows(session, counting, values).scalar() or 0) if counted else 0
    page = min(query.page, page_count(total, query.page_size)) if counted else 1
    values |= {"limit": query.page_size, "offset": (page - 1) * query.page_size}
    rows = read_rows(session, listing, values).all()
    return Page(
        rows=[
            GoalRow(
                id=str(g.id),
                title=g.title,
                owner=g.owner,
                status=g.status,
                period=g.period,
                progress=g.progress,
                due_date=g.due_date,
                key_results=int(g.key_results),
                confidence=g.confidence or "",
                stale=stale,
                overdue=overdue,
            )
            for g in rows
            for stale, overdue in [flags(g, cutoff, today)]
        ],
        total=total if counted else len(rows),
        page=page,
        page_size=query.page_size,
    )


# The tables `goal_health` reads: goals, and who reports to whom.
HEALTH_READ = (Goal.__tablename__, User.__tablename__)


def goal_health(*, session: Session, actor: TenantContext, scope: str = "all") -> GoalHealth:
    """Counts behind the overview's goal charts, over the goals visible in `scope` (a pass
    over the tenant's goals: it holds a list slot, like a list).

    Counts over more than `PMS_COUNTS_KEPT_OVER` goals are kept (`tenancy.cache`): a pass
    over 90,000 goals costs about 30 ms, and one write moves such counts by one. A committed
    write of goals or people in this process drops them at once; another process's change
    of goals shows within `cache.LIFETIME_S`, and a change of whose goals they count at
    once (checked on every use). Smaller counts are read on every call."""
    limits.take_slot(session, limits.LIST)
    today = date.today()
    cutoff = stale_before(session)
    values = {"cutoff": cutoff, "today": today, "due_by": today + timedelta(days=DUE_SOON_DAYS)}
    counts = _health_statement(actor.tenant_id, actor.user_id, actor.role, scope)
    over = get_settings().counts_kept_over

    def read() -> tuple[Any, GoalHealth]:
        health = GoalHealth(*[int(v) for v in read_rows(session, counts, values).one()])
        kept = 0 < over < health.total
        return (_owners_digest(session, actor, scope) if kept else None), health

    # the day and the stale cutoff's day (it moves with the tenant's setting) name the answer;
    # whose goals it counts is checked on every use: a change of reports shows at once, in
    # whichever process it was made
    key = ("goal_health", actor.user_id, actor.role, scope, today, cutoff.date())
    _, health = cached(
        session,
        key,
        read,
        tables=HEALTH_READ,
        keep=lambda found: found[0] is not None,
        still=lambda found: found[0] == _owners_digest(session, actor, scope),
    )
    return health


def _owners_digest(session: Session, actor: TenantContext, scope: str) -> Any:
    """What of the reports-to tree `scope` follows for the actor, as (how many people are
    below them, a sum of their ids' hashes): what a kept count must still match. Scopes that
    do not follow the tree (their own goals; an admin's whole tenant) are named by the scope
    alone."""
    if scope == "mine" or actor.user_id is None:
        return scope
    if visible_user_ids(actor) is None and scope != "team":  # an admin's "all"
        return scope
    below = func.hashtextextended(cast(col(User.id), Text), 0)
    digest = select(func.count(), func.sum(below)).where(
        col(User.id).in_(reports_subtree(actor.user_id))
    )
    return tuple(session.execute(digest).one())


@functools.lru_cache(maxsize=256)
def _health_statement(
    tenant_id: uuid.UUID, user_id: uuid.UUID | None, role: str | None, scope: str
) -> Any:
    """`goal_health`'s counts for a viewer, kept like `_list_statements`."""
    actor = TenantContext(tenant_id=tenant_id, user_id=user_id, role=role)
    active = col(Goal.status) == GoalStatus.active.value
    conf = col(Goal.confidence)
    due = col(Goal.due_date)
    return select(
        func.count(),
        func.count().filter(and_(active, conf == Confidence.on_track.value)),
        func.count().filter(and_(active, conf == Confidence.at_risk.value)),
        func.count().filter(and_(active, conf == Confidence.off_track.value)),
        func.count().filter(and_(active, conf.is_(None))),
        func.count().filter(col(Goal.status) == GoalStatus.completed.value),
        func.count().filter(stale_condition(_CUTOFF)),
        func.count().filter(and_(active, due < _TODAY)),
        func.count().filter(and_(active, due >= _TODAY, due <= _DUE_BY)),
    ).where(col(Goal.status) != GoalStatus.archived.value, *visible_goals(actor, scope))


# The tables each menu read reads: a committed write of one of them drops the menu where it
# is kept (`tenancy.cache.cached(tables=...)`).
PERIODS_READ = (Goal.__tablename__,)
OWNERS_READ = (User.__tablename__,)


def periods(*, session: Session) -> list[str]:
    """The periods goals of the tenant use (for filter menus), newest first."""
    # A skip scan over the (tenant_id, period) index: one probe per distinct period, not a
    # pass over every goal (RLS supplies the tenant).
    rows = session.execute(
        text(
            """
            WITH RECURSIVE p(period) AS (
                (SELECT period FROM goal WHERE period > '' ORDER BY period LIMIT 1)
                UNION ALL
                SELECT (SELECT g.period FROM goal AS g WHERE g.period > p.period
                         ORDER BY g.period LIMIT 1)
                  FROM p WHERE p.period IS NOT NULL
            )
            SELECT period FROM p WHERE period IS NOT NULL ORDER BY period DESC
            """
        )
    ).scalars()
    return list(rows)


def parent_options(
    *, session: Session, actor: TenantContext, search: str = "", limit: int = 20
) -> list[GoalLink]:
    """Goals the actor may align to: active goals they may see (their own, their team's and
    their management chain's), by title."""
    conditions: list[ColumnElement[bool]] = [
        col(Goal.status).in_([GoalStatus.active.value, GoalStatus.draft.value])
    ]
    if search.strip():
        conditions.append(col(Goal.title).ilike(f"%{escape_like(search.strip())}%", escape="\\"))
    visible = visible_user_ids(actor)
    if visible is not None and actor.user_id is not None:
        conditions.append(
            or_(
                col(Goal.owner_id).in_(visible),
                col(Goal.owner_id).in_(management_chain(actor.user_id)),
            )
        )
    rows = session.execute(
        select(Goal, col(User.display_name))
        .join(User, owned_by())
        .where(*conditions)
        .order_by(col(Goal.title))
        .limit(min(max(limit, 1), 50))
    ).all()
    return [link(g, name, visible=True) for g, name in rows]


def owner_options(*, session: Session, actor: TenantContext, limit: int = 200) -> list[OwnerOption]:
    """People the actor may give a goal to: themself first, then the active people below
    them (everyone active, for admins), by name."""
    if actor.user_id is None:
        return []
    conditions: list[ColumnElement[bool]] = [col(User.is_active).is_(True)]
    visible = visible_user_ids(actor)
    if visible is not None:
        conditions.append(col(User.id).in_(visible))
    rows = session.execute(
        select(col(User.id), col(User.display_name))
        .where(*conditions)
        .order_by(col(User.id) != actor.user_id, col(User.display_name))
        .limit(min(max(limit, 1), 500))
    ).all()
    return [OwnerOption(id=str(i), name=n) for i, n in rows]
