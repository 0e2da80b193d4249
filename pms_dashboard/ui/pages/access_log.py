"""Access transparency for tenant admins: who from the platform looked at our data, when,
why (justification and ticket) and what they read."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.console.grants import ACCESS_KINDS
from pms_dashboard.ui.components.feedback import error_callout
from pms_dashboard.ui.components.fields import labelled, native_select, options
from pms_dashboard.ui.components.pager import paged_pager
from pms_dashboard.ui.components.tables import data_table
from pms_dashboard.ui.states.access_log import ALL_KINDS, AccessLogState
from pms_dashboard.ui.templates import template


def _entry(e: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.cell(e["at"]),
        rx.table.cell(e["admin"]),
        rx.table.cell(rx.badge(e["action"], color_scheme="amber")),
        rx.table.cell(e["justification"]),
        rx.table.cell(e["ticket"]),
        rx.table.cell(e["what"]),
        class_name="access-row",
    )


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
        labelled(
            "What happened",
            native_select(
                *options({ALL_KINDS: "Every kind of access"} | ACCESS_KINDS),
                value=AccessLogState.kind,
                on_change=AccessLogState.filter_kind,
                id="access-kind",
            ),
            width="auto",
        ),
        error_callout(AccessLogState.error, "access-error"),
        data_table(
            ("When", "Who", "What happened", "Justification", "Ticket", "Read"),
            AccessLogState.entries,
            _entry,
            empty="No provider access so far.",
            element_id="access-table",
        ),
        paged_pager(AccessLogState, prefix="access", noun="entries", one="entry"),
        width="100%",
        spacing="4",
    )
