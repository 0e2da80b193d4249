"""The row shapes the pages read, typed, and the functions that fill them from services.

A state var typed with one of these lets Reflex and mypy check the fields a page indexes
(`row["title"]`); the values are already display text and numbers (`ui.format`).
"""

from __future__ import annotations

from typing import Any, TypedDict, TypeVar, cast

from pms_dashboard.console.grants import GrantRow, ProviderAccess
from pms_dashboard.console.search import AuditRow, FlaggedRow
from pms_dashboard.console.service import TenantOverview
from pms_dashboard.goals.schemas import CheckInView, GoalLink, GoalRow, KeyResultView, TreeNode
from pms_dashboard.people.schemas import PersonRef, PersonRow, TreeLine
from pms_dashboard.reviews.schemas import (
    CalibrationChangeRow,
    CycleRow,
    MyReviewRow,
    NineBoxCell,
    SharedCycleRow,
    StatusRow,
)
from pms_dashboard.ui.format import day, moment, number, percent

R = TypeVar("R")


def fill(shape: type[R], source: object, **shown: Any) -> R:
    """A row of `shape` whose fields come from `source`'s attributes of the same names,
    except those given in `shown` (the ones formatted for display)."""
    names = shape.__annotations__
    return cast(R, {n: shown[n] if n in shown else getattr(source, n) for n in names})


class GoalListRow(TypedDict):
    """A goal in the goals list."""

    id: str
    title: str
    owner: str
    status: str
    period: str
    progress: int  # whole percent
    due_date: str
    key_results: int
    confidence: str
    stale: bool
    overdue: bool


class GoalTreeRow(TypedDict):
    """A goal in the alignment tree under a goal."""

    id: str
    title: str
    owner: str
    progress: int  # whole percent
    status: str
    depth: int


def goal_list_row(row: GoalRow) -> GoalListRow:
    """A listed goal as its row reads."""
    return fill(GoalListRow, row, progress=percent(row.progress), due_date=day(row.due_date))


def goal_tree_row(node: TreeNode) -> GoalTreeRow:
    """A goal of the alignment tree as its row reads."""
    return fill(GoalTreeRow, node, progress=percent(node.progress))


class KeyResultRow(TypedDict):
    """A key result on a goal's page."""

    id: str
    title: str
    start_value: str
    target_value: str
    current_value: str
    unit: str
    weight: str
    progress: int  # whole percent


class CheckInRow(TypedDict):
    """A check-in in a goal's history."""

    id: str
    author: str
    at: str
    progress: int  # whole percent
    confidence: str
    note: str


class GoalLinkRow(TypedDict):
    """Another goal a goal's page links to (parent, child, alignment chain)."""

    id: str
    title: str
    owner: str
    progress: int  # whole percent
    weight: str
    status: str
    visible: bool


def key_result_row(kr: KeyResultView) -> KeyResultRow:
    """A key result as its row reads."""
    return fill(
        KeyResultRow,
        kr,
        start_value=number(kr.start_value),
        target_value=number(kr.target_value),
        current_value=number(kr.current_value),
        weight=number(kr.weight),
        progress=percent(kr.progress),
    )


def check_in_row(check_in: CheckInView) -> CheckInRow:
    """A check-in as its row reads."""
    return fill(CheckInRow, check_in, at=moment(check_in.at), progress=percent(check_in.progress))


def goal_link_row(link: GoalLink) -> GoalLinkRow:
    """A linked goal as its row reads."""
    return fill(GoalLinkRow, link, progress=percent(link.progress), weight=number(link.weight))


class PersonListRow(TypedDict):
    """A person in the directory."""

    id: str
    email: str
    display_name: str
    role: str
    department: str
    team: str
    job_title: str
    manager_id: str
    manager_name: str
    is_active: bool
    direct_reports: int


class PersonTreeRow(TypedDict):
    """A person in the reports-to tree, with the indent their depth gives."""

    id: str
    name: str
    title: str
    role: str
    is_active: bool
    depth: int
    direct_reports: int
    total_reports: int
    indent: str  # CSS length


class PersonRefRow(TypedDict):
    """A person named and linked (a report, a manager in the chain)."""

    id: str
    display_name: str
    job_title: str


def person_list_row(row: PersonRow) -> PersonListRow:
    """A listed person as their row reads."""
    return fill(PersonListRow, row)


def person_tree_row(line: TreeLine, *, indent_px: int) -> PersonTreeRow:
    """A line of the reports-to tree, indented `indent_px` per level."""
    return fill(PersonTreeRow, line, indent=f"{line.depth * indent_px}px")


