"""The platform console: its own sign-in (password and authenticator code) and the
overview of every tenant, counts only."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.ui.components.feedback import error_callout, notice_callout
from pms_dashboard.ui.components.native_form import native_form
from pms_dashboard.ui.states.console import ConsoleSignInState, ConsoleState
from pms_dashboard.ui.urls import backend_url


def _field(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=f"console-{name}", size="2", weight="medium"),
        rx.input(name=name, id=f"console-{name}", size="3", width="100%", required=True, **props),
        spacing="1",
        width="100%",
    )


@rx.page(
    route="/console/signin", title="Platform console · PMS", on_load=ConsoleSignInState.on_load
)
def console_signin() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("shield-check", size=28),
                    rx.heading("Platform console", size="6"),
                    align="center",
                    spacing="3",
                ),
                rx.text(
                    "For platform super-admins. Every access to an organisation's data is "
                    "justified, logged and shown to that organisation.",
                    color_scheme="gray",
                    size="2",
                ),
                error_callout(ConsoleSignInState.error, "console-error"),
                notice_callout(ConsoleSignInState.notice, "console-notice"),
                native_form(
                    rx.vstack(
                        _field("Email", "email", type="email", auto_complete="username"),
                        _field("Password", "password", type="password",
                               auto_complete="current-password"),
                        _field("Authenticator code", "code", input_mode="numeric",
                               auto_complete="one-time-code", max_length=6, pattern="[0-9 ]{6,7}"),
                        rx.button("Sign in", type="submit", size="3", width="100%",
                                  color_scheme="gray", high_contrast=True, id="console-sign-in"),
                        spacing="4",
                        width="100%",
                    ),
                    action=backend_url("/api/console/signin"),
                    method="post",
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
            size="4",
            width="420px",
        ),
        height="100vh",
        background=rx.color("gray", 3),
    )  # fmt: skip


def _stat(label: str, key: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.heading(ConsoleState.totals[key], size="7", id=f"console-total-{key}"),
            spacing="1",
        ),
        width="100%",
    )


@rx.page(route="/console", title="Platform console · PMS", on_load=ConsoleState.load)
def console() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("shield-check", size=24),
            rx.heading("Platform console", size="6"),
            rx.spacer(),
            rx.text(ConsoleState.admin_name, weight="medium", id="console-admin"),
            native_form(
                rx.button(rx.icon("log-out", size=16), "Sign out", variant="soft",
                          color_scheme="gray", type="submit", id="console-sign-out"),
                action=backend_url("/api/console/signout"),
                method="post",
            ),
            width="100%",
            align="center",
            spacing="3",
        ),
        rx.text(
            "Counts only: reading an organisation's goals or reviews takes a justified, "
            "time-boxed access grant.",
            color_scheme="gray",
            size="2",
        ),
        rx.grid(
            _stat("Organisations", "tenants"),
            _stat("People", "users"),
            _stat("Goals", "goals"),
            columns="3",
            spacing="4",
            width="100%",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Organisation", "Slug", "Tier", "Region", "People", "Goals",
                                  "Last activity")
                    ]
                )
            ),
            rx.table.body(
                rx.foreach(
                    ConsoleState.tenants,
                    lambda t: rx.table.row(
                        rx.table.row_header_cell(t["name"]),
                        rx.table.cell(rx.code(t["slug"])),
                        rx.table.cell(rx.badge(t["isolation_tier"], variant="soft")),
                        rx.table.cell(t["region"]),
                        rx.table.cell(t["users"]),
                        rx.table.cell(t["goals"]),
                        rx.table.cell(t["last_activity"]),
                        class_name="console-tenant-row",
                    ),
                )
            ),
            variant="surface",
            width="100%",
            id="console-tenants",
        ),
        padding="1.5rem 2rem",
        spacing="4",
        width="100%",
    )  # fmt: skip
