"""Review exports: a cycle's reviews with their ratings, and the cycle's summary pivot.

Both show exactly what the cycle status page shows the actor (`calibration.cycle_status`): the
same permission checks in the same order, the same refusal for another tenant's or an
unknown cycle id, and the same visible people (`calibration.visible_outcomes`: admins everyone,
others their reports subtree, never the actor's own result). An export is a file about other
people, so an actor who may see nobody's result (an employee or manager without reports) is
refused outright instead of being handed an empty file.

Peer reviews stay anonymous as the product keeps them: managers and HR never open a peer
review (`writing.get_review`), and the reviewee sees peer feedback only averaged, unnamed and
from two responses on (`results.my_results`). So a peer row says only that the review exists,
its status and when it was submitted; its reviewer, scores, comments and review score are
never read (the joins that would reach them exclude peer reviews).

`reviews_export_statement` returns a pure SQLAlchemy Core select for the export machinery's
`COPY (...) TO STDOUT WITH (FORMAT csv, HEADER true)`: every cell is final in SQL (free text
through `csvsafe.safe_text`, times and dates as ISO 8601, numbers as numbers), and every table
carries an explicit `tenant_id` condition on top of row-level security, because the ORM's
automatic tenant scoping does not run for a raw COPY.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import (
    Action,
    PermissionDenied,
    Relation,
    Resource,
    decide,
)
from pms_dashboard.auth.resolve import RawId
from pms_dashboard.db import csvsafe
from pms_dashboard.organisation.schemas import RatingScale
from pms_dashboard.people.service import has_reports
from pms_dashboard.reviews.calibration import performance_expr, status_scope
from pms_dashboard.reviews.common import cycle_scale
from pms_dashboard.reviews.models import (
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewKind,
    ReviewOutcome,
    ReviewRating,
    ReviewStatus,
)
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import tenant_criteria

REVIEW_EXPORT_COLUMNS: tuple[str, ...] = (
    "cycle",
    "reviewee",
    "reviewee_department",
    "reviewee_team",
    "reviewer",
    "kind",
    "status",
    "submitted_at",
    "criterion",
    "criterion_weight",
    "score",
    "comment",
    "review_score",
)
SUMMARY_COUNT_COLUMNS: tuple[str, ...] = (
    "participants",
    "self_submitted",
    "manager_submitted",
    "peer_submitted",
)
COMPLETION = "completion_pct"
NOT_RATED = "not_rated"
TOTAL = "total"
NO_DEPARTMENT = "(no department)"
NO_MANAGER = "(no manager)"

SummaryBy = Literal["department", "manager"]
_KIND_COLUMNS = {
    ReviewKind.self_review.value: "self_submitted",
    ReviewKind.manager.value: "manager_submitted",
    ReviewKind.peer.value: "peer_submitted",
}


# ------------------------------------------------------------------------------ scope


def _status_scope(
    session: Session, actor: TenantContext, cycle_id: RawId
) -> tuple[ReviewCycle, list[ColumnElement[bool]]]:
    """The cycle and the conditions on `ReviewOutcome` for the people the actor may
    see in it, after the status page's own checks (`calibration.status_scope`: a refusal,
    and its audit, is the status page's), then refusing an actor who may see nobody."""
    cycle, conditions = status_scope(session, actor, cycle_id)
    sees_someone = decide(actor.role, Resource.calibration, Action.view, Relation.other) or (
        decide(actor.role, Resource.calibration, Action.view, Relation.report)
        and has_reports(session=session, actor=actor)
    )
    if not sees_someone:
        raise PermissionDenied(Resource.calibration, Action.view)
    return cycle, conditions


def _tenant_only(statement: Select, tenant_id: uuid.UUID) -> Select:
    """`tenant_id = :tenant` on every tenant table the statement reaches, including those
    inside borrowed subqueries (`permissions.visible_user_ids` walks `app_user` in a
    recursive CTE we cannot add a condition to). Our own joins also say it explicitly."""
    return statement.options(*tenant_criteria(tenant_id, statement))


