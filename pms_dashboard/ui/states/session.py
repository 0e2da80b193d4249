"""The signed-in user, re-derived from the session cookie on every event.

Reflex event handlers are callable by any browser with any arguments, so no handler trusts
a state var for identity: `_principal()` reads the HttpOnly cookie from the websocket's
request headers and validates it against the database each time. Ids never reach vars.
"""

from __future__ import annotations

import reflex as rx

from pms_dashboard.auth import service as auth_service
from pms_dashboard.auth.cookies import token_from_cookie_header
from pms_dashboard.auth.service import Principal
from pms_dashboard.organisation.service import get_customization
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.base import AppState

ROLE_LABELS = {
    "employee": "Employee",
    "manager": "Manager",
    "hr_admin": "HR admin",
    "tenant_admin": "Tenant admin",
}


class SessionState(AppState):
    """Display-only facts about the signed-in user (never used for authorisation)."""

    user_name: str = ""
    user_email: str = ""
    role_label: str = ""
    role: str = ""  # only to choose which menu entries to offer; services decide access
    tenant_name: str = ""
    accent: str = "indigo"  # the tenant's look, from its settings (display only)
    logo_url: str = ""

    def _principal(self) -> Principal | None:
        return auth_service.authenticate(
            token_from_cookie_header(self.router.headers.cookie), ip=self.router.session.client_ip
        )

    def _show(self, principal: Principal) -> None:
        self.user_name = principal.display_name
        self.user_email = principal.email
        self.role_label = ROLE_LABELS.get(principal.role, principal.role)
        self.role = principal.role
        self.tenant_name = principal.tenant_name

    def _forget(self) -> None:
        self.user_name = self.user_email = self.role_label = self.role = self.tenant_name = ""

    @rx.event
    def require_user(self):
        """on_load of every signed-in page: no valid session, no page."""
        principal = self._principal()
        if principal is None:
            self._forget()
            return rx.redirect("/signin", replace=True)
        self._show(principal)
        with tenant_session(principal.context) as session:
            look = get_customization(session=session)
        self.accent, self.logo_url = look.accent, look.logo_url
        return None
