"""Goal pages: thin states — who is asking, one tenant session, one service call, plain vars.

Every handler re-derives the actor from the session cookie; ids arrive as strings from the
browser and are handed to the services, which check access and refuse unknown, foreign and
malformed ids alike. Nothing a handler receives is trusted for identity.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import reflex as rx
from pydantic import ValidationError

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import NotFoundHere
from pms_dashboard.errors import validation_message
from pms_dashboard.goals import service as goals_service
from pms_dashboard.goals.schemas import (
    CheckInInput,
    GoalError,
    GoalInput,
    GoalListQuery,
    KeyResultInput,
)
from pms_dashboard.people import service as people_service
from pms_dashboard.tenancy.limits import TenantBusy
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.format import display
from pms_dashboard.ui.states.session import SessionState
from pms_dashboard.ui.urls import checked_export_download

PAGE_SIZE = 10
KR_SLOTS = 4  # key-result rows in the goal form
NO_PARENT = "none"

FILTER_PARAMS = ("scope", "status", "search", "period", "stale", "due", "confidence", "team")


GOAL_EXPORTS = ("goals", "key-results", "check-ins")


class GoalsState(SessionState):
    """One page of goals in a scope; never more than PAGE_SIZE rows in state."""

    rows: list[dict[str, Any]] = []
    total: int = 0
    page: int = 1
    pages: int = 1
    sort: str = "due_date"
    descending: bool = False
    scope: str = "mine"
    status: str = "all"
    search: str = ""
    period: str = ""
    stale_only: bool = False
    due_within: str = ""
    confidence: str = ""
    owner: str = ""  # a person's id, as the owner menu offers it
    team: str = ""
    error: str = ""
    periods: list[str] = []
    owners: list[dict[str, str]] = []
    teams: list[str] = []

    def _query_from_url(self) -> dict[str, Any]:
        params = self.router.url.query_parameters
        wanted: dict[str, Any] = {"page": 1}
        if params.get("scope") in ("mine", "team", "all"):
            wanted["scope"] = params["scope"]
        for key in ("status", "search", "period", "confidence", "team"):
            if params.get(key):
                wanted[key] = str(params[key])[:100]
        if params.get("owner"):
            wanted["owner_id"] = str(params["owner"])[:40]
        if params.get("stale") == "1":
            wanted["stale_only"] = True
        if str(params.get("due", "")).isdigit():
            wanted["due_within_days"] = int(params["due"])
        return wanted

    def _load(self, menus: bool = False, **changes: Any):
        principal = self._principal()
        if principal is None:
            self._forget()
            self.rows = []
            return rx.redirect("/signin", replace=True)
        wanted = self._filters() | changes
        try:
            query = GoalListQuery(**wanted)
        except ValidationError:
            self.error = "That filter or sort is not available."
            return None
        return self._show_page(principal, query, menus)

    def _filters(self) -> dict[str, Any]:
        """The list as the person sees it: paging, sort and every filter."""
        return {
            "page": self.page,
            "page_size": PAGE_SIZE,
            "sort": self.sort,
            "descending": self.descending,
            "scope": self.scope,
            "status": self.status,
            "search": self.search,
            "period": self.period,
            "stale_only": self.stale_only,
            "due_within_days": int(self.due_within) if self.due_within.isdigit() else None,
            "confidence": self.confidence or None,
            "owner_id": self.owner or None,
            "team": self.team,
        }

    def _show_page(self, principal: Any, query: GoalListQuery, menus: bool):
        try:
            self._read_page(principal, query, menus)
        except TenantBusy as err:
            self.error = str(err)  # the list stays as it was; nothing else changes
        except PermissionDenied as err:  # a filter naming someone or something not found
            self.error = err.message
        return None

    def _read_page(self, principal: Any, query: GoalListQuery, menus: bool) -> None:
        with tenant_session(principal.context) as session:
            page = goals_service.list_goals(session=session, actor=principal.context, query=query)
            if menus:  # the filter menus: once per page load, not on every paging step
                self.periods = goals_service.periods(session=session)
                self.owners = [
                    {"id": o.id, "name": o.name}
                    for o in goals_service.owner_options(session=session, actor=principal.context)
                ]
                self.teams = people_service.teams(session=session, actor=principal.context)
        self._show(principal)
        self.error = ""
        self.rows = display(page.rows)
        self.total, self.page, self.pages = page.total, page.page, page.pages
        self.sort, self.descending, self.scope = query.sort, query.descending, query.scope
        self.status, self.search = query.status or "all", query.search
        self.period, self.stale_only = query.period, query.stale_only
        self.due_within = "" if query.due_within_days is None else str(query.due_within_days)
        self.confidence = query.confidence or ""
        self.owner = str(query.owner_id) if query.owner_id else ""
        self.team = query.team
        return None

    @rx.event
    def export_csv(self, name: str = "goals"):
        """Download the whole list with its filters (goals, key-results or check-ins) from
        the streaming export route, which checks the session and permissions itself."""
        principal = self._principal()
        if principal is None:
            return rx.redirect("/signin", replace=True)
        if name not in GOAL_EXPORTS:
            self.error = "That export is not available."
            return None
        try:
            query = GoalListQuery(**self._filters())
        except ValidationError:
            self.error = "That filter or sort is not available."
            return None
        filters = query.model_dump(exclude={"page", "page_size"})
        outcome = checked_export_download(principal.context, name, filters)
        if isinstance(outcome, str):  # refused now: say why here, not as a failed download
            self.error = outcome
            return None
        return outcome

    @rx.event
    def load(self):
        """on_load: filters come from the URL, so charts elsewhere can link to a filtered list."""
        self.sort, self.descending, self.scope, self.status = "due_date", False, "mine", "all"
        self.search = self.period = self.due_within = self.confidence = ""
        self.owner = self.team = ""
        self.stale_only = False
        return self._load(menus=True, **self._query_from_url())

    @rx.event
    def next_page(self):
        return self._load(page=self.page + 1)

    @rx.event
    def previous_page(self):
        return self._load(page=max(1, self.page - 1))

    @rx.event
    def set_scope(self, scope: str | list[str]):
        return self._load(scope=scope if isinstance(scope, str) else "", page=1)

    @rx.event
    def filter_status(self, status: str | list[str]):
        return self._load(status=status if isinstance(status, str) else "", page=1)

    @rx.event
    def filter_period(self, period: str):
        return self._load(period="" if period == "all" else str(period), page=1)

    @rx.event
    def filter_owner(self, owner: str):
        """An owner from the menu ("all" for anyone); the service only ever lists goals the
        viewer may see, so a foreign id just finds nothing."""
        return self._load(owner_id=None if owner == "all" else str(owner)[:40], page=1)

    @rx.event
    def filter_team(self, team: str):
        return self._load(team="" if team == "all" else str(team), page=1)

    @rx.event
    def toggle_stale(self, value: bool):
        return self._load(stale_only=bool(value), page=1)

    @rx.event
    def clear_filters(self):
        return self._load(
            status="all", search="", period="", stale_only=False, due_within_days=None,
            confidence=None, owner_id=None, team="", page=1,
        )  # fmt: skip

    @rx.event
    def search_titles(self, form: dict[str, Any]):
        return self._load(search=str(form.get("search", "")), page=1)

    @rx.event
    def sort_by(self, column: str):
        descending = not self.descending if column == self.sort else False
        return self._load(sort=column, descending=descending, page=1)


def _decimal(value: Any, field: str) -> Decimal | None:
    text = str(value or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise GoalError(f"{field}: '{text[:20]}' is not a number.") from None


def goal_input_from_form(form: dict[str, Any]) -> GoalInput:
    """The goal form's fields (strings from the browser) as a validated GoalInput."""
    krs: list[KeyResultInput] = []
    for i in range(KR_SLOTS):
        title = str(form.get(f"kr_title_{i}", "")).strip()
        if not title:
            continue
        kr_id = str(form.get(f"kr_id_{i}", "")).strip()
        krs.append(
            KeyResultInput(
                id=kr_id or None,  # ids are resolved (or refused) by the service
                title=title,
                start_value=_decimal(form.get(f"kr_start_{i}"), f"key result {i + 1} start")
                or Decimal(0),
                target_value=_decimal(form.get(f"kr_target_{i}"), f"key result {i + 1} target"),  # type: ignore[arg-type]
                current_value=_decimal(form.get(f"kr_current_{i}"), f"key result {i + 1} current"),
                unit=str(form.get(f"kr_unit_{i}", "")),
            )
        )
    parent = str(form.get("parent_id", "") or NO_PARENT)
    owner = str(form.get("owner_id", "") or "")
    return GoalInput(
        title=str(form.get("title", "")),
        description=str(form.get("description", "")),
        owner_id=owner if owner and owner != "me" else None,
        parent_id=None if parent == NO_PARENT else parent,
        period=str(form.get("period", "")),
        start_date=form.get("start_date") or None,  # type: ignore[arg-type]
        due_date=form.get("due_date") or None,  # type: ignore[arg-type]
        weight=_decimal(form.get("weight"), "weight") or Decimal(1),
        status=str(form.get("status", "active") or "active"),  # type: ignore[arg-type]
        key_results=krs,
    )


