"""The Encryption page (tenant admins): a thin state over `organisation.encryption`.

The token typed into the form goes straight to the service and is never kept in a var (the
next person at this browser tab could read vars); the page shows only whether one is
stored."""

from __future__ import annotations

from typing import Any, TypedDict

import reflex as rx

from pms_dashboard.errors import UserError
from pms_dashboard.jobs import seal_pending
from pms_dashboard.keys.service import KeyStatus, KeyUse
from pms_dashboard.organisation.encryption import (
    ONLY_ADMINS,
    PAGE_PROVIDERS,
    EncryptionView,
    configure_key,
    encryption_view,
    key_log,
    test_key,
)
from pms_dashboard.ui.format import moment
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.session import SessionState

PROVIDER_LABELS = {
    "platform": "The platform's key",
    "openbao": "Your OpenBao / Vault key",
    "aws-kms": "Your AWS KMS key",
}


class KeyUseRow(TypedDict):
    """One unwrap of the organisation's data key, as the log lists it."""

    at: str
    provider: str
    version: str
    result: str
    ok: bool
    reason: str


def key_use_row(use: KeyUse, *, zone: str) -> KeyUseRow:
    return KeyUseRow(
        at=moment(use.at, zone=zone, seconds=True),
        provider=PROVIDER_LABELS.get(use.provider, use.provider),
        version="" if use.key_version is None else str(use.key_version),
        result="Unwrapped" if use.success else "Failed",
        ok=use.success,
        reason=use.reason,
    )


def _rotation(rotation: dict[str, Any]) -> str:
    """The pass under way over the organisation's text, if any, and how far it has come."""
    if not rotation:
        return "All text is sealed with the current data key"
    what = (
        "Sealing the text written before"
        if rotation.get("done_action") == "key.sealed"
        else ("Re-encrypting with the new data key")
    )
    return f"{what}: {rotation.get('done', 0):,} of {rotation.get('total', 0):,} rows"


class EncryptionState(SessionState):
    loaded: bool = False
    allowed: bool = False
    enabled: bool = False  # the organisation's free text is encrypted
    provider: str = ""  # the configured provider's label
    form_provider: str = "platform"  # the form's choice (shows the fields it needs)
    address: str = ""
    key_name: str = ""
    has_token: bool = False
    data_key: str = ""  # "version 2 (key version 3 at the provider)"
    last_unwrap: str = ""
    cache: str = ""
    rotation: str = ""
    log: list[KeyUseRow] = []
    form_key: rx.Field[int] = rx.field(0)  # bumped so the uncontrolled inputs show what is stored
    error: str = ""
    success: str = ""

    def _show_view(self, view: EncryptionView) -> None:
        """The key's status and its use log into vars."""
        self._show_status(view.status)
        self.log = [key_use_row(u, zone=self.time_zone) for u in view.log]

    def _show_status(self, status: KeyStatus | None) -> None:
        self.form_key += 1
        self.enabled = status is not None
        if status is None:
            self.provider = self.address = self.key_name = self.data_key = ""
            self.last_unwrap = self.cache = self.rotation = ""
            self.has_token = False
            return
        self.provider = PROVIDER_LABELS.get(status.provider, status.provider)
        if status.provider in PAGE_PROVIDERS:
            self.form_provider = status.provider
        self.address, self.key_name = status.address, status.key_name
        self.has_token = status.has_credential and status.provider != "platform"
        current = next((k for k in status.data_keys if k.version == status.current_version), None)
        self.data_key = f"version {status.current_version}" + (
            f", wrapped by key version {current.kms_key_version}"
            if current is not None and current.kms_key_version
            else ""
        )
        last = moment(status.last_unwrap_at, zone=self.time_zone, seconds=True)
        self.last_unwrap = last or "Not yet"
        self.cache = f"{status.cache_seconds:g} s"
        self.rotation = _rotation(status.rotation)

    def _not_admin(self, _err: UserError) -> None:
        """Not a tenant admin: nothing of the key is sent."""
        self.reset()
        self.loaded, self.error = True, ONLY_ADMINS

    @event
    def load(self):
        self.error = self.success = ""
        with self._signed_in(self._not_admin) as (principal, session):
            view = encryption_view(session=session, actor=principal.context)
        self.loaded = self.allowed = True
        self._show_view(view)
        return None

    @event
    def choose_provider(self, value: str):
        """Show the fields the chosen provider needs (saved, and checked, with the form)."""
        if value in PAGE_PROVIDERS:
            self.form_provider = value

    @event
    def save(self, form: dict[str, Any]):
        self.success = ""
        with self._signed_in() as (principal, session):
            status = configure_key(
                session=session,
                actor=principal.context,
                provider=self.form_provider,
                address=form.get("address", ""),
                key_name=form.get("key_name", ""),
                token=form.get("token", ""),
            )
            log = key_log(session=session, actor=principal.context)
            tenant_id = principal.context.tenant_id
        if status.rotation:  # committed: the text written before is sealed in the background
            seal_pending(tenant_id)
        self.error = ""
        self._show_view(EncryptionView(status, log))
        self.success = "Encryption key saved: the organisation's data key is wrapped by it."
        return None

    @event
    def test(self):
        self.success = ""
        with self._signed_in() as (principal, session):
            ok = test_key(session=session, actor=principal.context)
            view = encryption_view(session=session, actor=principal.context)
        self._show_view(view)
        if ok:
            self.error, self.success = "", "The key works: the data key was unwrapped just now."
        else:
            self.error = (
                "The key could not be used just now (see the log below). Until it works, "
                "encrypted text shows as unavailable and cannot be changed."
            )
        return None
