"""The goal form's fields, shared by the create dialog and the edit form on the detail page.

A refusal's words go beside the input they are about (`Refusal`: the state's message and
the input's field name, "" for the whole form, whose line is under the key results)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import reflex as rx

from pms_dashboard.ui.components.feedback import error_callout
from pms_dashboard.ui.components.fields import (
    Refusal,
    native_select,
    options,
    refusal_beside,
    refused_field,
)
from pms_dashboard.ui.states.goals import KR_SLOTS, NO_PARENT, GoalFormState

# A key-result row's inputs: (field, placeholder, width, max length)
KR_INPUTS = (
    ("title", None, "44%", 200),
    ("start", "Start", "12%", None),
    ("target", "Target", "12%", None),
    ("current", "Current", "12%", None),
    ("unit", "Unit", "14%", 32),
)
KR_VALUES = {"start": "start_value", "target": "target_value", "current": "current_value"}


def _quarter_end(d: date) -> date:
    last_month = ((d.month - 1) // 3 + 1) * 3
    return date(d.year + last_month // 12, last_month % 12 + 1, 1) - timedelta(days=1)


KR_HEADINGS = {"title": "Key result", "start": "Start", "target": "Target",
               "current": "Current", "unit": "Unit"}  # fmt: skip


def _kr_headings() -> rx.Component:
    """The key-result rows' column titles (the inputs' placeholders vanish once typed in)."""
    return rx.hstack(
        *[
            rx.text(KR_HEADINGS[field], size="1", color_scheme="gray", width=width)
            for field, _, width, _ in KR_INPUTS
        ],
        spacing="2",
        width="100%",
        class_name="kr-headings pms-kr-headings",
        aria_hidden="true",
    )


def _kr_row(i: int, key_results: Any, refusal: Refusal) -> rx.Component:
    """Key-result row `i`: empty, or (editing) the goal's i-th key result, id kept; a
    refusal about the row (it names it: "Key result 2: ...") under it, #kr-error-<i>."""

    def start(key: str) -> Any:
        if key_results is None:
            return ""
        return rx.cond(key_results.length() > i, key_results[i][key].to(str), "")

    row = rx.hstack(
        rx.el.input(type="hidden", name=f"kr_id_{i}", value=start("id")),
        *[
            rx.input(
                name=f"kr_{field}_{i}",
                placeholder=placeholder or f"Key result {i + 1}",
                aria_label=f"{KR_HEADINGS[field]} of key result {i + 1}",
                default_value=start(KR_VALUES.get(field, field)),
                width=width,
                id=f"kr-{field}-{i}",
                **({"max_length": max_length} if max_length else {}),
            )
            for field, placeholder, width, max_length in KR_INPUTS
        ],
        spacing="2",
        width="100%",
        class_name="pms-kr-row",  # a phone: the title on a line, its numbers below
    )
    beside = refusal_beside(refusal, f"key_results.{i}", f"kr-error-{i}")
    return rx.vstack(row, beside, spacing="1", width="100%")


def _owner_and_parent(owners: Any, parents: Any, goal: Any, refusal: Refusal) -> rx.Component:
    """Whose goal it is (creating only) and the goal it is aligned to."""
    owner = (
        refused_field(
            refusal,
            "Owner",
            "owner_id",
            native_select(
                rx.foreach(owners, lambda o: rx.el.option(o["name"], value=o["id"])),
                name="owner_id",
                id="goal-owner",
                style={"width": "100%"},
            ),
            min_width="0",
        )
        if owners is not None
        else rx.fragment()
    )
    parent_id = (
        rx.cond(goal["parent_id"], goal["parent_id"].to(str), NO_PARENT)
        if goal is not None
        else NO_PARENT
    )
    parent = refused_field(
        refusal,
        "Aligned to (parent goal)",
        "parent_id",
        native_select(
            rx.el.option("No parent", value=NO_PARENT),
            rx.foreach(parents, lambda p: rx.el.option(p["label"], value=p["id"])),
            name="parent_id",
            id="goal-parent",
            default_value=parent_id,
            style={"width": "100%"},
        ),
        min_width="0",  # a long goal title is cut inside the dialog, not spilled out of it
    )
    return rx.hstack(owner, parent, spacing="3", width="100%")


