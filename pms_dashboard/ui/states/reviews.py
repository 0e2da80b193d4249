"""Reviews and cycles pages: thin states — who is asking, one tenant session, one service
call, plain vars.

Every handler is callable by any browser with any arguments, so: identity comes from the
cookie on each event (`_principal()`), every id a handler receives goes as it came to a
service, which resolves it in the tenant first (`auth.resolve`: a malformed, unknown or
another tenant's id is refused as not found, and audited, the same way everywhere), and the
services decide access. Ids kept in vars (the open review, the selected cycle) are only a
convenience: the services resolve and check them again on every call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import reflex as rx

from pms_dashboard.auth.permissions import Action, PermissionDenied, Resource
from pms_dashboard.auth.resolve import IdKind, parse_id, resolve, resolve_all
from pms_dashboard.auth.service import Principal
from pms_dashboard.reviews import service as reviews
from pms_dashboard.reviews.schemas import MAX_COMMENT, MAX_PEERS, MAX_SUMMARY, ReviewError
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.session import SessionState
from pms_dashboard.ui.urls import checked_export_download

NO_ACCESS = "You do not have access to that."
NOT_SCORED = "none"  # a select cannot hold "", so "not scored" has a value of its own
KEEP = "keep"
STATUS_PAGE_SIZE = 20
MAX_SELECTED = 50  # checkbox ticks kept (the service allows MAX_PEERS per nomination)
_FAILED = object()


def _text(form: dict[str, Any], key: str, limit: int = 400) -> str:
    value = form.get(key, "")
    return value[:limit] if isinstance(value, str) else ""


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _reviewee_of(session: Any, actor: Any, cycle_id: Any, outcome_id: Any) -> Any:
    """The reviewee of a status row the actor may nominate peers for, else the refusal
    (the ids as the browser sent them: the service resolves them)."""
    targets = reviews.nomination_targets(
        session=session, actor=actor, cycle_id=cycle_id, outcome_ids=[outcome_id]
    )
    if len(targets) != 1:
        raise PermissionDenied(Resource.review, Action.manage)
    return uuid.UUID(next(iter(targets.values())))


class _ReviewsBase(SessionState):
    """Shared plumbing: resolve the principal and run one service call in one session."""

    error: str = ""
    notice: str = ""

    def _signed_out(self) -> Any:
        self._forget()
        self._reset_view()
        return rx.redirect("/signin", replace=True)

    def _reset_view(self) -> None:  # overridden: forget everything shown
        self.error = self.notice = ""

    def _run(self, principal: Principal, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """Call one service as the principal; a refusal becomes `error` and `_FAILED`."""
        try:
            with tenant_session(principal.context) as session:
                return fn(session=session, actor=principal.context, **kwargs)
        except PermissionDenied as err:
            self.error = err.message
        except ReviewError as err:
            self.error = str(err)
        self.notice = ""
        return _FAILED

    def _resolved(self, principal: Principal, kind: IdKind, raw: Any) -> Any:
        """One id a local edit names, resolved in the tenant like a service's (so refused
        and audited the same way); `_FAILED` with `error` set when it is not found."""
        return self._run(principal, resolve, kind=kind, raw=raw)


# ---------------------------------------------------------------------------- /reviews


class ReviewsState(_ReviewsBase):
    """My reviews to write, the open review form, and my shared results."""

    my_reviews: list[dict[str, Any]] = []
    shared: list[dict[str, Any]] = []
    scale_options: list[dict[str, str]] = []
    # The open review.
    review_id: str = ""
    review: dict[str, Any] = {}
    ratings: list[dict[str, Any]] = []  # criterion_id, name, description, weight, score, comment
    summary: str = ""
    editable: bool = False
    can_reopen: bool = False  # the review's `may_reopen`: only to offer the button
    # The open results.
    results: dict[str, Any] = {}

    def _reset_view(self) -> None:
        super()._reset_view()
        self.my_reviews, self.shared, self.scale_options = [], [], []
        self._close_form()
        self.results = {}

    def _close_form(self) -> None:
        self.review_id, self.review, self.ratings = "", {}, []
        self.summary, self.editable, self.can_reopen = "", False, False

    def _show_review(self, detail: Any) -> None:
        self.can_reopen = detail.may_reopen
        data = asdict(detail)
        self.review_id = data["id"]
        self.ratings = [
            r | {"score": NOT_SCORED if r["score"] is None else str(r["score"])}
            for r in data.pop("ratings")
        ]
        self.summary = data["summary"]
        self.editable = data["editable"]
        self.review = data

    def _home(self, principal: Principal) -> None:
        def home(*, session: Any, actor: Any) -> tuple[Any, Any, Any]:
            return (
                reviews.list_my_reviews(session=session, actor=actor),
                reviews.list_my_results(session=session, actor=actor),
                reviews.scale_options(session=session),
            )

        got = self._run(principal, home)
        if got is not _FAILED:
            mine, shared, options = got
            self.my_reviews = [asdict(r) for r in mine]
            self.shared = [asdict(r) for r in shared]
            self.scale_options = [{"value": NOT_SCORED, "label": "Not scored"}, *options]

    @rx.event
    def load(self):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        self._show(principal)
        self.error = self.notice = ""
        self._close_form()
        self.results = {}
        self._home(principal)
        return None

    @rx.event
    def open_review(self, review_id: str):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        self._close_form()
        self.results, self.notice = {}, ""
        shown = self._run(principal, reviews.get_review, review_id=review_id)
        if shown is not _FAILED:
            self.error = ""
            self._show_review(shown)
        return None

    @rx.event
    def close_review(self):
        self._close_form()
        self.error = ""

    def _edit(self, criterion_id: Any, field: str, value: str):
        """Local edit of one criterion of the open form (nothing is stored until Save or
        Submit); the criterion is resolved like any id, then must be one of the form's."""
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        found = self._resolved(principal, IdKind.criterion, criterion_id)
        if found is _FAILED:
            return None
        self.ratings = [
            r | {field: value} if r["criterion_id"] == str(found) else r for r in self.ratings
        ]
        return None

    @rx.event
    def set_score(self, criterion_id: str, value: str):
        if not isinstance(value, str) or len(value) > 8:
            return None
        return self._edit(criterion_id, "score", value)

    @rx.event
    def set_comment(self, criterion_id: str, value: str):
        if not isinstance(value, str):
            return None
        # one over the limit: the service explains it
        return self._edit(criterion_id, "comment", value[: MAX_COMMENT + 1])

    @rx.event
    def set_summary(self, value: str):
        if isinstance(value, str):
            self.summary = value[: MAX_SUMMARY + 1]

    def _draft(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "ratings": [
                {
                    "criterion_id": r["criterion_id"],
                    "score": None if r["score"] == NOT_SCORED else r["score"],
                    "comment": r["comment"],
                }
                for r in self.ratings
            ],
        }

    def _write(self, fn: Callable[..., Any], done: str):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        if not self.review_id:
            self.error = "Open a review first."
            return None
        shown = self._run(principal, fn, review_id=self.review_id, draft=self._draft())
        if shown is not _FAILED:
            self.error, self.notice = "", done
            self._show_review(shown)
            self._home(principal)
        return None

    @rx.event
    def save_draft(self):
        return self._write(reviews.save_review, "Draft saved.")

    @rx.event
    def submit_review(self):
        return self._write(reviews.submit_review, "Review submitted.")

    @rx.event
    def reopen_review(self):
        """Un-submit the open review (a report's, as their manager or an admin)."""
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        if not self.review_id:
            self.error, self.notice = "Open a review first.", ""
            return None
        rid = self.review_id

        def reopen(*, session: Any, actor: Any) -> Any:
            reviews.reopen_review(session=session, actor=actor, review_id=rid)
            return reviews.get_review(session=session, actor=actor, review_id=rid)

        shown = self._run(principal, reopen)
        if shown is not _FAILED:
            self.error, self.notice = "", "Review reopened."
            self._show_review(shown)
            self._home(principal)
        return None

    @rx.event
    def open_results(self, cycle_id: str):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        self._close_form()
        self.results, self.notice = {}, ""
        got = self._run(principal, reviews.my_results, cycle_id=cycle_id)
        if got is not _FAILED:
            self.error = ""
            self.results = asdict(got)
        return None

    @rx.event
    def close_results(self):
        self.results = {}


