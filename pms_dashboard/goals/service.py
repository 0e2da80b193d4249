"""Goals: lists, detail, create/edit/archive, key results, check-ins, alignment and roll-up.

Every function takes the caller's session (a tenant session: RLS confines it to one tenant)
and the actor, checks with `auth.permissions` what the actor may do to whose goal, and never
commits. A goal's permission subject is its owner. "Not yours" and "does not exist" are
refused the same way, so ids of other teams or tenants cannot be probed.

Progress rule: a goal's progress is the weighted mean of its components — its key results
(each from start/current/target) and its aligned, non-archived child goals (each with its
own progress). A goal with no components takes its progress from check-ins. A change to a
key result or a child walks up the alignment chain, so parents roll up at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, text
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth.permissions import (
    Action,
    PermissionDenied,
    Resource,
    management_chain,
    may,
    reports_subtree,
    require,
    visible_user_ids,
)
from pms_dashboard.auth.resolve import (
    IdKind,
    RawId,
    parse_id,
    resolve,
    resolve_all,
    resolve_name,
    resolve_optional,
)
from pms_dashboard.db.text import escape_like
from pms_dashboard.goals.models import Confidence, Goal, GoalCheckIn, GoalStatus, KeyResult
from pms_dashboard.goals.schemas import (
    CheckInInput,
    CheckInView,
    GoalDetail,
    GoalError,
    GoalHealth,
    GoalInput,
    GoalLink,
    GoalListQuery,
    GoalRow,
    KeyResultInput,
    KeyResultView,
    OwnerOption,
    TreeNode,
)
from pms_dashboard.paging import Page, page_count
from pms_dashboard.people.models import User
from pms_dashboard.tenancy import limits
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.customization import get_customization

MAX_ALIGNMENT_DEPTH = 12
DUE_SOON_DAYS = 14
HUNDRED = Decimal(100)


# ------------------------------------------------------------------------------ helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _pct(value: Decimal | float | None) -> int:
    return int(Decimal(str(value or 0)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def kr_progress(start: Decimal, target: Decimal, current: Decimal) -> Decimal:
    """Share of the way from start to target, 0-100 (works for "lower is better" too)."""
    if target == start:
        return HUNDRED if current == target else Decimal(0)
    share = (current - start) / (target - start)
    return max(Decimal(0), min(Decimal(1), share)) * HUNDRED


def _stale_before(session: Session) -> datetime:
    """Goals with no check-in (nor creation) since this moment are stale (tenant setting)."""
    return _now() - timedelta(days=get_customization(session=session).stale_after_days)


def _stale_condition(stale_before: datetime) -> ColumnElement[bool]:
    """Active, and neither checked in on nor created within the threshold."""
    return and_(
        col(Goal.status) == GoalStatus.active.value,
        func.coalesce(col(Goal.last_check_in_at), Goal.created_at) < stale_before,
    )


def _flags(goal: Goal, stale_before: datetime, today: date) -> tuple[bool, bool]:
    """(stale, overdue) of one loaded goal: the same rule as `_stale_condition`."""
    active = goal.status == GoalStatus.active.value
    return (
        active and (goal.last_check_in_at or goal.created_at) < stale_before,
        active and goal.due_date < today,
    )


def _visible_goals(actor: TenantContext, scope: str) -> list[ColumnElement[bool]]:
    """Owner conditions for a list in `scope` ("mine", "team": everyone below the actor,
    "all": everything the actor may see)."""
    if actor.user_id is None:
        return [literal(False)]
    if scope == "mine":
        return [col(Goal.owner_id) == actor.user_id]
    visible = visible_user_ids(actor)
    conditions: list[ColumnElement[bool]] = []
    if visible is not None:
        conditions.append(col(Goal.owner_id).in_(visible))
    if scope == "team":
        conditions.append(col(Goal.owner_id) != actor.user_id)
        if visible is None:  # admins: "team" is still their own subtree
            conditions.append(col(Goal.owner_id).in_(reports_subtree(actor.user_id)))
    return conditions


def _load(session: Session, actor: TenantContext, goal_id: RawId, action: Action) -> Goal:
    """The goal, if it is one of the tenant's (else `NotFoundHere`) and the actor may do
    `action` to it (else `PermissionDenied`)."""
    gid = resolve(session=session, actor=actor, kind=IdKind.goal, raw=goal_id, action=action)
    goal = session.scalars(select(Goal).where(col(Goal.id) == gid)).one()
    require(
        session=session,
        actor=actor,
        resource=Resource.goal,
        action=action,
        subject_id=goal.owner_id,
    )
    return goal


@dataclass(frozen=True, slots=True)
class _InputIds:
    """The ids a goal form names, resolved in the tenant before anything else is checked."""

    owner_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    key_results: list[uuid.UUID | None]  # one per `data.key_results` item (None: a new one)


def _resolve_input(
    session: Session, actor: TenantContext, data: GoalInput, action: Action
) -> _InputIds:
    kw: dict[str, Any] = {"session": session, "actor": actor, "action": action}
    owner_id = resolve_optional(kind=IdKind.owner, raw=data.owner_id, **kw)
    parent_id = resolve_optional(kind=IdKind.parent, raw=data.parent_id, **kw)
    given = [kr.id for kr in data.key_results or [] if kr.id not in (None, "")]
    resolve_all(kind=IdKind.key_result, raw=given, **kw)
    krs = [None if kr.id in (None, "") else parse_id(kr.id) for kr in data.key_results or []]
    return _InputIds(owner_id, parent_id, krs)


def _snapshot(goal: Goal) -> dict[str, Any]:
    return {
        "title": goal.title,
        "description": goal.description,
        "owner_id": str(goal.owner_id),
        "parent_id": str(goal.parent_id) if goal.parent_id else None,
        "period": goal.period,
        "start_date": goal.start_date.isoformat(),
        "due_date": goal.due_date.isoformat(),
        "status": goal.status,
        "weight": str(goal.weight),
        "progress": str(goal.progress),
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {"before": before.get(k), "after": v} for k, v in after.items() if before.get(k) != v
    }


# --------------------------------------------------------------------------------- lists


def goal_list_conditions(
    *,
    session: Session,
    actor: TenantContext,
    query: GoalListQuery,
    owner: Any,
    stale_before: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE of a goal list: what the actor may see in `query.scope`, filtered as the
    query asks (`owner` is the alias of the owner's person row the caller joins). The page
    and its CSV export both use it, so an export holds exactly the rows of the list."""
    today = date.today()
    conditions = _visible_goals(actor, query.scope)
    if query.status:
        conditions.append(col(Goal.status) == query.status)
    else:
        conditions.append(col(Goal.status) != GoalStatus.archived.value)
    if query.search:
        conditions.append(col(Goal.title).ilike(f"%{escape_like(query.search)}%", escape="\\"))
    # filter values are resolved like any id or name a request carries: a person, team or
    # department that is not this tenant's is refused, never silently an empty list
    if query.owner_id:
        owner_id = resolve(session=session, actor=actor, kind=IdKind.owner, raw=query.owner_id)
        conditions.append(col(Goal.owner_id) == owner_id)
    if query.department:
        department = resolve_name(
            session=session, actor=actor, kind=IdKind.department, raw=query.department
        )
        conditions.append(col(owner.department) == department)
    if query.team:
        team = resolve_name(session=session, actor=actor, kind=IdKind.team, raw=query.team)
        conditions.append(col(owner.team) == team)
    if query.period:
        conditions.append(col(Goal.period) == query.period)
    if query.stale_only:
        conditions.append(_stale_condition(stale_before or _stale_before(session)))
    if query.due_within_days is not None:
        conditions.append(col(Goal.status) == GoalStatus.active.value)
        conditions.append(col(Goal.due_date) <= today + timedelta(days=query.due_within_days))
        conditions.append(col(Goal.due_date) >= today)
    if query.confidence:
        conditions.append(col(Goal.confidence) == query.confidence)
    return conditions


