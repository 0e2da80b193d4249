"""The single sign-on card of the settings page (tenant admins): the provider connection,
shown back without its secret, and saved through the SSO service."""

from __future__ import annotations

from typing import Any

import reflex as rx

from pms_dashboard.auth.service import Principal
from pms_dashboard.errors import UserError
from pms_dashboard.settings import get_settings
from pms_dashboard.sso import service as sso
from pms_dashboard.tenancy.session import TenantSession, catalog_session
from pms_dashboard.ui.states.base import event
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
    provision_users: rx.Field[bool] = rx.field(False)
    enabled: rx.Field[bool] = rx.field(False)
    callback_url: str = ""
    shown: bool = False  # only tenant admins get the card's data
    form_key: rx.Field[int] = rx.field(0)
    error: str = ""
    success: str = ""

    def _fill(self, principal: Principal, session: TenantSession) -> None:
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

    def _clear_page(self) -> None:
        self.shown = False

    def _hidden(self, _err: UserError) -> None:
        self.shown = False  # not an admin: nothing of it is sent

    @event
    def load(self):
        """The card, for tenant admins only."""
        self.error = self.success = ""
        with self._signed_in(self._hidden) as (principal, session):
            self._fill(principal, session)
        return None

    @event
    def set_provision(self, value: bool):
        self.provision_users = bool(value)

    @event
    def set_enabled(self, value: bool):
        self.enabled = bool(value)

    @event
    def save(self, form: dict[str, Any]):
        self.success = ""
        raw: dict[str, Any] = {k: str(form.get(k, "")) for k in FIELDS}
        raw |= {"provision_users": bool(self.provision_users), "enabled": bool(self.enabled)}
        with self._signed_in() as (principal, session):
            data = sso.config_input(raw)
            sso.save_config(session=session, actor=principal.context, data=data)
            self._fill(principal, session)
            context = principal.context
        with catalog_session(context) as catalog:
            domains = list(data.allowed_domains) if data.enabled else []
            sso.publish_domains(session=catalog, domains=domains)
        self.error = ""
        self.success = "Single sign-on saved."
        return None
