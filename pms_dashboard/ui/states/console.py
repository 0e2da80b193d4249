"""The super-admin console's state: who is asking comes from the console cookie on every
event (a tenant session never passes), and what it shows are counts only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import reflex as rx

from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.console import service
from pms_dashboard.console.service import ConsoleAdmin

MESSAGES = {"invalid": service.SIGN_IN_FAILED}


class ConsoleState(rx.State):
    admin_name: str = ""
    tenants: list[dict[str, Any]] = []
    totals: dict[str, int] = {}

    def _admin(self) -> ConsoleAdmin | None:
        token = token_from_cookie_header(self.router.headers.cookie, CONSOLE_COOKIE)
        return service.authenticate(token)

    @rx.event
    def load(self):
        admin = self._admin()
        if admin is None:
            self.admin_name, self.tenants, self.totals = "", [], {}
            return rx.redirect("/console/signin", replace=True)
        rows = service.overview(admin=admin)
        self.admin_name = admin.display_name
        self.tenants = [asdict(r) for r in rows]
        self.totals = {
            "tenants": len(rows),
            "users": sum(r.users for r in rows),
            "goals": sum(r.goals for r in rows),
        }
        return None


class ConsoleSignInState(rx.State):
    error: str = ""
    notice: str = ""

    @rx.event
    def on_load(self):
        params = self.router.url.query_parameters
        self.error = MESSAGES.get(params.get("error", ""), "")
        self.notice = "You have signed out of the console." if params.get("signed_out") else ""
