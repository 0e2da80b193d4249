"""One goal: progress and where it comes from, key results, check-in, alignment, history."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.components.feedback import error_callout, feedback
from pms_dashboard.ui.components.goal_form import SELECT_STYLE, goal_fields, labelled
from pms_dashboard.ui.pages.goals import confidence_badge, progress_bar, status_badge
from pms_dashboard.ui.states.goals import GoalDetailState as S
from pms_dashboard.ui.templates import template

SOURCE_TEXT = {
    "key_results": "Progress follows the key results (weighted).",
    "aligned": "Progress rolls up from the goals aligned to it (weighted).",
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


def _summary() -> rx.Component:
    g = S.goal
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(g["title"].to(str), size="5", id="goal-heading"),
                status_badge(g["status"]),
                rx.cond(g["stale"], rx.badge("Stale", color_scheme="orange")),
                rx.cond(g["overdue"], rx.badge("Overdue", color_scheme="red")),
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
                        rx.alert_dialog.root(
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
                                rx.hstack(
                                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft")),
                                    rx.alert_dialog.action(
                                        rx.button(
                                            "Archive",
                                            color_scheme="red",
                                            on_click=S.archive,
                                            id="goal-archive-confirm",
                                        )
                                    ),
                                    justify="end",
                                    spacing="3",
                                    padding_top="1rem",
                                ),
                            ),
                        ),
                        spacing="2",
                    ),
                ),
                width="100%",
                align="center",
                spacing="3",
            ),
            rx.text(g["description"].to(str), color_scheme="gray"),
            rx.hstack(
                rx.vstack(
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
                ),
                rx.spacer(),
                _fact("Owner", g["owner"]),
                _fact("Period", g["period"]),
                _fact("Start", g["start_date"]),
                _fact("Due", g["due_date"]),
                _fact("Weight", g["weight"]),
                spacing="6",
                width="100%",
                align="start",
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


def _key_results() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Key results", size="3"),
            rx.cond(
                S.key_results.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Key result", "Start", "Current", "Target", "Progress")
                            ]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            S.key_results,
                            lambda k: rx.table.row(
                                rx.table.cell(k["title"]),
                                rx.table.cell(k["start_value"], " ", k["unit"]),
                                rx.table.cell(k["current_value"], " ", k["unit"]),
                                rx.table.cell(k["target_value"], " ", k["unit"]),
                                rx.table.cell(progress_bar(k["progress"])),
                                class_name="kr-row",
                            ),
                        )
                    ),
                    width="100%",
                ),
                rx.text("No key results.", color_scheme="gray", size="2"),
            ),
            width="100%",
        ),
        width="100%",
    )


def _check_in_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Check in", size="3"),
                rx.cond(
                    S.key_results.length() > 0,
                    rx.vstack(
                        rx.foreach(
                            S.key_results,
                            lambda k: rx.hstack(
                                rx.text(k["title"], size="2", width="60%"),
                                rx.input(
                                    name="kr_" + k["id"].to(str),
                                    default_value=k["current_value"].to(str),
                                    width="35%",
                                    class_name="checkin-kr",
                                ),
                                width="100%",
                                align="center",
                            ),
                        ),
                        width="100%",
                    ),
                    rx.cond(
                        S.goal["progress_source"] == "check_ins",
                        labelled(
                            "Progress %",
                            rx.input(
                                name="progress",
                                default_value=S.goal["progress"].to(str),
                                id="checkin-progress",
                            ),
                        ),
                    ),
                ),
                labelled(
                    "Confidence",
                    rx.el.select(
                        rx.el.option("On track", value="on_track"),
                        rx.el.option("At risk", value="at_risk"),
                        rx.el.option("Off track", value="off_track"),
                        name="confidence",
                        id="checkin-confidence",
                        style=SELECT_STYLE,
                    ),
                ),
                labelled(
                    "Note",
                    rx.text_area(name="note", max_length=5000, id="checkin-note", width="100%"),
                ),
                error_callout(S.check_in_error, "checkin-error"),
                rx.button("Save check-in", type="submit", id="checkin-save"),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit_check_in,
            reset_on_submit=True,
        ),
        width="100%",
    )


def _history() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Check-in history", size="3"),
            rx.cond(
                S.check_ins.length() > 0,
                rx.vstack(
                    rx.foreach(
                        S.check_ins,
                        lambda c: rx.hstack(
                            rx.text(c["at"], size="1", color_scheme="gray", width="150px"),
                            confidence_badge(c["confidence"]),
                            rx.text(c["progress"], "%", size="2", weight="medium"),
                            rx.text(c["author"], size="2"),
                            rx.text(c["note"], size="2", color_scheme="gray"),
                            spacing="3",
                            align="center",
                            class_name="checkin-row",
                        ),
                    ),
                    spacing="2",
                ),
                rx.text("No check-ins yet.", color_scheme="gray", size="2"),
            ),
            width="100%",
        ),
        width="100%",
    )


def _alignment() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Aligned goals", size="3"),
            rx.cond(
                S.tree.length() > 0,
                rx.vstack(
                    rx.foreach(
                        S.tree,
                        lambda n: rx.hstack(
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
                        ),
                    ),
                    width="100%",
                    spacing="2",
                ),
                rx.text("Nothing is aligned to this goal yet.", color_scheme="gray", size="2"),
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
                goal_fields(parents=S.parents, goal=S.goal, key_results=S.key_results),
                rx.hstack(
                    rx.button(
                        "Cancel",
                        variant="soft",
                        color_scheme="gray",
                        type="button",
                        on_click=S.cancel_edit,
                    ),
                    rx.button("Save", type="submit", id="goal-save"),
                    justify="end",
                    width="100%",
                ),
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
                        S.goal["may_edit"] & (S.goal["status"] == "active"),
                        _check_in_form(),
                        rx.fragment(),
                    ),
                    columns="2",
                    spacing="4",
                    width="100%",
                    style={"grid-template-columns": "minmax(0, 2fr) minmax(0, 1fr)"},
                ),
                width="100%",
                spacing="4",
            ),
        ),
        width="100%",
        spacing="4",
    )
