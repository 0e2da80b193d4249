"""The super-admin console's state: who is asking comes from the console cookie on every
event (a tenant session never passes). The overview is counts only; the audit search and
the flagged queue hold one page at a time (the filters stay on the server), and whatever
reaches a tenant's data is logged by the services, in that tenant's trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import reflex as rx

from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.auth.throttle import throttled_message
from pms_dashboard.console import grants, service
from pms_dashboard.console import search as audit_search
from pms_dashboard.console.search import AuditQuery
from pms_dashboard.console.service import ConsoleAdmin
from pms_dashboard.ui.states.base import AppState, forget_tab_token
from pms_dashboard.ui.urls import backend_url, download

MESSAGES = {"invalid": service.SIGN_IN_FAILED}
SEARCH_FIELDS = ("tenant", "actor_id", "action", "flagged", "since", "until")
NO_GRANT = "No rows: access needs an active grant of yours."


def _form(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a submitted form, as bounded strings (anything else in it is
    ignored; a form that is no form raises)."""
    if not isinstance(form, dict):
        raise service.ConsoleError("Fill in the form and send it again.")
    return {n: str(form.get(n, ""))[:200] for n in names}


class ConsoleState(AppState):
    admin_name: str = ""
    tenants: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    my_grants: list[dict[str, Any]] = []
    read_tenant: str = ""
    read_rows: list[dict[str, Any]] = []
    read_what: str = ""  # "goals" or "reviews": what read_rows hold
    # audit search: the current page only; the filters it came from stay on the server
    search_rows: list[dict[str, Any]] = []
    search_page: int = 1
    search_pages: int = 1
    search_total: int = 0
    searched: bool = False
    _search_filters: dict[str, str] = {}
    # flagged events to review: the current page only
    flagged_rows: list[dict[str, Any]] = []
    flagged_page: int = 1
    flagged_pages: int = 1
    flagged_total: int = 0
    flagged_loaded: bool = False
    _flagged_tenant: str = ""
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
        self._refresh_grants(admin)
        return None

    def _refresh_grants(self, admin: ConsoleAdmin) -> None:
        self.my_grants = [asdict(g) for g in grants.my_grants(admin=admin)]

    def _ip(self) -> str:
        return self.router.session.client_ip or ""

    def _signed_out(self):
        self.admin_name, self.tenants, self.totals, self.my_grants = "", [], {}, []
        self.read_rows, self.read_tenant, self.read_what = [], "", ""
        self.search_rows, self.search_total, self.searched = [], 0, False
        self.flagged_rows, self.flagged_total, self.flagged_loaded = [], 0, False
        self._search_filters, self._flagged_tenant = {}, ""
        return rx.redirect("/console/signin", replace=True)

    def _refused(self, err: Exception) -> None:
        self.error, self.notice = str(err), ""

    @rx.event
    def open_grant(self, form: dict[str, Any]):
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            fields = _form(form, ("tenant", "justification", "ticket", "hours"))
            grants.open_grant(
                admin=admin,
                tenant_slug=fields["tenant"][:63],
                justification=fields["justification"][:40],
                ticket=fields["ticket"],
                hours=float(fields["hours"] or "1"),
            )
        except (service.ConsoleError, ValueError) as err:
            self._refused(err)
            return None
        self.error, self.notice = "", "Access opened. Every read is logged and shown to them."
        self._refresh_grants(admin)
        return None

    @rx.event
    def read_goals(self, tenant_slug: str):
        return self._read("goals", tenant_slug)

    @rx.event
    def read_reviews(self, tenant_slug: str):
        return self._read("reviews", tenant_slug)

    def _read(self, what: str, tenant_slug: Any):
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        slug = str(tenant_slug)[:63]
        reader = grants.read_goals if what == "goals" else grants.read_reviews
        try:
            rows = reader(admin=admin, tenant_slug=slug)
        except service.ConsoleError as err:
            self._refused(err)
            return None
        self.read_tenant, self.read_what = slug, what
        self.read_rows = [asdict(r) for r in rows]
        self._refresh_grants(admin)
        if rows:
            self.error, self.notice = "", ""
        elif any(g["active"] and g["tenant_slug"] == slug for g in self.my_grants):
            self.error, self.notice = "", f"No {what} in this organisation yet."
        else:
            self.error, self.notice = NO_GRANT, ""
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
        self.read_rows, self.read_tenant, self.read_what = [], "", ""
        self._refresh_grants(admin)
        return None

    # ------------------------------------------------------------- audit search

    @rx.event
    def search_audit(self, form: dict[str, Any]):
        """A new search from the filter form: page 1."""
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            filters = _form(form, SEARCH_FIELDS)
            self._show_search(admin, filters, 1)
        except service.ConsoleError as err:
            self._refused(err)
            return None
        self._search_filters = filters
        return None

    @rx.event
    def search_goto(self, page: int | float | str | None):
        """Another page of the last search (its filters kept on the server)."""
        return self._goto(
            self.searched, "Search first.",
            lambda admin: self._show_search(admin, self._search_filters, page),
        )  # fmt: skip

    @rx.event
    def export_search(self):
        """Download every event of the last search as CSV from the streaming console route
        (which checks the console cookie and audits the export itself)."""
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        if not self.searched:
            self._refused(service.ConsoleError("Search first."))
            return None
        try:
            query = AuditQuery.from_form(self._search_filters)
        except service.ConsoleError as err:
            self._refused(err)
            return None
        filters = query.model_dump(
            mode="json", exclude_defaults=True, exclude={"page", "page_size"}
        )
        return download(backend_url("/api/console/export/audit.csv"), filters)

    def _show_search(self, admin: service.ConsoleAdmin, filters: dict[str, str], page: Any):
        query = AuditQuery.from_form({**filters, "page": page})
        found = audit_search.search(admin=admin, query=query, ip=self._ip())
        self.search_rows = found.rows_as_dicts()
        self.search_page, self.search_pages = found.page, found.pages
        self.search_total, self.searched = found.total, True
        self.error = ""
        self.notice = f"{found.total} events found." if found.total else "No events match."

    # ------------------------------------------------------------- flagged queue

    @rx.event
    def load_flagged(self, form: dict[str, Any]):
        """The queue of flagged events to review (optionally one organisation's): page 1."""
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            tenant = _form(form, ("tenant",))["tenant"].strip()[:63]
            self._show_flagged(admin, tenant, 1)
        except service.ConsoleError as err:
            self._refused(err)
            return None
        self._flagged_tenant = tenant
        return None

    @rx.event
    def flagged_goto(self, page: int | float | str | None):
        return self._goto(
            self.flagged_loaded, "Open the queue first.",
            lambda admin: self._show_flagged(admin, self._flagged_tenant, page),
        )  # fmt: skip

    def _goto(self, loaded: bool, first: str, show: Callable[[ConsoleAdmin], None]):
        """Another page of a list already shown (its filters kept on the server)."""
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            if not loaded:
                raise service.ConsoleError(first)
            show(admin)
        except service.ConsoleError as err:
            self._refused(err)
        return None

    def _show_flagged(self, admin: service.ConsoleAdmin, tenant: str, page: Any) -> None:
        found = audit_search.flagged_queue(
            admin=admin, tenant=tenant or None, page=page, ip=self._ip()
        )
        self.flagged_rows = found.rows_as_dicts()
        self.flagged_page, self.flagged_pages = found.page, found.pages
        self.flagged_total, self.flagged_loaded = found.total, True
        self.error, self.notice = "", "" if found.total else "Nothing to review."

    @rx.event
    def mark_reviewed(self, form: dict[str, Any]):
        """Mark one queued event reviewed with a note; it leaves the page (no new read)."""
        admin = self._admin()
        if admin is None:
            return self._signed_out()
        try:
            fields = _form(form, ("event_id", "note"))
            audit_search.review_flag(
                admin=admin,
                event_id=fields["event_id"],
                note=str(form.get("note", ""))[: audit_search.MAX_NOTE + 1],
                ip=self._ip(),
            )
        except service.ConsoleError as err:
            self._refused(err)
            return None
        self.flagged_rows = [r for r in self.flagged_rows if r["event_id"] != fields["event_id"]]
        self.flagged_total = max(0, self.flagged_total - 1)
        self.error, self.notice = "", "Marked reviewed."
        return None


class ConsoleSignInState(AppState):
    error: str = ""
    notice: str = ""

    @rx.event
    def on_load(self):
        params = self.router.url.query_parameters
        self.error = MESSAGES.get(params.get("error", ""), "")
        if params.get("error") == "throttled":
            self.error = throttled_message(params.get("retry", ""))
        self.notice = "You have signed out of the console." if params.get("signed_out") else ""
        return forget_tab_token()
