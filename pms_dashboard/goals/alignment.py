"""Alignment: the chain of goals above a goal and the tree below it, each read in one
statement (a recursive query) whatever its size, with what the viewer may open decided for
all their owners at once — a goal page costs the same few statements for a tree of three
goals or of three hundred.

A goal the viewer may not open stays in the chain or tree (its progress counts), shown
without its title, owner or id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Uuid, all_, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, Resource, decide, relations_to
from pms_dashboard.auth.resolve import RawId
from pms_dashboard.goals.models import Goal, GoalStatus
from pms_dashboard.goals.rules import (
    HIDDEN_TITLE,
    MAX_ALIGNMENT_DEPTH,
    open_goal,
    owned_by,
)
from pms_dashboard.goals.schemas import GoalLink, TreeNode
from pms_dashboard.tenancy.context import TenantContext

MAX_TREE_NODES = 200


@dataclass(frozen=True, slots=True)
class Aligned:
    """A goal found above or below another: its owner's name and how far away it is."""

    goal: Goal
    owner: str
    distance: int  # 1: parent or child, 2: grandparent or grandchild, ...


def _ancestors_query() -> Any:
    """Parent, grandparent, ... of the goal `:goal` whose parent is `:parent` (nearest
    first), stopping at a loop or the depth limit."""
    chain = (
        select(
            col(Goal.id),
            col(Goal.parent_id),
            literal(1).label("distance"),
            array([bindparam("goal", type_=Uuid), col(Goal.id)]).label("seen"),
        )
        .where(col(Goal.id) == bindparam("parent", type_=Uuid))
        .cte("goal_chain", recursive=True)
    )
    chain = chain.union_all(
        select(
            col(Goal.id),
            col(Goal.parent_id),
            chain.c.distance + 1,
            func.array_append(chain.c.seen, Goal.id),
        )
        .join(chain, col(Goal.id) == chain.c.parent_id)
        .where(col(Goal.id) != all_(chain.c.seen), chain.c.distance < MAX_ALIGNMENT_DEPTH)
    )
    return _with_owners(chain, chain.c.distance)


def _descendants_query() -> Any:
    """The goals aligned below `:root` that are not archived, down to `:levels` below it,
    depth-first with each goal's aligned goals by title (at most `:limit` of them; NULL:
    all)."""
    # `place` numbers a goal among its siblings by title; the places from the root down
    # sort the whole tree depth-first, so the database returns only the first `limit`.
    place = func.row_number().over(
        partition_by=col(Goal.parent_id), order_by=(col(Goal.title), col(Goal.id))
    )
    live = col(Goal.status) != GoalStatus.archived.value
    root = bindparam("root", type_=Uuid)
    tree = (
        select(
            col(Goal.id),
            literal(1).label("distance"),
            array([place]).label("places"),
            array([root, col(Goal.id)]).label("seen"),
        )
        .where(col(Goal.parent_id) == root, live)
        .cte("goal_tree", recursive=True)
    )
    tree = tree.union_all(
        select(
            col(Goal.id),
            tree.c.distance + 1,
            func.array_append(tree.c.places, place),
            func.array_append(tree.c.seen, Goal.id),
        )
        .join(tree, col(Goal.parent_id) == tree.c.id)
        .where(live, col(Goal.id) != all_(tree.c.seen), tree.c.distance < bindparam("levels"))
    )
    return _with_owners(tree, tree.c.places).limit(bindparam("limit", type_=Integer))


def _with_owners(found: Any, order: Any) -> Any:
    """The goals `found` (a query of ids and distances), with their owners' names."""
    return (
        select(Goal, col(_OWNER.display_name), found.c.distance)
        .join(found, col(Goal.id) == found.c.id)
        .join(_OWNER, owned_by(_OWNER))
        .order_by(order)
    )


# Built once (with bound parameters): building a recursive query costs more than running it.
_OWNER = aliased(User, name="owner")
_ANCESTORS = _ancestors_query()
_DESCENDANTS = _descendants_query()


def ancestors(session: Session, goal: Goal) -> list[Aligned]:
    """Parent, grandparent, ... (nearest first), stopping at a loop or the depth limit."""
    if goal.parent_id is None:
        return []
    rows = session.execute(_ANCESTORS, {"goal": goal.id, "parent": goal.parent_id})
    return [Aligned(g, name, distance) for g, name, distance in rows]


def descendants(
    session: Session, root: Goal, *, levels: int, limit: int | None = None
) -> list[Aligned]:
    """The goals aligned below `root` that are not archived, down to `levels` below it,
    depth-first with each goal's aligned goals by title (at most `limit` of them)."""
    rows = session.execute(_DESCENDANTS, {"root": root.id, "levels": levels, "limit": limit})
    return [Aligned(g, name, distance) for g, name, distance in rows]


def viewable(session: Session, actor: TenantContext, goals: Iterable[Goal]) -> set[uuid.UUID]:
    """Those owners of `goals` whose goals the actor may open (one statement for all)."""
    relations = relations_to(session=session, actor=actor, subject_ids={g.owner_id for g in goals})
    return {
        person
        for person, relation in relations.items()
        if decide(actor.role, Resource.goal, Action.view, relation)
    }


def link(goal: Goal, owner: str, *, visible: bool) -> GoalLink:
    """Another goal as a page links to it (hidden: in the chain, but not the viewer's to open)."""
    return GoalLink(
        id=str(goal.id),
        title=goal.title if visible else HIDDEN_TITLE,
        owner=owner if visible else "",
        progress=goal.progress,
        weight=goal.weight,
        status=goal.status,
        visible=visible,
    )


def alignment_tree(
    *, session: Session, actor: TenantContext, root_id: RawId, max_nodes: int = MAX_TREE_NODES
) -> list[TreeNode]:
    """The goal and everything aligned below it, depth-first, as the actor may see it."""
    root = open_goal(session, actor, root_id)
    below = tree_below(session, root.goal, max_nodes)
    may_open = viewable(session, actor, (a.goal for a in below))
    return tree_nodes(root.goal, root.owner, below, may_open)[:max_nodes]


def tree_below(session: Session, root: Goal, max_nodes: int) -> list[Aligned]:
    """What `alignment_tree` shows below an opened goal (at most `max_nodes` with it)."""
    return descendants(session, root, levels=MAX_ALIGNMENT_DEPTH, limit=max(max_nodes - 1, 0))


def tree_nodes(
    root: Goal, owner: str, below: list[Aligned], may_open: set[uuid.UUID]
) -> list[TreeNode]:
    """The tree's nodes: the goal, then what is below it, hidden where not the actor's."""
    nodes = [_node(root, owner, 0, visible=True)]
    nodes += [
        _node(a.goal, a.owner, a.distance, visible=a.goal.owner_id in may_open) for a in below
    ]
    return nodes


def _node(goal: Goal, owner: str, depth: int, *, visible: bool) -> TreeNode:
    return TreeNode(
        id=str(goal.id) if visible else "",
        title=goal.title if visible else HIDDEN_TITLE,
        owner=owner if visible else "",
        progress=goal.progress,
        status=goal.status,
        depth=depth,
    )
