"""The single sign-on card of the settings page (tenant admins): the provider connection,
shown back without its secret, and saved through the SSO service; the DNS record that
proves each email domain, and "Verify" that looks it up."""

from __future__ import annotations

from typing import Any

import reflex as rx

from pms_dashboard.auth.service import Principal
from pms_dashboard.errors import UserError
from pms_dashboard.settings import get_settings
from pms_dashboard.sso import domains as sso_domains
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
    dns_record: str = ""  # the TXT record's value to publish at each domain
    pending_domains: rx.Field[list[str]] = rx.field(default_factory=list)
    verified_domains: rx.Field[list[str]] = rx.field(default_factory=list)

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
        proof = sso_domains.verification(session=session, actor=principal.context)
        self.dns_record = proof.record
        self.pending_domains, self.verified_domains = proof.pending, proof.verified
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
        """Save the settings; a domain another organisation holds is refused before
        anything is saved, and only verified domains are published to the catalog."""
        self.success = ""
        raw: dict[str, Any] = {k: str(form.get(k, "")) for k in FIELDS}
        raw |= {"provision_users": bool(self.provision_users), "enabled": bool(self.enabled)}
        with self._signed_in() as (principal, _session):
            data = sso.config_input(raw)
            context = principal.context
        try:
            with catalog_session(context) as catalog:
                sso_domains.require_unclaimed(session=catalog, domains=list(data.allowed_domains))
        except UserError as err:
            return self._refused(err)
        with self._signed_in() as (principal, session):
            sso.save_config(session=session, actor=principal.context, data=data)
            self._fill(principal, session)
            domains = sso_domains.published_domains(session=session)
        self.error = ""
        self.success = "Single sign-on saved." + (
            " Verify your domains to turn it on for them." if self.pending_domains else ""
        )
        return self._publish(context, domains)

    def _publish(self, context: Any, domains: list[str]) -> Any:
        """The catalog's domains for this organisation (its verified ones, while enabled);
        one another organisation took meanwhile is refused by the catalog."""
        try:
            with catalog_session(context) as catalog:
                sso_domains.publish(session=catalog, domains=domains)
        except UserError as err:
            self.success = ""
            return self._refused(err)
        return None

    @event
    def verify(self):
        """Look up each domain not yet verified for the TXT record (no transaction open
        meanwhile); a proved domain another organisation holds stays refused."""
        self.success = self.error = ""
        with self._signed_in() as (principal, session):
            proof = sso_domains.verification(session=session, actor=principal.context)
            context = principal.context
        try:
            proved = [d for d in proof.pending if sso_domains.txt_proves(d, proof.token)]
            with catalog_session(context) as catalog:
                taken = sso_domains.claimed_elsewhere(session=catalog, domains=proved)
        except UserError as err:
            return self._refused(err)
        ok = [d for d in proved if d not in taken]
        with self._signed_in() as (principal, session):
            sso_domains.mark_verified(session=session, actor=principal.context, domains=ok)
            self._fill(principal, session)
            domains = sso_domains.published_domains(session=session)
        missing = [d for d in proof.pending if d not in proved]
        self.success = f"Verified: {', '.join(ok)}." if ok else ""
        problems = [sso_domains.claimed_message(d) for d in taken]
        if missing:
            problems.append(
                f"No TXT record “{proof.record}” found at {', '.join(missing)} yet "
                "(a new DNS record can take a while to appear)."
            )
        self.error = " ".join(problems)
        return self._publish(context, domains)
