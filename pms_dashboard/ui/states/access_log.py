"""Access transparency: the tenant admin sees every platform super-admin access."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import reflex as rx

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.console.grants import provider_access_log
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.session import SessionState


class AccessLogState(SessionState):
    entries: list[dict[str, Any]] = []
    error: str = ""

    @rx.event
    def load(self):
        principal = self._principal()
        if principal is None:
            self.entries = []
            return rx.redirect("/signin", replace=True)
        try:
            with tenant_session(principal.context) as session:
                rows = provider_access_log(session=session, actor=principal.context)
        except PermissionDenied:
            self.entries, self.error = [], "Only tenant admins can see the access log."
            return None
        self.entries, self.error = [asdict(r) for r in rows], ""
        return None
