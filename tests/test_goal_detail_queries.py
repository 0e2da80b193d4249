"""A goal's page costs the same number of statements whatever the size of its alignment tree,
and shows exactly what the viewer may see and edit: goals of people the viewer may not open
stay in the tree and the chain, without title or owner.

Statements are counted on the app engine (`before_cursor_execute`), as pms_app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from pms_dashboard.db import engine as db_engine
from pms_dashboard.goals import service
from pms_dashboard.goals.models import Goal, GoalStatus
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, ctx

HIDDEN = "A goal you cannot open"
OWNERS = ("manager", "emp1", "emp2", "admin")  # node i belongs to OWNERS[i % 4]
# Whose goals each viewer may open and edit (the fixture's tenant: manager -> emp1, emp2;
# the admin is nobody's manager and reports to nobody).
MAY_VIEW = {
    "emp1": {"emp1", "manager"},  # self and management chain; a peer's and the admin's: no
    "manager": {"manager", "emp1", "emp2"},
    "admin": set(OWNERS),
}
MAY_EDIT = {"emp1": {"emp1"}, "manager": {"manager", "emp1", "emp2"}, "admin": set(OWNERS)}
NAMES = {"manager": "Manager", "emp1": "Employee 1", "emp2": "Employee 2", "admin": "Admin"}


@dataclass
class Tree:
    """Goals `Goal 00` ... in breadth-first order; node i's parent is `parents[i]`."""

    t: TenantFixture
    ids: list[Any]
    parents: list[int | None]

    def owner(self, i: int) -> str:
        return OWNERS[i % len(OWNERS)]

    def children(self, i: int) -> list[int]:
        return [k for k, p in enumerate(self.parents) if p == i]

    def depth(self, i: int) -> int:
        parent = self.parents[i]
        return 0 if parent is None else self.depth(parent) + 1

    def preorder(self, i: int) -> list[int]:
        return [i, *(k for c in self.children(i) for k in self.preorder(c))]

    def chain(self, i: int) -> list[int]:
        """Ancestors of node i, the root first."""
        parent = self.parents[i]
        return [] if parent is None else [*self.chain(parent), parent]


def _build(t: TenantFixture, size: int, fan_out: int) -> Tree:
    """`size` goals aligned in a tree (`fan_out` children a node), plus an archived child of
    the root with a child of its own, which no page may show."""
    parents: list[int | None] = [None, *((i - 1) // fan_out for i in range(1, size))]
    start, due = date.today() - timedelta(days=10), date.today() + timedelta(days=80)
    ids: list[Any] = []
    with owner_session() as s:
        for i, parent in enumerate(parents):
            goal = Goal(
                tenant_id=t.id,
                owner_id=t.user_id(OWNERS[i % len(OWNERS)]),
                parent_id=None if parent is None else ids[parent],
                title=f"Goal {i:02d}",
                start_date=start,
                due_date=due,
            )
            s.add(goal)
            s.flush()
            ids.append(goal.id)
        archived = Goal(
            tenant_id=t.id,
            owner_id=t.user_id("manager"),
            parent_id=ids[0],
            title="Archived",
            start_date=start,
            due_date=due,
            status=GoalStatus.archived.value,
        )
        s.add(archived)
        s.flush()
        s.add(
            Goal(
                tenant_id=t.id,
                owner_id=t.user_id("manager"),
                parent_id=archived.id,
                title="Below the archived one",
                start_date=start,
                due_date=due,
            )
        )
    return Tree(t, ids, parents)


@contextmanager
def _counted() -> Iterator[list[str]]:
    """The statements sent on the app engine while the block runs."""
    sent: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    engine = db_engine.app_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _page(tree: Tree, viewer: str, node: int) -> tuple[Any, list[Any], int]:
    """What the goal page loads (detail, then the tree below it) and its statement count."""
    actor = ctx(tree.t, viewer)
    with _counted() as sent, tenant_session(actor) as s:
        detail = service.goal_detail(session=s, actor=actor, goal_id=tree.ids[node])
        nodes = service.alignment_tree(session=s, actor=actor, root_id=tree.ids[node])
    return detail, nodes, len(sent)


def _expected_link(tree: Tree, viewer: str, i: int) -> tuple[str, str, str]:
    if tree.owner(i) in MAY_VIEW[viewer]:
        return str(tree.ids[i]), f"Goal {i:02d}", NAMES[tree.owner(i)]
    return str(tree.ids[i]), HIDDEN, ""


def _check(tree: Tree, viewer: str, node: int, detail: Any, nodes: list[Any]) -> None:
    """Every goal on the page as the rules say the viewer may see it."""
    assert detail.title == f"Goal {node:02d}" and detail.owner == NAMES[tree.owner(node)]
    assert detail.may_edit is (tree.owner(node) in MAY_EDIT[viewer])
    assert [(c.id, c.title, c.owner) for c in detail.children] == [
        _expected_link(tree, viewer, c) for c in tree.children(node)
    ]
    assert [c.visible for c in detail.children] == [
        tree.owner(c) in MAY_VIEW[viewer] for c in tree.children(node)
    ]
    assert [(a.id, a.title, a.owner) for a in detail.ancestors] == [
        _expected_link(tree, viewer, a) for a in tree.chain(node)
    ]
    assert (detail.parent.id if detail.parent else None) == (
        str(tree.ids[tree.parents[node]]) if tree.parents[node] is not None else None
    )
    expected_nodes = [
        (
            str(tree.ids[i]) if i == node or tree.owner(i) in MAY_VIEW[viewer] else "",
            f"Goal {i:02d}" if i == node or tree.owner(i) in MAY_VIEW[viewer] else HIDDEN,
            tree.depth(i) - tree.depth(node),
        )
        for i in tree.preorder(node)
    ]
    assert [(n.id, n.title, n.depth) for n in nodes] == expected_nodes


@pytest.fixture
def trees(make_tenant: Callable[..., TenantFixture]) -> dict[int, Tree]:
    """A chain of 3 goals and a tree of 40 (four levels of three), each in its own tenant."""
    return {3: _build(make_tenant(), 3, 1), 40: _build(make_tenant(), 40, 3)}


@pytest.mark.parametrize("viewer", ["manager", "emp1", "admin"])
def test_goal_page_statements_do_not_grow_with_the_tree(trees: dict[int, Tree], viewer) -> None:
    counts: dict[tuple[int, str], int] = {}
    for size, tree in trees.items():
        may_open = [i for i in range(size) if tree.owner(i) in MAY_VIEW[viewer]]
        pages = {
            "root": 0,  # everything below it
            # the deepest goal with goals both above and below it: its whole chain
            "middle": max(
                (i for i in may_open if tree.parents[i] is not None and tree.children(i)),
                key=tree.depth,
            ),
            "leaf": max(may_open, key=tree.depth),
        }
        for where, node in pages.items():
            detail, nodes, sent = _page(tree, viewer, node)
            _check(tree, viewer, node, detail, nodes)
            counts[size, where] = sent
    # (a relation already known in the unit of work is not asked again, so a page may send
    # one statement fewer when every owner it shows was met before: never more)
    assert counts[40, "root"] <= counts[3, "root"], counts
    assert counts[40, "middle"] <= counts[3, "middle"], counts
    # detail: the id, the goal, its owner's relation, key results, aligned goals, the chain,
    # their owners' relations, the stale threshold, check-ins; tree: the id, the goal, its
    # owner's relation, the tree, their owners' relations
    assert max(counts.values()) <= 14, counts
