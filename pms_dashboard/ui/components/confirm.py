"""Dialogs that ask before a step that cannot simply be undone: their buttons, and the
review-cycles page's one dialog for launch, start calibration, reopen writing and delete."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.states.cycles import CyclesState


def cycle_confirm_dialog() -> rx.Component:
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
                    ("share", "Share the results?"),
                    ("close", "Close this cycle?"),
                    "Are you sure?",
                )
            ),
            rx.alert_dialog.description(CyclesState.confirm_text),
            dialog_buttons(
                rx.button(
                    "Cancel",
                    variant="soft",
                    on_click=CyclesState.cancel_confirm,
                    id="cycle-confirm-cancel",
                ),
                rx.button(
                    rx.match(
                        CyclesState.confirm_step,
                        ("launch", "Launch"),
                        ("calibrate", "Start calibration"),
                        ("reopen", "Reopen"),
                        ("delete", "Delete"),
                        ("share", "Share results"),
                        ("close", "Close the cycle"),
                        "Continue",
                    ),
                    on_click=CyclesState.confirm,
                    id="cycle-confirm-go",
                ),
            ),
            id="cycle-confirm",
        ),
        open=CyclesState.confirm_step != "",
        on_open_change=CyclesState.confirm_open_change,
    )


def dialog_buttons(cancel: rx.Component, action: rx.Component) -> rx.Component:
    """An alert dialog's buttons: the way back, then the step it asks about, at the right."""
    return rx.hstack(
        rx.alert_dialog.cancel(cancel),
        rx.alert_dialog.action(action),
        justify="end",
        spacing="3",
        padding_top="1rem",
    )
