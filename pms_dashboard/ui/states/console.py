"""The super-admin console's state: who is asking comes from the console cookie on every
event (a tenant session never passes), checked in the event's one console transaction
(`_console()`, the console's twin of `ui.states.session`). The overview is counts only; the
audit search and the flagged queue hold one page at a time (the filters stay on the
server), and whatever reaches a tenant's data is logged by the services, in that tenant's
trail. A move of an organisation runs in a thread of its own (`console.moves`); a
background event follows it, so the page shows its progress and stays usable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import reflex as rx
from sqlalchemy.orm import Session

from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.auth.throttle import throttled_message
from pms_dashboard.console import flagged, grants, organisations, service
from pms_dashboard.console import moves as org_moves
from pms_dashboard.console import search as audit_search
from pms_dashboard.console.routes import console_signed_in
from pms_dashboard.console.search import AuditQuery
from pms_dashboard.console.service import ConsoleAdmin
from pms_dashboard.errors import UserError
from pms_dashboard.ui.states.base import (
    AppState,
    EndEvent,
    background_event,
    event,
    forget_tab_token,
)
from pms_dashboard.ui.states.rows import (
    AuditListRow,
    FlaggedListRow,
    GoalReadListRow,
    GrantListRow,
    ReviewReadListRow,
    TenantRow,
    audit_row,
    flagged_row,
    goal_read_row,
    grant_row,
    review_read_row,
    tenant_row,
)
from pms_dashboard.ui.urls import (
    backend_url,
    download,
    page_in_address,
    show_in_address,
    texts_in_address,
)

MESSAGES = {"invalid": service.SIGN_IN_FAILED}
SEARCH_FIELDS = ("tenant", "actor_id", "action", "flagged", "since", "until")
NO_GRANT = "No rows: access needs an active grant of yours."
NO_SUCH_GRANT = "No such open grant of yours."
CREATE_FIELDS = ("slug", "name", "tier", "region", "justification")
MOVE_FIELDS = ("slug", "tier", "region")
MOVE_POLL_SECONDS = 0.25
MOVE_LOST = "This move's progress is no longer known here; the list shows its last state."
READS = ("goals", "reviews")


def _hours(text: str) -> float:
    """The grant's length in hours from the form (blank: one hour)."""
    try:
        return float(text or "1")
    except ValueError:
        raise service.ConsoleError("Give the hours as a number.") from None


def _grant_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise service.ConsoleError(NO_SUCH_GRANT) from None