class GoalFormState(SessionState):
    """The create-goal dialog: options for owner and parent, and the submit."""

    open: bool = False
    error: str = ""
    owners: list[dict[str, str]] = []
    parents: list[dict[str, str]] = []

    @rx.event
    def open_form(self):
        principal = self._principal()
        if principal is None:
            return rx.redirect("/signin", replace=True)
        with tenant_session(principal.context) as session:
            self.owners = [
                {"id": o.id, "name": o.name}
                for o in goals_service.owner_options(session=session, actor=principal.context)
            ]
            self.parents = [
                {"id": p.id, "label": f"{p.title} · {p.owner}"}
                for p in goals_service.parent_options(
                    session=session, actor=principal.context, limit=50
                )
            ]
        self.error = ""
        self.open = True
        return None

    @rx.event
    def close_form(self):
        self.open = False
        self.error = ""

    @rx.event
    def set_open(self, value: bool):
        self.open = bool(value)

    @rx.event
    def create(self, form: dict[str, Any]):
        principal = self._principal()
        if principal is None:
            return rx.redirect("/signin", replace=True)
        try:
            data = goal_input_from_form(form)
            with tenant_session(principal.context) as session:
                goal_id = goals_service.create_goal(
                    session=session, actor=principal.context, data=data
                )
        except ValidationError as err:
            self.error = validation_message(err, limit=1)
            return None
        except (GoalError, PermissionDenied, ValueError) as err:
            self.error = getattr(err, "message", None) or str(err)
            return None
        self.open = False
        self.error = ""
        return rx.redirect(f"/goals/{goal_id}")


