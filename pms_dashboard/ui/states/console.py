"""The super-admin console's state: who is asking comes from the console cookie on every
event (a tenant session never passes), and what it shows are counts only."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import reflex as rx

from pms_dashboard.audit import grants
from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.console import service
from pms_dashboard.console.service import ConsoleAdmin

MESSAGES = {"invalid": service.SIGN_IN_FAILED}


class ConsoleState(rx.State):
    admin_name: str = ""
    tenants: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    my_grants: list[dict[str, Any]] = []
    read_tenant: str = ""
    read_rows: list[dict[str, Any]] = []
    error: str = ""
    notice: str = ""

    def _admin(self) -> ConsoleAdmin | None:
        token = token_from_cookie_header(self.router.headers.cookie, CONSOLE_COOKIE)
        return service.authenticate(token)

    @rx.event
    def load(self):
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        rows = service.overview(admin=admin)
        self.admin_name = admin.display_name
        self.tenants = [asdict(r) for r in rows]
        self.totals = {
            "tenants": len(rows),
            "users": sum(r.users for r in rows),
            "goals": sum(r.goals for r in rows),
        }
        self.my_grants = [asdict(g) for g in grants.my_grants(admin=admin)]
        return None

    def _signed_out(self):
        self.admin_name, self.tenants, self.totals, self.my_grants = "", [], {}, []
        self.read_rows, self.read_tenant = [], ""
        return rx.redirect("/console/signin", replace=True)

    @rx.event
    def open_grant(self, form: dict[str, Any]):
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            hours = float(str(form.get("hours", "1")))
            grants.open_grant(
                admin=admin,
                tenant_slug=str(form.get("tenant", ""))[:63],
                justification=str(form.get("justification", ""))[:40],
                ticket=str(form.get("ticket", ""))[:200],
                hours=hours,
            )
        except (service.ConsoleError, ValueError) as err:
            self.error, self.notice = str(err), ""
            return None
        self.error, self.notice = "", "Access opened. Every read is logged and shown to them."
        self.my_grants = [asdict(g) for g in grants.my_grants(admin=admin)]
        return None

    @rx.event
    def read_goals(self, tenant_slug: str):
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            rows = grants.read_goals(admin=admin, tenant_slug=str(tenant_slug)[:63])
        except service.ConsoleError as err:
            self.error, self.notice = str(err), ""
            return None
        self.read_tenant, self.read_rows = str(tenant_slug), [asdict(r) for r in rows]
        self.error = "" if rows else "No rows: access needs an active grant of yours."
        return None

    @rx.event
    def revoke(self, grant_id: str):
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            grants.revoke_grant(admin=admin, grant_id=uuid.UUID(str(grant_id)))
        except (service.ConsoleError, ValueError):
            self.error = "No such open grant of yours."
            return None
        self.error, self.notice = "", "Access ended."
        self.read_rows, self.read_tenant = [], ""
        self.my_grants = [asdict(g) for g in grants.my_grants(admin=admin)]
        return None


class ConsoleSignInState(rx.State):
    error: str = ""
    notice: str = ""

    @rx.event
    def on_load(self):
        params = self.router.url.query_parameters
        self.error = MESSAGES.get(params.get("error", ""), "")
        self.notice = "You have signed out of the console." if params.get("signed_out") else ""
