"""People directory: thin state — who is asking, one tenant transaction, the service, plain
vars.

Every handler runs in `_signed_in()` (the principal from the cookie, checked in the event's
one transaction); ids go as the browser sent them to the service, which resolves them in the
tenant first (a malformed, unknown or another tenant's id is refused as not found, and
audited, alike) and decides whether the actor may see or change that person. Refusals land
in `error`; nothing from a refused call lands in any var.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import ValidationError

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import NotFoundHere
from pms_dashboard.errors import UserError
from pms_dashboard.people import service as people
from pms_dashboard.people.schemas import (
    ROLES,
    InviteInput,
    PeopleError,
    PeopleQuery,
    ProfileInput,
    parse_input,
)
from pms_dashboard.tenancy.cache import cached
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import TenantSession
from pms_dashboard.ui.states.base import Paged, event
from pms_dashboard.ui.states.rows import (
    PersonDetailRow,
    PersonListRow,
    PersonRefRow,
    PersonTreeRow,
    nothing,
    person_detail_row,
    person_list_row,
    person_ref_row,
    person_tree_row,
    record_var,
)
from pms_dashboard.ui.states.session import ROLE_LABELS, SessionState
from pms_dashboard.ui.urls import (
    checked_export_download,
    page_in_address,
    show_in_address,
    texts_in_address,
)

PAGE_SIZE = 20
NOT_FOUND = "That person was not found or is not yours to see."
INDENT_PX = 24


class PeopleState(Paged, SessionState):
    """One page of the directory, the reports-to tree, and one selected person."""

    rows: list[PersonListRow] = []
    search: str = ""
    department: rx.Field[str] = rx.field("all")
    team: rx.Field[str] = rx.field("all")
    role_filter: str = "all"
    active_filter: str = "active"
    departments: list[str] = []
    teams: list[str] = []
    view: str = "table"
    tree: list[PersonTreeRow] = []
    error: str = ""
    notice: str = ""
    can_manage: bool = False  # only to offer the admin actions; the service decides
    selected: rx.Field[PersonDetailRow] = record_var(PersonDetailRow)
    selected_reports: rx.Field[list[PersonRefRow]] = rx.field(default_factory=list)
    selected_chain: rx.Field[list[PersonRefRow]] = rx.field(default_factory=list)
    manager_options: list[dict[str, str]] = []
    invite_open: bool = False
    invite_error: str = ""
    temp_password: str = ""
    invited_email: str = ""

    # ----------------------------------------------------------------------- helpers

    def _query(self, **changes: Any) -> PeopleQuery:
        wanted = {
            "page": self.page,
            "page_size": PAGE_SIZE,
            "search": self.search,
            "department": "" if self.department == "all" else self.department,
            "team": "" if self.team == "all" else self.team,
            "role": self.role_filter,
            "active": self.active_filter,
        } | changes
        try:
            return PeopleQuery(**wanted)
        except ValidationError:
            raise PeopleError("That filter is not available.") from None

    def _list(self, session: TenantSession, actor: TenantContext, **changes: Any) -> None:
        """One page of the directory with `changes` to its filters (and the tree view)."""
        query = self._query(**changes)
        page = people.list_people(session=session, actor=actor, query=query)
        departments, teams = cached(  # the filter menus, not read again on every step
            session,
            ("people menus", actor.user_id, actor.role, query.department),
            lambda: (
                people.departments(session=session, actor=actor),
                people.teams(session=session, actor=actor, department=query.department),
            ),
            tables=people.MENUS_READ,
        )
        tree = (
            people.flatten_tree(people.team_tree(session=session, actor=actor))
            if self.view == "tree"
            else []
        )
        self.can_manage = people.may_manage_people(actor=actor)
        self.rows = [person_list_row(row) for row in page.rows]
        self.total, self.page, self.pages = page.total, page.page, page.pages
        self.search = query.search
        self.department = query.department or "all"
        self.team = query.team or "all"
        self.role_filter = query.role or "all"
        self.active_filter = query.active
        self.departments, self.teams = list(departments), list(teams)  # not the cache's
        self.tree = [person_tree_row(line, indent_px=INDENT_PX) for line in tree]

    def _load(self, **changes: Any):
        with self._signed_in() as (principal, session):
            self._list(session, principal.context, **changes)
        return show_in_address(self.router.url.path, self._url_values())

    def _query_from_url(self) -> dict[str, Any]:
        """The filters, view and page a reload or a shared link asks for (checked like any
        filter by `_query`; an unknown view is the table)."""
        params = self.router.url.query_parameters
        wanted: dict[str, Any] = {"page": page_in_address(params)}
        wanted |= texts_in_address(params, ("search", "department", "team", "role", "active"))
        self.view = "tree" if params.get("view") == "tree" else "table"
        return wanted

    def _url_values(self) -> dict[str, str]:
        """The list as the address shows it (defaults left out): `_query_from_url`'s inverse."""
        return {
            "search": self.search,
            "department": "" if self.department == "all" else self.department,
            "team": "" if self.team == "all" else self.team,
            "role": "" if self.role_filter == "all" else self.role_filter,
            "active": "" if self.active_filter == "active" else self.active_filter,
            "view": "" if self.view == "table" else self.view,
            "page": "" if self.page == 1 else str(self.page),
        }

    def _select(self, session: TenantSession, actor: TenantContext, person_id: Any) -> None:
        """Put one person's detail into vars (only after the service allowed it)."""
        detail = people.get_person(session=session, actor=actor, person_id=person_id)
        choices = people.manager_choices(session=session, actor=actor) if detail.can_manage else []
        role = detail.person.role
        self.selected = person_detail_row(detail, role_label=ROLE_LABELS.get(role, role))
        self.selected_reports = [person_ref_row(r) for r in detail.reports]
        self.selected_chain = [person_ref_row(r) for r in detail.chain]
        options = [
            {"id": c.id, "label": c.display_name} for c in choices if c.id != detail.person.id
        ]
        current = detail.person.manager_id
        if current and current not in {o["id"] for o in options}:
            options.insert(0, {"id": current, "label": detail.person.manager_name})
        self.manager_options = options

    def _change(self, person_id: Any, op: Any, success: str, **kw: Any):
        """Run one admin change on one person, then show the list and the detail as they
        now are (in the same transaction)."""
        self.notice = ""
        with self._signed_in() as (principal, session):
            actor = principal.context
            row = op(session=session, actor=actor, person_id=person_id, **kw)
            self._list(session, actor)
            if self.selected.get("id") == row.id:
                self._select(session, actor, row.id)
        self.error = ""
        self.notice = success.format(name=row.display_name)
        return None

    def _unselected(self, err: UserError) -> None:
        """A person not found, or not the viewer's to see (said the same way)."""
        shown = isinstance(err, NotFoundHere) or not isinstance(err, PermissionDenied)
        self.error = str(err) if shown else NOT_FOUND

    def _invite_refused(self, err: UserError) -> None:
        self.invite_error = str(err)

    # ---------------------------------------------------------------------- reading

    @event
    def load(self):
        self.error = self.notice = ""
        return self._load(**self._query_from_url())

    @event
    def export_csv(self, name: str = "people"):
        """Download the directory with its filters from the streaming export route; a
        refusal it would give now is said here, not as a failed download."""
        with self._signed_in() as (principal, session):
            if name != "people":
                raise PeopleError("That export is not available.")
            filters = self._query().model_dump(exclude={"page", "page_size"})
            return checked_export_download(
                session=session, actor=principal.context, name="people", filters=filters
            )

    @event
    def search_people(self, form: dict[str, Any]):
        return self._load(search=str(form.get("search", ""))[:100], page=1)

    @event
    def filter_department(self, value: str):
        return self._load(department="" if value == "all" else str(value), team="", page=1)

    @event
    def filter_team(self, value: str):
        return self._load(team="" if value == "all" else str(value), page=1)

    @event
    def filter_role(self, value: str):
        return self._load(role=str(value), page=1)

    @event
    def filter_active(self, value: str):
        return self._load(active=str(value), page=1)

    @event
    def show_view(self, value: str | list[str]):
        self.view = "tree" if value == "tree" else "table"
        return self._load()

    @event
    def select_person(self, person_id: str):
        self.selected, self.selected_reports, self.selected_chain = nothing(PersonDetailRow), [], []
        self.manager_options = []
        with self._signed_in(self._unselected) as (principal, session):
            self._select(session, principal.context, person_id)
        self.error = ""
        return None

    @event
    def close_person(self):
        self.selected, self.selected_reports, self.selected_chain = nothing(PersonDetailRow), [], []
        self.manager_options = []

    # -------------------------------------------------------------------- admin changes

    @event
    def open_invite(self):
        self.invite_error = self.temp_password = self.invited_email = ""
        with self._signed_in() as (principal, session):
            choices = people.manager_choices(session=session, actor=principal.context)
        self.manager_options = [{"id": c.id, "label": c.display_name} for c in choices]
        self.invite_open = True
        return None

    @event
    def close_invite(self):
        self.invite_open = False
        self.invite_error = self.temp_password = self.invited_email = ""  # shown once only

    @event
    def set_invite_open(self, is_open: bool):
        if not is_open:
            return PeopleState.close_invite
        return None

    @event
    def invite(self, form: dict[str, Any]):
        fields = ("email", "display_name", "role", "manager_id", "department", "team", "job_title")
        data = {k: str(form[k]) for k in fields if k in form}
        with self._signed_in(self._invite_refused) as (principal, session):
            parsed = parse_input(InviteInput, data)
            invited = people.invite_user(session=session, actor=principal.context, data=parsed)
            self._list(session, principal.context)
        self.invite_error = ""
        self.temp_password = invited.temporary_password
        self.invited_email = invited.person.email
        self.notice = f"{invited.person.display_name} was added."
        return None

    @event
    def deactivate(self, person_id: str):
        return self._change(
            person_id, people.deactivate_user, "{name} was deactivated and signed out."
        )

    @event
    def reactivate(self, person_id: str):
        return self._change(person_id, people.reactivate_user, "{name} can sign in again.")

    @event
    def change_role(self, person_id: str, role: str):
        if str(role) not in ROLES:
            self.error = "That role does not exist."
            return None
        return self._change(
            person_id, people.change_role, "{name}'s role was changed.", role=str(role)
        )

    @event
    def change_manager(self, person_id: str, manager_id: str):
        """`manager_id` "" or "none": no manager; the service resolves both ids."""
        return self._change(
            person_id,
            people.change_manager,
            "{name}'s manager was changed.",
            manager_id=manager_id,
        )

    @event
    def save_profile(self, form: dict[str, Any]):
        data = {k: str(form.get(k, "")) for k in ("department", "team", "job_title")}
        try:
            parsed = parse_input(ProfileInput, data)
        except PeopleError as err:  # bad input: said at once, nothing read or written
            self.error = str(err)
            return None
        return self._change(
            form.get("person_id", ""), people.update_profile, "{name} was updated.", data=parsed
        )