class GoalDetailState(SessionState):
    """One goal: key results, check-ins, alignment; check in, edit, archive."""

    goal: dict[str, Any] = {}
    key_results: list[dict[str, Any]] = []
    check_ins: list[dict[str, Any]] = []
    children: list[dict[str, Any]] = []
    ancestors: list[dict[str, Any]] = []
    tree: list[dict[str, Any]] = []
    found: bool = False
    error: str = ""
    notice: str = ""
    check_in_error: str = ""
    editing: bool = False
    parents: list[dict[str, str]] = []

    def _goal_id(self) -> str:
        return str(self.rx_router_page.params.get("goal_id", ""))

    def _refresh(self, principal: Any) -> None:
        with tenant_session(principal.context) as session:
            detail = goals_service.goal_detail(
                session=session, actor=principal.context, goal_id=self._goal_id()
            )
            tree = goals_service.alignment_tree(
                session=session, actor=principal.context, root_id=detail.id, max_nodes=60
            )
        data = display(detail)
        self.key_results = data.pop("key_results")
        self.check_ins = data.pop("check_ins")
        self.children = data.pop("children")
        self.ancestors = data.pop("ancestors")
        parent = data.pop("parent")
        data["parent_id"] = parent["id"] if parent and parent["visible"] else ""
        self.goal = data
        self.tree = display(tree[1:])
        self.found = True

    def _clear(self) -> None:
        self.goal, self.key_results, self.check_ins = {}, [], []
        self.children, self.ancestors, self.tree = [], [], []
        self.found = False

    @rx.event
    def load(self):
        principal = self._principal()
        if principal is None:
            self._clear()
            return rx.redirect("/signin", replace=True)
        self._show(principal)
        self.error = self.notice = self.check_in_error = ""
        self.editing = False
        try:
            self._refresh(principal)
        except NotFoundHere as err:
            self._clear()
            self.error = err.message
        except PermissionDenied as err:
            self._clear()
            self.error = f"{err.message} The goal is not shared with you."
        return None

    @rx.event
    def submit_check_in(self, form: dict[str, Any]):
        principal = self._principal()
        if principal is None:
            return rx.redirect("/signin", replace=True)
        try:
            values = {}
            for kr in self.key_results:
                raw = form.get(f"kr_{kr['id']}")
                value = _decimal(raw, kr["title"])
                if value is not None:
                    values[uuid.UUID(kr["id"])] = value
            progress = _decimal(form.get("progress"), "progress")
            data = CheckInInput(
                confidence=str(form.get("confidence", "") or "on_track"),  # type: ignore[arg-type]
                note=str(form.get("note", "")),
                progress=progress,
                key_results=values,
            )
            with tenant_session(principal.context) as session:
                goals_service.check_in(
                    session=session, actor=principal.context, goal_id=self._goal_id(), data=data
                )
            self._refresh(principal)
        except ValidationError as err:
            self.check_in_error = validation_message(err, limit=1)
            return None
        except (GoalError, PermissionDenied, ValueError) as err:
            self.check_in_error = getattr(err, "message", None) or str(err)
            return None
        self.check_in_error = ""
        self.notice = "Check-in saved."
        return None

    @rx.event
    def start_edit(self):
        principal = self._principal()
        if principal is None:
            return rx.redirect("/signin", replace=True)
        with tenant_session(principal.context) as session:
            self.parents = [
                {"id": p.id, "label": f"{p.title} · {p.owner}"}
                for p in goals_service.parent_options(
                    session=session, actor=principal.context, limit=50
                )
                if p.id != self.goal.get("id")
            ]
        self.editing = True
        self.error = ""
        return None

    @rx.event
    def cancel_edit(self):
        self.editing = False
        self.error = ""

    @rx.event
    def save_edit(self, form: dict[str, Any]):
        principal = self._principal()
        if principal is None:
            return rx.redirect("/signin", replace=True)
        try:
            data = goal_input_from_form(form)
            with tenant_session(principal.context) as session:
                goals_service.update_goal(
                    session=session, actor=principal.context, goal_id=self._goal_id(), data=data
                )
            self._refresh(principal)
        except ValidationError as err:
            self.error = validation_message(err, limit=1)
            return None
        except (GoalError, PermissionDenied, ValueError) as err:
            self.error = getattr(err, "message", None) or str(err)
            return None
        self.editing = False
        self.error = ""
        self.notice = "Goal saved."
        return None

    @rx.event
    def archive(self):
        principal = self._principal()
        if principal is None:
            return rx.redirect("/signin", replace=True)
        try:
            with tenant_session(principal.context) as session:
                goals_service.archive_goal(
                    session=session, actor=principal.context, goal_id=self._goal_id()
                )
            self._refresh(principal)
        except (GoalError, PermissionDenied) as err:
            self.error = getattr(err, "message", None) or str(err)
            return None
        self.notice = "Goal archived."
        return None
