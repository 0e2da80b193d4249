"""One goal: progress and where it comes from, key results, check-in, alignment, history."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.ui.components.confirm import dialog_buttons
from pms_dashboard.ui.components.feedback import error_callout, feedback
from pms_dashboard.ui.components.fields import field_message, labelled, native_select, options
from pms_dashboard.ui.components.goal_badges import (
    CONFIDENCE,
    confidence_badge,
    progress_bar,
    stale_and_overdue,
    status_badge,
)
from pms_dashboard.ui.components.goal_form import goal_fields, goal_form_buttons
from pms_dashboard.ui.components.tables import data_table, item_list
from pms_dashboard.ui.states.goals import GoalDetailState as S
from pms_dashboard.ui.states.rows import shown
from pms_dashboard.ui.templates import template

SOURCE_TEXT = {
    "key_results": "Progress follows the key results (weighted).",
    "aligned": "Progress rolls up from the goals aligned to it (weighted).",
    "both": "Progress follows the key results and the goals aligned to it (weighted).",
    "check_ins": "Progress is set at each check-in.",
}


def _breadcrumb() -> rx.Component:
    return rx.hstack(
        rx.link("Goals", href="/goals", size="2"),
        rx.foreach(
            S.ancestors,
            lambda a: rx.hstack(
                rx.text("›", size="2", color_scheme="gray"),
                rx.cond(
                    a["visible"],
                    rx.link(a["title"], href="/goals/" + a["id"].to(str), size="2"),
                    rx.text(a["title"], size="2", color_scheme="gray"),
                ),
                spacing="2",
            ),
        ),
        spacing="2",
        wrap="wrap",
        id="goal-breadcrumb",
    )


def _archive_button() -> rx.Component:
    """Archive, after a confirmation."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(
                rx.icon("archive", size=14),
                "Archive",
                variant="soft",
                color_scheme="gray",
                id="goal-archive",
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Archive this goal?"),
            rx.alert_dialog.description(
                "It leaves the lists and stops counting towards its parent."
            ),
            dialog_buttons(
                rx.button("Cancel", variant="soft"),
                rx.button(
                    "Archive", color_scheme="red", on_click=S.archive, id="goal-archive-confirm"
                ),
            ),
        ),
    )


def _title_bar() -> rx.Component:
    """Title, status and flags; Edit and Archive for those who may."""
    g = shown(S.goal)
    return rx.hstack(
        rx.heading(g["title"].to(str), size="5", id="goal-heading"),
        status_badge(g["status"]),
        rx.box(confidence_badge(g["confidence"]), id="goal-confidence"),
        stale_and_overdue(g),
        rx.spacer(),
        rx.cond(
            g["may_edit"] & (g["status"] != "archived"),
            rx.hstack(
                rx.button(
                    rx.icon("pencil", size=14),
                    "Edit",
                    variant="soft",
                    on_click=S.start_edit,
                    id="goal-edit",
                ),
                _archive_button(),
                spacing="2",
            ),
        ),
        width="100%",
        align="center",
        spacing="3",
        wrap="wrap",
    )


def _progress() -> rx.Component:
    """The progress bar and where the figure comes from."""
    g = shown(S.goal)
    return rx.vstack(
        rx.text("Progress", size="1", color_scheme="gray"),
        rx.hstack(
            rx.progress(value=g["progress"].to(int), max=100, width="240px"),
            rx.text(g["progress"].to(int), "%", weight="bold", id="goal-progress"),
            align="center",
            spacing="2",
        ),
        rx.text(
            rx.match(g["progress_source"], *SOURCE_TEXT.items(), ""),
            size="1",
            color_scheme="gray",
        ),
        spacing="1",
    )


def _summary() -> rx.Component:
    g = shown(S.goal)
    return rx.card(
        rx.vstack(
            _title_bar(),
            rx.text(g["description"].to(str), color_scheme="gray"),
            rx.hstack(
                _progress(),
                rx.spacer(),
                *[
                    _fact(label, g[key])
                    for label, key in (
                        ("Owner", "owner"),
                        ("Period", "period"),
                        ("Start", "start_date"),
                        ("Due", "due_date"),
                        ("Weight", "weight"),
                    )
                ],
                spacing="6",
                width="100%",
                align="start",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _fact(label: str, value: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value.to(str), size="2", weight="medium"),
        spacing="1",
    )


def _kr_row(k: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.cell(k["title"]),
        rx.table.cell(k["start_value"], " ", k["unit"]),
        rx.table.cell(k["current_value"], " ", k["unit"]),
        rx.table.cell(k["target_value"], " ", k["unit"]),
        rx.table.cell(progress_bar(k["progress"])),
        class_name="kr-row",
    )


def _key_results() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Key results", size="3"),
            data_table(
                ("Key result", "Start", "Current", "Target", "Progress"),
                S.key_results,
                _kr_row,
                empty="No key results.",
                element_id="goal-key-results",
                variant="ghost",
            ),
            width="100%",
        ),
        width="100%",
    )


def _beside(field: rx.Var | str, element_id: str = "", **props: object) -> rx.Component:
    """The check-in's refusal, beside the input it is about."""
    return field_message(S.check_in_error, S.check_in_field == field, element_id, **props)


