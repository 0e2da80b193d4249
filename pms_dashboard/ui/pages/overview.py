"""Overview dashboard: goal health, what is due soon, what went stale — each links to the
filtered goal list."""

from __future__ import annotations

from typing import cast

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.ui.components.charts import count_bar_chart, share_ring
from pms_dashboard.ui.components.goal_badges import confidence_badge, progress_bar
from pms_dashboard.ui.components.tables import item_list
from pms_dashboard.ui.states.overview import DUE_SOON_DAYS, OverviewState
from pms_dashboard.ui.styles import CARD_COLUMNS
from pms_dashboard.ui.templates import template


def stat(label: str, value: rx.Var, href: str, color: str, key: str) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.text(label, size="2", color_scheme="gray"),
                rx.heading(value, size="7", color=rx.color(color, 11)),
                spacing="1",
            ),
            width="100%",
            _hover={"box-shadow": f"0 0 0 1px {rx.color(color, 7)}"},
        ),
        href=href,
        underline="none",
        width="100%",
        id=f"stat-{key}",
    )


def _health_chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Goal health", size="3"),
            rx.text(
                "Latest check-in confidence of active goals: open a bar for its goals",
                size="1",
                color_scheme="gray",
            ),
            count_bar_chart(
                OverviewState.health_chart,
                value_key="value",
                label="Active goals by confidence",
                linked=True,
            ),
            width="100%",
            id="chart-health",
        ),
        width="100%",
    )


def _goal_line(g: ObjectVar, key: str) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(g["title"], href="/goals/" + g["id"].to(str), size="2"),
            rx.text(g["owner"], " · due ", g["due_date"], size="1", color_scheme="gray"),
            spacing="0",
        ),
        rx.spacer(),
        confidence_badge(g["confidence"]),
        progress_bar(g["progress"], width="80px"),
        width="100%",
        align="center",
        class_name=f"{key}-row",
    )


def _goal_list(title: str, rows: rx.Var, href: str, empty: str, key: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="3"),
                rx.spacer(),
                rx.link("See all", href=href, size="2"),
                width="100%",
            ),
            item_list(
                rows,
                lambda g: _goal_line(g, key),
                empty=empty,
                empty_id=f"list-{key}-empty",
                loaded=OverviewState.loaded,
                spacing="3",
            ),
            width="100%",
            id=f"list-{key}",
        ),
        width="100%",
    )


def _completion_chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Active vs completed", size="3"),
            share_ring(
                OverviewState.completion_chart,
                OverviewState.completion_ring,
                OverviewState.completion_done,
                "completed",
            ),
            width="100%",
            id="chart-completion",
        ),
        width="100%",
    )


def _review_chart(title: str, data: rx.Var, chart_id: str, color: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="3"),
                rx.spacer(),
                rx.link("Open the cycle", href=OverviewState.cycle_href, size="2"),
                width="100%",
            ),
            rx.text(OverviewState.cycle_name, size="1", color_scheme="gray"),
            count_bar_chart(data, color=color, label=title),
            width="100%",
            id=chart_id,
        ),
        width="100%",
    )


def _review_charts() -> rx.Component:
    return rx.cond(
        OverviewState.cycle_name != "",
        rx.grid(
            _review_chart(
                "Review completion", OverviewState.funnel, "chart-funnel", "var(--accent-9)"
            ),
            _review_chart(
                "Rating distribution", OverviewState.ratings, "chart-ratings", "var(--green-9)"
            ),
            columns=CARD_COLUMNS,
            spacing="4",
            width="100%",
        ),
    )


# Narrow windows: two tiles a row (three on a tablet).
TILE_COLUMNS = {"initial": "2", "sm": "3", "lg": "6"}
ALL = "/goals?scope=all"
STATS = [
    ("Goals", "total", ALL, "gray"),
    ("At risk", "at_risk", f"{ALL}&confidence=at_risk", "amber"),
    ("Off track", "off_track", f"{ALL}&confidence=off_track", "red"),
    (f"Due in {DUE_SOON_DAYS} days", "due_soon", f"{ALL}&due={DUE_SOON_DAYS}", "blue"),
    ("Stale", "stale", f"{ALL}&stale=1", "orange"),
    ("Overdue", "overdue", f"{ALL}&status=active", "crimson"),
]


@template(route="/overview", title="Overview", on_load=OverviewState.load)
def overview() -> rx.Component:
    h = cast(ObjectVar[dict[str, int]], OverviewState.health)  # on the class: a Var
    return rx.vstack(
        rx.text(OverviewState.scope_label, color_scheme="gray", size="2"),
        rx.grid(
            *[stat(label, h[key], href, color, key) for label, key, href, color in STATS],
            columns=TILE_COLUMNS,
            spacing="4",
            width="100%",
        ),
        rx.grid(
            _health_chart(),
            _completion_chart(),
            columns=CARD_COLUMNS,
            spacing="4",
            width="100%",
        ),
        _review_charts(),
        rx.grid(
            _goal_list(
                "Due soon",
                OverviewState.due_soon,
                f"/goals?scope=all&due={DUE_SOON_DAYS}",
                "Nothing due in the next two weeks.",
                "due",
            ),
            _goal_list(
                "Stale goals",
                OverviewState.stale,
                "/goals?scope=all&stale=1",
                "Every active goal has a recent check-in.",
                "stale",
            ),
            columns=CARD_COLUMNS,
            spacing="4",
            width="100%",
        ),
        width="100%",
        spacing="4",
    )
