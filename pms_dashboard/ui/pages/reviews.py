"""My reviews: the reviews I write (with a form per review) and my shared results."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.ui.components.confirm import dialog_buttons
from pms_dashboard.ui.components.feedback import feedback
from pms_dashboard.ui.components.goal_badges import confidence_badge, progress_bar, status_badge
from pms_dashboard.ui.components.tables import data_table, row_action, scroll_into_view
from pms_dashboard.ui.states.reviews import ReviewsState
from pms_dashboard.ui.states.rows import shown
from pms_dashboard.ui.templates import template

KIND_LABELS = {"self": "Self review", "manager": "Manager review", "peer": "Peer review"}
STATUS_COLORS = {"not_started": "gray", "in_progress": "amber", "submitted": "green"}


def _kind(kind: rx.Var) -> rx.Component:
    return rx.match(kind, *KIND_LABELS.items(), kind)


def _status(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[(s, rx.badge(s.replace("_", " "), color_scheme=c)) for s, c in STATUS_COLORS.items()],
        rx.badge(status),
    )


# ------------------------------------------------------------------------------- lists


def _review_row(r: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(r["cycle_name"]),
        rx.table.cell(rx.text(r["reviewee_name"], weight="medium")),
        rx.table.cell(_kind(r["kind"])),
        rx.table.cell(_status(r["status"])),
        rx.table.cell(rx.cond(r["due"] != "", r["due"], "—")),
        rx.table.cell(
            row_action(
                rx.cond(
                    (r["status"] == "submitted") | (r["cycle_status"] != "active"),
                    "View",
                    "Write",
                ),
                ReviewsState.open_review(r["id"]),
                "review-open",
            )
        ),
        class_name="review-row",
    )


def _result_row(r: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(r["cycle_name"]),
        rx.table.cell(r["shared_at"]),
        rx.table.cell(row_action("Open", ReviewsState.open_results(r["cycle_id"]), "results-open")),
        class_name="result-row",
    )


def _lists() -> rx.Component:
    return rx.vstack(
        rx.heading("Reviews to write", size="4"),
        data_table(
            ("Cycle", "About", "Kind", "Status", "Due", ""),
            ReviewsState.my_reviews,
            _review_row,
            empty="No reviews to write right now.",
            element_id="my-reviews",
        ),
        rx.heading("My results", size="4", padding_top="1rem"),
        data_table(
            ("Cycle", "Shared on", ""),
            ReviewsState.shared,
            _result_row,
            empty="No results have been shared with you yet.",
            element_id="my-results",
        ),
        width="100%",
        spacing="3",
    )


# -------------------------------------------------------------------------------- form


def _rating_row(r: ObjectVar) -> rx.Component:
    key = f"{ReviewsState.review_id}-{r['criterion_id']}"
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(r["name"], weight="bold"),
                rx.badge("weight ", r["weight"], variant="soft", color_scheme="gray"),
                rx.spacer(),
                rx.select.root(
                    rx.select.trigger(placeholder="Score", width="260px"),
                    rx.select.content(
                        rx.foreach(
                            ReviewsState.scale_options,
                            lambda o: rx.select.item(o["label"], value=o["value"]),
                        )
                    ),
                    value=r["score"].to(str),
                    on_change=lambda v: ReviewsState.set_score(r["criterion_id"], v),
                    disabled=~ReviewsState.editable,
                    class_name="rating-score",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                r["description"] != "",
                rx.text(r["description"], size="2", color_scheme="gray"),
            ),
            rx.text_area(
                default_value=r["comment"].to(str),
                placeholder="Comment (optional)",
                max_length=5000,
                on_blur=lambda v: ReviewsState.set_comment(r["criterion_id"], v),
                read_only=~ReviewsState.editable,
                key=key,
                width="100%",
                class_name="rating-comment",
            ),
            width="100%",
            spacing="2",
        ),
        width="100%",
        class_name="rating-row",
    )


def _context_goal(g: ObjectVar) -> rx.Component:
    return rx.hstack(
        rx.link(g["title"], href="/goals/" + g["id"].to(str), size="2", min_width="12rem"),
        status_badge(g["status"]),
        progress_bar(g["progress"]),
        confidence_badge(g["confidence"]),
        spacing="3",
        align="center",
        wrap="wrap",
        class_name="context-goal",
    )


def _context_check_in(c: ObjectVar) -> rx.Component:
    """A check-in in two short lines (a phone's width): goal and time, then progress,
    confidence and the note."""
    return rx.vstack(
        rx.hstack(
            rx.link(c["goal_title"], href="/goals/" + c["goal_id"].to(str), size="2"),
            rx.text(c["at"], size="1", color_scheme="gray", white_space="nowrap"),
            spacing="2",
            align="baseline",
            wrap="wrap",
        ),
        rx.hstack(
            rx.text(c["progress"], "%", size="2", weight="medium"),
            confidence_badge(c["confidence"]),
            rx.text(c["note"], size="2", color_scheme="gray", min_width="0", flex="1"),
            spacing="2",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        spacing="1",
        width="100%",
        class_name="context-checkin",
    )


def _context() -> rx.Component:
    """Beside a manager's review: the person's self review, their goals of the period and
    their latest check-ins on them."""
    ctx = shown(ReviewsState.context)
    own = ctx["self_review"].to(dict[str, Any])
    goals = ctx["goals"].to(list[dict[str, Any]])
    check_ins = ctx["check_ins"].to(list[dict[str, Any]])
    return rx.cond(
        ctx.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("Their self review", size="3"),
                    rx.spacer(),
                    rx.cond(own, _score(own["score"], own["score_label"])),
                    width="100%",
                ),
                rx.cond(
                    own,
                    _review_body(own),
                    rx.text(ctx["self_review_note"], size="2", color_scheme="gray"),
                ),
                rx.heading("Their goals this period", size="3"),
                rx.cond(
                    goals.length() > 0,
                    rx.vstack(rx.foreach(goals, _context_goal), spacing="2", width="100%"),
                    rx.text("No goals in this cycle's period.", size="2", color_scheme="gray"),
                ),
                rx.heading("Their latest check-ins", size="3"),
                rx.cond(
                    check_ins.length() > 0,
                    rx.vstack(
                        rx.foreach(check_ins, _context_check_in),
                        spacing="3",
                        width="100%",
                        id="review-context-checkins",
                    ),
                    rx.text("No check-ins on these goals yet.", size="2", color_scheme="gray"),
                ),
                width="100%",
                spacing="3",
            ),
            width="100%",
            id="review-context",
        ),
    )


def _submit_button() -> rx.Component:
    """Submit, after a confirmation: a submitted review is read-only for its writer."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button("Submit", id="review-submit")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Submit this review?"),
            rx.alert_dialog.description(
                "Once submitted you cannot change it; the person's manager or an HR admin "
                "can reopen it if something must change."
            ),
            dialog_buttons(
                rx.button("Keep editing", variant="soft"),
                rx.button(
                    "Submit review",
                    # the outcome's words are at the top of the page: bring them in view
                    on_click=[
                        ReviewsState.submit_review,
                        scroll_into_view("reviews-notice", or_ids=("reviews-error",)),
                    ],
                    id="review-submit-confirm",
                ),
            ),
        ),
    )


