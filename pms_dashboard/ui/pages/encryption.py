"""Encryption page (tenant admins): which key protects the organisation's free text, a form
to choose the platform's key or the organisation's own OpenBao / Vault key, a "Test the key"
button, the key's status and every use of it."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.organisation.encryption import ENCRYPTED_TEXT
from pms_dashboard.ui.components.feedback import error_callout, notice_callout
from pms_dashboard.ui.components.fields import labelled, native_select, options
from pms_dashboard.ui.components.tables import data_table
from pms_dashboard.ui.states.encryption import PROVIDER_LABELS, EncryptionState
from pms_dashboard.ui.templates import template

S = EncryptionState
KEEP_TOKEN = "•••••• (stored; leave empty to keep)"  # noqa: S105 (a placeholder text)


def _fact(label: str, value: Any, element_id: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color_scheme="gray", min_width="11rem"),
        rx.text(value, size="2", id=element_id),
        spacing="3",
        wrap="wrap",
    )


def _status() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Status", size="4"),
                rx.cond(
                    S.enabled,
                    rx.badge("Encrypted", color_scheme="green", id="encryption-on"),
                    rx.badge("Plain text", color_scheme="gray", id="encryption-off"),
                ),
                align="center",
                spacing="3",
            ),
            rx.cond(
                S.enabled,
                rx.vstack(
                    _fact("Key", S.provider, "encryption-provider"),
                    _fact("Data key", S.data_key, "encryption-data-key"),
                    _fact("Last successful unwrap", S.last_unwrap, "encryption-last-unwrap"),
                    _fact("Unwrapped key kept in memory", S.cache, "encryption-cache"),
                    _fact("Stored text", S.rotation, "encryption-rotation"),
                    rx.button(
                        "Test the key",
                        on_click=S.test,
                        variant="soft",
                        id="encryption-test",
                    ),
                    spacing="2",
                ),
                rx.text(
                    "The organisation's free text is stored as typed. Choose a key below "
                    "to encrypt it.",
                    size="2",
                ),
            ),
            spacing="3",
        ),
        width="100%",
    )


def _form() -> rx.Component:
    own = S.form_provider == "openbao"
    key = S.form_key.to(str)
    return rx.form(
        rx.vstack(
            rx.heading("Key", size="4"),
            labelled(
                "Provider",
                native_select(
                    *options({p: PROVIDER_LABELS[p] for p in ("platform", "openbao")}),
                    value=S.form_provider,
                    on_change=S.choose_provider,
                    id="encryption-provider-choice",
                ),
            ),
            rx.cond(
                own,
                rx.vstack(
                    labelled(
                        "Address",
                        rx.input(
                            name="address",
                            default_value=S.address,
                            key="address-" + key,
                            placeholder="https://kms.example.com:8200",
                            id="encryption-address",
                            width="100%",
                        ),
                    ),
                    labelled(
                        "Transit key name",
                        rx.input(
                            name="key_name",
                            default_value=S.key_name,
                            key="key-name-" + key,
                            id="encryption-key-name",
                            width="100%",
                        ),
                    ),
                    labelled(
                        "Token",
                        rx.input(
                            name="token",
                            type="password",
                            key="token-" + key,
                            placeholder=rx.cond(S.has_token, KEEP_TOKEN, ""),
                            auto_complete="off",
                            id="encryption-token",
                            width="100%",
                        ),
                        "Needs encrypt and decrypt on this key only. Stored encrypted; never "
                        "shown again.",
                    ),
                    width="100%",
                    spacing="3",
                ),
            ),
            rx.button("Save key", type="submit", id="encryption-save"),
            spacing="3",
            width="100%",
            max_width="640px",
        ),
        on_submit=S.save,
        reset_on_submit=False,
        width="100%",
    )


def _use(u: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.cell(u["at"]),
        rx.table.cell(u["provider"]),
        rx.table.cell(u["version"]),
        rx.table.cell(
            rx.cond(
                u["ok"],
                rx.badge(u["result"], color_scheme="green"),
                rx.badge(u["result"], color_scheme="red"),
            )
        ),
        rx.table.cell(u["reason"]),
        class_name="key-use-row",
    )


@template(route="/encryption", title="Encryption", on_load=S.load)
def encryption_page() -> rx.Component:
    return rx.cond(
        S.allowed,
        rx.vstack(
            rx.text(
                "With a key chosen, these fields are encrypted before they are stored: "
                f"{ENCRYPTED_TEXT}. Titles, names, numbers and dates stay readable so lists, "
                "search and charts work. With your own key, revoking it makes the text "
                "unreadable to the platform within the time the unwrapped key is kept in "
                "memory.",
                color_scheme="gray",
                size="2",
            ),
            error_callout(S.error, "encryption-error"),
            notice_callout(S.success, "encryption-success"),
            _status(),
            _form(),
            rx.heading("Key use", size="4"),
            data_table(
                ("When", "Key", "Data key", "Result", "Reason"),
                S.log,
                _use,
                empty="The key has not been used yet.",
                element_id="encryption-log",
            ),
            width="100%",
            spacing="4",
        ),
        rx.cond(
            S.loaded,
            rx.callout(S.error, icon="lock", color_scheme="amber", id="encryption-denied"),
            rx.spinner(),
        ),
    )
