"""Settings page (tenant admins): organisation name, logo, accent colour, stale-goal
threshold and the rating scale; everyone else gets a clear "only tenant admins" message."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.organisation.schemas import ACCENT_COLORS
from pms_dashboard.ui.components.feedback import error_callout, notice_callout
from pms_dashboard.ui.components.fields import field_message, labelled, native_select, options
from pms_dashboard.ui.states.settings import (
    HIGH_CHOICES,
    LOGO_UPLOAD_ID,
    LOW_CHOICES,
    ONLY_ADMINS,
    SettingsState,
)
from pms_dashboard.ui.states.sso import SsoSettingsState
from pms_dashboard.ui.templates import template


def _accent() -> rx.Component:
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(id="settings-accent"),
            rx.select.content(*[rx.select.item(c, value=c) for c in ACCENT_COLORS]),
            value=SettingsState.form_accent,
            on_change=SettingsState.set_accent,
        ),
        rx.box(
            width="2rem",
            height="2rem",
            border_radius="6px",
            background="var(--" + SettingsState.form_accent.to(str) + "-9)",
            id="settings-accent-swatch",
        ),
        rx.button(
            "Preview",
            type="button",
            color_scheme=SettingsState.form_accent,
            id="settings-accent-preview",
        ),
        rx.badge("Badge", color_scheme=SettingsState.form_accent, variant="soft"),
        align="center",
        spacing="3",
    )


def _label_input(row: ObjectVar) -> rx.Component:
    return rx.hstack(
        rx.badge(row["score"], variant="outline", min_width="2.5rem", justify="center"),
        rx.input(
            name=row["name"],
            default_value=row["label"],
            key=row["key"],
            max_length=40,
            placeholder="Label",
            width="100%",
            class_name="settings-label",
            custom_attrs={"data-score": row["score"]},
        ),
        align="center",
        width="100%",
    )


def _scale() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("From", size="2"),
            rx.select(
                LOW_CHOICES,
                value=SettingsState.rating_low,
                on_change=SettingsState.set_low,
                id="settings-low",
            ),
            rx.text("to", size="2"),
            rx.select(
                HIGH_CHOICES,
                value=SettingsState.rating_high,
                on_change=SettingsState.set_high,
                id="settings-high",
            ),
            align="center",
            spacing="2",
        ),
        rx.foreach(SettingsState.labels, _label_input),
        rx.text("One label per score, 1-40 characters each.", size="1", color_scheme="gray"),
        spacing="2",
        width="100%",
        id="settings-scale",
    )


def _residency() -> rx.Component:
    """Where the organisation's data lives (region and isolation tier), read-only."""
    return labelled(
        "Where your data lives",
        rx.hstack(
            rx.icon("map-pin", size=16),
            rx.text(SettingsState.residency, id="settings-residency", weight="medium"),
            align="center",
            spacing="2",
        ),
        "The region whose database holds your organisation's data, and how it is kept apart.",
    )


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _residency(),
            labelled(
                "Organisation name",
                rx.input(
                    name="name",
                    default_value=SettingsState.org_name,
                    key="name-" + SettingsState.form_key.to(str),
                    max_length=200,
                    id="settings-name",
                    width="100%",
                ),
            ),
            labelled(
                "Logo URL",
                rx.hstack(
                    rx.input(
                        name="logo_url",
                        default_value=SettingsState.form_logo_url,
                        key="logo-" + SettingsState.form_key.to(str),
                        max_length=500,
                        placeholder="https://… or /logo.svg",
                        id="settings-logo",
                        width="100%",
                    ),
                    rx.cond(
                        SettingsState.logo_preview != "",
                        rx.image(
                            src=SettingsState.logo_preview,
                            height="32px",
                            alt="Current logo",
                            id="settings-logo-preview",
                        ),
                    ),
                    width="100%",
                    align="center",
                ),
                "Leave empty for the default. Only https:// addresses or paths on this site; "
                "or upload an image below.",
            ),
            labelled("Accent colour", _accent()),
            labelled(
                "Goals are stale after (days without a check-in)",
                rx.input(
                    name="stale_after_days",
                    type="number",
                    min=1,
                    max=365,
                    default_value=SettingsState.stale_after_days,
                    key="stale-" + SettingsState.form_key.to(str),
                    id="settings-stale",
                    width="8rem",
                ),
            ),
            labelled("Rating scale", _scale()),
            error_callout(SettingsState.error, "settings-error"),
            notice_callout(SettingsState.success, "settings-success"),
            rx.button("Save", type="submit", id="settings-save"),
            spacing="4",
            width="100%",
            max_width="640px",
        ),
        on_submit=SettingsState.save,
        reset_on_submit=False,
        width="100%",
    )