# ----------------------------------------------------------------- reviews with ratings


def _review_export_columns(reviewee: Any, reviewer: Any, not_peer: Any) -> list[Any]:
    """The export's cells, final in SQL, named as the CSV header."""
    return [
        csvsafe.safe_text(col(ReviewCycle.name)).label("cycle"),
        csvsafe.safe_text(col(reviewee.display_name)).label("reviewee"),
        csvsafe.safe_text(col(reviewee.department)).label("reviewee_department"),
        csvsafe.safe_text(col(reviewee.team)).label("reviewee_team"),
        # NULL for peers: the reviewer join never matches a peer review.
        csvsafe.safe_text(col(reviewer.display_name)).label("reviewer"),
        col(Review.kind).label("kind"),
        col(Review.status).label("status"),
        csvsafe.iso_utc(col(Review.submitted_at)).label("submitted_at"),
        csvsafe.safe_text(col(ReviewCriterion.name)).label("criterion"),
        col(ReviewCriterion.weight).label("criterion_weight"),
        # NULL for peers: the rating join never matches a peer review.
        col(ReviewRating.score).label("score"),
        csvsafe.safe_text(col(ReviewRating.comment)).label("comment"),
        case((not_peer, col(Review.score))).label("review_score"),
    ]


def _review_export_joins(
    statement: Select, tid: uuid.UUID, reviewee: Any, reviewer: Any, not_peer: Any
) -> Select:
    """From each review to its cycle, outcome, people and the template's criteria, each join
    in the tenant; the reviewer and the ratings never for a peer review."""
    return (
        statement.join(
            ReviewCycle,
            and_(
                col(ReviewCycle.tenant_id) == tid,
                col(ReviewCycle.id) == col(Review.cycle_id),
            ),
        )
        .join(
            ReviewOutcome,
            and_(
                col(ReviewOutcome.tenant_id) == tid,
                col(ReviewOutcome.cycle_id) == col(Review.cycle_id),
                col(ReviewOutcome.reviewee_id) == col(Review.reviewee_id),
            ),
        )
        .join(
            reviewee,
            and_(col(reviewee.tenant_id) == tid, col(reviewee.id) == col(Review.reviewee_id)),
        )
        .outerjoin(
            reviewer,
            and_(
                col(reviewer.tenant_id) == tid,
                col(reviewer.id) == col(Review.reviewer_id),
                not_peer,
            ),
        )
        .join(
            ReviewCriterion,
            and_(
                col(ReviewCriterion.tenant_id) == tid,
                col(ReviewCriterion.template_id) == col(ReviewCycle.template_id),
            ),
        )
        .outerjoin(
            ReviewRating,
            and_(
                col(ReviewRating.tenant_id) == tid,
                col(ReviewRating.review_id) == col(Review.id),
                col(ReviewRating.criterion_id) == col(ReviewCriterion.id),
                not_peer,
            ),
        )
    )


