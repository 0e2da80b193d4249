"""Goal pages: thin states — who is asking, one tenant transaction, the services, plain vars.

Every handler runs in `_signed_in()` (the actor from the session cookie, checked in the
event's one transaction); ids arrive as strings from the browser and are handed to the
services, which check access and refuse unknown, foreign and malformed ids alike. Nothing
a handler receives is trusted for identity; a refusal's words land in the page's error.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel, ValidationError

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import IdKind, NotFoundHere
from pms_dashboard.errors import UserError, field_in, validation_field, validation_message
from pms_dashboard.goals import service as goals_service
from pms_dashboard.goals.schemas import (
    CheckInInput,
    GoalError,
    GoalInput,
    GoalListQuery,
    KeyResultInput,
)
from pms_dashboard.people import service as people_service
from pms_dashboard.tenancy import limits
from pms_dashboard.tenancy.cache import cached
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import TenantSession
from pms_dashboard.ui.states.base import Paged, event
from pms_dashboard.ui.states.rows import (
    CheckInRow,
    GoalDetailRow,
    GoalLinkRow,
    GoalListRow,
    GoalTreeRow,
    KeyResultRow,
    check_in_row,
    goal_detail_row,
    goal_link_row,
    goal_list_row,
    goal_tree_row,
    key_result_row,
    nothing,
    record_var,
)
from pms_dashboard.ui.states.session import SessionState, form_refusal
from pms_dashboard.ui.urls import (
    checked_export_download,
    page_in_address,
    show_in_address,
    texts_in_address,
)

PAGE_SIZE = 10
KR_SLOTS = 4  # key-result rows in the goal form
NO_PARENT = "none"

FILTER_PARAMS = ("scope", "status", "search", "period", "stale", "due", "confidence", "team")
NO_SUCH_FILTER = "That filter or sort is not available."


GOAL_EXPORTS = ("goals", "key-results", "check-ins")


TREE_NODES = 60  # the goal page's alignment tree, the goal itself included


class GoalsState(Paged, SessionState):
    """One page of goals in a scope; never more than PAGE_SIZE rows in state."""

    rows: list[GoalListRow] = []
    loaded: bool = False  # the list has been read once in this tab (until then: grey bars)
    sort: str = "due_date"
    descending: bool = False
    scope: str = "mine"
    status: str = "all"
    search: str = ""
    period: rx.Field[str] = rx.field("")
    stale_only: bool = False
    due_within: str = ""
    confidence: str = ""
    owner: rx.Field[str] = rx.field("")  # a person's id, as the owner menu offers it
    team: rx.Field[str] = rx.field("")
    error: str = ""
    periods: rx.Field[list[str]] = rx.field(default_factory=list)
    owners: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    teams: rx.Field[list[str]] = rx.field(default_factory=list)

    def _query_from_url(self) -> dict[str, Any]:
        params = self.router.url.query_parameters
        wanted: dict[str, Any] = {"page": page_in_address(params)}
        if params.get("scope") in ("mine", "team", "all"):
            wanted["scope"] = params["scope"]
        wanted |= texts_in_address(params, ("status", "search", "period", "confidence", "team"))
        if params.get("owner"):
            wanted["owner_id"] = str(params["owner"])[:40]
        if params.get("stale") == "1":
            wanted["stale_only"] = True
        if str(params.get("due", "")).isdigit():
            wanted["due_within_days"] = int(params["due"])
        if params.get("sort"):
            wanted["sort"] = str(params["sort"])[:40]
            wanted["descending"] = params.get("desc") == "1"
        return wanted

    def _url_values(self) -> dict[str, str]:
        """The list's filters, sort and page as the address's query (defaults left out),
        the inverse of `_query_from_url`: a reload or a shared link shows the same list."""
        return {
            "scope": "" if self.scope == "mine" else self.scope,
            "status": "" if self.status == "all" else self.status,
            "search": self.search,
            "period": self.period,
            "owner": self.owner,
            "team": self.team,
            "stale": "1" if self.stale_only else "",
            "due": self.due_within,
            "confidence": self.confidence,
            "sort": "" if self.sort == "due_date" and not self.descending else self.sort,
            "desc": "1" if self.descending else "",
            "page": "" if self.page == 1 else str(self.page),
        }

    def _load(self, menus: bool = False, **changes: Any):
        """One page of the list with `changes` to its filters, sort or paging (and, for a
        page load, the filter menus); a refusal leaves the list as it was."""
        self.loaded = True  # sent with the rows (or the refusal): no "none" note before
        with self._signed_in(slot=limits.LIST) as (principal, session):  # it reads a list
            query = _list_query(self._filters() | changes)
            actor = principal.context
            page = goals_service.list_goals(session=session, actor=actor, query=query)
            if menus:  # the filter menus: once per page load, not on every paging step
                periods = cached(
                    session,
                    "goal periods",
                    lambda: goals_service.periods(session=session),
                    tables=goals_service.PERIODS_READ,
                )
                owners, teams = cached(  # kept when goals change (a check-in)
                    session,
                    ("goal people menus", actor.user_id, actor.role),
                    lambda: _people_menus(session, actor),
                    tables=(*goals_service.OWNERS_READ, *people_service.MENUS_READ),
                )
        if menus:
            self.periods, self.teams = list(periods), list(teams)  # copies: never the cache's
            self.owners = [{"id": o.id, "name": o.name} for o in owners]
        self.error = ""
        self.rows = [goal_list_row(row) for row in page.rows]
        self.total, self.page, self.pages = page.total, page.page, page.pages
        self.sort, self.descending, self.scope = query.sort, query.descending, query.scope
        self.status, self.search = query.status or "all", query.search
        self.period, self.stale_only = query.period, query.stale_only
        self.due_within = "" if query.due_within_days is None else str(query.due_within_days)
        self.confidence = query.confidence or ""
        self.owner = str(query.owner_id) if query.owner_id else ""
        self.team = query.team
        # the address follows the list (no navigation, no second load)
        return show_in_address(self.router.url.path, self._url_values())

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

    @event
    def export_csv(self, name: str = "goals"):
        """Download the whole list with its filters (goals, key-results or check-ins) from
        the streaming export route, which checks the session and permissions itself; a
        refusal it would give now is said here, not as a failed download."""
        with self._signed_in() as (principal, session):
            if name not in GOAL_EXPORTS:
                raise GoalError("That export is not available.")
            filters = _list_query(self._filters()).model_dump(exclude={"page", "page_size"})
            return checked_export_download(
                session=session, actor=principal.context, name=name, filters=filters
            )

    @event
    def load(self):
        """on_load: filters come from the URL, so charts elsewhere can link to a filtered list."""
        self.sort, self.descending, self.scope, self.status = "due_date", False, "mine", "all"
        self.search = self.period = self.due_within = self.confidence = ""
        self.owner = self.team = ""
        self.stale_only = False
        return self._load(menus=True, **self._query_from_url())

    @event
    def set_scope(self, scope: str | list[str]):
        return self._load(scope=scope if isinstance(scope, str) else "", page=1)

    @event
    def filter_status(self, status: str | list[str]):
        return self._load(status=status if isinstance(status, str) else "", page=1)

    @event
    def filter_period(self, period: str):
        return self._load(period="" if period == "all" else str(period), page=1)

    @event
    def filter_owner(self, owner: str):
        """An owner from the menu ("all" for anyone); the service only ever lists goals the
        viewer may see, so a foreign id just finds nothing."""
        return self._load(owner_id=None if owner == "all" else str(owner)[:40], page=1)

    @event
    def filter_team(self, team: str):
        return self._load(team="" if team == "all" else str(team), page=1)

    @event
    def toggle_stale(self, value: bool):
        return self._load(stale_only=bool(value), page=1)

    @event
    def clear_filters(self):
        return self._load(
            status="all", search="", period="", stale_only=False, due_within_days=None,
            confidence=None, owner_id=None, team="", page=1,
        )  # fmt: skip

    @event
    def search_titles(self, form: dict[str, Any]):
        return self._load(search=str(form.get("search", "")), page=1)

    @event
    def sort_by(self, column: str):
        descending = not self.descending if column == self.sort else False
        return self._load(sort=column, descending=descending, page=1)


def _people_menus(session: TenantSession, actor: TenantContext) -> tuple[Any, ...]:
    """The goal list's menus of people as `actor` may use them: owners, teams."""
    return (
        goals_service.owner_options(session=session, actor=actor),
        people_service.teams(session=session, actor=actor),
    )