# ----------------------------------------------------------------------------- /cycles


# What the cycle's Export menu offers: the name it sends -> (export, extra filters).
CYCLE_EXPORTS: dict[str, tuple[str, dict[str, str]]] = {
    "reviews": ("reviews", {}),
    "summary-department": ("cycle-summary", {"by": "department"}),
    "summary-manager": ("cycle-summary", {"by": "manager"}),
}


class CyclesState(_ReviewsBase):
    """Cycle list and administration, a cycle's status (paged), funnel, distribution and
    nine-box, and the calibration dialog."""

    cycles: list[dict[str, Any]] = []
    templates: list[dict[str, str]] = []  # id, name
    can_manage: bool = False  # only to choose what to offer; the services decide
    scale_options: list[dict[str, str]] = []
    # The selected cycle.
    cycle_id: str = ""
    cycle: dict[str, Any] = {}
    status_rows: list[dict[str, Any]] = []
    status_page: int = 1
    status_pages: int = 1
    status_total: int = 0
    funnel: list[dict[str, Any]] = []
    distribution: list[dict[str, Any]] = []
    ninebox: list[dict[str, Any]] = []
    unplaced: int = 0
    # The calibration dialog.
    adjust_open: bool = False
    adjust_outcome_id: str = ""
    adjust_name: str = ""
    history: list[dict[str, Any]] = []
    # The peer nomination dialog.
    nominate_open: bool = False
    nominate_outcome_id: str = ""
    nominate_name: str = ""
    nominate_candidates: list[dict[str, str]] = []  # id, name
    nominate_selected: list[str] = []  # the ticked ids, as the browser sent them

    def _reset_view(self) -> None:
        super()._reset_view()
        self.cycles, self.templates, self.scale_options = [], [], []
        self.can_manage = False
        self._clear_detail()

    def _clear_detail(self) -> None:
        self.cycle_id, self.cycle = "", {}
        self.status_rows, self.funnel, self.distribution, self.ninebox = [], [], [], []
        self.status_page = self.status_pages = 1
        self.status_total = self.unplaced = 0
        self._clear_adjust()
        self._clear_nominate()

    def _clear_adjust(self) -> None:
        self.adjust_open, self.adjust_outcome_id, self.adjust_name = False, "", ""
        self.history = []

    def _clear_nominate(self) -> None:
        self.nominate_open, self.nominate_outcome_id, self.nominate_name = False, "", ""
        self.nominate_candidates, self.nominate_selected = [], []

    def _list(self, principal: Principal) -> None:
        def home(*, session: Any, actor: Any) -> tuple[Any, Any, Any, bool]:
            manage = reviews.can_manage_cycles(session=session, actor=actor)
            return (
                reviews.list_cycles(session=session, actor=actor),
                reviews.list_templates(session=session, actor=actor) if manage else [],
                reviews.scale_options(session=session),
                manage,
            )

        got = self._run(principal, home)
        if got is not _FAILED:
            cycles, templates, options, manage = got
            self.cycles = [asdict(c) for c in cycles]
            self.templates = [{"id": t.id, "name": t.name} for t in templates]
            self.can_manage = manage
            self.scale_options = options

    def _detail(self, principal: Principal, cycle_id: Any, page: int = 1) -> bool:
        def detail(*, session: Any, actor: Any) -> tuple[Any, Any, Any, set[str]]:
            cid = resolve(session=session, actor=actor, kind=IdKind.cycle, raw=cycle_id)
            status = reviews.cycle_status(
                session=session,
                actor=actor,
                cycle_id=cid,
                query={"page": page, "page_size": STATUS_PAGE_SIZE},
            )
            targets = reviews.nomination_targets(
                session=session,
                actor=actor,
                cycle_id=cid,
                outcome_ids=[uuid.UUID(r.outcome_id) for r in status.page.rows],
            )
            return (
                reviews.get_cycle(session=session, actor=actor, cycle_id=cid),
                status,
                reviews.ninebox(session=session, actor=actor, cycle_id=cid),
                set(targets),  # the rows to offer "Nominate peers" on (no ids kept)
            )

        got = self._run(principal, detail)
        if got is _FAILED:
            self._clear_detail()
            return False
        cycle, status, box, nominable = got
        self.cycle_id, self.cycle = cycle.id, asdict(cycle)
        self.status_rows = [
            r | {"can_nominate": r["outcome_id"] in nominable} for r in status.page.rows_as_dicts()
        ]
        self.status_page, self.status_pages = status.page.page, status.page.pages
        self.status_total = status.page.total
        self.funnel = [{"name": n.replace("_", " "), "count": c} for n, c in status.funnel]
        self.distribution = [{"name": n, "count": c} for n, c in status.distribution]
        self.ninebox = [asdict(c) for c in box.cells]
        self.unplaced = box.unplaced
        return True

    @rx.event
    def load(self):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        self._show(principal)
        self.error = self.notice = ""
        self._list(principal)
        # ?cycle=<id> (the overview's charts link here) opens that cycle; the service
        # resolves it and decides whether the viewer may see it, like any id from the browser.
        linked = self.router.url.query_parameters.get("cycle", "")
        selected = linked or self.cycle_id
        if selected:
            self._detail(principal, selected, 1 if linked else self.status_page)
        return None

    @rx.event
    def select_cycle(self, cycle_id: str):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        self.notice = ""
        if self._detail(principal, cycle_id):
            self.error = ""
        return None

    @rx.event
    def close_cycle_detail(self):
        self._clear_detail()

    @rx.event
    def export_csv(self, name: str):
        """Download the selected cycle's reviews or summary from the streaming export route
        (which checks the session and the cycle's permissions itself)."""
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        wanted = CYCLE_EXPORTS.get(name)
        if not self.cycle_id or wanted is None:
            self.error = "That export is not available."
            return None
        export, extra = wanted
        filters = {"cycle_id": self.cycle_id, **extra}  # resolved again by the export
        outcome = checked_export_download(principal.context, export, filters)
        if isinstance(outcome, str):  # refused now: say why here, not as a failed download
            self.error = outcome
            return None
        return outcome

    def _page(self, page: int):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        if self.cycle_id:
            self._detail(principal, self.cycle_id, max(1, page))
        return None

    @rx.event
    def status_next(self):
        return self._page(self.status_page + 1)

    @rx.event
    def status_prev(self):
        return self._page(self.status_page - 1)

    def _cycle_action(self, cycle_id: Any, fn: Callable[..., Any], done: Callable[[Any], str]):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        got = self._run(principal, fn, cycle_id=cycle_id)
        if got is _FAILED:
            return None
        cid = parse_id(cycle_id)  # a well-formed id of the tenant: the service found it
        self.error, self.notice = "", done(got)
        self._list(principal)
        if self.cycle_id == str(cid):
            self._detail(principal, cid, self.status_page)
        return None

    @rx.event
    def launch(self, cycle_id: str):
        return self._cycle_action(
            cycle_id,
            reviews.launch_cycle,
            lambda r: f"Launched: {r.participants} people, {r.reviews} reviews.",
        )

    @rx.event
    def start_calibration(self, cycle_id: str):
        return self._cycle_action(
            cycle_id, reviews.start_calibration, lambda _: "Calibration started."
        )

    @rx.event
    def close_cycle(self, cycle_id: str):
        return self._cycle_action(cycle_id, reviews.close_cycle, lambda _: "Cycle closed.")

    @rx.event
    def share(self, cycle_id: str):
        return self._cycle_action(
            cycle_id, reviews.share_results, lambda n: f"Shared {n} results with their people."
        )

    @rx.event
    def create_cycle(self, form: dict[str, Any]):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        if not isinstance(form, dict):
            self.error = "Fill in the form."
            return None
        data = {
            "name": _text(form, "name"),
            "template_id": _text(form, "template_id", 64),
            "period_start": _text(form, "period_start", 32),
            "period_end": _text(form, "period_end", 32),
            "self_review_due": _text(form, "self_review_due", 32),
            "manager_review_due": _text(form, "manager_review_due", 32),
            "participants": {
                "departments": _csv(_text(form, "departments", 4000)),
                "teams": _csv(_text(form, "teams", 4000)),
                "manager_emails": _csv(_text(form, "manager_emails", 8000)),
            },
        }
        got = self._run(principal, reviews.create_cycle, data=data)
        if got is not _FAILED:
            self.error, self.notice = "", f"Cycle “{got.name}” created as a draft."
            self._list(principal)
        return None

    @rx.event
    def create_template(self, form: dict[str, Any]):
        """Criteria arrive one per line as `name` or `name; weight`."""
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        if not isinstance(form, dict):
            self.error = "Fill in the form."
            return None
        criteria = []
        for line in _text(form, "criteria", 20_000).splitlines():
            name, _, weight = line.partition(";")
            if name.strip():
                criteria.append({"name": name.strip(), "weight": weight.strip() or "1"})
        data = {"name": _text(form, "template_name"), "criteria": criteria}
        got = self._run(principal, reviews.create_template, data=data)
        if got is not _FAILED:
            self.error, self.notice = "", f"Template “{got.name}” created."
            self._list(principal)
        return None

    @rx.event
    def open_adjust(self, outcome_id: str):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        self._clear_adjust()
        got = self._run(principal, reviews.calibration_history, outcome_id=outcome_id)
        if got is _FAILED:
            return None
        oid = parse_id(outcome_id)  # a well-formed id of the tenant: the service found it
        self.error = ""
        self.history = [asdict(h) for h in got]
        self.adjust_outcome_id = str(oid)
        shown = [r for r in self.status_rows if r.get("outcome_id") == str(oid)]
        shown += [p for c in self.ninebox for p in c["people"] if p["outcome_id"] == str(oid)]
        if shown:
            self.adjust_name = str(shown[0].get("reviewee_name") or shown[0].get("name") or "")
        self.adjust_open = True
        return None

    @rx.event
    def adjust_open_change(self, is_open: bool):
        if not is_open:
            self._clear_adjust()

    @rx.event
    def save_adjust(self, form: dict[str, Any]):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        if not isinstance(form, dict):
            self.error = "Fill in the form."
            return None
        if not self.adjust_outcome_id:
            self.error = "Open a person's calibration first."
            return None
        oid = self.adjust_outcome_id
        rating = _text(form, "final_rating", 8)
        potential = _text(form, "potential", 8)
        change = {
            "final_rating": None if rating in ("", KEEP) else rating,
            "potential": None if potential in ("", KEEP) else potential,
            "reason": _text(form, "reason", 4000),
        }
        got = self._run(principal, reviews.adjust_calibration, outcome_id=oid, change=change)
        if got is _FAILED:
            return None
        self.error, self.notice = "", "Calibration saved."
        self._clear_adjust()
        if self.cycle_id:
            self._detail(principal, self.cycle_id, self.status_page)
        return None

    # ---------------------------------------------------------------- peer nomination

    @rx.event
    def open_nominate(self, outcome_id: str):
        """The dialog for a status row of the selected cycle: whom the actor may pick."""
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        self._clear_nominate()
        self.notice = ""
        cid = self.cycle_id  # both resolved by the services, like any id from the browser

        def candidates(*, session: Any, actor: Any) -> list[dict[str, str]]:
            reviewee = _reviewee_of(session, actor, cid, outcome_id)
            return reviews.peer_candidates(
                session=session, actor=actor, cycle_id=cid, reviewee_id=reviewee
            )

        got = self._run(principal, candidates)
        if got is _FAILED:
            return None
        self.error = ""
        self.nominate_candidates = got
        oid = parse_id(outcome_id)  # a well-formed id of the tenant: the service found it
        self.nominate_outcome_id = str(oid)
        shown = [r for r in self.status_rows if r.get("outcome_id") == str(oid)]
        self.nominate_name = str(shown[0].get("reviewee_name") or "") if shown else ""
        self.nominate_open = True
        return None

    @rx.event
    def nominate_open_change(self, is_open: bool):
        if not is_open:
            self._clear_nominate()
            self.error = ""

    @rx.event
    def set_peer(self, person_id: str, checked: bool):
        """Local tick of a candidate (a person of the tenant, resolved like any id);
        nothing is stored until Save."""
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        found = self._resolved(principal, IdKind.peer, person_id)
        if found is _FAILED:
            return None
        chosen = [p for p in self.nominate_selected if p != str(found)]
        if checked is True and len(chosen) < MAX_SELECTED:
            chosen.append(str(found))
        self.nominate_selected = chosen
        return None

    @rx.event
    def save_nominate(self):
        principal = self._principal()
        if principal is None:
            return self._signed_out()
        if not self.nominate_outcome_id:
            self.error, self.notice = "Open a person's peer nomination first.", ""
            return None
        peers = list(self.nominate_selected)  # resolved when ticked, and again by the service
        if not peers:
            self.error, self.notice = "Choose at least one peer.", ""
            return None
        if len(peers) > MAX_PEERS:
            self.error, self.notice = f"Choose at most {MAX_PEERS} peers.", ""
            return None
        cid, oid = self.cycle_id, self.nominate_outcome_id

        def nominate(*, session: Any, actor: Any) -> list[str]:
            # every id first, before any permission check (the service resolves them again)
            resolve_all(session=session, actor=actor, kind=IdKind.peer, raw=peers)
            reviewee = _reviewee_of(session, actor, cid, oid)
            return reviews.nominate_peers(
                session=session,
                actor=actor,
                cycle_id=cid,
                reviewee_id=reviewee,
                data={"peer_ids": peers},
            )

        got = self._run(principal, nominate)
        if got is _FAILED:
            return None
        n = len(got)
        self.error, self.notice = "", f"{n} peer review{'' if n == 1 else 's'} requested."
        self._clear_nominate()
        self._detail(principal, cid, self.status_page)
        return None
