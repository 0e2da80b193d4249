"""The "Export CSV" control of a list: one button, or a menu when a list has several files."""

from __future__ import annotations

from typing import Any

import reflex as rx


def export_menu(handler: Any, files: list[tuple[str, str]], prefix: str) -> rx.Component:
    """`files` are (export name, label); `handler` (a state's event handler, called with an
    export name) starts the download of one of them."""
    trigger = rx.button(
        rx.icon("download", size=16), "Export CSV", variant="soft", id=f"{prefix}-export"
    )
    if len(files) == 1:
        name, _ = files[0]
        return rx.button(
            rx.icon("download", size=16),
            "Export CSV",
            variant="soft",
            on_click=handler(name),
            id=f"{prefix}-export",
        )
    return rx.menu.root(
        rx.menu.trigger(trigger),
        rx.menu.content(
            *[
                rx.menu.item(label, on_click=handler(name), id=f"{prefix}-export-{name}")
                for name, label in files
            ]
        ),
    )