def _review_form() -> rx.Component:
    review = shown(ReviewsState.review)
    return rx.vstack(
        rx.hstack(
            rx.button(
                rx.icon("arrow-left", size=16),
                "Back",
                variant="ghost",
                on_click=ReviewsState.close_review,
                id="review-close",
            ),
            rx.heading(_kind(review["kind"]), ": ", review["reviewee_name"], size="5"),
            rx.spacer(),
            rx.text(review["cycle_name"], color_scheme="gray"),
            _status(review["status"]),
            _score(review["score"], review["score_label"], id="review-score"),
            width="100%",
            align="center",
        ),
        _context(),
        rx.foreach(ReviewsState.ratings, _rating_row),
        rx.text("Summary", weight="medium"),
        rx.text_area(
            default_value=ReviewsState.summary,
            on_blur=ReviewsState.set_summary,
            read_only=~ReviewsState.editable,
            key=ReviewsState.review_id,
            max_length=10000,
            width="100%",
            min_height="120px",
            id="review-summary",
        ),
        rx.cond(
            ReviewsState.editable,
            rx.hstack(
                rx.button(
                    "Save draft", variant="soft", on_click=ReviewsState.save_draft, id="review-save"
                ),
                _submit_button(),
                spacing="3",
            ),
            rx.hstack(
                rx.text("This review is read-only.", color_scheme="gray", size="2"),
                rx.cond(
                    ReviewsState.can_reopen,
                    rx.button(
                        "Reopen",
                        variant="soft",
                        color_scheme="amber",
                        on_click=ReviewsState.reopen_review,
                        id="review-reopen",
                    ),
                ),
                spacing="3",
                align="center",
            ),
        ),
        width="100%",
        spacing="3",
        id="review-form",
    )


