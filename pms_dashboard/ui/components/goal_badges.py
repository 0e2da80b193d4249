"""How a goal's status, confidence and progress look wherever a goal is shown."""

from __future__ import annotations

from typing import Any

import reflex as rx

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


def stale_and_overdue(goal: Any, **props: Any) -> rx.Component:
    """The "Stale" and "Overdue" badges a goal (a var of its row) earns (`props`: the
    badges', such as size)."""
    return rx.fragment(
        rx.cond(goal["stale"], rx.badge("Stale", color_scheme="orange", **props)),
        rx.cond(goal["overdue"], rx.badge("Overdue", color_scheme="red", **props)),
    )
