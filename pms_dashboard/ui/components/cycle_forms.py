"""HR's forms on the review-cycles page (a new or draft cycle, a new template) and the
dialog that asks before a cycle step that cannot simply be undone."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.components.fields import labelled
from pms_dashboard.ui.states.cycles import CyclesState
from pms_dashboard.ui.states.rows import shown


def _date(label: str, name: str, element_id: str) -> rx.Component:
    d = shown(CyclesState.draft)
    return labelled(
        label, rx.input(type="date", name=name, id=element_id, default_value=d.get(name, ""))
    )


def _participants() -> rx.Component:
    """Who takes part: departments, teams and managers' whole organisations."""
    d = shown(CyclesState.draft)
    return rx.fragment(
        rx.text(
            "Participants (all empty means everyone active):",
            size="2",
            color_scheme="gray",
        ),
        labelled(
            "Departments (comma-separated)",
            rx.input(
                name="departments",
                id="cycle-departments",
                default_value=d.get("departments", ""),
            ),
        ),
        labelled(
            "Teams (comma-separated)",
            rx.input(name="teams", id="cycle-teams", default_value=d.get("teams", "")),
        ),
        labelled(
            "Whole organisations of managers (emails, comma-separated)",
            rx.input(
                name="manager_emails",
                id="cycle-managers",
                default_value=d.get("manager_emails", ""),
            ),
        ),
    )


def create_cycle_form() -> rx.Component:
    """A new cycle, or the draft being edited (its values in the inputs; a new key each
    time a draft is opened or the form is done)."""
    d, editing = shown(CyclesState.draft), CyclesState.editing_cycle_id != ""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(editing, "Edit draft cycle", "New cycle"), size="4"),
                labelled(
                    "Name",
                    rx.input(
                        name="name",
                        id="cycle-name",
                        required=True,
                        max_length=200,
                        default_value=d.get("name", ""),
                    ),
                ),
                labelled(
                    "Template",
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Choose a template", width="100%", id="cycle-template"
                        ),
                        rx.select.content(
                            rx.foreach(
                                CyclesState.templates,
                                lambda t: rx.select.item(t["name"], value=t["id"]),
                            )
                        ),
                        name="template_id",
                        default_value=d.get("template_id", ""),
                    ),
                ),
                rx.hstack(
                    _date("Period start", "period_start", "cycle-period-start"),
                    _date("Period end", "period_end", "cycle-period-end"),
                    width="100%",
                ),
                rx.hstack(
                    _date("Self reviews due", "self_review_due", "cycle-self-due"),
                    _date("Manager reviews due", "manager_review_due", "cycle-manager-due"),
                    width="100%",
                ),
                _participants(),
                rx.hstack(
                    rx.button(
                        rx.cond(editing, "Save cycle", "Create cycle"),
                        type="submit",
                        id="cycle-create-submit",
                    ),
                    rx.cond(
                        editing,
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            on_click=CyclesState.cancel_edit,
                            id="cycle-edit-cancel",
                        ),
                    ),
                    spacing="3",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=CyclesState.create_cycle,
            reset_on_submit=False,
            key=CyclesState.form_key,
            id="cycle-create",
        ),
        width="100%",
    )


def create_template_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("New template", size="4"),
                labelled(
                    "Name",
                    rx.input(
                        name="template_name", id="template-name", required=True, max_length=200
                    ),
                ),
                labelled(
                    "Criteria, one per line: name; weight",
                    rx.text_area(
                        name="criteria",
                        id="template-criteria",
                        placeholder="Delivery; 2\nCollaboration; 1",
                        min_height="160px",
                        width="100%",
                    ),
                ),
                rx.button("Create template", type="submit", id="template-create-submit"),
                spacing="3",
                width="100%",
            ),
            on_submit=CyclesState.create_template,
            id="template-create",
        ),
        width="100%",
    )


def confirm_dialog() -> rx.Component:
    """Asks before a step that cannot simply be undone, saying what it will do."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.match(
                    CyclesState.confirm_step,
                    ("launch", "Launch this cycle?"),
                    ("calibrate", "Start calibration?"),
                    ("reopen", "Reopen writing?"),
                    ("delete", "Delete this draft cycle?"),
                    "Are you sure?",
                )
            ),
            rx.alert_dialog.description(CyclesState.confirm_text),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button(
                        "Cancel",
                        variant="soft",
                        on_click=CyclesState.cancel_confirm,
                        id="cycle-confirm-cancel",
                    )
                ),
                rx.alert_dialog.action(
                    rx.button(
                        rx.match(
                            CyclesState.confirm_step,
                            ("launch", "Launch"),
                            ("calibrate", "Start calibration"),
                            ("reopen", "Reopen"),
                            ("delete", "Delete"),
                            "Continue",
                        ),
                        on_click=CyclesState.confirm,
                        id="cycle-confirm-go",
                    )
                ),
                justify="end",
                spacing="3",
                padding_top="1rem",
            ),
            id="cycle-confirm",
        ),
        open=CyclesState.confirm_step != "",
        on_open_change=CyclesState.confirm_open_change,
    )
