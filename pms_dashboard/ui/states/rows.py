"""The row shapes the pages read, typed, and the functions that fill them from services.

A state var typed with one of these lets Reflex and mypy check the fields a page indexes
(`row["title"]`); the values are already display text and numbers (`ui.format`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypedDict, TypeVar, cast

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.console.flagged import FlaggedRow
from pms_dashboard.console.grants import GoalReadRow, GrantRow, ProviderAccess, ReviewReadRow
from pms_dashboard.console.moves import LastMove
from pms_dashboard.console.search import AuditRow
from pms_dashboard.console.service import TenantOverview
from pms_dashboard.goals.schemas import (
    CheckInView,
    GoalDetail,
    GoalLink,
    GoalRow,
    KeyResultView,
    TreeNode,
)
from pms_dashboard.people.schemas import PersonDetail, PersonRef, PersonRow, TreeLine
from pms_dashboard.reviews.schemas import (
    CalibrationChangeRow,
    CycleRow,
    MyResults,
    MyReviewRow,
    NineBoxCell,
    RatingRow,
    ReviewDetail,
    SharedCycleRow,
    StatusRow,
)
from pms_dashboard.ui.format import day, fixed, moment, number, percent

R = TypeVar("R")


def fill(shape: type[R], source: object, **shown: Any) -> R:
    """A row of `shape` whose fields come from `source`'s attributes of the same names,
    except those given in `shown` (the ones formatted for display)."""
    names = shape.__annotations__
    return cast(R, {n: shown[n] if n in shown else getattr(source, n) for n in names})


def nothing(shape: type[R]) -> R:
    """No row of `shape`: the empty dict a page reads as "nothing shown" (what a
    single-record var starts as and is cleared to)."""
    return cast(R, {})


def record_var(shape: type[R]) -> rx.Field[R]:
    """A state var holding one row of `shape` (the open goal, person, review...), empty
    until one is shown."""
    return cast(rx.Field[R], rx.field(default_factory=lambda: nothing(shape)))


def shown(var: Any) -> ObjectVar[dict[str, Any]]:
    """A `record_var` (or another dict var) read on the state class, for a page: the Var it
    is there (mypy cannot choose Reflex's typing of a TypedDict field by itself)."""
    return cast(ObjectVar[dict[str, Any]], var)


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


class GoalDetailRow(TypedDict):
    """The goal a goal's page shows (its lists are vars of their own)."""

    id: str
    title: str
    description: str
    owner: str
    period: str
    start_date: str
    due_date: str
    status: str
    progress: int  # whole percent
    weight: str
    stale: bool
    overdue: bool
    progress_source: str
    may_edit: bool
    parent_id: str  # "" without a parent the viewer may see
    confidence: str  # the last check-in's ("" before the first)


def goal_detail_row(goal: GoalDetail) -> GoalDetailRow:
    """A goal as its page reads it (its parent only when the viewer may see that goal)."""
    parent = goal.parent
    shown = {
        "start_date": day(goal.start_date),
        "due_date": day(goal.due_date),
        "progress": percent(goal.progress),
        "weight": number(goal.weight),
        "parent_id": parent.id if parent is not None and parent.visible else "",
    }
    return fill(GoalDetailRow, goal, **shown)


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


def check_in_row(check_in: CheckInView, *, zone: str) -> CheckInRow:
    """A check-in as its row reads (its time in the reader's zone)."""
    at, progress = moment(check_in.at, zone=zone), percent(check_in.progress)
    return fill(CheckInRow, check_in, at=at, progress=progress)


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


class PersonDetailRow(PersonListRow):
    """The person the directory has open, with what the viewer may do to them."""

    role_label: str
    can_manage: bool  # only to offer the admin actions; the service decides


def person_detail_row(detail: PersonDetail, *, role_label: str) -> PersonDetailRow:
    """An open person as the directory's panel reads them."""
    return fill(PersonDetailRow, detail.person, role_label=role_label, can_manage=detail.can_manage)


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
    move_state: str  # its last move: state, when, from -> to ("" if never moved)
    move_at: str
    move_route: str


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


class GoalReadListRow(TypedDict):
    """A tenant's goal as a super-admin reads it under a grant."""

    title: str
    owner: str
    status: str
    progress: int  # whole percent
    due_date: str


class ReviewReadListRow(TypedDict):
    """A tenant's review as a super-admin reads it under a grant (never its summary)."""

    cycle: str
    reviewee: str
    reviewer: str
    kind: str
    status: str
    score: str  # two places, "" when not scored


def tenant_row(row: TenantOverview, move: LastMove | None = None) -> TenantRow:
    """An organisation as the overview's row reads, with its last move (if any)."""
    return fill(
        TenantRow, row, last_activity=moment(row.last_activity),
        move_state=move.state if move else "", move_at=moment(move.at if move else None),
        move_route=move.route if move else "",
    )  # fmt: skip


def grant_row(row: GrantRow) -> GrantListRow:
    """A grant as its row reads."""
    return fill(GrantListRow, row, expires_at=moment(row.expires_at))


def audit_row(row: AuditRow) -> AuditListRow:
    """A found event as its row reads (to the second: an audit trail)."""
    return fill(AuditListRow, row, occurred_at=moment(row.occurred_at, seconds=True))


def flagged_row(row: FlaggedRow) -> FlaggedListRow:
    """A flagged event as its row reads (to the second: an audit trail)."""
    return fill(FlaggedListRow, row, occurred_at=moment(row.occurred_at, seconds=True))


def goal_read_row(row: GoalReadRow) -> GoalReadListRow:
    """A goal read under a grant as its line reads."""
    return fill(GoalReadListRow, row, progress=percent(row.progress), due_date=day(row.due_date))


def review_read_row(row: ReviewReadRow) -> ReviewReadListRow:
    """A review read under a grant as its line reads."""
    return fill(ReviewReadListRow, row, score=fixed(row.score, places=2))


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
    share: float  # its bar's length: % of the largest count of its chart


def shares(values: Sequence[int], *, of_total: bool = False) -> list[float]:
    """Each value as a percentage (one decimal) of the largest, or (`of_total`) of their
    sum: a bar's length, a ring's part. All 0 when there is nothing to count."""
    whole = sum(values) if of_total else max(values, default=0)
    return [round(100 * v / whole, 1) if whole else 0.0 for v in values]


def count_rows(pairs: Iterable[tuple[str, int]]) -> list[CountRow]:
    """(name, count) pairs as the rows of a count chart, each with its bar's length."""
    named = list(pairs)
    lengths = shares([count for _, count in named])
    return [
        CountRow(name=name, count=count, share=length)
        for (name, count), length in zip(named, lengths, strict=True)
    ]


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


class ReviewFormRow(TypedDict):
    """The open review's heading (its criteria, summary and what may be done with it are
    vars of their own)."""

    cycle_name: str
    reviewee_name: str
    kind: str
    status: str
    score: float | None
    score_label: str


class RatingFormRow(TypedDict):
    """A criterion of the open review as its form holds it (the score as the select's
    value: a whole score, or `none` when not scored)."""

    criterion_id: str
    name: str
    description: str
    weight: float
    score: str
    comment: str


class RatingShownRow(TypedDict):
    """A criterion's score and comment in a shared review."""

    name: str
    score: int | None
    label: str
    comment: str


class ReviewShownRow(TypedDict):
    """A review in shared results: its score, summary and ratings."""

    score: float | None
    score_label: str
    summary: str
    ratings: list[RatingShownRow]


class ContextGoalRow(TypedDict):
    """One of the reviewee's goals, beside the manager's review."""

    id: str
    title: str
    status: str
    progress: int
    confidence: str


class ContextCheckInRow(TypedDict):
    """One of the reviewee's latest check-ins, beside the manager's review."""

    goal_id: str
    goal_title: str
    at: str  # in the reader's zone
    progress: int  # whole percent
    confidence: str
    note: str


class ReviewContextRow(TypedDict):
    """Beside a manager's review: the self review (or why none), the person's goals and
    their latest check-ins."""

    self_review: ReviewShownRow | None
    self_review_note: str
    goals: list[ContextGoalRow]
    check_ins: list[ContextCheckInRow]


class PeerShownRow(TypedDict):
    """Peer scores of one criterion, aggregated (no names)."""

    name: str
    mean: float | None
    count: int
    comments: list[str]


class ResultsRow(TypedDict):
    """A person's shared results of one cycle."""

    cycle_name: str
    final_label: str
    self_review: ReviewShownRow | None
    manager_review: ReviewShownRow | None
    peer_count: int
    peers_shown: bool
    peer_message: str
    peers: list[PeerShownRow]
    peer_summaries: list[str]


def my_review_row(row: MyReviewRow) -> MyReviewListRow:
    """A review to write as its row reads."""
    return fill(MyReviewListRow, row, due=day(row.due))


def shared_row(row: SharedCycleRow, *, zone: str) -> SharedListRow:
    """A shared result as its row reads (the day it was shared, in the reader's zone)."""
    return fill(SharedListRow, row, shared_at=day(row.shared_at, zone=zone))


CYCLE_DAYS = ("period_start", "period_end", "self_review_due", "manager_review_due")


def cycle_row(row: CycleRow, *, zone: str) -> CycleListRow:
    """A cycle as its row reads: its period and deadlines as days, its launch a moment (in
    the reader's zone)."""
    days = {name: day(getattr(row, name)) for name in CYCLE_DAYS}
    return fill(CycleListRow, row, launched_at=moment(row.launched_at, zone=zone), **days)


def review_form_row(detail: ReviewDetail) -> ReviewFormRow:
    """The open review as its form's header reads it."""
    return fill(ReviewFormRow, detail)


def rating_form_row(rating: RatingRow, *, not_scored: str) -> RatingFormRow:
    """A criterion of the open review as its form holds it."""
    score = not_scored if rating.score is None else str(rating.score)
    return fill(RatingFormRow, rating, score=score)


def _review_shown(detail: ReviewDetail | None) -> ReviewShownRow | None:
    if detail is None:
        return None
    ratings = [fill(RatingShownRow, r) for r in detail.ratings]
    return fill(ReviewShownRow, detail, ratings=ratings)


def context_row(detail: ReviewDetail, *, zone: str) -> ReviewContextRow:
    """What the open review's writer sees beside it (nothing for most reviews; check-in
    times in the reader's zone)."""
    got = detail.context
    if got is None:
        return nothing(ReviewContextRow)
    goals = [fill(ContextGoalRow, g) for g in got.goals]
    check_ins = [
        fill(ContextCheckInRow, c, at=moment(c.at, zone=zone), progress=percent(c.progress))
        for c in got.check_ins
    ]
    own = _review_shown(got.self_review)
    return fill(ReviewContextRow, got, self_review=own, goals=goals, check_ins=check_ins)


def results_row(got: MyResults) -> ResultsRow:
    """A person's shared results as their panel reads them."""
    reviews = {"self_review": got.self_review, "manager_review": got.manager_review}
    shown = {name: _review_shown(review) for name, review in reviews.items()}
    return fill(ResultsRow, got, peers=[fill(PeerShownRow, p) for p in got.peers], **shown)


def status_row(row: StatusRow, *, can_nominate: bool) -> StatusListRow:
    """A reviewee's status as its row reads."""
    return fill(StatusListRow, row, can_nominate=can_nominate)


def ninebox_row(cell: NineBoxCell) -> NineBoxRow:
    """A nine-box cell as the grid reads it."""
    return fill(NineBoxRow, cell, people=[dict(person) for person in cell.people])


def history_row(row: CalibrationChangeRow, *, zone: str) -> HistoryRow:
    """A calibration change as its row reads (its time in the reader's zone)."""
    return fill(HistoryRow, row, created_at=moment(row.created_at, zone=zone))


class ChartSlice(TypedDict):
    """A part of the overview's ring."""

    name: str
    value: int
    share: float  # % of the whole
    fill: str  # a CSS colour


class LinkedSlice(TypedDict):
    """A slice of an overview chart that links to the list it counts."""

    name: str
    value: int
    share: float  # its bar's length: % of the largest
    fill: str  # a CSS colour
    href: str


class AccessLogRow(TypedDict):
    """A super-admin's action on the organisation, on its transparency page."""

    at: str
    admin: str
    action: str
    justification: str
    ticket: str
    what: str


def access_log_row(row: ProviderAccess, *, zone: str) -> AccessLogRow:
    """A super-admin's action as its row reads (to the second: an audit trail; in the
    reader's zone)."""
    return fill(AccessLogRow, row, at=moment(row.at, zone=zone, seconds=True))
