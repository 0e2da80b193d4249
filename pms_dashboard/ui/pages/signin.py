"""Sign-in: a plain HTML form POSTed to the backend, which sets the HttpOnly cookie."""

from __future__ import annotations

import reflex as rx

from pms_dashboard.auth.throttle import throttled_message
from pms_dashboard.sso.schemas import MESSAGES as SSO_MESSAGES
from pms_dashboard.ui.components.native_form import native_form
from pms_dashboard.ui.states.base import AppState, event, forget_tab_token
from pms_dashboard.ui.urls import backend_url

# Fixed texts chosen by a code in the URL: nothing the URL carries is shown verbatim.
MESSAGES = {
    "invalid": "Sign-in failed. Check your organisation, email and password.",
    "expired": "Your session has ended. Please sign in again.",
}


class SignInPageState(AppState):
    """What the sign-in page shows after a redirect (no secrets, no identity)."""

    error: str = ""
    notice: str = ""
    organisation: str = ""

    @event
    def on_load(self):
        params = self.router.url.query_parameters
        self.error = MESSAGES.get(params.get("error", ""), "")
        if params.get("error") == "sso":  # a fixed text per reason code, never the URL's words
            self.error = SSO_MESSAGES.get(params.get("reason", ""), SSO_MESSAGES["failed"])
        if params.get("error") == "throttled":  # the wait (minutes, or "Ns"), checked, or none
            self.error = throttled_message(params.get("retry", ""))
        self.notice = "You have signed out." if params.get("signed_out") else ""
        org = params.get("organisation", "")
        self.organisation = org if org.replace("-", "").isalnum() and len(org) <= 63 else ""
        return forget_tab_token()


def _field(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=name, size="2", weight="medium"),
        rx.input(name=name, id=name, size="3", width="100%", required=True, **props),
        spacing="1",
        width="100%",
    )


def _sso_form() -> rx.Component:
    """Single sign-on: the email's domain finds the organisation (or name it)."""
    return rx.vstack(
        rx.hstack(
            rx.separator(size="4"),
            rx.text("or", size="1", color_scheme="gray"),
            rx.separator(size="4"),
            align="center",
            width="100%",
        ),
        native_form(
            rx.vstack(
                rx.input(
                    name="email",
                    id="sso-email",
                    type="email",
                    placeholder="you@company.com",
                    required=True,
                    size="3",
                    width="100%",
                ),
                rx.input(
                    name="organisation",
                    id="sso-organisation",
                    placeholder="Organisation (only if asked)",
                    size="2",
                    width="100%",
                ),
                rx.button(
                    rx.icon("key-round", size=16),
                    "Continue with single sign-on",
                    type="submit",
                    size="3",
                    variant="outline",
                    width="100%",
                    id="sso-continue",
                ),
                spacing="2",
                width="100%",
            ),
            action=backend_url("/api/sso/start"),
            method="post",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


@rx.page(route="/signin", title="Sign in · PMS", on_load=SignInPageState.on_load)
def signin() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.image(src="/logo.svg", width="36px", height="36px", alt=""),
                    rx.heading("Sign in to PMS", size="6"),
                    align="center",
                    spacing="3",
                ),
                rx.text("Goals, check-ins and reviews for your team.", color_scheme="gray"),
                rx.cond(
                    SignInPageState.error != "",
                    rx.callout(
                        SignInPageState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        width="100%",
                        id="signin-error",
                    ),
                ),
                rx.cond(
                    SignInPageState.notice != "",
                    rx.callout(SignInPageState.notice, icon="info", width="100%"),
                ),
                native_form(
                    rx.vstack(
                        _field(
                            "Organisation",
                            "organisation",
                            placeholder="acme",
                            default_value=SignInPageState.organisation,
                            auto_complete="organization",
                        ),
                        _field(
                            "Email",
                            "email",
                            type="email",
                            placeholder="you@company.com",
                            auto_complete="username",
                        ),
                        _field(
                            "Password",
                            "password",
                            type="password",
                            auto_complete="current-password",
                        ),
                        rx.button(
                            "Sign in",
                            type="submit",
                            size="3",
                            width="100%",
                            id="sign-in",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    action=backend_url("/api/auth/signin"),
                    method="post",
                    width="100%",
                ),
                _sso_form(),
                spacing="4",
                width="100%",
            ),
            size="4",
            width="400px",
        ),
        height="100vh",
        background=rx.color("gray", 2),
    )