def list_goals(*, session: Session, actor: TenantContext, query: GoalListQuery) -> Page:
    """One page of the goals the actor may see in `query.scope`, filtered and sorted
    (TenantBusy when the tenant already runs its share of list queries)."""
    limits.take_slot(session, limits.LIST)
    today = date.today()
    stale_before = _stale_before(session)
    owner = aliased(User)
    conditions = goal_list_conditions(
        session=session, actor=actor, query=query, owner=owner, stale_before=stale_before
    )

    base = select(Goal)
    if query.department or query.team:  # the count joins people only when it filters on them
        base = base.join(
            owner, and_(col(owner.id) == Goal.owner_id, col(owner.tenant_id) == Goal.tenant_id)
        )
    total: int = (
        session.scalar(select(func.count()).select_from(base.where(*conditions).subquery())) or 0
    )
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
    page = min(query.page, page_count(total, query.page_size))
    rows = session.execute(
        select(
            Goal,
            col(owner.display_name),
            kr_count.label("key_results"),
        )
        .join(owner, and_(col(owner.id) == Goal.owner_id, col(owner.tenant_id) == Goal.tenant_id))
        .where(*conditions)
        .order_by(order, col(Goal.id))
        .limit(query.page_size)
        .offset((page - 1) * query.page_size)
    ).all()
    return Page(
        rows=[
            GoalRow(
                id=str(g.id),
                title=g.title,
                owner=name,
                status=g.status,
                period=g.period,
                progress=_pct(g.progress),
                due_date=g.due_date.isoformat(),
                key_results=int(n),
                confidence=g.confidence or "",
                stale=stale,
                overdue=overdue,
            )
            for g, name, n in rows
            for stale, overdue in [_flags(g, stale_before, today)]
        ],
        total=total,
        page=page,
        page_size=query.page_size,
    )