def person_ref_row(ref: PersonRef) -> PersonRefRow:
    """A named person as their link reads."""
    return fill(PersonRefRow, ref)


class TenantRow(TypedDict):
    """An organisation in the console's overview."""

    tenant_id: str
    slug: str
    name: str
    isolation_tier: str
    region: str
    users: int
    goals: int
    last_activity: str


class GrantListRow(TypedDict):
    """A super-admin's own break-glass grant."""

    id: str
    tenant_slug: str
    justification: str
    ticket: str
    expires_at: str
    active: bool


class AuditListRow(TypedDict):
    """An event in the console's audit search."""

    occurred_at: str
    tenant: str
    seq: int
    actor_id: str
    action: str
    entity_type: str
    entity_id: str
    flagged: bool
    ip: str


class FlaggedListRow(TypedDict):
    """A flagged event waiting for a super-admin's review."""

    event_id: str
    occurred_at: str
    tenant: str
    seq: int
    actor_id: str
    action: str
    entity_type: str
    ip: str
    other_tenant: str


def tenant_row(row: TenantOverview) -> TenantRow:
    """An organisation as the overview's row reads."""
    return fill(TenantRow, row)


def grant_row(row: GrantRow) -> GrantListRow:
    """A grant as its row reads."""
    return fill(GrantListRow, row)


def audit_row(row: AuditRow) -> AuditListRow:
    """A found event as its row reads."""
    return fill(AuditListRow, row)


def flagged_row(row: FlaggedRow) -> FlaggedListRow:
    """A flagged event as its row reads."""
    return fill(FlaggedListRow, row)


class MyReviewListRow(TypedDict):
    """A review the viewer has to write (or wrote)."""

    id: str
    cycle_name: str
    cycle_status: str
    reviewee_name: str
    kind: str
    status: str
    due: str


class SharedListRow(TypedDict):
    """A cycle whose results were shared with the viewer."""

    cycle_id: str
    cycle_name: str
    shared_at: str


class CycleListRow(TypedDict):
    """A review cycle in the cycles list."""

    id: str
    name: str
    template_name: str
    period_start: str
    period_end: str
    self_review_due: str
    manager_review_due: str
    status: str
    launched_at: str
    participants: str


class StatusListRow(TypedDict):
    """A reviewee in a cycle's status, and whether to offer peer nomination."""

    outcome_id: str
    reviewee_name: str
    manager_name: str
    status: str
    computed_score: float | None
    final_rating: float | None
    final_label: str
    potential: int | None
    can_nominate: bool


class CountRow(TypedDict):
    """A named count (a funnel step, a rating of the distribution)."""

    name: str
    count: int


class NineBoxRow(TypedDict):
    """A cell of the nine-box and the people in it (outcome_id, name)."""

    performance: str
    potential: int
    count: int
    people: list[dict[str, str]]


class HistoryRow(TypedDict):
    """A calibration change in an outcome's history."""

    actor_name: str
    old_rating: float | None
    new_rating: float | None
    old_potential: int | None
    new_potential: int | None
    reason: str
    created_at: str


def my_review_row(row: MyReviewRow) -> MyReviewListRow:
    """A review to write as its row reads."""
    return fill(MyReviewListRow, row)


def shared_row(row: SharedCycleRow) -> SharedListRow:
    """A shared result as its row reads."""
    return fill(SharedListRow, row)


def cycle_row(row: CycleRow) -> CycleListRow:
    """A cycle as its row reads."""
    return fill(CycleListRow, row)


def status_row(row: StatusRow, *, can_nominate: bool) -> StatusListRow:
    """A reviewee's status as its row reads."""
    return fill(StatusListRow, row, can_nominate=can_nominate)


def ninebox_row(cell: NineBoxCell) -> NineBoxRow:
    """A nine-box cell as the grid reads it."""
    return fill(NineBoxRow, cell, people=[dict(person) for person in cell.people])


def history_row(row: CalibrationChangeRow) -> HistoryRow:
    """A calibration change as its row reads."""
    return fill(HistoryRow, row)


class AccessLogRow(TypedDict):
    """A super-admin's action on the organisation, on its transparency page."""

    at: str
    admin: str
    action: str
    justification: str
    ticket: str
    what: str


def access_log_row(row: ProviderAccess) -> AccessLogRow:
    """A super-admin's action as its row reads."""
    return fill(AccessLogRow, row)
