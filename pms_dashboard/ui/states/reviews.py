"""The reviews page (and the base the cycles page shares): thin states — who is asking,
one tenant transaction, the services, plain vars.

Every handler is callable by any browser with any arguments, so: identity comes from the
cookie on each event (`_signed_in()`, the event's one transaction), every id a handler
receives goes as it came to a
service, which resolves it in the tenant first (`auth.resolve`: a malformed, unknown or
another tenant's id is refused as not found, and audited, the same way everywhere), and the
services decide access. Ids kept in vars (the open review, the selected cycle) are only a
convenience: the services resolve and check them again on every call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

import reflex as rx

from pms_dashboard.auth.resolve import IdKind, resolve
from pms_dashboard.errors import UserError
from pms_dashboard.reviews import common, results, writing
from pms_dashboard.reviews.schemas import MAX_COMMENT, MAX_SUMMARY, ReviewDetail
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import TenantSession
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.rows import (
    MyReviewListRow,
    RatingFormRow,
    ResultsRow,
    ReviewContextRow,
    ReviewFormRow,
    SharedListRow,
    context_row,
    my_review_row,
    nothing,
    rating_form_row,
    record_var,
    results_row,
    review_form_row,
    shared_row,
)
from pms_dashboard.ui.states.session import SessionState

NO_ACCESS = "You do not have access to that."
NOT_SCORED = "none"  # a select cannot hold "", so "not scored" has a value of its own


def scale_of(session: TenantSession, shown: ReviewDetail) -> list[dict[str, str]]:
    """The scores a review's form offers: its cycle's scale (kept since launch)."""
    return common.scale_options(session=session, cycle_id=uuid.UUID(shown.cycle_id))


class ReviewsBase(SessionState):
    """Shared plumbing: a refusal's words replace the notice; leaving forgets the view."""

    error: str = ""
    notice: str = ""

    def _clear_page(self) -> None:
        self._reset_view()

    def _reset_view(self) -> None:  # overridden: forget everything shown
        self.error = self.notice = ""

    def _refused(self, err: UserError) -> None:
        self.error, self.notice = str(err), ""


# ---------------------------------------------------------------------------- /reviews