def reviews_export_statement(*, session: Session, actor: TenantContext, cycle_id: RawId) -> Select:
    """The cycle's reviews with their ratings, one row per (review, criterion of the cycle's
    template), for the people the actor sees on the cycle status page; refused like it.

    Columns (CSV header names, in order):
      cycle                text   the cycle's name
      reviewee             text   the reviewee's display name
      reviewee_department  text   their department now (empty when none)
      reviewee_team        text   their team now (empty when none)
      reviewer             text   who writes the review; always empty for peer reviews
      kind                 text   self | manager | peer
      status               text   not_started | in_progress | submitted
      submitted_at         text   ISO 8601 UTC (2025-07-01T09:30:00Z); empty until submitted
      criterion            text   the criterion's name
      criterion_weight     number its weight in the review score
      score                number the score given (empty when not scored; always for peers)
      comment              text   the comment given (always empty for peers)
      review_score         number the review's weighted score once submitted (never peers)
    Rows are ordered by reviewee, then self, manager and peer reviews, then criterion order.
    Free text cannot start a spreadsheet formula (`csvsafe.safe_text`).
    """
    cycle, conditions = _status_scope(session, actor, cycle_id)
    cycle_id = cycle.id
    tid = actor.tenant_id
    reviewee = aliased(User, name="reviewee")
    reviewer = aliased(User, name="reviewer")
    not_peer = col(Review.kind) != ReviewKind.peer.value
    kind_order = case(
        (col(Review.kind) == ReviewKind.self_review.value, 0),
        (col(Review.kind) == ReviewKind.manager.value, 1),
        else_=2,
    )
    statement = select(*_review_export_columns(reviewee, reviewer, not_peer)).select_from(Review)
    statement = (
        _review_export_joins(statement, tid, reviewee, reviewer, not_peer)
        .where(col(Review.tenant_id) == tid, col(Review.cycle_id) == cycle_id, *conditions)
        .order_by(
            col(reviewee.display_name),
            col(reviewee.id),
            kind_order,
            col(Review.id),
            col(ReviewCriterion.position),
            col(ReviewCriterion.name),
        )
    )
    return _tenant_only(statement, tid)


# ---------------------------------------------------------------------- cycle summary


def _rating_columns(labels: list[str]) -> dict[str, str]:
    """Scale label -> column name: neutralised (a header is a cell too), one per distinct
    label in scale order, never clashing with the fixed columns."""
    fixed = {"department", "manager", *SUMMARY_COUNT_COLUMNS, COMPLETION, NOT_RATED}
    out: dict[str, str] = {}
    for label in labels:
        if label in out:
            continue
        name = csvsafe.neutralize(label)
        while name in fixed or name in out.values():
            name = f"{name} (rating)"
        out[label] = name
    return out