def _schedule(value: Any, refusal: Refusal) -> rx.Component:
    """Start and due dates, period, weight and status."""
    today = date.today()
    return rx.hstack(
        *[
            refused_field(
                refusal,
                label,
                name,
                rx.input(
                    type="date",
                    name=name,
                    id=element_id,
                    default_value=value(name, default.isoformat()),
                    required=True,
                ),
            )
            for label, name, element_id, default in (
                ("Start", "start_date", "goal-start", today),
                ("Due", "due_date", "goal-due", _quarter_end(today)),
            )
        ],
        refused_field(
            refusal,
            "Period",
            "period",
            rx.input(
                name="period",
                placeholder="2026 Q4",
                id="goal-period",
                default_value=value("period", ""),
                max_length=32,
            ),
        ),
        refused_field(
            refusal,
            "Weight",
            "weight",
            rx.input(
                name="weight", id="goal-weight", default_value=value("weight", "1"), width="80px"
            ),
        ),
        refused_field(
            refusal,
            "Status",
            "status",
            native_select(
                *options({"active": "Active", "draft": "Draft", "completed": "Completed"}),
                name="status",
                id="goal-status",
                default_value=value("status", "active"),
            ),
        ),
        spacing="3",
        width="100%",
        class_name="pms-goal-schedule",  # a phone: two a line
    )


def goal_fields(
    *,
    parents: Any,
    refusal: Refusal,
    owners: Any = None,
    goal: Any = None,
    key_results: Any = None,
) -> rx.Component:
    """Title, description, owner, parent, dates, weight, status and key-result rows, each
    with `refusal`'s words beside it when they are about it, else under the key results
    (#goal-form-error).

    With `goal` (a dict var) the fields start from the goal's values (edit); `key_results`
    then fills the key-result rows, keeping each row's id so edits update in place."""

    def value(key: str, default: str) -> Any:
        return goal[key].to(str) if goal is not None else default

    message, about = refusal
    return rx.vstack(
        refused_field(
            refusal,
            "Title",
            "title",
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
        refused_field(
            refusal,
            "Description",
            "description",
            rx.text_area(
                name="description",
                default_value=value("description", ""),
                max_length=5000,
                id="goal-description",
                width="100%",
            ),
        ),
        _owner_and_parent(owners, parents, goal, refusal),
        _schedule(value, refusal),
        rx.text("Key results (optional: progress then follows them)", size="2", weight="medium"),
        _kr_headings(),
        *[_kr_row(i, key_results, refusal) for i in range(KR_SLOTS)],
        error_callout(rx.cond(about == "", message, ""), "goal-form-error"),
        spacing="3",
        width="100%",
    )


def goal_form_buttons(*, on_cancel: Any, submit: str, submit_id: str) -> rx.Component:
    """Cancel and the form's submit button, at the end of the goal form."""
    return rx.hstack(
        rx.button("Cancel", variant="soft", color_scheme="gray", type="button", on_click=on_cancel),
        rx.button(submit, type="submit", id=submit_id),
        justify="end",
        width="100%",
    )


def new_goal_dialog() -> rx.Component:
    """ "New goal" and its dialog: in every page's header, so a goal can be set from anywhere."""
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
                    goal_fields(
                        parents=GoalFormState.parents,
                        owners=GoalFormState.owners,
                        refusal=(GoalFormState.error, GoalFormState.error_field),
                    ),
                    goal_form_buttons(
                        on_cancel=GoalFormState.close_form,
                        submit="Create goal",
                        submit_id="goal-create",
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
