"""The profile page: a signed-in person changes their own password, their name and the time
zone they read dates in (the words of a refusal beside the input they are about; the typed
passwords never kept in state)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from pms_dashboard.auth.profile import change_display_name, change_password, change_time_zone
from pms_dashboard.auth.routes import password_attempt
from pms_dashboard.auth.service import Principal
from pms_dashboard.auth.zones import zone_in_force
from pms_dashboard.errors import UserError
from pms_dashboard.ui.format import moment
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.session import SessionState

PASSWORD_FIELDS = ("current_password", "new_password", "confirm_password")
FIELDS = (*PASSWORD_FIELDS, "display_name", "time_zone")


class ProfileState(SessionState):
    error: str = ""
    error_field: str = ""  # the input the error is about ("" for none)
    success: str = ""
    form_key: rx.Field[int] = rx.field(0)  # a new key empties the form after a change
    own_time_zone: str = ""  # the zone they chose ("" for their organisation's, else UTC)
    zone_now: str = ""  # the time it is, as their pages show times

    def _refused(self, err: UserError) -> None:
        self.error = str(err)
        self.error_field = err.field if err.field in FIELDS else ""

    @event
    def load(self):
        """The page's one event: who is signed in (else back to sign-in), the tenant's look."""
        self.error = self.error_field = self.success = ""
        with self._signed_in() as (principal, _session):
            self._zones(principal)
        return None

    def _zones(self, principal: Principal, own: str | None = None) -> None:
        """The zone they chose (`own`, when just changed) and the one in force."""
        chosen = principal.own_time_zone if own is None else own
        self.own_time_zone = chosen or ""
        self.time_zone = zone_in_force(chosen, principal.organisation_time_zone)
        self.zone_now = moment(datetime.now(UTC), zone=self.time_zone)

    @event
    def save_password(self, form: dict[str, Any]):
        """Change the password; the other sessions of this person end."""
        self.error = self.error_field = self.success = ""
        typed = {k: str(form.get(k, ""))[:1000] for k in PASSWORD_FIELDS}
        ip = self.router.session.client_ip or ""
        with self._signed_in() as (principal, session), password_attempt(principal, ip):
            ended = change_password(
                session=session,
                actor=principal.context,
                session_id=principal.session_id,
                current=typed["current_password"],
                new=typed["new_password"],
                confirm=typed["confirm_password"],
                ip=ip,
            )
        self.form_key += 1
        others = f" {ended} other session{'s' if ended != 1 else ''} ended." if ended else ""
        self.success = "Your password is changed." + others
        return None

    @event
    def save_name(self, form: dict[str, Any]):
        """Change the name others see (lists, goals, reviews)."""
        self.user_name = self._save_one(change_display_name, "display_name", form)
        self.success = "Your name is changed."
        return None

    @event
    def save_time_zone(self, form: dict[str, Any]):
        """Change the zone every date and time is shown in for this person."""
        self._save_one(change_time_zone, "time_zone", form)
        self.success = f"Dates and times are now shown in {self.time_zone}."
        return None

    def _save_one(self, change: Callable[..., Any], field: str, form: dict[str, Any]) -> str:
        """Save one field of the profile with its service (which checks it, type included;
        a refusal ends the handler with its words beside the field): what was saved ("" for
        none); after a zone change, the zones in force."""
        self.error = self.error_field = self.success = ""
        with self._signed_in() as (principal, session):
            saved = change(session=session, actor=principal.context, **{field: form.get(field, "")})
            if field == "time_zone":
                self._zones(principal, saved or "")
        self.form_key += 1
        return "" if saved is None else saved
