"""My goals page: a server-paged, sortable, filterable table of the user's goals."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.states.goals import MyGoalsState
from pms_dashboard.ui.templates import ACCENT, template

STATUS_COLORS = {"draft": "gray", "active": "blue", "completed": "green", "archived": "gray"}
CONFIDENCE = {
    "on_track": ("On track", "green"),
    "at_risk": ("At risk", "amber"),
    "off_track": ("Off track", "red"),
}


def _sortable(label: str, column: str) -> rx.Component:
    arrow = rx.cond(
        MyGoalsState.sort == column,
        rx.cond(
            MyGoalsState.descending,
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
            on_click=MyGoalsState.sort_by(column),
        ),
    )


def _confidence(value: rx.Var) -> rx.Component:
    return rx.match(
        value,
        *[
            (key, rx.badge(label, color_scheme=color, variant="soft"))
            for key, (label, color) in CONFIDENCE.items()
        ],
        rx.text("No check-in", color_scheme="gray", size="1"),
    )


def _row(goal: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(goal["title"], weight="medium", class_name="goal-title")),
        rx.table.cell(goal["period"]),
        rx.table.cell(
            rx.match(
                goal["status"],
                *[(s, rx.badge(s, color_scheme=c)) for s, c in STATUS_COLORS.items()],
                rx.badge(goal["status"]),
            )
        ),
        rx.table.cell(_confidence(goal["confidence"])),
        rx.table.cell(
            rx.hstack(
                rx.progress(
                    value=goal["progress"].to(int), max=100, width="120px", color_scheme=ACCENT
                ),
                rx.text(goal["progress"].to(int), "%", size="1"),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(goal["due_date"]),
        rx.table.cell(goal["key_results"]),
        class_name="goal-row",
    )


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.segmented_control.root(
            rx.segmented_control.item("All", value="all"),
            rx.segmented_control.item("Active", value="active"),
            rx.segmented_control.item("Draft", value="draft"),
            rx.segmented_control.item("Completed", value="completed"),
            rx.segmented_control.item("Archived", value="archived"),
            value=MyGoalsState.status,
            on_change=MyGoalsState.filter_status,
        ),
        rx.spacer(),
        rx.form(
            rx.hstack(
                rx.input(
                    name="search", placeholder="Search titles", default_value="", max_length=100
                ),
                rx.button(rx.icon("search", size=16), variant="soft", type="submit"),
                spacing="2",
            ),
            on_submit=MyGoalsState.search_titles,
        ),
        width="100%",
        align="center",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(MyGoalsState.total, " goals", color_scheme="gray", size="2", id="goal-total"),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            disabled=MyGoalsState.page <= 1,
            on_click=MyGoalsState.previous_page,
            id="goals-prev",
        ),
        rx.text("Page ", MyGoalsState.page, " of ", MyGoalsState.pages, size="2", id="goals-page"),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            disabled=MyGoalsState.page >= MyGoalsState.pages,
            on_click=MyGoalsState.next_page,
            id="goals-next",
        ),
        width="100%",
        align="center",
        spacing="3",
    )


@template(route="/goals", title="My goals", on_load=MyGoalsState.load)
def goals() -> rx.Component:
    return rx.vstack(
        _toolbar(),
        rx.cond(
            MyGoalsState.error != "",
            rx.callout(MyGoalsState.error, icon="triangle-alert", color_scheme="red"),
        ),
        rx.cond(
            MyGoalsState.total > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        _sortable("Goal", "title"),
                        rx.table.column_header_cell("Period"),
                        _sortable("Status", "status"),
                        rx.table.column_header_cell("Confidence"),
                        _sortable("Progress", "progress"),
                        _sortable("Due", "due_date"),
                        rx.table.column_header_cell("Key results"),
                    )
                ),
                rx.table.body(rx.foreach(MyGoalsState.rows, _row)),
                variant="surface",
                width="100%",
                id="goals-table",
            ),
            rx.card(rx.text("No goals match. Goals you own will appear here."), width="100%"),
        ),
        _pager(),
        width="100%",
        spacing="4",
    )