# What the file chooser offers; the server reads the content, whatever the name or type.
LOGO_TYPES = {
    "image/png": [".png"],
    "image/jpeg": [".jpg", ".jpeg"],
    "image/gif": [".gif"],
    "image/webp": [".webp"],
}


def _logo_card() -> rx.Component:
    """Upload the organisation's logo (checked and re-encoded on the server), or remove it."""
    s = SettingsState
    return rx.card(
        rx.vstack(
            rx.heading("Upload a logo", size="4"),
            rx.upload.root(
                rx.vstack(
                    rx.button("Choose an image", type="button", variant="soft"),
                    rx.foreach(
                        rx.selected_files(LOGO_UPLOAD_ID),
                        lambda name: rx.text(name, size="2", class_name="settings-logo-file"),
                    ),
                    align="center",
                    spacing="2",
                ),
                id=LOGO_UPLOAD_ID,
                accept=LOGO_TYPES,
                max_files=1,
                multiple=False,
                border="1px dashed var(--gray-a7)",
                border_radius="var(--radius-3)",
                padding="1rem",
                width="100%",
            ),
            rx.text(
                "PNG, JPEG, GIF or WebP, at most 512 KB and 1024 × 1024 pixels.",
                size="1",
                color_scheme="gray",
            ),
            field_message(s.logo_error, s.logo_error != "", "settings-logo-upload-error"),
            rx.flex(
                rx.button(
                    "Upload logo",
                    type="button",
                    on_click=s.upload_logo(rx.upload_files(upload_id=LOGO_UPLOAD_ID)),
                    id="settings-logo-upload",
                ),
                rx.cond(
                    s.logo_uploaded,
                    rx.button(
                        "Remove logo",
                        type="button",
                        variant="soft",
                        color_scheme="red",
                        on_click=s.remove_logo,
                        id="settings-logo-remove",
                    ),
                ),
                wrap="wrap",
                gap="2",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        max_width="680px",
        id="settings-logo-card",
    )


@template(route="/settings", title="Settings", on_load=SettingsState.load)
def settings_page() -> rx.Component:
    return rx.cond(
        SettingsState.can_edit,
        rx.vstack(_form(), _logo_card(), _sso_card(), spacing="6", width="100%"),
        rx.cond(
            SettingsState.loaded,
            rx.callout(ONLY_ADMINS, icon="lock", color_scheme="amber", id="settings-denied"),
            rx.spinner(),
        ),
    )


WRAP_ANYWHERE = {"overflow_wrap": "anywhere"}  # a long address breaks inside a phone's width
KEEP_SECRET = "•••••• (stored; leave empty to keep)"  # noqa: S105 (a placeholder text)


def _sso_input(name: str, element_id: str, **props: Any) -> rx.Component:
    """A text field of the single sign-on form (fresh whenever the saved settings change)."""
    key = SsoSettingsState.form_key.to(str)
    return rx.input(name=name, key=f"{name}-" + key, id=element_id, width="100%", **props)


def _sso_switch(
    checked: rx.Var, on_change: Any, name: str, element_id: str, label: str
) -> rx.Component:
    return rx.hstack(
        rx.switch(checked=checked, on_change=on_change, id=element_id, name=name),
        rx.text(label, size="2"),
        align="center",
    )


def _sso_fields() -> list[rx.Component]:
    """Issuer, client id and secret, email domains and the role of people it creates."""
    s = SsoSettingsState
    return [
        labelled(
            "Issuer",
            _sso_input(
                "issuer",
                "sso-issuer",
                default_value=s.issuer,
                placeholder="https://login.example.com",
            ),
        ),
        labelled("Client id", _sso_input("client_id", "sso-client-id", default_value=s.client_id)),
        labelled(
            "Client secret",
            _sso_input(
                "client_secret",
                "sso-client-secret",
                type="password",
                placeholder=rx.cond(s.has_secret, KEEP_SECRET, ""),
                auto_complete="off",
            ),
            "Stored encrypted and never shown again.",
        ),
        labelled(
            "Email domains",
            _sso_input(
                "allowed_domains",
                "sso-domains",
                default_value=s.allowed_domains,
                placeholder="example.com",
            ),
            "Comma-separated.",
        ),
        labelled(
            "Role of people created at their first sign-in",
            native_select(
                *options({"employee": "Employee", "manager": "Manager"}),
                name="default_role",
                default_value=s.default_role,
                key="default_role-" + s.form_key.to(str),
                id="sso-default-role",
            ),
        ),
    ]


def _domain_badges(domains: rx.Var, color: str, label: str, class_name: str) -> rx.Component:
    return rx.foreach(
        domains,
        lambda d: rx.badge(d, " · ", label, color_scheme=color, class_name=class_name),
    )


def _sso_domains_proof() -> rx.Component:
    """The DNS record that proves each domain, where each domain stands, and "Verify"."""
    s = SsoSettingsState
    return rx.cond(
        s.dns_record != "",
        rx.vstack(
            rx.text(
                "Single sign-on works for a domain once you prove it is yours: add this TXT "
                "record at each domain, then press Verify.",
                size="2",
                color_scheme="gray",
            ),
            rx.code(s.dns_record, id="sso-dns-record", style=WRAP_ANYWHERE),
            rx.flex(
                _domain_badges(s.verified_domains, "green", "verified", "sso-domain-verified"),
                _domain_badges(s.pending_domains, "amber", "not verified", "sso-domain-pending"),
                wrap="wrap",
                gap="2",
            ),
            rx.button(
                "Verify domains",
                type="button",
                variant="soft",
                on_click=s.verify,
                disabled=s.pending_domains.length() == 0,
                id="sso-verify",
            ),
            spacing="2",
            width="100%",
            id="sso-domain-proof",
        ),
    )


def _sso_card() -> rx.Component:
    s = SsoSettingsState
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Single sign-on (OpenID Connect)", size="4"),
                rx.text(
                    "People whose email is in one of the domains below sign in with your "
                    "identity provider. Register this redirect address there:",
                    size="2",
                    color_scheme="gray",
                ),
                rx.code(s.callback_url, id="sso-callback-url", style=WRAP_ANYWHERE),
                *_sso_fields(),
                _sso_switch(
                    s.provision_users,
                    s.set_provision,
                    "provision_users",
                    "sso-provision",
                    "Create people at their first sign-in",
                ),
                _sso_switch(
                    s.enabled, s.set_enabled, "enabled", "sso-enabled", "Single sign-on enabled"
                ),
                _sso_domains_proof(),
                error_callout(s.error, "sso-error"),
                notice_callout(s.success, "sso-success"),
                rx.button("Save single sign-on", type="submit", id="sso-save"),
                spacing="3",
                width="100%",
                max_width="640px",
            ),
            on_submit=s.save,
            reset_on_submit=False,
        ),
        on_mount=s.load,
        width="100%",
        max_width="680px",
        id="sso-card",
    )
