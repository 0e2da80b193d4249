"""The goal form's fields, shared by the create dialog and the edit form on the detail page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import reflex as rx

from pms_dashboard.ui.states.goals import KR_SLOTS, NO_PARENT

# Native <select>: its value reaches the form's submit data like any input.
SELECT_STYLE = {"padding": "6px", "border": "1px solid var(--gray-7)", "border-radius": "6px"}


def _quarter_end(d: date) -> date:
    last_month = ((d.month - 1) // 3 + 1) * 3
    return date(d.year + last_month // 12, last_month % 12 + 1, 1) - timedelta(days=1)


def labelled(label: str, control: rx.Component, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%", **props
    )


def goal_fields(
    *,
    parents: Any,
    owners: Any = None,
    goal: Any = None,
    key_results: Any = None,
) -> rx.Component:
    """Title, description, owner, parent, dates, weight, status and key-result rows.

    With `goal` (a dict var) the fields start from the goal's values (edit); `key_results`
    then fills the key-result rows, keeping each row's id so edits update in place."""
    today = date.today()

    def value(key: str, default: str) -> Any:
        return goal[key].to(str) if goal is not None else default

    rows = []
    for i in range(KR_SLOTS):
        kr = key_results[i] if key_results is not None else None

        def kr_value(key: str, default: str = "", kr: Any = kr, i: int = i) -> Any:
            if kr is None:
                return default
            return rx.cond(key_results.length() > i, kr[key].to(str), default)

        rows.append(
            rx.hstack(
                rx.el.input(type="hidden", name=f"kr_id_{i}", value=kr_value("id")),
                rx.input(
                    name=f"kr_title_{i}",
                    placeholder=f"Key result {i + 1}",
                    default_value=kr_value("title"),
                    width="44%",
                    max_length=200,
                    id=f"kr-title-{i}",
                ),
                rx.input(
                    name=f"kr_start_{i}",
                    placeholder="Start",
                    default_value=kr_value("start_value", ""),
                    width="12%",
                    id=f"kr-start-{i}",
                ),
                rx.input(
                    name=f"kr_target_{i}",
                    placeholder="Target",
                    default_value=kr_value("target_value", ""),
                    width="12%",
                    id=f"kr-target-{i}",
                ),
                rx.input(
                    name=f"kr_current_{i}",
                    placeholder="Current",
                    default_value=kr_value("current_value", ""),
                    width="12%",
                    id=f"kr-current-{i}",
                ),
                rx.input(
                    name=f"kr_unit_{i}",
                    placeholder="Unit",
                    default_value=kr_value("unit"),
                    width="14%",
                    max_length=32,
                    id=f"kr-unit-{i}",
                ),
                spacing="2",
                width="100%",
            )
        )
    owner_field = (
        labelled(
            "Owner",
            rx.el.select(
                rx.foreach(owners, lambda o: rx.el.option(o["name"], value=o["id"])),
                name="owner_id",
                id="goal-owner",
                style={
                    "padding": "6px",
                    "border": "1px solid var(--gray-7)",
                    "border-radius": "6px",
                },
            ),
        )
        if owners is not None
        else rx.fragment()
    )
    return rx.vstack(
        labelled(
            "Title",
            rx.input(
                name="title",
                default_value=value("title", ""),
                required=True,
                min_length=3,
                max_length=200,
                id="goal-title",
                width="100%",
            ),
        ),
        labelled(
            "Description",
            rx.text_area(
                name="description",
                default_value=value("description", ""),
                max_length=5000,
                id="goal-description",
                width="100%",
            ),
        ),
        rx.hstack(
            owner_field,
            labelled(
                "Aligned to (parent goal)",
                rx.el.select(
                    rx.el.option("No parent", value=NO_PARENT),
                    rx.foreach(parents, lambda p: rx.el.option(p["label"], value=p["id"])),
                    name="parent_id",
                    id="goal-parent",
                    default_value=rx.cond(goal["parent_id"], goal["parent_id"].to(str), NO_PARENT)
                    if goal is not None
                    else NO_PARENT,
                    style=SELECT_STYLE | {"max-width": "100%"},
                ),
            ),
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            labelled(
                "Start",
                rx.input(
                    type="date",
                    name="start_date",
                    id="goal-start",
                    default_value=value("start_date", today.isoformat()),
                    required=True,
                ),
            ),
            labelled(
                "Due",
                rx.input(
                    type="date",
                    name="due_date",
                    id="goal-due",
                    default_value=value("due_date", _quarter_end(today).isoformat()),
                    required=True,
                ),
            ),
            labelled(
                "Period",
                rx.input(
                    name="period",
                    placeholder="2026 Q4",
                    id="goal-period",
                    default_value=value("period", ""),
                    max_length=32,
                ),
            ),
            labelled(
                "Weight",
                rx.input(
                    name="weight",
                    id="goal-weight",
                    default_value=value("weight", "1"),
                    width="80px",
                ),
            ),
            labelled(
                "Status",
                rx.el.select(
                    rx.el.option("Active", value="active"),
                    rx.el.option("Draft", value="draft"),
                    rx.el.option("Completed", value="completed"),
                    name="status",
                    id="goal-status",
                    default_value=value("status", "active"),
                    style=SELECT_STYLE,
                ),
            ),
            spacing="3",
            width="100%",
        ),
        rx.text("Key results (optional: progress then follows them)", size="2", weight="medium"),
        *rows,
        spacing="3",
        width="100%",
    )
