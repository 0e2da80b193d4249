"""The row shapes the pages read, typed, and the functions that fill them from services.

A state var typed with one of these lets Reflex and mypy check the fields a page indexes
(`row["title"]`); the values are already display text and numbers (`ui.format`).
"""

from __future__ import annotations

from typing import TypedDict

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
    return GoalListRow(
        id=row.id,
        title=row.title,
        owner=row.owner,
        status=row.status,
        period=row.period,
        progress=percent(row.progress),
        due_date=day(row.due_date),
        key_results=row.key_results,
        confidence=row.confidence,
        stale=row.stale,
        overdue=row.overdue,
    )


def goal_tree_row(node: TreeNode) -> GoalTreeRow:
    """A goal of the alignment tree as its row reads."""
    return GoalTreeRow(
        id=node.id,
        title=node.title,
        owner=node.owner,
        progress=percent(node.progress),
        status=node.status,
        depth=node.depth,
    )


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
    return KeyResultRow(
        id=kr.id,
        title=kr.title,
        start_value=number(kr.start_value),
        target_value=number(kr.target_value),
        current_value=number(kr.current_value),
        unit=kr.unit,
        weight=number(kr.weight),
        progress=percent(kr.progress),
    )


def check_in_row(check_in: CheckInView) -> CheckInRow:
    """A check-in as its row reads."""
    return CheckInRow(
        id=check_in.id,
        author=check_in.author,
        at=moment(check_in.at),
        progress=percent(check_in.progress),
        confidence=check_in.confidence,
        note=check_in.note,
    )


def goal_link_row(link: GoalLink) -> GoalLinkRow:
    """A linked goal as its row reads."""
    return GoalLinkRow(
        id=link.id,
        title=link.title,
        owner=link.owner,
        progress=percent(link.progress),
        weight=number(link.weight),
        status=link.status,
        visible=link.visible,
    )


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
    return PersonListRow(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        department=row.department,
        team=row.team,
        job_title=row.job_title,
        manager_id=row.manager_id,
        manager_name=row.manager_name,
        is_active=row.is_active,
        direct_reports=row.direct_reports,
    )


def person_tree_row(line: TreeLine, *, indent_px: int) -> PersonTreeRow:
    """A line of the reports-to tree, indented `indent_px` per level."""
    return PersonTreeRow(
        id=line.id,
        name=line.name,
        title=line.title,
        role=line.role,
        is_active=line.is_active,
        depth=line.depth,
        direct_reports=line.direct_reports,
        total_reports=line.total_reports,
        indent=f"{line.depth * indent_px}px",
    )


def person_ref_row(ref: PersonRef) -> PersonRefRow:
    """A named person as their link reads."""
    return PersonRefRow(id=ref.id, display_name=ref.display_name, job_title=ref.job_title)


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
    return TenantRow(
        tenant_id=row.tenant_id,
        slug=row.slug,
        name=row.name,
        isolation_tier=row.isolation_tier,
        region=row.region,
        users=row.users,
        goals=row.goals,
        last_activity=row.last_activity,
    )


def grant_row(row: GrantRow) -> GrantListRow:
    """A grant as its row reads."""
    return GrantListRow(
        id=row.id,
        tenant_slug=row.tenant_slug,
        justification=row.justification,
        ticket=row.ticket,
        expires_at=row.expires_at,
        active=row.active,
    )


def audit_row(row: AuditRow) -> AuditListRow:
    """A found event as its row reads."""
    return AuditListRow(
        occurred_at=row.occurred_at,
        tenant=row.tenant,
        seq=row.seq,
        actor_id=row.actor_id,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        flagged=row.flagged,
        ip=row.ip,
    )


def flagged_row(row: FlaggedRow) -> FlaggedListRow:
    """A flagged event as its row reads."""
    return FlaggedListRow(
        event_id=row.event_id,
        occurred_at=row.occurred_at,
        tenant=row.tenant,
        seq=row.seq,
        actor_id=row.actor_id,
        action=row.action,
        entity_type=row.entity_type,
        ip=row.ip,
        other_tenant=row.other_tenant,
    )


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
    return MyReviewListRow(
        id=row.id,
        cycle_name=row.cycle_name,
        cycle_status=row.cycle_status,
        reviewee_name=row.reviewee_name,
        kind=row.kind,
        status=row.status,
        due=row.due,
    )


def shared_row(row: SharedCycleRow) -> SharedListRow:
    """A shared result as its row reads."""
    return SharedListRow(cycle_id=row.cycle_id, cycle_name=row.cycle_name, shared_at=row.shared_at)


def cycle_row(row: CycleRow) -> CycleListRow:
    """A cycle as its row reads."""
    return CycleListRow(
        id=row.id,
        name=row.name,
        template_name=row.template_name,
        period_start=row.period_start,
        period_end=row.period_end,
        self_review_due=row.self_review_due,
        manager_review_due=row.manager_review_due,
        status=row.status,
        launched_at=row.launched_at,
        participants=row.participants,
    )


def status_row(row: StatusRow, *, can_nominate: bool) -> StatusListRow:
    """A reviewee's status as its row reads."""
    return StatusListRow(
        outcome_id=row.outcome_id,
        reviewee_name=row.reviewee_name,
        manager_name=row.manager_name,
        status=row.status,
        computed_score=row.computed_score,
        final_rating=row.final_rating,
        final_label=row.final_label,
        potential=row.potential,
        can_nominate=can_nominate,
    )


def ninebox_row(cell: NineBoxCell) -> NineBoxRow:
    """A nine-box cell as the grid reads it."""
    return NineBoxRow(
        performance=cell.performance,
        potential=cell.potential,
        count=cell.count,
        people=[dict(person) for person in cell.people],
    )


def history_row(row: CalibrationChangeRow) -> HistoryRow:
    """A calibration change as its row reads."""
    return HistoryRow(
        actor_name=row.actor_name,
        old_rating=row.old_rating,
        new_rating=row.new_rating,
        old_potential=row.old_potential,
        new_potential=row.new_potential,
        reason=row.reason,
        created_at=row.created_at,
    )


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
    return AccessLogRow(
        at=row.at,
        admin=row.admin,
        action=row.action,
        justification=row.justification,
        ticket=row.ticket,
        what=row.what,
    )
