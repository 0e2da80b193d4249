"""The single sign-on card of the settings page (tenant admins): the provider connection,
shown back without its secret, and saved through the SSO service."""

from __future__ import annotations

from typing import Any

import reflex as rx

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.service import Principal
from pms_dashboard.settings import get_settings
from pms_dashboard.sso import service as sso
from pms_dashboard.sso.schemas import SsoError
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.session import SessionState
from pms_dashboard.ui.urls import backend_url

FIELDS = ("issuer", "client_id", "client_secret", "allowed_domains", "default_role")


def redirect_uri(slug: str) -> str:
    """The callback address the admin registers at their identity provider."""
    url = backend_url(f"/api/sso/{slug}/callback")
    return get_settings().public_url.rstrip("/") + url if url.startswith("/") else url


class SsoSettingsState(SessionState):
    issuer: str = ""
    client_id: str = ""
    has_secret: bool = False
    allowed_domains: str = ""
    default_role: str = "employee"
    provision_users: bool = False
    enabled: bool = False
    callback_url: str = ""
    shown: bool = False  # only tenant admins get the card's data
    form_key: int = 0
    error: str = ""
    success: str = ""

    def _fill(self, principal: Principal) -> None:
        with tenant_session(principal.context) as session:
            view = sso.get_config(
                session=session,
                actor=principal.context,
                redirect_uri=redirect_uri(principal.tenant_slug),
            )
        self.issuer, self.client_id, self.has_secret = view.issuer, view.client_id, view.has_secret
        self.allowed_domains, self.default_role = view.allowed_domains, view.default_role
        self.provision_users, self.enabled = view.provision_users, view.enabled
        self.callback_url, self.shown = view.redirect_uri, True
        self.form_key += 1

    @rx.event
    def load(self):
        principal = self._principal()
        self.error = self.success = ""
        if principal is None:
            self.shown = False
            return None
        try:
            self._fill(principal)
        except PermissionDenied:
            self.shown = False  # not an admin: nothing of it is sent
        return None

    @rx.event
    def set_provision(self, value: bool):
        self.provision_users = bool(value)

    @rx.event
    def set_enabled(self, value: bool):
        self.enabled = bool(value)

    @rx.event
    def save(self, form: dict[str, Any]):
        principal = self._principal()
        if principal is None:
            self.shown = False
            return rx.redirect("/signin", replace=True)
        self.success = ""
        raw = {k: str(form.get(k, "")) for k in FIELDS if isinstance(form, dict)}
        raw |= {"provision_users": bool(self.provision_users), "enabled": bool(self.enabled)}
        try:
            data = sso.config_input(raw)
            with tenant_session(principal.context) as session:
                sso.save_config(session=session, actor=principal.context, data=data)
        except (SsoError, PermissionDenied) as err:
            self.error = str(err)
            return None
        self.error = ""
        self._fill(principal)
        self.success = "Single sign-on saved."
        return None