# ----------------------------------------------------------------------------- results


def _score(score: rx.Var, label: rx.Var, prefix: str = "Score ", **props: Any) -> rx.Component:
    """A score with its name on the rating scale ("Score 3 · Meets expectations"); nothing
    while unscored."""
    return rx.cond(
        score.is_not_none(),
        rx.badge(prefix, score, rx.cond(label.to(str) != "", rx.text.span(" · ", label)), **props),
    )


def _review_body(review: ObjectVar) -> rx.Component:
    """A submitted review read: its ratings with their comments, and its summary."""
    return rx.vstack(
        rx.foreach(
            review["ratings"].to(list[dict[str, Any]]),
            lambda r: rx.hstack(
                rx.text(r["name"], weight="medium", min_width="180px"),
                _score(r["score"], r["label"], ""),
                rx.text(r["comment"], size="2"),
                width="100%",
                wrap="wrap",
            ),
        ),
        rx.cond(review["summary"] != "", rx.text(review["summary"], size="2")),
        width="100%",
    )


def _review_block(title: str, block: rx.Var, block_id: str) -> rx.Component:
    review = block.to(dict[str, Any])
    return rx.cond(
        review,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading(title, size="4"),
                    rx.spacer(),
                    _score(review["score"], review["score_label"]),
                    width="100%",
                ),
                _review_body(review),
                width="100%",
            ),
            width="100%",
            id=block_id,
        ),
    )


def _results() -> rx.Component:
    res = shown(ReviewsState.results)
    peers = rx.vstack(
        rx.heading("Peer feedback", size="4"),
        rx.cond(
            res["peers_shown"],
            rx.vstack(
                rx.text(res["peer_count"], " peer responses, shown without names.", size="2"),
                rx.foreach(
                    res["peers"].to(list[dict[str, Any]]),
                    lambda p: rx.vstack(
                        rx.hstack(
                            rx.text(p["name"], weight="medium", min_width="180px"),
                            rx.badge("mean ", p["mean"]),
                            rx.text("(", p["count"], " scores)", size="1", color_scheme="gray"),
                        ),
                        rx.foreach(
                            p["comments"].to(list[str]),
                            lambda c: rx.text("“", c, "”", size="2", class_name="peer-comment"),
                        ),
                        class_name="peer-criterion",
                        spacing="1",
                    ),
                ),
                rx.foreach(
                    res["peer_summaries"].to(list[str]),
                    lambda s: rx.text("“", s, "”", size="2", class_name="peer-summary"),
                ),
                spacing="2",
            ),
            rx.text(res["peer_message"], color_scheme="gray", id="peer-anonymity-note"),
        ),
        width="100%",
        id="peer-feedback",
    )
    return rx.vstack(
        rx.hstack(
            rx.button(
                rx.icon("arrow-left", size=16),
                "Back",
                variant="ghost",
                on_click=ReviewsState.close_results,
                id="results-close",
            ),
            rx.heading(res["cycle_name"], size="5"),
            rx.spacer(),
            rx.badge(
                rx.cond(res["final_label"] != "", res["final_label"], "No final rating"),
                size="3",
                id="results-final",
            ),
            width="100%",
            align="center",
        ),
        _review_block("My self review", res["self_review"], "results-self"),
        _review_block("Manager review", res["manager_review"], "results-manager"),
        rx.card(peers, width="100%"),
        width="100%",
        spacing="3",
        id="results",
    )


@template(route="/reviews", title="Reviews", on_load=ReviewsState.load)
def reviews_page() -> rx.Component:
    return rx.vstack(
        feedback(ReviewsState, "reviews"),
        rx.cond(
            ReviewsState.review_id != "",
            _review_form(),
            rx.cond(shown(ReviewsState.results).length() > 0, _results(), _lists()),
        ),
        width="100%",
        spacing="4",
    )
