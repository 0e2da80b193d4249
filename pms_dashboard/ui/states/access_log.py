"""Access transparency: the tenant admin sees every platform super-admin access."""

from __future__ import annotations

from pms_dashboard.console.grants import provider_access_log
from pms_dashboard.errors import UserError
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.rows import AccessLogRow, access_log_row
from pms_dashboard.ui.states.session import SessionState

ONLY_ADMINS = "Only tenant admins can see the access log."


class AccessLogState(SessionState):
    entries: list[AccessLogRow] = []
    error: str = ""

    def _not_admin(self, _err: UserError) -> None:
        self.entries, self.error = [], ONLY_ADMINS

    @event
    def load(self):
        with self._signed_in(self._not_admin) as (principal, session):
            rows = provider_access_log(session=session, actor=principal.context)
        self.entries, self.error = [access_log_row(r, zone=self.time_zone) for r in rows], ""
        return None
