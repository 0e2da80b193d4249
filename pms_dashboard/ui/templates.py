"""The page shell: sidebar, header with tenant and user, sign-out (here or everywhere);
every page uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from pms_dashboard.ui.components.goal_form import new_goal_dialog
from pms_dashboard.ui.components.native_form import native_form
from pms_dashboard.ui.states.session import SessionState
from pms_dashboard.ui.styles import shell_style
from pms_dashboard.ui.urls import backend_url

EVERYONE = ("employee", "manager", "hr_admin", "tenant_admin")
# (label, route, icon, roles that see the entry). Pages check access themselves; hiding an
# entry is only about not offering what would be refused.
NAV = [
    ("Overview", "/overview", "layout-dashboard", EVERYONE),
    ("Goals", "/goals", "target", EVERYONE),
    ("Reviews", "/reviews", "clipboard-check", EVERYONE),
    ("Cycles", "/cycles", "calendar-range", ("manager", "hr_admin", "tenant_admin")),
    ("People", "/people", "users", EVERYONE),
    ("Settings", "/settings", "settings", ("tenant_admin",)),
    ("Encryption", "/encryption", "lock", ("tenant_admin",)),
    ("Provider access", "/access-log", "shield-check", ("tenant_admin",)),
]
# The tenant's accent colour, as the theme sets it (`var(--accent-n)`).
ACCENT = "accent"


def _nav_item(label: str, href: str, icon: str, roles: tuple[str, ...]) -> rx.Component:
    active = rx.State.router.url.path.startswith(href)
    link = rx.link(
        rx.hstack(rx.icon(icon, size=18), rx.text(label, size="3"), spacing="3", align="center"),
        href=href,
        underline="none",
        padding_x="0.75rem",
        padding_y="0.5rem",
        border_radius="8px",
        width="100%",
        color=rx.cond(active, rx.color(ACCENT, 11), rx.color("gray", 12)),
        background=rx.cond(active, rx.color(ACCENT, 3), "transparent"),
        _hover={"background": rx.color(ACCENT, 4)},
        id=f"nav-{href.strip('/')}",
    )
    if roles == EVERYONE:
        return link
    return rx.cond(rx.Var.create(list(roles)).contains(SessionState.role), link, rx.fragment())


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.cond(
                SessionState.logo_url != "",
                rx.image(src=SessionState.logo_url, height="28px", max_width="120px", alt=""),
                rx.image(src="/logo.svg", width="28px", height="28px", alt=""),
            ),
            rx.heading("PMS", size="5"),
            align="center",
            spacing="2",
            padding_bottom="1rem",
        ),
        *[_nav_item(*item) for item in NAV],
        width="220px",
        min_width="220px",
        height="100vh",
        padding="1.25rem",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        position="sticky",
        top="0",
        spacing="1",
        class_name="pms-sidebar",
        id="nav",
    )


# On a phone the sidebar is a drawer: the menu button opens it by marking the shell (a
# page change renders a new shell, so the drawer is closed on every new page); tapping
# beside it closes it. Done in the browser: no round trip to open a menu.
_TOGGLE_NAV = (
    "(() => { const s = document.getElementById('pms-shell');"
    " const open = s.toggleAttribute('data-nav-open');"
    " document.getElementById('nav-menu').setAttribute('aria-expanded', String(open)); })()"
)


def menu_button() -> rx.Component:
    """Shown only on a phone (styles.py): opens the navigation."""
    return rx.icon_button(
        rx.icon("menu", size=20),
        variant="soft",
        color_scheme="gray",
        size="3",
        on_click=rx.call_script(_TOGGLE_NAV),
        class_name="pms-menu-button",
        id="nav-menu",
        aria_label="Menu",
        aria_controls="nav",
        aria_expanded="false",
    )


def _backdrop() -> rx.Component:
    return rx.box(on_click=rx.call_script(_TOGGLE_NAV), class_name="pms-backdrop")


def sign_out_button() -> rx.Component:
    """A real form POST: the backend revokes the session and clears the HttpOnly cookie."""
    return native_form(
        rx.button(
            rx.icon("log-out", size=16), "Sign out", variant="soft", type="submit", id="sign-out"
        ),
        action=backend_url("/api/auth/signout"),
        method="post",
    )


def sign_out_everywhere_button() -> rx.Component:
    """Ends every session of the user (other browsers and devices too), then this one."""
    return native_form(
        rx.button(
            rx.icon("monitor-x", size=16),
            "Sign out everywhere",
            variant="ghost",
            color_scheme="gray",
            size="1",
            type="submit",
            id="sign-out-everywhere",
            title="End your sessions in every browser and device",
        ),
        action=backend_url("/api/auth/signout-everywhere"),
        method="post",
    )


def header(title: str) -> rx.Component:
    """Menu button (phone), title and "New goal" first; who is signed in wraps under them
    on a phone."""
    return rx.el.header(
        rx.box(
            menu_button(),
            rx.heading(title, size="6"),
            rx.spacer(),
            new_goal_dialog(),
            class_name="pms-header-title",
        ),
        rx.box(
            rx.badge(SessionState.tenant_name, size="2", id="tenant-name"),
            rx.vstack(
                rx.link(  # your profile: password (and later name, time zone)
                    SessionState.user_name,
                    href="/profile",
                    weight="medium",
                    size="2",
                    color_scheme="gray",
                    high_contrast=True,
                    title="Your profile",
                    id="user-name",
                ),
                rx.text(SessionState.role_label, size="1", color_scheme="gray"),
                spacing="0",
                align="end",
            ),
            rx.vstack(sign_out_button(), sign_out_everywhere_button(), spacing="1", align="end"),
            class_name="pms-header-user",
        ),
        class_name="pms-header",
    )


# Each signed-in page's route and the events its loading runs (tests count their work).
SIGNED_IN_PAGES: dict[str, list[Any]] = {}


def template(
    *, route: str, title: str, on_load: Any = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Register a signed-in page: shell around it; its on_load (a handler of a
    `SessionState`, whose `_signed_in` checks the session and sets the tenant's look in the
    event's one transaction), or the session check alone for a page without one."""

    def decorator(body: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        loads = [on_load if on_load is not None else SessionState.require_user]
        SIGNED_IN_PAGES[route] = loads

        @rx.page(route=route, title=f"{title} · PMS", on_load=loads)
        def page() -> rx.Component:
            # The tenant's own accent colour (from its settings) for everything inside.
            return rx.theme(
                shell_style(),
                rx.box(
                    sidebar(),
                    _backdrop(),
                    rx.vstack(header(title), body(), spacing="4", class_name="pms-main"),
                    class_name="pms-shell",
                    id="pms-shell",
                ),
                accent_color=SessionState.accent,
                has_background=False,
            )

        return page

    return decorator