def _check_in_kr(k: ObjectVar) -> rx.Component:
    """A key result's new value in the check-in, its target beside it."""
    return rx.vstack(
        rx.hstack(
            rx.text(k["title"], size="2", width="45%"),
            rx.input(
                name="kr_" + k["id"].to(str),
                default_value=k["current_value"].to(str),
                width="25%",
                class_name="checkin-kr",
                aria_label=k["title"],
            ),
            rx.text(
                "of ",
                k["target_value"],
                " ",
                k["unit"],
                size="1",
                color_scheme="gray",
                class_name="checkin-kr-target",
            ),
            width="100%",
            align="center",
        ),
        _beside("kr_" + k["id"].to(str), class_name="checkin-kr-error"),
        spacing="1",
        width="100%",
    )


def _check_in_form() -> rx.Component:
    """Kept as typed when refused (the message beside its input); after a saved check-in it
    starts afresh (a new key) from the goal as it now is and its last confidence."""
    g = shown(S.goal)
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Check in", size="3"),
                rx.cond(
                    S.key_results.length() > 0,
                    rx.vstack(rx.foreach(S.key_results, _check_in_kr), width="100%"),
                    rx.cond(
                        g["progress_source"] == "check_ins",
                        labelled(
                            "Progress %",
                            rx.fragment(
                                rx.input(
                                    name="progress",
                                    default_value=g["progress"].to(str),
                                    id="checkin-progress",
                                ),
                                _beside("progress", "checkin-progress-error"),
                            ),
                            id="checkin-progress-field",
                        ),
                    ),
                ),
                labelled(
                    "Confidence",
                    native_select(
                        *options({key: label for key, (label, _) in CONFIDENCE.items()}),
                        name="confidence",
                        id="checkin-confidence",
                        default_value=rx.cond(
                            g["confidence"].to(str) != "", g["confidence"].to(str), "on_track"
                        ),
                    ),
                    id="checkin-confidence-field",
                ),
                _beside("confidence", "checkin-confidence-error"),
                labelled(
                    "Note",
                    rx.text_area(name="note", max_length=5000, id="checkin-note", width="100%"),
                    id="checkin-note-field",
                ),
                _beside("note", "checkin-note-error"),
                error_callout(
                    rx.cond(S.check_in_field == "", S.check_in_error, ""), "checkin-error"
                ),
                rx.button("Save check-in", type="submit", id="checkin-save"),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit_check_in,
            reset_on_submit=False,
            key=S.check_in_round,
        ),
        width="100%",
    )


def _check_in_line(c: ObjectVar) -> rx.Component:
    return rx.hstack(
        rx.text(c["at"], size="1", color_scheme="gray", width="150px"),
        confidence_badge(c["confidence"]),
        rx.text(c["progress"], "%", size="2", weight="medium"),
        rx.text(c["author"], size="2"),
        rx.text(c["note"], size="2", color_scheme="gray", min_width="12rem", flex="1"),
        spacing="3",
        align="center",
        wrap="wrap",
        class_name="checkin-row",
    )


def _history() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Check-in history", size="3"),
            item_list(
                S.check_ins,
                _check_in_line,
                empty="No check-ins yet.",
                empty_id="goal-history-empty",
                spacing="2",
            ),
            width="100%",
        ),
        width="100%",
    )


def _tree_line(n: ObjectVar) -> rx.Component:
    """A goal aligned below this one, indented by its depth (hidden: no link, no owner)."""
    return rx.hstack(
        rx.icon("corner-down-right", size=14, color=rx.color("gray", 9)),
        rx.cond(
            n["id"] != "",
            rx.link(n["title"], href="/goals/" + n["id"].to(str), size="2"),
            rx.text(n["title"], size="2", color_scheme="gray"),
        ),
        rx.text(n["owner"], size="1", color_scheme="gray"),
        rx.spacer(),
        progress_bar(n["progress"], width="100px"),
        padding_left=(n["depth"].to(int) * 20 - 20).to(str) + "px",
        width="100%",
        align="center",
        class_name="tree-row",
    )


def _alignment() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Aligned goals", size="3"),
            item_list(
                S.tree,
                _tree_line,
                empty="Nothing is aligned to this goal yet.",
                empty_id="goal-tree-empty",
                spacing="2",
            ),
            width="100%",
        ),
        width="100%",
    )


def _edit_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Edit goal", size="3"),
                goal_fields(
                    parents=S.parents,
                    goal=shown(S.goal),
                    key_results=S.key_results,
                    refusal=(S.edit_error, S.edit_field),
                ),
                goal_form_buttons(on_cancel=S.cancel_edit, submit="Save", submit_id="goal-save"),
                spacing="3",
            ),
            on_submit=S.save_edit,
            reset_on_submit=False,
        ),
        width="100%",
    )


@template(route="/goals/[goal_id]", title="Goal", on_load=S.load)
def goal_detail() -> rx.Component:
    return rx.vstack(
        _breadcrumb(),
        feedback(S, "goal"),
        rx.cond(
            S.found,
            rx.vstack(
                _summary(),
                rx.cond(S.editing, _edit_form()),
                rx.grid(
                    rx.vstack(_key_results(), _alignment(), _history(), width="100%"),
                    rx.cond(
                        shown(S.goal)["may_edit"] & (shown(S.goal)["status"] == "active"),
                        _check_in_form(),
                        rx.fragment(),
                    ),
                    spacing="4",
                    width="100%",
                    class_name="pms-goal-layout",  # two columns, one on a phone
                ),
                width="100%",
                spacing="4",
            ),
        ),
        width="100%",
        spacing="4",
    )
