"""Access transparency: the tenant admin sees every platform super-admin access, one page
at a time, narrowed to one kind of access if they like; kind and page are in the address."""

from __future__ import annotations

from typing import Any

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.console.grants import provider_access_page
from pms_dashboard.errors import UserError
from pms_dashboard.ui.states.base import Paged, event
from pms_dashboard.ui.states.rows import AccessLogRow, access_log_row
from pms_dashboard.ui.states.session import SessionState
from pms_dashboard.ui.urls import page_in_address, show_in_address, texts_in_address

ONLY_ADMINS = "Only tenant admins can see the access log."
ALL_KINDS = "all"  # the menu's "every kind" (a select cannot hold "")


class AccessLogState(Paged, SessionState):
    entries: list[AccessLogRow] = []
    kind: str = ALL_KINDS
    error: str = ""

    def _refused(self, err: UserError) -> Any:
        """Nothing of the log stays shown; a forged filter's words, or who may see it."""
        self.entries, self.total, self.page, self.pages = [], 0, 1, 1
        self.error = ONLY_ADMINS if isinstance(err, PermissionDenied) else str(err)
        return None

    def _load(self, **changes: Any) -> Any:
        """One page of the log with `changes` to its kind or page; the address follows."""
        wanted: dict[str, Any] = {"kind": self.kind, "page": self.page} | changes
        kind = "" if wanted["kind"] == ALL_KINDS else str(wanted["kind"])
        with self._signed_in() as (principal, session):
            page = provider_access_page(
                session=session, actor=principal.context, kind=kind, page=int(wanted["page"])
            )
        self.entries = [access_log_row(r, zone=self.time_zone) for r in page.rows]
        self.error = ""
        self.kind = kind or ALL_KINDS
        self.total, self.page, self.pages = page.total, page.page, page.pages
        values = {"kind": kind, "page": "" if page.page == 1 else str(page.page)}
        return show_in_address(self.router.url.path, values)

    @event
    def load(self):
        """on_load: the kind and page a reload or a shared link asks for (checked by the
        service like the menu's)."""
        params = self.router.url.query_parameters
        kind = texts_in_address(params, ("kind",), limit=40).get("kind", ALL_KINDS)
        return self._load(kind=kind, page=page_in_address(params))

    @event
    def filter_kind(self, kind: str):
        return self._load(kind=kind[:40], page=1)
