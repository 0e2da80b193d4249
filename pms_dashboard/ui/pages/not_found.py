"""The page for an address the app does not have: inside the shell (navigation and
header stay), saying so in plain words, with a way back."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.templates import template


@template(route="404", title="Page not found")
def not_found() -> rx.Component:
    return rx.vstack(
        rx.heading("There is no page at this address", size="5"),
        rx.text(
            "The link may be mistyped, or the page has moved. Everything else is where it was.",
            color_scheme="gray",
        ),
        rx.hstack(
            rx.link(rx.button("Back to the overview"), href="/overview", id="not-found-home"),
            rx.button(
                "Go back",
                variant="soft",
                on_click=rx.call_script("window.history.back()"),
                id="not-found-back",
            ),
            spacing="3",
            wrap="wrap",
        ),
        spacing="3",
        padding_y="2rem",
        id="not-found",
    )
