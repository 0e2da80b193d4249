"""Organisation settings: thin state over `organisation.service` (tenant admins only).

The form's values are only proposals: the service validates everything and checks the
actor's right to edit on every save; the vars just echo what the page shows.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from pms_dashboard.errors import UserError
from pms_dashboard.organisation.image import MAX_UPLOAD_BYTES
from pms_dashboard.organisation.logo import check_logo_loads
from pms_dashboard.organisation.schemas import ACCENT_COLORS, TenantSettings
from pms_dashboard.organisation.service import (
    get_customization,
    get_tenant_settings,
    remove_logo,
    require_settings_editor,
    update_tenant_settings,
    upload_logo,
)
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.session import SessionState
from pms_dashboard.ui.urls import logo_src

ONLY_ADMINS = "Only tenant admins can change the organisation's settings."
LOGO_UPLOAD_ID = "logo-upload"
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
    logo_preview: str = ""  # the stored logo as the browser loads it
    logo_uploaded: bool = False  # the logo is an upload (it can be removed)
    logo_error: str = ""  # a refused upload, beside the upload field
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
        self.logo_preview, self.logo_uploaded = logo_src(c.logo_url), c.uploaded_logo
        self.residency = settings.residency
        self.stale_after_days = str(c.stale_after_days)
        self.rating_low, self.rating_high = str(c.rating_scale.low), str(c.rating_scale.high)
        self._labels_for(c.rating_scale.low, c.rating_scale.high, dict(c.rating_scale.labels))

    def _clear(self) -> None:
        self.can_edit = self.loaded = False
        self.form_key += 1
        self.org_name = self.form_logo_url = self.residency = self.logo_preview = ""
        self.logo_uploaded = False
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
        self.error = self.success = self.logo_error = ""
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
        logo_url = str(form.get("logo_url", ""))
        changes = {
            "name": str(form.get("name", "")),
            "logo_url": logo_url,
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
            stored_logo = get_customization(session=session).logo_url
        try:  # outside any transaction: it may wait on the network
            if logo_url.strip() != stored_logo:  # the stored one was checked when saved
                check_logo_loads(logo_url)
        except UserError as err:
            return self._refused(err)
        with self._signed_in() as (principal, session):
            saved = update_tenant_settings(
                session=session, actor=principal.context, changes=changes
            )
        self._saved(saved, "Settings saved.")
        return None

    def _saved(self, saved: TenantSettings, notice: str) -> None:
        """The form shows what is stored now, and the shell takes the new look at once."""
        self.error = self.logo_error = ""
        self._fill(saved)
        self.tenant_name = saved.name
        self.accent, self.logo_url = saved.customization.accent, self.logo_preview
        self.success = notice

    def _logo_refused(self, err: UserError) -> None:
        """A refused upload or removal: its words beside the upload field."""
        self.success = ""
        self.logo_error = str(err)

    @event
    def upload_logo(self, files: list[rx.UploadFile]):
        """Whatever a browser sends: the service checks who asks and what the bytes are."""
        self.success = self.logo_error = ""
        # never more than one byte past the limit is read: that is enough to refuse it
        data = files[0].file.read(MAX_UPLOAD_BYTES + 1) if files else b""
        with self._signed_in(self._logo_refused) as (principal, session):
            saved = upload_logo(session=session, actor=principal.context, data=data)
        self._saved(saved, "Logo uploaded.")
        return rx.clear_selected_files(LOGO_UPLOAD_ID)

    @event
    def remove_logo(self):
        self.success = self.logo_error = ""
        with self._signed_in(self._logo_refused) as (principal, session):
            saved = remove_logo(session=session, actor=principal.context)
        self._saved(saved, "Logo removed.")
        return None
