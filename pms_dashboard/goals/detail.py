"""One goal as its page shows it: the goal, its key results, check-in history, the chain of
goals above it and the goals aligned to it — in a fixed number of statements whatever the
size of its alignment (see `goals.alignment`)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from sqlalchemy import Integer, Uuid, and_, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, Resource, decide
from pms_dashboard.auth.resolve import RawId
from pms_dashboard.goals.alignment import ancestors, descendants, link, tree_below, viewable
from pms_dashboard.goals.alignment import tree_nodes as make_tree
from pms_dashboard.goals.models import Goal, GoalCheckIn
from pms_dashboard.goals.rules import KEY_RESULTS_OF, flags, kr_progress, open_goal, stale_before
from pms_dashboard.goals.schemas import CheckInView, GoalDetail, KeyResultView
from pms_dashboard.keys.envelope import Place
from pms_dashboard.keys.fields import opened
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import read_rows

MAX_CHECK_INS = 200


def goal_detail(
    *,
    session: Session,
    actor: TenantContext,
    goal_id: RawId,
    check_ins: int = 20,
    tree_nodes: int = 0,
    below: bool = True,
) -> GoalDetail:
    """Everything the detail page shows: key results, check-in history, parent chain and
    aligned goals (those the actor may not open are shown without title or owner), and with
    `tree_nodes` the alignment tree below it (at most that many nodes), all from one opening
    of the goal and one look at who may open what. Without `below`, what is below the goal
    is not read (`children` and `tree` empty, `progress_source` from the key results only):
    for a page that already shows it and changed only the goal and what is above it."""
    opened = open_goal(session, actor, goal_id)
    goal = opened.goal
    key_results = _key_results(session, goal)
    tree = tree_below(session, goal, tree_nodes) if below and tree_nodes else []
    if not below:
        children = []
    elif tree_nodes and len(tree) < tree_nodes - 1:  # the whole tree: its first level
        children = [a for a in tree if a.distance == 1]
    else:
        children = descendants(session, goal, levels=1)
    chain = ancestors(session, goal)
    may_open = viewable(session, actor, (a.goal for a in [*chain, *children, *tree]))
    links = [link(a.goal, a.owner, visible=a.goal.owner_id in may_open) for a in chain]
    stale, overdue = flags(goal, stale_before(session), date.today())
    return GoalDetail(
        id=str(goal.id),
        title=goal.title,
        description=goal.description,
        owner=opened.owner,
        period=goal.period,
        start_date=goal.start_date,
        due_date=goal.due_date,
        status=goal.status,
        progress=goal.progress,
        weight=goal.weight,
        stale=stale,
        overdue=overdue,
        progress_source=_source(bool(key_results), bool(children)),
        may_edit=decide(actor.role, Resource.goal, Action.edit, opened.relation),
        parent=links[0] if links else None,
        confidence=goal.confidence or "",
        ancestors=list(reversed(links)),
        children=[link(c.goal, c.owner, visible=c.goal.owner_id in may_open) for c in children],
        key_results=key_results,
        check_ins=_history(session, goal, min(max(check_ins, 1), MAX_CHECK_INS)),
        tree=make_tree(goal, opened.owner, tree, may_open)[:tree_nodes]
        if below and tree_nodes
        else [],
    )


def _key_results(session: Session, goal: Goal) -> list[KeyResultView]:
    rows = session.scalars(KEY_RESULTS_OF, {"goal": goal.id})
    return [
        KeyResultView(
            id=str(k.id),
            title=k.title,
            start_value=k.start_value,
            target_value=k.target_value,
            current_value=k.current_value,
            unit=k.unit,
            weight=k.weight,
            progress=kr_progress(k.start_value, k.target_value, k.current_value),
        )
        for k in rows
    ]


def _history(session: Session, goal: Goal, limit: int) -> list[CheckInView]:
    """The latest check-ins, newest first, with their authors' names."""
    return _views(session, read_rows(session, _GOAL_HISTORY, {"goal": goal.id, "limit": limit}))


def _source(
    key_results: bool, aligned: bool
) -> Literal["key_results", "aligned", "both", "check_ins"]:
    """Where the goal's progress comes from: its key results and aligned goals weigh in
    together (`checkins.recompute_progress`); with neither, each check-in sets it."""
    if key_results and aligned:
        return "both"
    return "key_results" if key_results else "aligned" if aligned else "check_ins"


def newest_check_ins(session: Session, *where: Any, limit: int) -> list[CheckInView]:
    """The check-ins matching `where` (on the check-in or its goal), newest first, with
    their authors' names and their goals, their notes opened (`keys.fields.opened`). The
    goal page's history and a review's context both read them so."""
    return _views(session, read_rows(session, _check_ins(*where).limit(limit)))


def _check_ins(*where: Any) -> Any:
    """Columns, not objects: a page of history builds no objects to track."""
    return (
        select(
            col(GoalCheckIn.tenant_id),
            col(GoalCheckIn.id),
            col(GoalCheckIn.goal_id),
            col(GoalCheckIn.created_at),
            col(GoalCheckIn.progress),
            col(GoalCheckIn.confidence),
            col(GoalCheckIn.note),
            col(User.display_name).label("author"),
            col(Goal.title).label("goal_title"),
        )
        .join(
            User,
            and_(
                col(User.id) == GoalCheckIn.author_id, col(User.tenant_id) == GoalCheckIn.tenant_id
            ),
        )
        .join(
            Goal,
            and_(col(Goal.id) == GoalCheckIn.goal_id, col(Goal.tenant_id) == GoalCheckIn.tenant_id),
        )
        .where(*where)
        .order_by(col(GoalCheckIn.created_at).desc())
    )


# A goal page's history, built once (`:goal`, the latest `:limit`).
_GOAL_HISTORY = _check_ins(col(GoalCheckIn.goal_id) == bindparam("goal", type_=Uuid)).limit(
    bindparam("limit", type_=Integer)
)


def _views(session: Session, rows: Any) -> list[CheckInView]:
    return [
        CheckInView(
            id=str(ci.id),
            author=ci.author,
            at=ci.created_at,
            progress=ci.progress,
            confidence=ci.confidence,
            note=opened(session, Place(ci.tenant_id, _TABLE, "note", ci.id), ci.note),
            goal_id=str(ci.goal_id),
            goal_title=ci.goal_title,
        )
        for ci in rows
    ]


_TABLE = GoalCheckIn.__tablename__
