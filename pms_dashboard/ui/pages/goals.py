"""Goals: mine, my team's, or everything I may see — server-paged, sortable, filterable."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.components.export import export_menu
from pms_dashboard.ui.components.feedback import error_callout
from pms_dashboard.ui.components.goal_form import goal_fields
from pms_dashboard.ui.states.goals import GoalFormState, GoalsState
from pms_dashboard.ui.templates import template

STATUS_COLORS = {"draft": "gray", "active": "blue", "completed": "green", "archived": "gray"}
CONFIDENCE = {
    "on_track": ("On track", "green"),
    "at_risk": ("At risk", "amber"),
    "off_track": ("Off track", "red"),
}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[(s, rx.badge(s, color_scheme=c)) for s, c in STATUS_COLORS.items()],
        rx.badge(status),
    )


def confidence_badge(value: rx.Var) -> rx.Component:
    return rx.match(
        value,
        *[
            (key, rx.badge(label, color_scheme=color, variant="soft"))
            for key, (label, color) in CONFIDENCE.items()
        ],
        rx.text("No check-in", color_scheme="gray", size="1"),
    )


def progress_bar(value: rx.Var, width: str = "120px") -> rx.Component:
    return rx.hstack(
        rx.progress(value=value, max=100, width=width),
        rx.text(value, "%", size="1"),
        align="center",
        spacing="2",
    )


def _sortable(label: str, column: str) -> rx.Component:
    arrow = rx.cond(
        GoalsState.sort == column,
        rx.cond(
            GoalsState.descending,
            rx.icon("chevron-down", size=14),
            rx.icon("chevron-up", size=14),
        ),
        rx.fragment(),
    )
    return rx.table.column_header_cell(
        rx.hstack(
            rx.text(label),
            arrow,
            spacing="1",
            align="center",
            cursor="pointer",
            on_click=GoalsState.sort_by(column),
        ),
    )


def _row(goal: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(
                    goal["title"],
                    href="/goals/" + goal["id"].to(str),
                    weight="medium",
                    class_name="goal-title",
                ),
                rx.hstack(
                    rx.cond(goal["stale"], rx.badge("Stale", color_scheme="orange", size="1")),
                    rx.cond(goal["overdue"], rx.badge("Overdue", color_scheme="red", size="1")),
                    spacing="1",
                ),
                spacing="1",
            )
        ),
        rx.table.cell(goal["owner"]),
        rx.table.cell(goal["period"]),
        rx.table.cell(status_badge(goal["status"])),
        rx.table.cell(confidence_badge(goal["confidence"])),
        rx.table.cell(progress_bar(goal["progress"])),
        rx.table.cell(goal["due_date"]),
        rx.table.cell(goal["key_results"]),
        class_name="goal-row",
    )


def new_goal_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("plus", size=16),
                "New goal",
                on_click=GoalFormState.open_form,
                id="goal-new",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("New goal"),
            rx.form(
                rx.vstack(
                    goal_fields(parents=GoalFormState.parents, owners=GoalFormState.owners),
                    error_callout(GoalFormState.error, "goal-form-error"),
                    rx.hstack(
                        rx.button(
                            "Cancel",
                            variant="soft",
                            color_scheme="gray",
                            type="button",
                            on_click=GoalFormState.close_form,
                        ),
                        rx.button("Create goal", type="submit", id="goal-create"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="4",
                ),
                on_submit=GoalFormState.create,
                reset_on_submit=False,
            ),
            max_width="760px",
        ),
        open=GoalFormState.open,
        on_open_change=GoalFormState.set_open,
    )


def _toolbar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.segmented_control.root(
                rx.segmented_control.item("Mine", value="mine"),
                rx.segmented_control.item("My team", value="team"),
                rx.segmented_control.item("Everything I can see", value="all"),
                value=GoalsState.scope,
                on_change=GoalsState.set_scope,
                id="goal-scope",
            ),
            rx.spacer(),
            export_menu(
                GoalsState.export_csv,
                [("goals", "Goals"), ("key-results", "Key results"), ("check-ins", "Check-ins")],
                "goals",
            ),
            new_goal_dialog(),
            width="100%",
            align="center",
        ),
        rx.hstack(
            rx.segmented_control.root(
                rx.segmented_control.item("All", value="all"),
                rx.segmented_control.item("Active", value="active"),
                rx.segmented_control.item("Draft", value="draft"),
                rx.segmented_control.item("Completed", value="completed"),
                rx.segmented_control.item("Archived", value="archived"),
                value=GoalsState.status,
                on_change=GoalsState.filter_status,
                size="1",
            ),
            rx.select.root(
                rx.select.trigger(placeholder="Any period"),
                rx.select.content(
                    rx.select.item("Any period", value="all"),
                    rx.foreach(GoalsState.periods, lambda p: rx.select.item(p, value=p)),
                ),
                value=rx.cond(GoalsState.period == "", "all", GoalsState.period),
                on_change=GoalsState.filter_period,
                size="1",
            ),
            rx.select.root(
                rx.select.trigger(placeholder="Anyone", id="goal-filter-owner"),
                rx.select.content(
                    rx.select.item("Anyone", value="all"),
                    rx.foreach(
                        GoalsState.owners, lambda o: rx.select.item(o["name"], value=o["id"])
                    ),
                ),
                value=rx.cond(GoalsState.owner == "", "all", GoalsState.owner),
                on_change=GoalsState.filter_owner,
                size="1",
            ),
            rx.select.root(
                rx.select.trigger(placeholder="Any team", id="goal-filter-team"),
                rx.select.content(
                    rx.select.item("Any team", value="all"),
                    rx.foreach(GoalsState.teams, lambda t: rx.select.item(t, value=t)),
                ),
                value=rx.cond(GoalsState.team == "", "all", GoalsState.team),
                on_change=GoalsState.filter_team,
                size="1",
            ),
            rx.hstack(
                rx.switch(
                    checked=GoalsState.stale_only, on_change=GoalsState.toggle_stale, size="1"
                ),
                rx.text("Stale only", size="2"),
                align="center",
                spacing="2",
            ),
            rx.cond(
                (GoalsState.due_within != "") | (GoalsState.confidence != ""),
                rx.button(
                    rx.cond(
                        GoalsState.due_within != "",
                        "Due within " + GoalsState.due_within + " days",
                        "Confidence: " + GoalsState.confidence,
                    ),
                    rx.icon("x", size=12),
                    size="1",
                    variant="soft",
                    on_click=GoalsState.clear_filters,
                ),
            ),
            rx.spacer(),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="search",
                        placeholder="Search titles",
                        default_value=GoalsState.search,
                        max_length=100,
                        size="1",
                    ),
                    rx.button(rx.icon("search", size=14), variant="soft", type="submit", size="1"),
                    spacing="2",
                ),
                on_submit=GoalsState.search_titles,
                reset_on_submit=False,
            ),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        width="100%",
        spacing="3",
    )


def pager(state: type[rx.State], noun: str, prefix: str) -> rx.Component:
    return rx.hstack(
        rx.text(state.total, f" {noun}", color_scheme="gray", size="2", id=f"{prefix}-total"),  # type: ignore[attr-defined]
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            disabled=state.page <= 1,  # type: ignore[attr-defined]
            on_click=state.previous_page,  # type: ignore[attr-defined]
            id=f"{prefix}s-prev",
        ),
        rx.text("Page ", state.page, " of ", state.pages, size="2", id=f"{prefix}s-page"),  # type: ignore[attr-defined]
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            disabled=state.page >= state.pages,  # type: ignore[attr-defined]
            on_click=state.next_page,  # type: ignore[attr-defined]
            id=f"{prefix}s-next",
        ),
        width="100%",
        align="center",
        spacing="3",
    )


@template(route="/goals", title="Goals", on_load=GoalsState.load)
def goals() -> rx.Component:
    return rx.vstack(
        _toolbar(),
        error_callout(GoalsState.error, "goals-error"),
        rx.cond(
            GoalsState.total > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        _sortable("Goal", "title"),
                        _sortable("Owner", "owner"),
                        rx.table.column_header_cell("Period"),
                        _sortable("Status", "status"),
                        rx.table.column_header_cell("Confidence"),
                        _sortable("Progress", "progress"),
                        _sortable("Due", "due_date"),
                        rx.table.column_header_cell("Key results"),
                    )
                ),
                rx.table.body(rx.foreach(GoalsState.rows, _row)),
                variant="surface",
                width="100%",
                id="goals-table",
            ),
            rx.callout(
                "No goals match. Try another filter, or create one with “New goal”.",
                icon="info",
                width="100%",
            ),
        ),
        pager(GoalsState, "goals", "goal"),
        width="100%",
        spacing="4",
    )