def goal_health(*, session: Session, actor: TenantContext, scope: str = "all") -> GoalHealth:
    """Counts behind the overview's goal charts, over the goals visible in `scope`."""
    today = date.today()
    stale_before = _stale_before(session)
    active = col(Goal.status) == GoalStatus.active.value
    conf = col(Goal.confidence)
    row = session.execute(
        select(
            func.count(),
            func.count().filter(and_(active, conf == Confidence.on_track.value)),
            func.count().filter(and_(active, conf == Confidence.at_risk.value)),
            func.count().filter(and_(active, conf == Confidence.off_track.value)),
            func.count().filter(and_(active, conf.is_(None))),
            func.count().filter(col(Goal.status) == GoalStatus.completed.value),
            func.count().filter(_stale_condition(stale_before)),
            func.count().filter(and_(active, col(Goal.due_date) < today)),
            func.count().filter(
                and_(
                    active,
                    col(Goal.due_date) >= today,
                    col(Goal.due_date) <= today + timedelta(days=DUE_SOON_DAYS),
                )
            ),
        ).where(col(Goal.status) != GoalStatus.archived.value, *_visible_goals(actor, scope))
    ).one()
    return GoalHealth(*[int(v) for v in row])


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
        .join(User, and_(col(User.id) == Goal.owner_id, col(User.tenant_id) == Goal.tenant_id))
        .where(*conditions)
        .order_by(col(Goal.title))
        .limit(min(max(limit, 1), 50))
    ).all()
    return [_link(g, name, visible=True) for g, name in rows]


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


def _link(goal: Goal, owner: str, *, visible: bool) -> GoalLink:
    return GoalLink(
        id=str(goal.id),
        title=goal.title if visible else "A goal you cannot open",
        owner=owner if visible else "",
        progress=_pct(goal.progress),
        weight=float(goal.weight),
        status=goal.status,
        visible=visible,
    )


# -------------------------------------------------------------------------------- detail


