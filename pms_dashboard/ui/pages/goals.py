"""Goals: mine, my team's, or everything I may see — server-paged, sortable, filterable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.goals.schemas import NO_CHECK_IN
from pms_dashboard.ui.components.export import export_menu
from pms_dashboard.ui.components.feedback import error_callout
from pms_dashboard.ui.components.goal_badges import (
    confidence_badge,
    progress_bar,
    stale_and_overdue,
    status_badge,
)
from pms_dashboard.ui.components.pager import paged_pager
from pms_dashboard.ui.components.tables import data_table
from pms_dashboard.ui.states.goals import GoalsState
from pms_dashboard.ui.templates import template


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


def _row(goal: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(
                    goal["title"],
                    href="/goals/" + goal["id"].to(str),
                    weight="medium",
                    class_name="goal-title",
                ),
                rx.hstack(stale_and_overdue(goal, size="1"), spacing="1"),
                spacing="1",
            )
        ),
        rx.table.cell(goal["owner"]),
        rx.table.cell(goal["period"]),
        rx.table.cell(status_badge(goal["status"])),
        rx.table.cell(confidence_badge(goal["confidence"])),
        rx.table.cell(progress_bar(goal["progress"])),
        rx.table.cell(goal["due_date"], white_space="nowrap"),
        rx.table.cell(goal["key_results"]),
        class_name="goal-row",
    )


# --------------------------------------------------------------------------- toolbar


def _scope_bar() -> rx.Component:
    """Whose goals (mine, my team's, everything I may see) and export ("New goal" is in
    the header)."""
    return rx.hstack(
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
        width="100%",
        align="center",
        wrap="wrap",
    )


def _status_filter() -> rx.Component:
    return rx.segmented_control.root(
        *[
            rx.segmented_control.item(label, value=value)
            for label, value in (
                ("All", "all"),
                ("Active", "active"),
                ("Draft", "draft"),
                ("Completed", "completed"),
                ("Archived", "archived"),
            )
        ],
        value=GoalsState.status,
        on_change=GoalsState.filter_status,
        size="1",
    )


def _menu(
    anyone: str, chosen: rx.Var, options: rx.Var, item: Callable, on_change: Any, **trigger: Any
) -> rx.Component:
    """A filter menu: `anyone` (no filter) first, then an item per option."""
    return rx.select.root(
        rx.select.trigger(placeholder=anyone, **trigger),
        rx.select.content(rx.select.item(anyone, value="all"), rx.foreach(options, item)),
        value=rx.cond(chosen == "", "all", chosen),
        on_change=on_change,
        size="1",
    )


def _menus() -> list[rx.Component]:
    """Period, owner and team."""
    return [
        _menu(
            "Any period",
            GoalsState.period,
            GoalsState.periods,
            lambda p: rx.select.item(p, value=p),
            GoalsState.filter_period,
        ),
        _menu(
            "Anyone",
            GoalsState.owner,
            GoalsState.owners,
            lambda o: rx.select.item(o["name"], value=o["id"]),
            GoalsState.filter_owner,
            id="goal-filter-owner",
        ),
        _menu(
            "Any team",
            GoalsState.team,
            GoalsState.teams,
            lambda t: rx.select.item(t, value=t),
            GoalsState.filter_team,
            id="goal-filter-team",
        ),
    ]


def _stale_switch() -> rx.Component:
    return rx.hstack(
        rx.switch(checked=GoalsState.stale_only, on_change=GoalsState.toggle_stale, size="1"),
        rx.text("Stale only", size="2"),
        align="center",
        spacing="2",
    )


# The confidence filter a link from the overview sets, as its button reads.
CONFIDENCE_FILTERS = {
    "on_track": "Confidence: on track",
    "at_risk": "Confidence: at risk",
    "off_track": "Confidence: off track",
    NO_CHECK_IN: "No check-in yet",
}


def _link_filter() -> rx.Component:
    """The filter a link from the overview set (due within n days, or a confidence), with a
    button to clear it."""
    return rx.cond(
        (GoalsState.due_within != "") | (GoalsState.confidence != ""),
        rx.button(
            rx.cond(
                GoalsState.due_within != "",
                "Due within " + GoalsState.due_within + " days",
                rx.match(GoalsState.confidence, *CONFIDENCE_FILTERS.items(), ""),
            ),
            rx.icon("x", size=12),
            size="1",
            variant="soft",
            on_click=GoalsState.clear_filters,
        ),
    )


def _search() -> rx.Component:
    return rx.form(
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
    )


def _toolbar() -> rx.Component:
    return rx.vstack(
        _scope_bar(),
        rx.hstack(
            _status_filter(),
            *_menus(),
            _stale_switch(),
            _link_filter(),
            rx.spacer(),
            _search(),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        width="100%",
        spacing="3",
    )


COLUMNS = [
    ("Goal", "title"),
    ("Owner", "owner"),
    ("Period", None),
    ("Status", "status"),
    ("Confidence", None),
    ("Progress", "progress"),
    ("Due", "due_date"),
    ("Key results", None),
]  # (title, the sort key of a sortable column)


@template(route="/goals", title="Goals", on_load=GoalsState.load)
def goals() -> rx.Component:
    return rx.vstack(
        _toolbar(),
        error_callout(GoalsState.error, "goals-error"),
        data_table(
            [label if key is None else _sortable(label, key) for label, key in COLUMNS],
            GoalsState.rows,
            _row,
            empty="No goals match. Try another filter, or create one with “New goal”.",
            loaded=GoalsState.loaded,
            element_id="goals-table",
            count=GoalsState.total,
            labels=[label for label, _ in COLUMNS],
        ),
        paged_pager(GoalsState, prefix="goals", noun="goals", one="goal", total_id="goal-total"),
        width="100%",
        spacing="4",
    )
