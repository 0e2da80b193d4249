"""Organisation settings: thin state over `organisation.service` (tenant admins only).

The form's values are only proposals: the service validates everything and checks the
actor's right to edit on every save; the vars just echo what the page shows.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from pms_dashboard.errors import UserError
from pms_dashboard.organisation.logo import check_logo_loads
from pms_dashboard.organisation.schemas import ACCENT_COLORS, TenantSettings
from pms_dashboard.organisation.service import (
    get_tenant_settings,
    require_settings_editor,
    update_tenant_settings,
)
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.session import SessionState

ONLY_ADMINS = "Only tenant admins can change the organisation's settings."
HIGH_CHOICES = [str(n) for n in range(3, 11)]
LOW_CHOICES = ["0", "1"]


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return default


class SettingsState(SessionState):
    """The settings form: name, logo, accent, stale threshold and rating-scale labels."""

    can_edit: bool = False
    loaded: bool = False
    org_name: str = ""
    residency: str = ""  # where the organisation's data lives
    form_logo_url: str = ""  # the form's values; the shell's own accent/logo live in
    form_accent: rx.Field[str] = rx.field("indigo")  # SessionState and change only once saved
    stale_after_days: str = "14"
    rating_low: str = "1"
    rating_high: str = "5"
    labels: list[dict[str, str]] = []  # {score, name, label, key}
    # bumped on load so uncontrolled inputs show the stored values
    form_key: rx.Field[int] = rx.field(0)
    error: str = ""
    success: str = ""

    def _labels_for(self, low: int, high: int, current: dict[int, str]) -> None:
        self.labels = [
            {
                "score": str(score),
                "name": f"label_{score}",
                "label": current.get(score, ""),
                "key": f"{self.form_key}-{score}",
            }
            for score in range(low, high + 1)
        ]

    def _current_labels(self) -> dict[int, str]:
        return {int(row["score"]): row["label"] for row in self.labels}

    def _fill(self, settings: TenantSettings) -> None:
        c = settings.customization
        self.form_key += 1
        self.org_name, self.form_logo_url, self.form_accent = settings.name, c.logo_url, c.accent
        self.residency = settings.residency
        self.stale_after_days = str(c.stale_after_days)
        self.rating_low, self.rating_high = str(c.rating_scale.low), str(c.rating_scale.high)
        self._labels_for(c.rating_scale.low, c.rating_scale.high, dict(c.rating_scale.labels))

    def _clear(self) -> None:
        self.can_edit = self.loaded = False
        self.form_key += 1
        self.org_name = self.form_logo_url = self.residency = ""
        self.labels = []

    def _clear_page(self) -> None:
        self._clear()

    def _unreadable(self, err: UserError) -> None:
        """Not a tenant's person who may see the settings: nothing of the form is sent."""
        self._clear()
        self.loaded = True
        self.error = str(err)

    @event
    def load(self):
        self.error = self.success = ""
        with self._signed_in(self._unreadable) as (principal, session):
            settings = get_tenant_settings(session=session, actor=principal.context)
        self.can_edit = settings.can_edit
        self.loaded = True
        if settings.can_edit:
            self._fill(settings)
        else:  # nothing of the form is shown to others, so nothing is sent to them
            self._clear()
            self.loaded = True
        return None

    @event
    def set_accent(self, value: str):
        """Preview only; saved (and validated) with the form."""
        if value in ACCENT_COLORS:
            self.form_accent = value

    @event
    def set_high(self, value: str):
        """Show one label input per score of the new range (labels typed so far are kept)."""
        if value in HIGH_CHOICES:
            self.rating_high = value
            self._labels_for(int(self.rating_low), int(value), self._current_labels())

    @event
    def set_low(self, value: str):
        if value in LOW_CHOICES:
            self.rating_low = value
            self._labels_for(int(value), int(self.rating_high), self._current_labels())

    @event
    def save(self, form: dict[str, Any]):
        self.success = ""
        low, high = _int(self.rating_low, 1), _int(self.rating_high, 5)
        changes = {
            "name": str(form.get("name", "")),
            "logo_url": str(form.get("logo_url", "")),
            "accent": self.form_accent,
            "stale_after_days": str(form.get("stale_after_days", "")).strip(),
            "rating_scale": {
                "low": low,
                "high": high,
                "labels": {s: str(form.get(f"label_{s}", "")) for s in range(low, high + 1)},
            },
        }
        with self._signed_in() as (principal, session):
            require_settings_editor(session=session, actor=principal.context, message=ONLY_ADMINS)
        try:  # outside any transaction: it may wait on the network
            check_logo_loads(str(form.get("logo_url", "")))
        except UserError as err:
            return self._refused(err)
        with self._signed_in() as (principal, session):
            saved = update_tenant_settings(
                session=session, actor=principal.context, changes=changes
            )
        self.error = ""
        self._fill(saved)
        self.tenant_name = saved.name
        # the shell takes the new look at once
        self.accent, self.logo_url = saved.customization.accent, saved.customization.logo_url
        self.success = "Settings saved."
        return None