def goal_detail(
    *, session: Session, actor: TenantContext, goal_id: RawId, check_ins: int = 20
) -> GoalDetail:
    """Everything the detail page shows: key results, check-in history, parent chain and
    aligned goals (those the actor may not open are shown without title or owner)."""
    goal = _load(session, actor, goal_id, Action.view)
    names = _names(session, [goal.owner_id])
    krs = session.scalars(
        select(KeyResult)
        .where(col(KeyResult.goal_id) == goal.id)
        .order_by(col(KeyResult.created_at), col(KeyResult.id))
    ).all()
    history = session.execute(
        select(GoalCheckIn, col(User.display_name))
        .join(
            User,
            and_(
                col(User.id) == GoalCheckIn.author_id, col(User.tenant_id) == GoalCheckIn.tenant_id
            ),
        )
        .where(col(GoalCheckIn.goal_id) == goal.id)
        .order_by(col(GoalCheckIn.created_at).desc())
        .limit(min(max(check_ins, 1), 200))
    ).all()
    children = session.execute(
        select(Goal, col(User.display_name))
        .join(User, and_(col(User.id) == Goal.owner_id, col(User.tenant_id) == Goal.tenant_id))
        .where(col(Goal.parent_id) == goal.id, col(Goal.status) != GoalStatus.archived.value)
        .order_by(col(Goal.title))
    ).all()
    ancestors = _ancestors(session, goal)
    ancestor_links = [_link(a, name, visible=_may_view(session, actor, a)) for a, name in ancestors]
    stale, overdue = _flags(goal, _stale_before(session), date.today())
    source = "key_results" if krs else ("aligned" if children else "check_ins")
    return GoalDetail(
        id=str(goal.id),
        title=goal.title,
        description=goal.description,
        owner=names.get(goal.owner_id, ""),
        period=goal.period,
        start_date=goal.start_date.isoformat(),
        due_date=goal.due_date.isoformat(),
        status=goal.status,
        progress=_pct(goal.progress),
        weight=float(goal.weight),
        stale=stale,
        overdue=overdue,
        progress_source=source,  # type: ignore[arg-type]
        may_edit=may(
            session=session,
            actor=actor,
            resource=Resource.goal,
            action=Action.edit,
            subject_id=goal.owner_id,
        ),
        parent=ancestor_links[0] if ancestor_links else None,
        ancestors=list(reversed(ancestor_links)),
        children=[_link(c, name, visible=_may_view(session, actor, c)) for c, name in children],
        key_results=[
            KeyResultView(
                id=str(k.id),
                title=k.title,
                start_value=float(k.start_value),
                target_value=float(k.target_value),
                current_value=float(k.current_value),
                unit=k.unit,
                weight=float(k.weight),
                progress=_pct(kr_progress(k.start_value, k.target_value, k.current_value)),
            )
            for k in krs
        ],
        check_ins=[
            CheckInView(
                id=str(ci.id),
                author=name,
                at=ci.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                progress=_pct(ci.progress),
                confidence=ci.confidence,
                note=ci.note,
            )
            for ci, name in history
        ],
    )


def _may_view(session: Session, actor: TenantContext, goal: Goal) -> bool:
    return may(
        session=session,
        actor=actor,
        resource=Resource.goal,
        action=Action.view,
        subject_id=goal.owner_id,
    )