def _completion_pct(submitted: pd.Series, expected: pd.Series) -> pd.Series:
    """Submitted share of expected reviews, 0-100 to one decimal, half up, in exact integer
    arithmetic (a float round would turn 6.25 into 6.2)."""
    tenths = (submitted * 1000 + expected // 2) // expected.where(expected > 0, 1)
    return (tenths.where(expected > 0, 0) / 10).astype(float)


def _summary_counts(
    session: Session, tid: uuid.UUID, conditions: list[ColumnElement[bool]], by: SummaryBy
) -> tuple[list[Any], list[Any]]:
    """Counted in SQL per group (key, label): people by their rounded rating in force, and
    reviews by kind with how many are submitted."""
    reviewee = aliased(User, name="reviewee")
    manager = aliased(User, name="manager")
    key: Any
    label: Any
    if by == "department":
        key = label = func.coalesce(col(reviewee.department), literal(""))
    else:
        key = col(ReviewOutcome.manager_id)
        label = col(manager.display_name)

    def scoped(query: Select[Any]) -> Select[Any]:
        query = query.join(
            reviewee,
            and_(
                col(reviewee.tenant_id) == tid,
                col(reviewee.id) == col(ReviewOutcome.reviewee_id),
            ),
        ).where(col(ReviewOutcome.tenant_id) == tid, *conditions)
        if by == "manager":
            query = query.outerjoin(
                manager,
                and_(
                    col(manager.tenant_id) == tid,
                    col(manager.id) == col(ReviewOutcome.manager_id),
                ),
            )
        return query

    rounded = func.round(performance_expr())
    people = session.execute(
        scoped(
            select(key.label("key"), label.label("label"), rounded, func.count())
            .select_from(ReviewOutcome)
            .group_by(key, label, rounded)
        )
    ).all()
    submitted = func.count().filter(col(Review.status) == ReviewStatus.submitted.value)
    reviews = session.execute(
        scoped(
            select(key.label("key"), label.label("label"), col(Review.kind), func.count())
            .add_columns(submitted)
            .select_from(ReviewOutcome)
            .join(
                Review,
                and_(
                    col(Review.tenant_id) == tid,
                    col(Review.cycle_id) == col(ReviewOutcome.cycle_id),
                    col(Review.reviewee_id) == col(ReviewOutcome.reviewee_id),
                ),
            )
            .group_by(key, label, col(Review.kind))
        )
    ).all()
    return list(people), list(reviews)


def _summary_table(
    people: list[Any], reviews: list[Any], scale: RatingScale, by: SummaryBy
) -> pd.DataFrame:
    """The counts pivoted to one row per group, sorted by name, then the total row, with
    the completion share."""
    group = "department" if by == "department" else "manager"
    placeholder = NO_DEPARTMENT if by == "department" else NO_MANAGER
    rating_columns = _rating_columns([scale.labels[s] for s in scale.scores])
    people_df = pd.DataFrame(
        [
            (
                str(k or ""),
                name or placeholder,
                rating_columns[scale.label(float(value))] if value is not None else NOT_RATED,
                int(n),
            )
            for k, name, value, n in people
        ],
        columns=["key", "label", "rating", "people"],
    )
    reviews_df = pd.DataFrame(
        [
            (str(k or ""), name or placeholder, _KIND_COLUMNS[kind], int(n), int(done))
            for k, name, kind, n, done in reviews
        ],
        columns=["key", "label", "kind", "expected", "submitted"],
    )
    counts = [*rating_columns.values(), NOT_RATED]
    by_rating = people_df.pivot_table(
        index="key", columns="rating", values="people", aggfunc="sum", fill_value=0
    ).reindex(columns=counts, fill_value=0)
    by_kind = reviews_df.pivot_table(
        index="key", columns="kind", values="submitted", aggfunc="sum", fill_value=0
    ).reindex(columns=list(_KIND_COLUMNS.values()), fill_value=0)
    frame = pd.DataFrame(
        {
            group: people_df.groupby("key")["label"].first(),
            "participants": people_df.groupby("key")["people"].sum(),
            "_expected": reviews_df.groupby("key")["expected"].sum(),
        }
    ).join(by_kind, how="left")
    frame = frame.join(by_rating, how="left")
    count_columns = ["participants", "_expected", *_KIND_COLUMNS.values(), *counts]
    frame[count_columns] = frame[count_columns].fillna(0).astype("int64")
    frame = frame.sort_values(group, key=lambda s: s.str.casefold(), kind="stable")
    total = frame[count_columns].sum().to_frame().T.astype("int64")
    total.insert(0, group, TOTAL)
    frame = pd.concat([frame, total], ignore_index=True)
    frame[group] = frame[group].map(csvsafe.neutralize)
    submitted_all = frame[list(_KIND_COLUMNS.values())].sum(axis=1)
    frame[COMPLETION] = _completion_pct(submitted_all, frame["_expected"])
    return frame[[group, *SUMMARY_COUNT_COLUMNS, COMPLETION, *counts]].reset_index(drop=True)


def cycle_summary_frame(
    *, session: Session, actor: TenantContext, cycle_id: RawId, by: SummaryBy
) -> pd.DataFrame:
    """The cycle's summary for the people the actor sees on the status page, one row per
    department (the reviewee's now) or per manager (as recorded at launch, shown by display
    name; two managers of the same name stay two rows), then a `total` row; refused like the
    status page.

    Columns: department | manager (neutralised text; "(no department)" / "(no manager)"),
    participants, self_submitted, manager_submitted, peer_submitted (submitted reviews of each
    kind), completion_pct (submitted share of all the cycle's reviews of those people, 0-100,
    one decimal), one count column per label of the cycle's rating scale (low to high) of
    people whose rating in force (final rating, else computed score, rounded to the scale as
    the status page does) carries that label, and not_rated.
    """
    cycle, conditions = _status_scope(session, actor, cycle_id)
    if by not in ("department", "manager"):
        raise ReviewError("A summary is by department or by manager.")
    people, reviews = _summary_counts(session, actor.tenant_id, conditions, by)
    return _summary_table(people, reviews, cycle_scale(session, cycle), by)