class ReviewsState(ReviewsBase):
    """My reviews to write, the open review form, and my shared results."""

    my_reviews: list[MyReviewListRow] = []
    shared: list[SharedListRow] = []
    scale_options: list[dict[str, str]] = []
    # The open review.
    review_id: str = ""
    review: rx.Field[ReviewFormRow] = record_var(ReviewFormRow)
    context: rx.Field[ReviewContextRow] = record_var(ReviewContextRow)  # beside a manager's
    ratings: list[RatingFormRow] = []
    summary: str = ""
    editable: bool = False
    can_reopen: bool = False  # the review's `may_reopen`: only to offer the button
    # The open results.
    results: rx.Field[ResultsRow] = record_var(ResultsRow)

    def _reset_view(self) -> None:
        super()._reset_view()
        self.my_reviews, self.shared, self.scale_options = [], [], []
        self._close_form()
        self.results = nothing(ResultsRow)

    def _close_form(self) -> None:
        self.review_id, self.review, self.ratings = "", nothing(ReviewFormRow), []
        self.context = nothing(ReviewContextRow)
        self.summary, self.editable, self.can_reopen = "", False, False

    def _offer(self, options: list[dict[str, str]]) -> None:
        """The score select's options: "Not scored", then the scale's scores."""
        self.scale_options = [{"value": NOT_SCORED, "label": "Not scored"}, *options]

    def _show_review(self, detail: ReviewDetail, options: list[dict[str, str]]) -> None:
        """The review into the form, scored on its cycle's scale (`options`)."""
        self._offer(options)
        self.can_reopen = detail.may_reopen
        self.review_id = detail.id
        self.ratings = [rating_form_row(r, not_scored=NOT_SCORED) for r in detail.ratings]
        self.summary = detail.summary
        self.editable = detail.editable
        self.review = review_form_row(detail)
        self.context = context_row(detail, zone=self.time_zone)

    def _home(self, session: TenantSession, actor: TenantContext) -> None:
        mine = writing.list_my_reviews(session=session, actor=actor)
        shared = results.list_my_results(session=session, actor=actor)
        self.my_reviews = [my_review_row(r) for r in mine]
        self.shared = [shared_row(r, zone=self.time_zone) for r in shared]
        self._offer(common.scale_options(session=session))  # an open review offers its cycle's

    @event
    def load(self):
        with self._signed_in() as (principal, session):
            self.error = self.notice = ""
            self._close_form()
            self.results = nothing(ResultsRow)
            self._home(session, principal.context)
        return None

    @event
    def open_review(self, review_id: str):
        with self._signed_in() as (principal, session):
            self._close_form()
            self.results, self.notice = nothing(ResultsRow), ""
            shown = writing.get_review(
                session=session, actor=principal.context, review_id=review_id
            )
            options = scale_of(session, shown)
        self.error = ""
        self._show_review(shown, options)
        return None

    @event
    def close_review(self):
        self._close_form()
        self.error = ""

    def _edit(self, criterion_id: Any, field: str, value: str):
        """Local edit of one criterion of the open form (nothing is stored until Save or
        Submit); the criterion is resolved like any id, then must be one of the form's."""
        with self._signed_in() as (principal, session):
            found = resolve(
                session=session, actor=principal.context, kind=IdKind.criterion, raw=criterion_id
            )
        self.ratings = [
            cast(RatingFormRow, r | {field: value}) if r["criterion_id"] == str(found) else r
            for r in self.ratings
        ]
        return None

    @event
    def set_score(self, criterion_id: str, value: str):
        if not isinstance(value, str) or len(value) > 8:
            return None
        return self._edit(criterion_id, "score", value)

    @event
    def set_comment(self, criterion_id: str, value: str):
        if not isinstance(value, str):
            return None
        # one over the limit: the service explains it
        return self._edit(criterion_id, "comment", value[: MAX_COMMENT + 1])

    @event
    def set_summary(self, value: str):
        if isinstance(value, str):
            self.summary = value[: MAX_SUMMARY + 1]

    def _draft(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "ratings": [
                {
                    "criterion_id": r["criterion_id"],
                    "score": None if r["score"] == NOT_SCORED else r["score"],
                    "comment": r["comment"],
                }
                for r in self.ratings
            ],
        }

    def _write(self, fn: Callable[..., Any], done: str):
        with self._signed_in() as (principal, session):
            if not self.review_id:
                self.error = "Open a review first."
                return None
            actor = principal.context
            shown = fn(session=session, actor=actor, review_id=self.review_id, draft=self._draft())
            self._home(session, actor)
            options = scale_of(session, shown)
        self.error, self.notice = "", done
        self._show_review(shown, options)
        return None

    @event
    def save_draft(self):
        return self._write(writing.save_review, "Draft saved.")

    @event
    def submit_review(self):
        return self._write(writing.submit_review, "Review submitted.")

    @event
    def reopen_review(self):
        """Un-submit the open review (a report's, as their manager or an admin)."""
        with self._signed_in() as (principal, session):
            if not self.review_id:
                self.error, self.notice = "Open a review first.", ""
                return None
            actor, rid = principal.context, self.review_id
            writing.reopen_review(session=session, actor=actor, review_id=rid)
            shown = writing.get_review(session=session, actor=actor, review_id=rid)
            self._home(session, actor)
            options = scale_of(session, shown)
        self.error, self.notice = "", "Review reopened."
        self._show_review(shown, options)
        return None

    @event
    def open_results(self, cycle_id: str):
        with self._signed_in() as (principal, session):
            self._close_form()
            self.results, self.notice = nothing(ResultsRow), ""
            got = results.my_results(session=session, actor=principal.context, cycle_id=cycle_id)
        self.error = ""
        self.results = results_row(got)
        return None

    @event
    def close_results(self):
        self.results = nothing(ResultsRow)
