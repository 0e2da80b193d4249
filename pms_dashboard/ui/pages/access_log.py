"""Access transparency for tenant admins: who from the platform looked at our data, when,
why (justification and ticket) and what they read."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.components.feedback import error_callout
from pms_dashboard.ui.states.access_log import AccessLogState
from pms_dashboard.ui.templates import template


@template(route="/access-log", title="Provider access", on_load=AccessLogState.load)
def access_log() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Every time a platform super-admin opened access to your organisation's data, read "
            "it, or tried to without access. Nobody at the platform can read your goals or "
            "reviews without a justified, time-boxed grant.",
            color_scheme="gray",
            size="2",
        ),
        error_callout(AccessLogState.error, "access-error"),
        rx.cond(
            AccessLogState.entries.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("When", "Who", "What happened", "Justification",
                                      "Ticket", "Read")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        AccessLogState.entries,
                        lambda e: rx.table.row(
                            rx.table.cell(e["at"]),
                            rx.table.cell(e["admin"]),
                            rx.table.cell(rx.badge(e["action"], color_scheme="amber")),
                            rx.table.cell(e["justification"]),
                            rx.table.cell(e["ticket"]),
                            rx.table.cell(e["what"]),
                            class_name="access-row",
                        ),
                    )
                ),
                variant="surface",
                width="100%",
                id="access-table",
            ),
            rx.callout("No provider access so far.", icon="shield-check", width="100%"),
        ),
        width="100%",
        spacing="4",
    )  # fmt: skip
