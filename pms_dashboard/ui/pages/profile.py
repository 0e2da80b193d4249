"""Your profile: who you are in this organisation, your name, the time zone you read dates
and times in, and changing your password."""

from __future__ import annotations

from typing import Any

import reflex as rx

from pms_dashboard.auth.passwords import MIN_PASSWORD
from pms_dashboard.auth.zones import TIME_ZONES
from pms_dashboard.ui.components.feedback import error_callout, notice_callout
from pms_dashboard.ui.components.fields import field_message, labelled
from pms_dashboard.ui.states.profile import ProfileState
from pms_dashboard.ui.templates import template

S = ProfileState


def _field(label: str, name: str, hint: str = "", **props: Any) -> rx.Component:
    """An input of the page (#profile-<name>, dashes for underscores), red with its refusal's
    words beside it when the refusal is about it; a new form key shows it afresh."""
    return labelled(
        label,
        rx.vstack(
            rx.input(
                name=name,
                key=f"{name}-" + S.form_key.to(str),
                id=f"profile-{name.replace('_', '-')}",
                width="100%",
                color_scheme=rx.cond(S.error_field == name, "red", "gray"),
                **props,
            ),
            field_message(S.error, S.error_field == name, f"profile-{name}-error"),
            spacing="1",
            width="100%",
        ),
        hint,
    )


def _password(label: str, name: str, autocomplete: str, hint: str = "") -> rx.Component:
    return _field(label, name, hint, type="password", auto_complete=autocomplete)


def _form_card(title: str, *children: rx.Component, card_id: str, on_submit: Any) -> rx.Component:
    """One of the page's forms in its card (what was typed is kept on a refusal)."""
    return rx.card(
        rx.form(
            rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"),
            on_submit=on_submit,
            reset_on_submit=False,
        ),
        width="100%",
        max_width="520px",
        id=card_id,
    )


def _name_form() -> rx.Component:
    return _form_card(
        "Your name",
        _field(
            "Name others see on goals, reviews and lists",
            "display_name",
            default_value=S.user_name,
            max_length=200,
        ),
        rx.button("Save name", type="submit", id="profile-name-save"),
        card_id="profile-name-card",
        on_submit=S.save_name,
    )


def _zone_form() -> rx.Component:
    """The zone every date and time is shown in: typed or picked from the browser's list of
    every IANA zone (a datalist: it narrows as one types); the service checks it."""
    return _form_card(
        "Time zone",
        rx.text(
            "Dates and times are shown in ",
            rx.text.strong(S.time_zone),
            ": it is now ",
            rx.text.span(S.zone_now, id="profile-zone-now"),
            ".",
            size="2",
        ),
        _field(
            "Your time zone",
            "time_zone",
            "Type a city or region (Europe/Paris, America/New_York) and pick it;"
            " leave empty for your organisation's zone, or UTC. CSV exports keep"
            " times in UTC (ISO 8601), whatever you choose.",
            default_value=S.own_time_zone,
            max_length=64,
            placeholder="Your organisation's zone",
            auto_complete="off",
            custom_attrs={"list": "profile-zones"},
        ),
        rx.el.datalist(*[rx.el.option(value=zone) for zone in TIME_ZONES], id="profile-zones"),
        rx.button("Save time zone", type="submit", id="profile-zone-save"),
        card_id="profile-zone-card",
        on_submit=S.save_time_zone,
    )


def _password_form() -> rx.Component:
    return _form_card(
        "Change your password",
        rx.text(
            "Your other sessions (other browsers and devices) end when you change it.",
            size="2",
            color_scheme="gray",
        ),
        _password("Current password", "current_password", "current-password"),
        _password(
            "New password",
            "new_password",
            "new-password",
            f"At least {MIN_PASSWORD} characters.",
        ),
        _password("New password again", "confirm_password", "new-password"),
        rx.button("Change password", type="submit", id="profile-save"),
        card_id="profile-password",
        on_submit=S.save_password,
    )


@template(route="/profile", title="Your profile", on_load=ProfileState.load)
def profile_page() -> rx.Component:
    return rx.vstack(
        rx.vstack(
            rx.text(S.user_name, weight="medium", size="4", id="profile-name"),
            rx.text(
                S.user_email,
                " · ",
                S.role_label,
                " · ",
                S.tenant_name,
                size="2",
                color_scheme="gray",
            ),
            spacing="1",
        ),
        # a refusal about no one input (beside its input otherwise), and what was done
        error_callout(rx.cond(S.error_field == "", S.error, ""), "profile-error"),
        notice_callout(S.success, "profile-success"),
        _name_form(),
        _zone_form(),
        _password_form(),
        spacing="5",
        width="100%",
    )