def _list_query(values: dict[str, Any]) -> GoalListQuery:
    """The list's query, or GoalError for a filter or sort the page does not have."""
    try:
        return GoalListQuery(**values)
    except ValidationError:
        raise GoalError(NO_SUCH_FILTER) from None


M = TypeVar("M", bound=BaseModel)


def _parsed(
    model: type[M], *, prefix: str = "", labels: dict[str, str] | None = None, **values: Any
) -> M:
    """A form's values as `model`, or GoalError naming the first problem and the input it is
    about (`prefix` + the model's field name)."""
    try:
        return model(**values)
    except ValidationError as err:
        field = validation_field(err)
        raise GoalError(
            validation_message(err, labels, limit=1), field=f"{prefix}{field}" if field else None
        ) from None


def _decimal(value: Any, label: str, field: str | None = None) -> Decimal | None:
    """A number typed in a form ("" is None), or GoalError about `field` in people's words."""
    text = str(value or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise GoalError(f"{label}: '{text[:20]}' is not a number.", field=field) from None


def _or(value: Decimal | None, default: Decimal) -> Decimal:
    """`value`, or `default` when nothing was typed (a typed 0 stays 0, to be judged)."""
    return default if value is None else value


# The words for a key-result row's inputs, after "Key result N".
KR_FIELDS = {"title": "", "start_value": " start", "target_value": " target",
             "current_value": " current", "unit": " unit", "weight": " weight"}  # fmt: skip
# The goal form's inputs a refusal may go beside: its own fields and each key-result row.
GOAL_FORM_FIELDS = frozenset(
    ("title", "description", "owner_id", "parent_id", "period", "start_date", "due_date",
     "weight", "status", *(f"key_results.{i}" for i in range(KR_SLOTS)))
)  # fmt: skip
ID_FIELDS = {IdKind.parent: "parent_id", IdKind.owner: "owner_id"}  # ids the form sends


def goal_form_refusal(err: UserError) -> tuple[str, str]:
    """A goal form's refusal: its words, and the input they go beside ("" for the whole
    form: a field the form does not have never picks an element)."""
    return form_refusal(err, GOAL_FORM_FIELDS, ID_FIELDS)


def _kr_labels(row: int, at: str = "") -> dict[str, str]:
    """Key-result row `row`'s inputs as people name them ("Key result 2 target"), by field
    name or (`at`: "key_results.0.") by dotted path."""
    return {f"{at}{f}": f"Key result {row + 1}{words}" for f, words in KR_FIELDS.items()}


def _key_result(form: dict[str, Any], i: int) -> KeyResultInput | None:
    """Key-result row `i` of the goal form (None when empty); one with numbers but no
    title is refused, never dropped."""
    title = str(form.get(f"kr_title_{i}", "")).strip()
    typed = [str(form.get(f"kr_{f}_{i}", "")).strip() for f in ("start", "target", "current")]
    if not title and not any(typed):
        return None
    labels = _kr_labels(i)

    def number(name: str) -> Decimal | None:
        field = f"{name}_value"
        return _decimal(form.get(f"kr_{name}_{i}"), labels[field], f"key_results.{i}.{field}")

    kr_id = str(form.get(f"kr_id_{i}", "")).strip()
    return _parsed(
        KeyResultInput,
        prefix=f"key_results.{i}.",
        labels=labels,
        id=kr_id or None,  # ids are resolved (or refused) by the service
        title=title,
        start_value=number("start") or Decimal(0),
        target_value=number("target"),
        current_value=number("current"),
        unit=str(form.get(f"kr_unit_{i}", "")),
    )


def goal_input_from_form(form: dict[str, Any]) -> GoalInput:
    """The goal form's fields (strings from the browser) as a validated GoalInput; GoalError
    with the first problem and the input it is about (a key result's: its form row)."""
    rows = {i: kr for i in range(KR_SLOTS) if (kr := _key_result(form, i)) is not None}
    at = {f"key_results.{n}": f"key_results.{i}" for n, i in enumerate(rows)}  # list -> row
    parent = str(form.get("parent_id", "") or NO_PARENT)
    owner = str(form.get("owner_id", "") or "")
    try:
        return _parsed(
            GoalInput,
            labels={
                k: v
                for n, i in enumerate(rows)
                for k, v in _kr_labels(i, f"key_results.{n}.").items()
            },
            title=str(form.get("title", "")),
            description=str(form.get("description", "")),
            owner_id=owner if owner and owner != "me" else None,
            parent_id=None if parent == NO_PARENT else parent,
            period=str(form.get("period", "")),
            start_date=form.get("start_date") or None,  # type: ignore[arg-type]
            due_date=form.get("due_date") or None,  # type: ignore[arg-type]
            weight=_or(_decimal(form.get("weight"), "Weight", "weight"), Decimal(1)),
            status=str(form.get("status", "active") or "active"),  # type: ignore[arg-type]
            key_results=list(rows.values()),
        )
    except GoalError as err:
        row = field_in(err.field, at)
        field = at[row] + (err.field or "")[len(row) :] if row else err.field
        raise GoalError(str(err), field=field) from None


class GoalFormState(SessionState):
    """The create-goal dialog: options for owner and parent, and the submit."""

    open: bool = False
    error: str = ""
    error_field: str = ""  # the input the refusal is about ("" for the whole form)
    owners: list[dict[str, str]] = []
    parents: list[dict[str, str]] = []

    def _refused(self, err: UserError) -> None:
        """What was typed stays; the words go beside the input they are about."""
        self.error, self.error_field = goal_form_refusal(err)

    @event
    def open_form(self):
        with self._signed_in() as (principal, session):
            actor = principal.context
            owners = goals_service.owner_options(session=session, actor=actor)
            parents = goals_service.parent_options(session=session, actor=actor, limit=50)
        self.owners = [{"id": o.id, "name": o.name} for o in owners]
        self.parents = [{"id": p.id, "label": f"{p.title} · {p.owner}"} for p in parents]
        self.error = self.error_field = ""
        self.open = True
        return None

    @event
    def close_form(self):
        self.open = False
        self.error = self.error_field = ""

    @event
    def set_open(self, value: bool):
        self.open = bool(value)

    @event
    def create(self, form: dict[str, Any]):
        with self._signed_in() as (principal, session):
            data = goal_input_from_form(form)
            goal_id = goals_service.create_goal(session=session, actor=principal.context, data=data)
        self.open = False
        self.error = self.error_field = ""
        return rx.redirect(f"/goals/{goal_id}")


class GoalDetailState(SessionState):
    """One goal: key results, check-ins, alignment; check in, edit, archive."""

    goal: rx.Field[GoalDetailRow] = record_var(GoalDetailRow)
    key_results: rx.Field[list[KeyResultRow]] = rx.field(default_factory=list)
    check_ins: list[CheckInRow] = []
    children: list[GoalLinkRow] = []
    ancestors: list[GoalLinkRow] = []
    tree: list[GoalTreeRow] = []
    found: bool = False
    error: str = ""
    notice: str = ""
    check_in_error: str = ""
    check_in_field: str = ""  # the input the refusal is about ("" for the whole form)
    check_in_round: int = 0  # a new round after each saved check-in: the form starts afresh
    editing: bool = False
    edit_error: str = ""  # the edit form's refusal, beside the input it is about
    edit_field: str = ""
    parents: list[dict[str, str]] = []

    def _goal_id(self) -> str:
        return str(self.rx_router_page.params.get("goal_id", ""))

    def _refresh(self, session: Any, actor: Any, *, below: bool = True) -> None:
        """The goal as it now is (in the event's transaction, after any change); without
        `below`, what is below it stays as shown (a check-in changes only the goal and the
        goals above it)."""
        detail = goals_service.goal_detail(
            session=session,
            actor=actor,
            goal_id=self._goal_id(),
            tree_nodes=TREE_NODES,
            below=below,
        )
        row = goal_detail_row(detail)
        if not below:
            row["progress_source"] = self.goal.get("progress_source", row["progress_source"])
        self.goal = row
        self.key_results = [key_result_row(kr) for kr in detail.key_results]
        self.check_ins = [check_in_row(c, zone=self.time_zone) for c in detail.check_ins]
        self.ancestors = [goal_link_row(link) for link in detail.ancestors]
        if below:
            self.children = [goal_link_row(link) for link in detail.children]
            self.tree = [goal_tree_row(node) for node in detail.tree[1:]]
        self.found = True

    def _clear(self) -> None:
        self.goal, self.key_results, self.check_ins = nothing(GoalDetailRow), [], []
        self.children, self.ancestors, self.tree = [], [], []
        self.found = False

    def _not_shown(self, err: UserError) -> None:
        """The goal is not one the viewer may see (or not found): nothing of it stays."""
        self._clear()
        shared = isinstance(err, NotFoundHere) or not isinstance(err, PermissionDenied)
        self.error = str(err) if shared else f"{err} The goal is not shared with you."

    def _check_in_refused(self, err: UserError) -> None:
        """The form keeps what was typed; the message goes beside the input it is about."""
        self.check_in_error = str(err)
        field = (err.field or "").replace("key_results.", "kr_", 1)
        known = {"progress", "note", "confidence"} | {f"kr_{k['id']}" for k in self.key_results}
        self.check_in_field = field_in(field, known)

    def _edit_refused(self, err: UserError) -> None:
        """The edit form keeps what was typed; the words go beside the input they are about."""
        self.edit_error, self.edit_field = goal_form_refusal(err)

    @event
    def load(self):
        self.error = self.notice = self.check_in_error = self.check_in_field = ""
        self.edit_error = self.edit_field = ""
        self.editing = False
        with self._signed_in(self._not_shown, by_key=True) as (principal, session):
            self._refresh(session, principal.context)
        return None

    @event
    def submit_check_in(self, form: dict[str, Any]):
        with self._signed_in(self._check_in_refused, by_key=True) as (principal, session):
            values = {}
            for kr in self.key_results:
                name = f"kr_{kr['id']}"
                value = _decimal(form.get(name), kr["title"], name)
                if value is not None:
                    values[uuid.UUID(kr["id"])] = value
            data = _parsed(
                CheckInInput,
                confidence=str(form.get("confidence", "") or "on_track"),
                note=str(form.get("note", "")),
                progress=_decimal(form.get("progress"), "Progress", "progress"),
                key_results=values,
            )
            actor = principal.context
            goals_service.check_in(session=session, actor=actor, goal_id=self._goal_id(), data=data)
            self._refresh(session, actor, below=False)
        self.check_in_error = self.check_in_field = ""
        self.check_in_round += 1
        self.notice = "Check-in saved."
        return None

    @event
    def start_edit(self):
        with self._signed_in() as (principal, session):
            parents = goals_service.parent_options(
                session=session, actor=principal.context, limit=50
            )
        self.parents = [
            {"id": p.id, "label": f"{p.title} · {p.owner}"}
            for p in parents
            if p.id != self.goal.get("id")
        ]
        self.editing = True
        self.error = self.edit_error = self.edit_field = ""
        return None

    @event
    def cancel_edit(self):
        self.editing = False
        self.error = self.edit_error = self.edit_field = ""

    @event
    def save_edit(self, form: dict[str, Any]):
        with self._signed_in(self._edit_refused, by_key=True) as (principal, session):
            data = goal_input_from_form(form)
            actor = principal.context
            goals_service.update_goal(
                session=session, actor=actor, goal_id=self._goal_id(), data=data
            )
            self._refresh(session, actor)
        self.editing = False
        self.error = self.edit_error = self.edit_field = ""
        self.notice = "Goal saved."
        return None

    @event
    def archive(self):
        with self._signed_in(by_key=True) as (principal, session):
            actor = principal.context
            goals_service.archive_goal(session=session, actor=actor, goal_id=self._goal_id())
            self._refresh(session, actor)
        self.notice = "Goal archived."
        return None
