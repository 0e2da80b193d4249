"""The cycles page: a thin state over the review services — cycle list and administration,
a cycle's status, charts and nine-box, calibration and peer nominations. The rules of
`states.reviews` hold here too: every id a handler receives goes as it came to a service,
which resolves it in the tenant and decides access."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import reflex as rx

from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource
from pms_dashboard.auth.resolve import IdKind, parse_id, resolve, resolve_all
from pms_dashboard.errors import UserError
from pms_dashboard.reviews import calibration, common, peers, templates
from pms_dashboard.reviews import cycles as review_cycles
from pms_dashboard.reviews.schemas import MAX_PEERS
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import TenantSession
from pms_dashboard.ui.format import number
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.reviews import ReviewsBase
from pms_dashboard.ui.states.rows import (
    CountRow,
    CycleListRow,
    HistoryRow,
    NineBoxRow,
    StatusListRow,
    count_rows,
    cycle_row,
    history_row,
    ninebox_row,
    nothing,
    record_var,
    status_row,
)
from pms_dashboard.ui.states.session import form_refusal
from pms_dashboard.ui.urls import checked_export_download, page_in_address, show_in_address

KEEP = "keep"
# The cycle form's inputs: name -> the most characters kept of what was typed.
CYCLE_INPUTS = {"name": 400, "template_id": 64, "period_start": 32, "period_end": 32,
                "self_review_due": 32, "manager_review_due": 32, "departments": 4000,
                "teams": 4000, "manager_emails": 8000}  # fmt: skip
# The fields a cycle refusal may go beside (as the service names them), and the input that
# sent each kind of id or name it may not find.
CYCLE_FORM_FIELDS = frozenset(
    ("name", "template_id", "period_start", "period_end", "self_review_due",
     "manager_review_due", *(f"participants.{k}" for k in ("departments", "teams",
     "manager_emails")))
)  # fmt: skip
CYCLE_IDS = {
    IdKind.template: "template_id",
    IdKind.department: "participants.departments",
    IdKind.team: "participants.teams",
    IdKind.email: "participants.manager_emails",
}
STATUS_PAGE_SIZE = 20
MAX_SELECTED = 50  # checkbox ticks kept (the service allows MAX_PEERS per nomination)


def _text(form: dict[str, Any], key: str, limit: int = 400) -> str:
    value = form.get(key, "")
    return value[:limit] if isinstance(value, str) else ""


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _reviewee_of(session: Any, actor: Any, cycle_id: Any, outcome_id: Any) -> Any:
    """The reviewee of a status row the actor may nominate peers for, else the refusal
    (the ids as the browser sent them: the service resolves them)."""
    targets = peers.nomination_targets(
        session=session, actor=actor, cycle_id=cycle_id, outcome_ids=[outcome_id]
    )
    if len(targets) != 1:
        raise PermissionDenied(Resource.review, Action.manage)
    return uuid.UUID(next(iter(targets.values())))


# What the cycle's Export menu offers: the name it sends -> (export, extra filters).
# What a step that cannot simply be undone will do, said before it is taken.
CONFIRM_TEXT = {
    "launch": (
        "Launching creates {reviews} reviews for {people} people (a self review each and a"
        " manager review from their manager) and opens them for writing. The template and"
        " the rating scale can't be changed afterwards."
    ),
    "calibrate": (
        "Starting calibration ends writing: every review not yet submitted becomes read-only"
        " and ratings can be adjusted. You can reopen writing until a rating is calibrated"
        " or results are shared."
    ),
    "reopen": (
        "Reopening calibration lets people write and submit their reviews again; the cycle"
        " goes back to active."
    ),
    "delete": "Deleting removes this draft cycle for good (it has no reviews yet).",
    "share": (
        "Sharing shows every person with a calibrated rating their result: their rating, its"
        " name on the scale and their manager's summary. Once seen it can't be taken back,"
        " and their ratings can no longer be adjusted."
    ),
    "close": (
        "Closing ends calibration: no rating can be adjusted and writing can't be reopened."
        " Results can still be shared afterwards."
    ),
}

# The steps a confirmation may take: the service and what the page says when it is done.
CYCLE_STEPS: dict[str, tuple[Callable[..., Any], Callable[[Any], str]]] = {
    "launch": (
        review_cycles.launch_cycle,
        lambda r: f"Launched: {r.participants} people, {r.reviews} reviews.",
    ),
    "calibrate": (review_cycles.start_calibration, lambda _: "Calibration started."),
    "reopen": (review_cycles.reopen_calibration, lambda _: "Calibration reopened."),
    "delete": (review_cycles.delete_cycle, lambda name: f"Draft cycle “{name}” deleted."),
    "share": (calibration.share_results, lambda n: f"Shared {n} results with their people."),
    "close": (review_cycles.close_cycle, lambda _: "Cycle closed."),
}

CYCLE_EXPORTS: dict[str, tuple[str, dict[str, str]]] = {
    "reviews": ("reviews", {}),
    "summary-department": ("cycle-summary", {"by": "department"}),
    "summary-manager": ("cycle-summary", {"by": "manager"}),
}


class CyclesState(ReviewsBase):
    """Cycle list and administration, a cycle's status (paged), funnel, distribution and
    nine-box, and the calibration dialog."""

    cycles: list[CycleListRow] = []
    templates: list[dict[str, str]] = []  # id, name
    can_manage: bool = False  # only to choose what to offer; the services decide
    scale_options: list[dict[str, str]] = []
    # The selected cycle.
    cycle_id: str = ""
    cycle: rx.Field[CycleListRow] = record_var(CycleListRow)
    status_rows: list[StatusListRow] = []
    status_page: int = 1
    status_pages: int = 1
    status_total: int = 0
    funnel: rx.Field[list[CountRow]] = rx.field(default_factory=list)
    distribution: rx.Field[list[CountRow]] = rx.field(default_factory=list)
    ninebox: list[NineBoxRow] = []
    unplaced: int = 0
    # The calibration dialog.
    adjust_open: bool = False
    adjust_outcome_id: str = ""
    adjust_name: str = ""
    history: list[HistoryRow] = []
    # source, score, label: the scores the calibrator weighs
    adjust_scores: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    # The peer nomination dialog.
    confirm_step: str = ""  # the step a confirmation asks about ("" while none does)
    confirm_cycle_id: str = ""
    confirm_text: str = ""

    # The draft being edited in the cycle form ("" while the form creates a new cycle), and
    # its values as the form's inputs start (a new key shows them).
    editing_cycle_id: str = ""
    draft: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    form_key: int = 0
    cycle_error: str = ""  # a refusal of the cycle form about one input, beside it
    cycle_field: str = ""  # that input's field (`CYCLE_FORM_FIELDS`; "" while none)

    nominate_open: bool = False
    nominate_outcome_id: str = ""
    nominate_name: str = ""
    # whom the actor may pick (id, name), and the ticked ids as the browser sent them
    nominate_candidates: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    nominate_selected: rx.Field[list[str]] = rx.field(default_factory=list)

    def _reset_view(self) -> None:
        super()._reset_view()
        self.cycles, self.templates, self.scale_options = [], [], []
        self.can_manage = False
        self._clear_detail()
        self._stop_editing()

    def _clear_detail(self) -> None:
        self.cycle_id, self.cycle = "", nothing(CycleListRow)
        self.status_rows, self.funnel, self.distribution, self.ninebox = [], [], [], []
        self.scale_options = []
        self.status_page = self.status_pages = 1
        self.status_total = self.unplaced = 0
        self._clear_adjust()
        self._clear_nominate()

    def _clear_adjust(self) -> None:
        self.adjust_open, self.adjust_outcome_id, self.adjust_name = False, "", ""
        self.history, self.adjust_scores = [], []

    def _clear_nominate(self) -> None:
        self.nominate_open, self.nominate_outcome_id, self.nominate_name = False, "", ""
        self.nominate_candidates, self.nominate_selected = [], []

    def _detail_refused(self, err: UserError) -> Any:
        """A cycle that is not found or not the viewer's: nothing of it stays shown (nor in
        the address)."""
        self._clear_detail()
        self._refused(err)
        return self._address()

    def _address(self) -> Any:
        """The open cycle and its status page in the address (a reload or a shared link
        opens the same), nothing while no cycle is open."""
        page = "" if self.status_page == 1 or not self.cycle_id else str(self.status_page)
        return show_in_address(self.router.url.path, {"cycle": self.cycle_id, "page": page})

    def _list(self, session: TenantSession, actor: TenantContext) -> None:
        manage = review_cycles.can_manage_cycles(session=session, actor=actor)
        cycles = review_cycles.list_cycles(session=session, actor=actor)
        offered = templates.list_templates(session=session, actor=actor) if manage else []
        self.cycles = [cycle_row(c, zone=self.time_zone) for c in cycles]
        self.templates = [{"id": t.id, "name": t.name} for t in offered]
        self.can_manage = manage

    def _detail(
        self, session: TenantSession, actor: TenantContext, cycle_id: Any, page: int = 1
    ) -> None:
        """The cycle's status page `page`, funnel, distribution and nine-box into vars (run
        in `_signed_in(self._detail_refused)`: a refused cycle clears them)."""
        cid = resolve(session=session, actor=actor, kind=IdKind.cycle, raw=cycle_id)
        status = calibration.cycle_status(
            session=session,
            actor=actor,
            cycle_id=cid,
            query={"page": page, "page_size": STATUS_PAGE_SIZE},
        )
        targets = peers.nomination_targets(
            session=session,
            actor=actor,
            cycle_id=cid,
            outcome_ids=[uuid.UUID(r.outcome_id) for r in status.page.rows],
        )
        cycle = review_cycles.get_cycle(session=session, actor=actor, cycle_id=cid)
        box = calibration.ninebox(session=session, actor=actor, cycle_id=cid)
        options = common.scale_options(session=session, cycle_id=cid)  # the cycle's own
        nominable = set(targets)  # the rows to offer "Nominate peers" on (no ids kept)
        self.cycle_id, self.cycle = cycle.id, cycle_row(cycle, zone=self.time_zone)
        self.status_rows = [
            status_row(r, can_nominate=r.outcome_id in nominable) for r in status.page.rows
        ]
        self.status_page, self.status_pages = status.page.page, status.page.pages
        self.status_total = status.page.total
        self.funnel = count_rows((n.replace("_", " "), c) for n, c in status.funnel)
        self.distribution = count_rows(status.distribution)
        self.ninebox = [ninebox_row(c) for c in box.cells]
        self.unplaced = box.unplaced
        self.scale_options = options

    @event
    def load(self):
        with self._signed_in(self._detail_refused) as (principal, session):
            self.error = self.notice = ""
            self._list(session, principal.context)
            # ?cycle=<id>&page=<n> (a reload, a shared link, the overview's charts) opens
            # that cycle at that status page; the service resolves the id and decides
            # whether the viewer may see it, like any id from the browser.
            params = self.router.url.query_parameters
            linked = str(params.get("cycle", ""))[:64]
            selected = linked or self.cycle_id
            if selected:
                page = page_in_address(params) if linked else self.status_page
                self._detail(session, principal.context, selected, page)
        return self._address()

    @event
    def select_cycle(self, cycle_id: str):
        self.notice = ""
        with self._signed_in(self._detail_refused) as (principal, session):
            self._detail(session, principal.context, cycle_id)
        self.error = ""
        return self._address()

    @event
    def close_cycle_detail(self):
        self._clear_detail()
        return self._address()

    @event
    def export_csv(self, name: str):
        """Download the selected cycle's reviews or summary from the streaming export route
        (which checks the session and the cycle's permissions itself); a refusal it would
        give now is said here, not as a failed download."""
        with self._signed_in() as (principal, session):
            wanted = CYCLE_EXPORTS.get(name)
            if not self.cycle_id or wanted is None:
                self.error = "That export is not available."
                return None
            export, extra = wanted
            filters = {"cycle_id": self.cycle_id, **extra}  # resolved again by the export
            return checked_export_download(
                session=session, actor=principal.context, name=export, filters=filters
            )

    def _page(self, page: int):
        with self._signed_in(self._detail_refused) as (principal, session):
            if self.cycle_id:
                self._detail(session, principal.context, self.cycle_id, max(1, page))
        return self._address()

    @event
    def status_next(self):
        return self._page(self.status_page + 1)

    @event
    def status_prev(self):
        return self._page(self.status_page - 1)

    def _cycle_action(self, cycle_id: Any, fn: Callable[..., Any], done: Callable[[Any], str]):
        """One change to a cycle, then the list and the open cycle as they now are."""
        with self._signed_in() as (principal, session):
            actor = principal.context
            got = fn(session=session, actor=actor, cycle_id=cycle_id)
            cid = parse_id(cycle_id)  # a well-formed id of the tenant: the service found it
            self._list(session, actor)
            if self.cycle_id == str(cid):
                self._detail(session, actor, cid, self.status_page)
        self.error, self.notice = "", done(got)
        return None

    @event
    def launch(self, cycle_id: str):
        return self._cycle_action(cycle_id, *CYCLE_STEPS["launch"])

    @event
    def start_calibration(self, cycle_id: str):
        return self._cycle_action(cycle_id, *CYCLE_STEPS["calibrate"])

    @event
    def reopen_calibration(self, cycle_id: str):
        return self._cycle_action(cycle_id, *CYCLE_STEPS["reopen"])

    @event
    def ask(self, step: str, cycle_id: str):
        """Say what a step that cannot simply be undone will do, before it is taken."""
        if step not in CONFIRM_TEXT:
            self.error = "That step is not available."
            return None
        text = CONFIRM_TEXT[step]
        if step == "launch":
            with self._signed_in() as (principal, session):
                got = review_cycles.launch_preview(
                    session=session, actor=principal.context, cycle_id=cycle_id
                )
            text = text.format(reviews=got.reviews, people=got.participants)
        self.confirm_step, self.confirm_cycle_id, self.confirm_text = step, cycle_id, text
        return None

    @event
    def confirm_open_change(self, value: bool):
        if not value:
            self.confirm_step = self.confirm_cycle_id = self.confirm_text = ""

    @event
    def cancel_confirm(self):
        self.confirm_step = self.confirm_cycle_id = self.confirm_text = ""

    @event
    def confirm(self):
        """Take the step the open confirmation asked about."""
        step, cycle_id = self.confirm_step, self.confirm_cycle_id
        self.confirm_step = self.confirm_cycle_id = self.confirm_text = ""
        if step not in CYCLE_STEPS:
            return None
        if step == "delete":  # nothing of it stays open (nor in the address)
            if self.cycle_id == cycle_id:
                self._clear_detail()
            if self.editing_cycle_id == cycle_id:
                self._stop_editing()
            self._cycle_action(cycle_id, *CYCLE_STEPS[step])
            return self._address()
        return self._cycle_action(cycle_id, *CYCLE_STEPS[step])

    def _stop_editing(self) -> None:
        self.editing_cycle_id, self.draft = "", {}
        self.cycle_error = self.cycle_field = ""
        self.form_key += 1

    def _cycle_form_refused(self, err: UserError) -> None:
        """What was typed stays in the browser (the form is not drawn afresh); the words go
        beside the input they are about, or in the page's callout when about no one input."""
        message, field = form_refusal(err, CYCLE_FORM_FIELDS, CYCLE_IDS)
        self.cycle_error, self.cycle_field = (message, field) if field else ("", "")
        self.error, self.notice = ("", "") if field else (message, "")

    @event
    def edit_cycle(self, cycle_id: str):
        """Fill the cycle form with a draft's values, to change them."""
        with self._signed_in() as (principal, session):
            actor = principal.context
            got = review_cycles.get_draft(session=session, actor=actor, cycle_id=cycle_id)
        self.editing_cycle_id, self.error, self.notice = got.id, "", ""
        self.cycle_error = self.cycle_field = ""
        self.draft = {
            "name": got.name,
            "template_id": got.template_id,
            "period_start": got.period_start.isoformat(),
            "period_end": got.period_end.isoformat(),
            "self_review_due": got.self_review_due.isoformat() if got.self_review_due else "",
            "manager_review_due": (
                got.manager_review_due.isoformat() if got.manager_review_due else ""
            ),
            "departments": ", ".join(got.departments),
            "teams": ", ".join(got.teams),
            "manager_emails": ", ".join(got.manager_emails),
        }
        self.form_key += 1
        return None

    @event
    def cancel_edit(self):
        self._stop_editing()

    @event
    def close_cycle(self, cycle_id: str):
        return self._cycle_action(cycle_id, *CYCLE_STEPS["close"])

    @event
    def share(self, cycle_id: str):
        return self._cycle_action(cycle_id, *CYCLE_STEPS["share"])

    @event
    def create_cycle(self, form: dict[str, Any]):
        # A refusal leaves `form_key` as it is: the inputs are not drawn afresh, so the
        # browser keeps what was typed (never copied into the state: an id or name typed
        # there may be another organisation's, and the state must not hold it).
        typed = {name: _text(form, name, most) for name, most in CYCLE_INPUTS.items()}
        who = ("departments", "teams", "manager_emails")
        data: dict[str, Any] = {k: v for k, v in typed.items() if k not in who}
        data["participants"] = {k: _csv(typed[k]) for k in who}
        editing = self.editing_cycle_id
        with self._signed_in(self._cycle_form_refused) as (principal, session):
            actor = principal.context
            if editing:
                got = review_cycles.update_cycle(
                    session=session, actor=actor, cycle_id=editing, data=data
                )
            else:
                got = review_cycles.create_cycle(session=session, actor=actor, data=data)
            self._list(session, actor)
            if editing and self.cycle_id == got.id:
                self._detail(session, actor, got.id, self.status_page)
        self._stop_editing()
        done = "saved" if editing else "created as a draft"
        self.error, self.notice = "", f"Cycle “{got.name}” {done}."
        return None

    @event
    def create_template(self, form: dict[str, Any]):
        """Criteria arrive one per line as `name` or `name; weight`."""
        criteria = []
        for line in _text(form, "criteria", 20_000).splitlines():
            name, _, weight = line.partition(";")
            if name.strip():
                criteria.append({"name": name.strip(), "weight": weight.strip() or "1"})
        data = {"name": _text(form, "template_name"), "criteria": criteria}
        with self._signed_in() as (principal, session):
            got = templates.create_template(session=session, actor=principal.context, data=data)
            self._list(session, principal.context)
        self.error, self.notice = "", f"Template “{got.name}” created."
        return None

    @event
    def open_adjust(self, outcome_id: str):
        self._clear_adjust()
        with self._signed_in() as (principal, session):
            got, scores = calibration.calibration_dialog(
                session=session, actor=principal.context, outcome_id=outcome_id
            )
        oid = parse_id(outcome_id)  # a well-formed id of the tenant: the service found it
        self.error = ""
        self.history = [history_row(h, zone=self.time_zone) for h in got]
        self.adjust_scores = [
            {"source": s.source, "score": number(s.score), "label": s.label} for s in scores
        ]
        self.adjust_outcome_id = str(oid)
        wanted = str(oid)
        shown = [r["reviewee_name"] for r in self.status_rows if r["outcome_id"] == wanted]
        shown += [p["name"] for c in self.ninebox for p in c["people"] if p["outcome_id"] == wanted]
        if shown:
            self.adjust_name = shown[0]
        self.adjust_open = True
        return None

    @event
    def adjust_open_change(self, is_open: bool):
        if not is_open:
            self._clear_adjust()

    @event
    def save_adjust(self, form: dict[str, Any]):
        rating = _text(form, "final_rating", 8)
        potential = _text(form, "potential", 8)
        change = {
            "final_rating": None if rating in ("", KEEP) else rating,
            "potential": None if potential in ("", KEEP) else potential,
            "reason": _text(form, "reason", 4000),
        }
        with self._signed_in() as (principal, session):
            if not self.adjust_outcome_id:
                self.error = "Open a person's calibration first."
                return None
            actor = principal.context
            calibration.adjust_calibration(
                session=session, actor=actor, outcome_id=self.adjust_outcome_id, change=change
            )
            if self.cycle_id:
                self._detail(session, actor, self.cycle_id, self.status_page)
        self.error, self.notice = "", "Calibration saved."
        self._clear_adjust()
        return None

    # ---------------------------------------------------------------- peer nomination

    @event
    def open_nominate(self, outcome_id: str):
        """The dialog for a status row of the selected cycle: whom the actor may pick."""
        self._clear_nominate()
        self.notice = ""
        cid = self.cycle_id  # both resolved by the services, like any id from the browser
        with self._signed_in() as (principal, session):
            actor = principal.context
            reviewee = _reviewee_of(session, actor, cid, outcome_id)
            got = peers.peer_candidates(
                session=session, actor=actor, cycle_id=cid, reviewee_id=reviewee
            )
        self.error = ""
        self.nominate_candidates = got
        oid = parse_id(outcome_id)  # a well-formed id of the tenant: the service found it
        self.nominate_outcome_id = str(oid)
        shown = [r for r in self.status_rows if r["outcome_id"] == str(oid)]
        self.nominate_name = shown[0]["reviewee_name"] if shown else ""
        self.nominate_open = True
        return None

    @event
    def nominate_open_change(self, is_open: bool):
        if not is_open:
            self._clear_nominate()
            self.error = ""

    @event
    def set_peer(self, person_id: str, checked: bool):
        """Local tick of a candidate (a person of the tenant, resolved like any id);
        nothing is stored until Save."""
        with self._signed_in() as (principal, session):
            found = resolve(
                session=session, actor=principal.context, kind=IdKind.peer, raw=person_id
            )
        chosen = [p for p in self.nominate_selected if p != str(found)]
        if checked is True and len(chosen) < MAX_SELECTED:
            chosen.append(str(found))
        self.nominate_selected = chosen
        return None

    @event
    def save_nominate(self):
        with self._signed_in() as (principal, session):
            if not self.nominate_outcome_id:
                self.error, self.notice = "Open a person's peer nomination first.", ""
                return None
            chosen = list(self.nominate_selected)  # resolved when ticked, and by the service
            if not chosen:
                self.error, self.notice = "Choose at least one peer.", ""
                return None
            if len(chosen) > MAX_PEERS:
                self.error, self.notice = f"Choose at most {MAX_PEERS} peers.", ""
                return None
            cid, oid, actor = self.cycle_id, self.nominate_outcome_id, principal.context
            # every id first, before any permission check (the service resolves them again)
            resolve_all(session=session, actor=actor, kind=IdKind.peer, raw=chosen)
            reviewee = _reviewee_of(session, actor, cid, oid)
            got = peers.nominate_peers(
                session=session,
                actor=actor,
                cycle_id=cid,
                reviewee_id=reviewee,
                data={"peer_ids": chosen},
            )
            self._detail(session, actor, cid, self.status_page)
        self._clear_nominate()
        n = len(got)
        self.error, self.notice = "", f"{n} peer review{'' if n == 1 else 's'} requested."
        return None