def _names(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(
        session.execute(  # type: ignore[arg-type]
            select(col(User.id), col(User.display_name)).where(col(User.id).in_(wanted))
        ).all()
    )


def _ancestors(session: Session, goal: Goal) -> list[tuple[Goal, str]]:
    """Parent, grandparent, ... (nearest first), stopping at a cycle or the depth limit."""
    out: list[tuple[Goal, str]] = []
    seen = {goal.id}
    parent_id = goal.parent_id
    while parent_id is not None and parent_id not in seen and len(out) < MAX_ALIGNMENT_DEPTH:
        row = session.execute(
            select(Goal, col(User.display_name))
            .join(User, and_(col(User.id) == Goal.owner_id, col(User.tenant_id) == Goal.tenant_id))
            .where(col(Goal.id) == parent_id)
        ).first()
        if row is None:
            break
        out.append((row[0], row[1]))
        seen.add(parent_id)
        parent_id = row[0].parent_id
    return out


def alignment_tree(
    *, session: Session, actor: TenantContext, root_id: RawId, max_nodes: int = 200
) -> list[TreeNode]:
    """The goal and everything aligned below it, depth-first, as the actor may see it."""
    root = _load(session, actor, root_id, Action.view)
    owners = aliased(User)
    nodes: list[TreeNode] = []
    stack: list[tuple[Goal, str, int]] = [
        (root, _names(session, [root.owner_id]).get(root.owner_id, ""), 0)
    ]
    seen: set[uuid.UUID] = set()
    while stack and len(nodes) < max_nodes:
        goal, owner, depth = stack.pop()
        if goal.id in seen:
            continue
        seen.add(goal.id)
        visible = depth == 0 or _may_view(session, actor, goal)
        nodes.append(
            TreeNode(
                id=str(goal.id) if visible else "",
                title=goal.title if visible else "A goal you cannot open",
                owner=owner if visible else "",
                progress=_pct(goal.progress),
                status=goal.status,
                depth=depth,
            )
        )
        if depth >= MAX_ALIGNMENT_DEPTH:
            continue
        kids = session.execute(
            select(Goal, col(owners.display_name))
            .join(
                owners,
                and_(col(owners.id) == Goal.owner_id, col(owners.tenant_id) == Goal.tenant_id),
            )
            .where(col(Goal.parent_id) == goal.id, col(Goal.status) != GoalStatus.archived.value)
            .order_by(col(Goal.title).desc())
        ).all()
        stack.extend((k, name, depth + 1) for k, name in kids)
    return nodes


# ------------------------------------------------------------------------------- changes


def _check_parent(
    session: Session, actor: TenantContext, parent_id: uuid.UUID | None, goal_id: uuid.UUID | None
) -> Goal | None:  # (parent_id is resolved already)
    """The parent to align to: visible to the actor, not archived, and not the goal itself
    or anything aligned below it (no loops)."""
    if parent_id is None:
        return None
    try:
        parent = _load(session, actor, parent_id, Action.view)
    except PermissionDenied:
        raise GoalError("The parent goal was not found or you cannot see it.") from None
    if parent.status == GoalStatus.archived.value:
        raise GoalError("You cannot align to an archived goal.")
    if goal_id is not None:
        chain = [parent.id, *(g.id for g, _ in _ancestors(session, parent))]
        if goal_id in chain:
            raise GoalError("A goal cannot be aligned to itself or to a goal aligned below it.")
    if len(_ancestors(session, parent)) + 1 >= MAX_ALIGNMENT_DEPTH:
        raise GoalError(f"Alignment chains are limited to {MAX_ALIGNMENT_DEPTH} levels.")
    return parent


def _owner_for(session: Session, actor: TenantContext, owner_id: uuid.UUID | None) -> uuid.UUID:
    owner = owner_id or actor.user_id
    if owner is None:
        raise PermissionDenied(Resource.goal, Action.create)
    user = session.scalars(select(User).where(col(User.id) == owner)).first()
    if user is None:
        raise PermissionDenied(Resource.goal, Action.create)
    require(
        session=session, actor=actor, resource=Resource.goal, action=Action.create, subject_id=owner
    )
    if not user.is_active:
        raise GoalError("Goals cannot be given to a deactivated person.")
    return owner


def create_goal(*, session: Session, actor: TenantContext, data: GoalInput) -> uuid.UUID:
    """A new goal for the actor (or for someone the actor manages), with its key results."""
    ids = _resolve_input(session, actor, data, Action.create)
    owner_id = _owner_for(session, actor, ids.owner_id)
    _check_parent(session, actor, ids.parent_id, None)
    goal = Goal(
        owner_id=owner_id,
        parent_id=ids.parent_id,
        title=data.title,
        description=data.description,
        period=data.period,
        start_date=data.start_date,
        due_date=data.due_date,
        weight=data.weight,
        status=data.status,
    )
    session.add(goal)
    session.flush()
    kr_changes = _apply_key_results(session, goal, data.key_results or [], ids.key_results)
    recompute_progress(session=session, goal_ids=[goal.id])
    audit.record(
        session=session,
        action="goal.create",
        actor_id=actor.user_id,
        entity_type="goal",
        entity_id=goal.id,
        detail={"after": _snapshot(goal), "key_results": kr_changes},
    )
    return goal.id


def update_goal(*, session: Session, actor: TenantContext, goal_id: RawId, data: GoalInput) -> None:
    """Edit a goal; when `data.key_results` is given it replaces the key results (kept by
    id, new ones added, missing ones removed)."""
    gid = resolve(session=session, actor=actor, kind=IdKind.goal, raw=goal_id, action=Action.edit)
    ids = _resolve_input(session, actor, data, Action.edit)
    goal = _load(session, actor, gid, Action.edit)
    if goal.status == GoalStatus.archived.value:
        raise GoalError("Archived goals cannot be edited.")
    before = _snapshot(goal)
    old_parent = goal.parent_id
    if ids.owner_id is not None and ids.owner_id != goal.owner_id:
        goal.owner_id = _owner_for(session, actor, ids.owner_id)
    if ids.parent_id != goal.parent_id:  # keep an existing alignment the editor cannot see
        _check_parent(session, actor, ids.parent_id, goal.id)
    goal.parent_id = ids.parent_id
    goal.title, goal.description, goal.period = data.title, data.description, data.period
    goal.start_date, goal.due_date = data.start_date, data.due_date
    goal.weight, goal.status = data.weight, data.status
    goal.updated_at = _now()
    kr_changes = (
        _apply_key_results(session, goal, data.key_results, ids.key_results)
        if data.key_results is not None
        else {}
    )
    session.flush()
    recompute_progress(session=session, goal_ids=[goal.id, *([old_parent] if old_parent else [])])
    changes = _diff(before, _snapshot(goal))
    if changes or kr_changes:
        audit.record(
            session=session,
            action="goal.update",
            actor_id=actor.user_id,
            entity_type="goal",
            entity_id=goal.id,
            detail={"changes": changes, "key_results": kr_changes},
        )


def archive_goal(*, session: Session, actor: TenantContext, goal_id: RawId) -> None:
    """Archive a goal: it leaves lists and stops counting towards its parent."""
    goal = _load(session, actor, goal_id, Action.archive)
    if goal.status == GoalStatus.archived.value:
        raise GoalError("That goal is already archived.")
    before = goal.status
    goal.status = GoalStatus.archived.value
    goal.updated_at = _now()
    session.flush()
    if goal.parent_id:
        recompute_progress(session=session, goal_ids=[goal.parent_id])
    audit.record(
        session=session,
        action="goal.archive",
        actor_id=actor.user_id,
        entity_type="goal",
        entity_id=goal.id,
        detail={"changes": {"status": {"before": before, "after": goal.status}}},
    )


def _apply_key_results(
    session: Session, goal: Goal, wanted: list[KeyResultInput], ids: list[uuid.UUID | None]
) -> dict[str, Any]:
    """`ids`: each item's resolved id (None for a new key result)."""
    existing = {
        k.id: k for k in session.scalars(select(KeyResult).where(col(KeyResult.goal_id) == goal.id))
    }
    changes: dict[str, Any] = {"added": [], "updated": [], "removed": []}
    keep: set[uuid.UUID] = set()
    for item, item_id in zip(wanted, ids, strict=True):
        if item_id is not None:
            kr = existing.get(item_id)
            if kr is None:
                raise GoalError(f"Key result '{item.title}' does not belong to this goal.")
            keep.add(kr.id)
            before = (
                kr.title,
                kr.start_value,
                kr.target_value,
                kr.current_value,
                kr.unit,
                kr.weight,
            )
            kr.title, kr.start_value, kr.target_value = (
                item.title,
                item.start_value,
                item.target_value,
            )
            if item.current_value is not None:
                kr.current_value = item.current_value
            kr.unit, kr.weight = item.unit, item.weight
            after = (
                kr.title,
                kr.start_value,
                kr.target_value,
                kr.current_value,
                kr.unit,
                kr.weight,
            )
            if before != after:
                changes["updated"].append({"id": str(kr.id), "title": kr.title})
        else:
            kr = KeyResult(
                goal_id=goal.id,
                title=item.title,
                start_value=item.start_value,
                target_value=item.target_value,
                current_value=item.current_value
                if item.current_value is not None
                else item.start_value,
                unit=item.unit,
                weight=item.weight,
            )
            session.add(kr)
            changes["added"].append({"title": kr.title, "target": str(kr.target_value)})
    for kr_id, kr in existing.items():
        if kr_id not in keep:
            session.delete(kr)
            changes["removed"].append({"id": str(kr_id), "title": kr.title})
    session.flush()
    return {k: v for k, v in changes.items() if v}


def check_in(
    *, session: Session, actor: TenantContext, goal_id: RawId, data: CheckInInput
) -> uuid.UUID:
    """Record a check-in: new key-result values (progress then follows from them) or, for a
    goal measured only by check-ins, a progress figure; rolls up to the parents."""
    gid = resolve(
        session=session, actor=actor, kind=IdKind.goal, raw=goal_id, action=Action.check_in
    )
    resolve_all(
        session=session, actor=actor, kind=IdKind.key_result, raw=list(data.key_results),
        action=Action.check_in,
    )  # fmt: skip
    values = {uuid.UUID(str(k)): v for k, v in data.key_results.items()}  # resolved above
    goal = _load(session, actor, gid, Action.check_in)
    if goal.status in (GoalStatus.archived.value, GoalStatus.draft.value):
        raise GoalError(f"You cannot check in on a {goal.status} goal.")
    if actor.user_id is None:
        raise PermissionDenied(Resource.goal, Action.check_in)
    krs = {
        k.id: k for k in session.scalars(select(KeyResult).where(col(KeyResult.goal_id) == goal.id))
    }
    unknown = set(values) - set(krs)
    if unknown:
        raise GoalError("A key result in the check-in does not belong to this goal.")
    has_children = session.scalar(
        select(literal(True)).where(
            col(Goal.parent_id) == goal.id, col(Goal.status) != GoalStatus.archived.value
        )
    )
    kr_changes = {}
    for kr_id, value in values.items():
        kr = krs[kr_id]
        if kr.current_value != value:
            kr_changes[str(kr_id)] = {"before": str(kr.current_value), "after": str(value)}
            kr.current_value = value
    if krs or has_children:
        if data.progress is not None:
            raise GoalError(
                "This goal's progress comes from its key results and aligned goals; "
                "update those instead of the percentage."
            )
        session.flush()
        recompute_progress(session=session, goal_ids=[goal.id])
    else:
        if data.progress is None:
            raise GoalError("Give the progress (0-100%) for this goal.")
        goal.progress = data.progress
        session.flush()
        if goal.parent_id:
            recompute_progress(session=session, goal_ids=[goal.parent_id])
    session.refresh(goal)
    entry = GoalCheckIn(
        goal_id=goal.id,
        author_id=actor.user_id,
        progress=goal.progress,
        confidence=data.confidence.value,
        note=data.note,
    )
    goal.updated_at = _now()
    goal.confidence, goal.last_check_in_at = entry.confidence, entry.created_at
    session.add(entry)
    session.flush()
    audit.record(
        session=session,
        action="goal.check_in",
        actor_id=actor.user_id,
        entity_type="goal",
        entity_id=goal.id,
        detail={
            "progress": str(goal.progress),
            "confidence": entry.confidence,
            "key_results": kr_changes,
        },
    )
    return entry.id


def recompute_progress(*, session: Session, goal_ids: Iterable[uuid.UUID]) -> None:
    """Recompute each goal from its components, then its parents, up the chain."""
    pending = list(dict.fromkeys(goal_ids))
    done: set[uuid.UUID] = set()
    while pending:
        goal_id = pending.pop(0)
        if goal_id in done or len(done) > 10 * MAX_ALIGNMENT_DEPTH:
            continue
        done.add(goal_id)
        goal = session.scalars(select(Goal).where(col(Goal.id) == goal_id)).first()
        if goal is None:
            continue
        parts: list[tuple[Decimal, Decimal]] = [
            (k.weight, kr_progress(k.start_value, k.target_value, k.current_value))
            for k in session.scalars(select(KeyResult).where(col(KeyResult.goal_id) == goal_id))
        ]
        parts += [
            (w, p)
            for w, p in session.execute(
                select(col(Goal.weight), col(Goal.progress)).where(
                    col(Goal.parent_id) == goal_id, col(Goal.status) != GoalStatus.archived.value
                )
            ).all()
        ]
        if parts:
            total_weight = sum((w for w, _ in parts), Decimal(0))
            value = sum((w * p for w, p in parts), Decimal(0)) / total_weight
            new = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if new != goal.progress:
                goal.progress = new
                session.flush()
        if goal.parent_id is not None:
            pending.append(goal.parent_id)


__all__ = [
    "GoalError",
    "alignment_tree",
    "archive_goal",
    "check_in",
    "create_goal",
    "goal_detail",
    "goal_health",
    "kr_progress",
    "list_goals",
    "owner_options",
    "parent_options",
    "periods",
    "recompute_progress",
    "update_goal",
]