def _form(form: Any, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a submitted form, as bounded strings (anything else in it is
    ignored; a form that is no form raises)."""
    if not isinstance(form, dict):
        raise service.ConsoleError("Fill in the form and send it again.")
    return {n: str(form.get(n, ""))[:200] for n in names}


class ConsoleState(AppState):
    admin_name: str = ""
    tenants: list[TenantRow] = []
    totals: dict[str, int] = {}
    regions: list[str] = []
    my_grants: list[GrantListRow] = []
    read_tenant: str = ""
    read_rows: rx.Field[list[GoalReadListRow | ReviewReadListRow]] = rx.field(default_factory=list)
    read_what: str = ""  # "goals" or "reviews": which of the two read_rows hold
    # audit search: the current page only; the filters it came from stay on the server
    search_rows: list[AuditListRow] = []
    search_page: int = 1
    search_pages: int = 1
    search_total: int = 0
    searched: bool = False
    _search_filters: dict[str, str] = {}
    # the search form's values as the last search (or the address) gave them, for its inputs
    search_shown: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    flagged_shown: str = ""
    form_key: int = 0  # a new key puts the shown values into the forms' inputs
    # flagged events to review: the current page only
    flagged_rows: list[FlaggedListRow] = []
    flagged_page: int = 1
    flagged_pages: int = 1
    flagged_total: int = 0
    flagged_loaded: bool = False
    _flagged_tenant: str = ""
    # the move this tab started: its progress while it runs, then its outcome or error
    move_slug: str = ""
    move_target: str = ""
    move_step: str = ""
    move_steps: rx.Field[list[str]] = rx.field(default_factory=list)  # the steps reached
    move_percent: int = 0  # of the tables copied
    move_counts: str = ""
    move_running: bool = False
    move_outcome: str = ""
    move_error: str = ""
    _move_job: str = ""
    error: str = ""
    notice: str = ""

    @contextmanager
    def _console(
        self, refused: Callable[[UserError], Any] | None = None
    ) -> Iterator[tuple[ConsoleAdmin, Session]]:
        """The event's one console transaction, the admin authenticated inside it: yields
        (admin, session) for the handler's work, which commits when the block ends. No
        valid console session: the page's vars are cleared and the handler ends with the
        redirect to the console's sign-in. A `UserError` in the block rolls the work back
        and ends the handler with `refused(err)` (default: its words in `error`)."""
        token = token_from_cookie_header(self.router.headers.cookie, CONSOLE_COOKIE)
        found = None
        try:
            with console_signed_in(token) as found:
                if found is not None:
                    yield found
        except UserError as err:
            raise EndEvent((refused or self._refused)(err)) from err
        if found is None:
            raise EndEvent(self._signed_out())

    def _ip(self) -> str:
        return self.router.session.client_ip or ""

    def _signed_out(self):
        self.reset()
        return rx.redirect("/console/signin", replace=True)

    def _refused(self, err: UserError) -> None:
        self.error, self.notice = str(err), ""

    @event
    def load(self):
        """on_load: the overview, and the search, queue and read the address asks for (a
        reload, a shared link), each through the same checks and logs as its form."""
        params = self.router.url.query_parameters
        with self._console(self._address_refused) as (admin, session):
            self.admin_name = admin.display_name
            self.regions = organisations.regions()
            self._refresh_tenants(session, admin)
            self._refresh_grants(session, admin)
            self._open_from_address(session, admin, params)
        follow = [ConsoleState.follow_move] if self.move_running else []
        showing = params or self.searched or self.flagged_loaded or self.read_what
        return [*([self._address()] if showing else []), *follow] or None

    def _open_from_address(self, session: Session, admin: ConsoleAdmin, params: Any) -> None:
        """The search (`search=1` and its filters, `page`), the flagged queue (`queue=1`,
        `queue_tenant`, `queue_page`) and the read (`read`, `read_tenant`) the address
        names, asked exactly as their forms ask them."""
        if params.get("search") == "1":
            filters = texts_in_address(params, SEARCH_FIELDS, limit=200)
            self._show_search(session, admin, filters, page_in_address(params))
            self._search_filters = filters
        if params.get("queue") == "1":
            found = texts_in_address(params, ("queue_tenant",), 63)
            tenant = found.get("queue_tenant", "").strip()
            self._show_flagged(session, admin, tenant, page_in_address(params, "queue_page"))
            self._flagged_tenant = tenant
        if params.get("read") in READS:
            slug = texts_in_address(params, ("read_tenant",), 63).get("read_tenant", "")
            self._show_read(session, admin, str(params["read"]), slug)
        self.search_shown, self.flagged_shown = dict(self._search_filters), self._flagged_tenant
        self.form_key += 1

    def _address_refused(self, err: UserError) -> Any:
        """What the address asked for was refused: none of it stays shown (the logs of
        what went before it in the event were rolled back with it), only why; the address
        forgets it."""
        self._clear_lists()
        self._refused(err)
        return self._address()

    def _clear_lists(self) -> None:
        self.search_rows, self.searched, self._search_filters = [], False, {}
        self.search_page = self.search_pages = 1
        self.search_total = 0
        self.flagged_rows, self.flagged_loaded, self._flagged_tenant = [], False, ""
        self.flagged_page = self.flagged_pages = 1
        self.flagged_total = 0
        self.read_rows, self.read_tenant, self.read_what = [], "", ""

    def _address(self) -> Any:
        """The search, queue and read shown, in the address (`_open_from_address`'s
        inverse): a reload or a shared link asks for them again, checked and logged anew."""
        searched, queued = self.searched, self.flagged_loaded
        values = {k: v.strip() for k, v in self._search_filters.items() if searched}
        if values.get("flagged") == "all":
            values["flagged"] = ""
        page, queue_page = self.search_page, self.flagged_page
        read = self.read_what if self.read_what and self._read_allowed() else ""
        return show_in_address(
            self.router.url.path,
            {"search": "1" if searched else "", **values,
             "page": str(page) if searched and page > 1 else "",
             "queue": "1" if queued else "",
             "queue_tenant": self._flagged_tenant if queued else "",
             "queue_page": str(queue_page) if queued and queue_page > 1 else "",
             "read": read, "read_tenant": self.read_tenant if read else ""},
        )  # fmt: skip

    def _refresh_tenants(self, session: Session, admin: ConsoleAdmin) -> None:
        rows = organisations.overview(session=session, admin=admin)
        moved = org_moves.last_moves(session=session, admin=admin)
        self.tenants = [tenant_row(r, moved.get(r.tenant_id)) for r in rows]
        self.totals = {
            "tenants": len(rows),
            "users": sum(r.users for r in rows),
            "goals": sum(r.goals for r in rows),
        }

    @event
    def create_organisation(self, form: dict[str, Any]):
        """A new organisation in the tier and region chosen (a platform event)."""
        with self._console() as (admin, session):
            fields = _form(form, CREATE_FIELDS)
            organisations.create_organisation(
                session=session,
                admin=admin,
                slug=fields["slug"],
                name=fields["name"],
                tier=fields["tier"],
                region=fields["region"],
                justification=fields["justification"],
                ip=self._ip(),
            )
            self._refresh_tenants(session, admin)
        created = next(t for t in self.tenants if t["slug"] == fields["slug"].strip().lower())
        self.error = ""
        self.notice = f"Organisation {created['slug']} created ({created['region']}, " + (
            f"{organisations.tier_choices()[created['isolation_tier']]})."
        )
        return None

    # ------------------------------------------------------------- moving an organisation

    @event
    def move_organisation(self, form: dict[str, Any]):
        """Move an organisation to another tier and/or region (platform events naming this
        admin, with the reason); its progress follows on this page."""
        if self.move_running and self._move_alive():
            self.error, self.notice = f"Wait for the move of {self.move_slug} to finish.", ""
            return None
        with self._console() as (admin, session):
            fields = _form(form, MOVE_FIELDS)
            order = org_moves.check_move(
                session=session,
                admin=admin,
                slug=fields["slug"],
                tier=fields["tier"],
                region=fields["region"],
                reason=str(form.get("reason", ""))[: organisations.MAX_REASON + 1],
            )
            job = org_moves.start_move(order)
        self._move_job = job
        self.error, self.notice = "", ""
        self._show_move(org_moves.move_status(job))
        return ConsoleState.follow_move

    def _move_alive(self) -> bool:
        status = org_moves.move_status(self._move_job)
        return status is not None and status.running

    @background_event
    async def follow_move(self):
        """The running move's progress, a few times a second, until it ends; then its
        outcome and the organisations as they are now."""
        while True:
            async with self:
                if not self._move_job:
                    return None
                status = org_moves.move_status(self._move_job)
                self._show_move(status)
                if status is None or not status.running:
                    self._move_job = ""
                    with self._console() as (admin, session):
                        self._refresh_tenants(session, admin)
                    return None
            await asyncio.sleep(MOVE_POLL_SECONDS)

    def _show_move(self, status: org_moves.MoveStatus | None) -> None:
        if status is None:
            self.move_running, self.move_error = False, MOVE_LOST
            return
        self.move_slug, self.move_target = status.slug, status.target
        self.move_step, self.move_steps = status.step, list(status.steps_seen)
        self.move_percent = 100 * status.tables_done // status.tables if status.tables else 0
        self.move_counts = (
            f"{status.tables_done} of {status.tables} tables, {status.rows:,} rows copied"
        )
        self.move_running = status.running
        self.move_outcome, self.move_error = status.outcome, status.error

    def _refresh_grants(self, session: Session, admin: ConsoleAdmin) -> None:
        self.my_grants = [grant_row(g) for g in grants.my_grants(session=session, admin=admin)]

    @event
    def open_grant(self, form: dict[str, Any]):
        with self._console() as (admin, session):
            fields = _form(form, ("tenant", "justification", "ticket", "hours"))
            grants.open_grant(
                session=session,
                admin=admin,
                tenant_slug=fields["tenant"][:63],
                justification=fields["justification"][:40],
                ticket=fields["ticket"],
                hours=_hours(fields["hours"]),
            )
            self._refresh_grants(session, admin)
        self.error, self.notice = "", "Access opened. Every read is logged and shown to them."
        return None

    @event
    def read_goals(self, tenant_slug: str):
        return self._read("goals", tenant_slug)

    @event
    def read_reviews(self, tenant_slug: str):
        return self._read("reviews", tenant_slug)

    def _read(self, what: str, tenant_slug: Any):
        with self._console() as (admin, session):
            self._show_read(session, admin, what, str(tenant_slug)[:63])
        return self._address()

    def _show_read(self, session: Session, admin: ConsoleAdmin, what: str, slug: str) -> None:
        """One read of an organisation's goals or reviews under the admin's grant (none
        without one; logged in its trail either way) into vars."""
        rows: list[GoalReadListRow | ReviewReadListRow]
        if what == "goals":
            goals = grants.read_goals(session=session, admin=admin, tenant_slug=slug)
            rows = [goal_read_row(r) for r in goals]
        else:
            reviews = grants.read_reviews(session=session, admin=admin, tenant_slug=slug)
            rows = [review_read_row(r) for r in reviews]
        self._refresh_grants(session, admin)
        self.read_tenant, self.read_what = slug, what
        self.read_rows = rows
        if rows:
            self.error, self.notice = "", ""
        elif self._read_allowed():
            self.error, self.notice = "", f"No {what} in this organisation yet."
        else:
            self.error, self.notice = NO_GRANT, ""

    def _read_allowed(self) -> bool:
        """The read shown had rows or ran under an active grant of the admin's."""
        tenant = self.read_tenant
        return bool(self.read_rows) or any(
            g["active"] and g["tenant_slug"] == tenant for g in self.my_grants
        )

    def _no_such_grant(self, _err: UserError) -> None:
        self.error = NO_SUCH_GRANT

    @event
    def revoke(self, grant_id: str):
        with self._console(self._no_such_grant) as (admin, session):
            grant = _grant_id(grant_id)
            grants.revoke_grant(
                session=session,
                admin=admin,
                grant_id=grant,
                tenant_slug=next(
                    (g["tenant_slug"] for g in self.my_grants if g["id"] == str(grant)), None
                ),
            )
            self._refresh_grants(session, admin)
        self.error, self.notice = "", "Access ended."
        self.read_rows, self.read_tenant, self.read_what = [], "", ""
        return self._address()

    # ------------------------------------------------------------- audit search

    @event
    def search_audit(self, form: dict[str, Any]):
        """A new search from the filter form: page 1."""
        with self._console() as (admin, session):
            filters = _form(form, SEARCH_FIELDS)
            self._show_search(session, admin, filters, 1)
        self._search_filters = filters
        return self._address()

    @event
    def search_goto(self, page: int | float | str | None):
        """Another page of the last search (its filters kept on the server)."""
        with self._console() as (admin, session):
            if not self.searched:
                raise service.ConsoleError("Search first.")
            self._show_search(session, admin, self._search_filters, page)
        return self._address()

    @event
    def export_search(self):
        """Download every event of the last search as CSV from the streaming console route
        (which checks the console cookie and audits the export itself)."""
        with self._console():
            if not self.searched:
                raise service.ConsoleError("Search first.")
            query = AuditQuery.from_form(self._search_filters)
        filters = query.model_dump(
            mode="json", exclude_defaults=True, exclude={"page", "page_size"}
        )
        return download(backend_url("/api/console/export/audit.csv"), filters)

    def _show_search(
        self, session: Session, admin: ConsoleAdmin, filters: dict[str, str], page: Any
    ) -> None:
        query = AuditQuery.from_form({**filters, "page": page})
        found = audit_search.search(session=session, admin=admin, query=query, ip=self._ip())
        self.search_rows = [audit_row(r) for r in found.rows]
        self.search_page, self.search_pages = found.page, found.pages
        self.search_total, self.searched = found.total, True
        self.error = ""
        self.notice = f"{found.total} events found." if found.total else "No events match."
        if found.total and found.page > found.pages:
            self.notice = f"Page {found.page} is past the end: {found.total} events found."

    # ------------------------------------------------------------- flagged queue

    @event
    def load_flagged(self, form: dict[str, Any]):
        """The queue of flagged events to review (optionally one organisation's): page 1."""
        with self._console() as (admin, session):
            tenant = _form(form, ("tenant",))["tenant"].strip()[:63]
            self._show_flagged(session, admin, tenant, 1)
        self._flagged_tenant = tenant
        return self._address()

    @event
    def flagged_goto(self, page: int | float | str | None):
        with self._console() as (admin, session):
            if not self.flagged_loaded:
                raise service.ConsoleError("Open the queue first.")
            self._show_flagged(session, admin, self._flagged_tenant, page)
        return self._address()

    def _show_flagged(self, session: Session, admin: ConsoleAdmin, tenant: str, page: Any) -> None:
        found = flagged.flagged_queue(
            session=session, admin=admin, tenant=tenant or None, page=page, ip=self._ip()
        )
        self.flagged_rows = [flagged_row(r) for r in found.rows]
        self.flagged_page, self.flagged_pages = found.page, found.pages
        self.flagged_total, self.flagged_loaded = found.total, True
        self.error, self.notice = "", "" if found.total else "Nothing to review."
        if found.total and found.page > found.pages:
            self.notice = f"Page {found.page} is past the end: {found.total} to review."

    @event
    def mark_reviewed(self, form: dict[str, Any]):
        """Mark one queued event reviewed with a note; it leaves the page (no new read)."""
        with self._console() as (admin, session):
            fields = _form(form, ("event_id", "note"))
            flagged.review_flag(
                session=session,
                admin=admin,
                event_id=fields["event_id"],
                note=str(form.get("note", ""))[: audit_search.MAX_NOTE + 1],
                ip=self._ip(),
                tenant=next(
                    (r["tenant"] for r in self.flagged_rows if r["event_id"] == fields["event_id"]),
                    None,
                ),
            )
        self.flagged_rows = [r for r in self.flagged_rows if r["event_id"] != fields["event_id"]]
        self.flagged_total = max(0, self.flagged_total - 1)
        self.error, self.notice = "", "Marked reviewed."
        return None


class ConsoleSignInState(AppState):
    error: str = ""
    notice: str = ""

    @event
    def on_load(self):
        params = self.router.url.query_parameters
        self.error = MESSAGES.get(params.get("error", ""), "")
        if params.get("error") == "throttled":
            self.error = throttled_message(params.get("retry", ""))
        self.notice = "You have signed out of the console." if params.get("signed_out") else ""
        return forget_tab_token()
