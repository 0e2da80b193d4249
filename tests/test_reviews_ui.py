"""Reviews and cycles event handlers called directly, as any browser could: with another
tenant's ids, another team's ids, garbage and no cookie. Nothing changes in the database and
nothing foreign lands in the state's vars."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth.models import User
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.auth.resolve import IdKind, not_found_message
from pms_dashboard.reviews.calibration import adjust_calibration, share_results
from pms_dashboard.reviews.models import (
    CalibrationChange,
    Review,
    ReviewCycle,
    ReviewOutcome,
    ReviewRating,
    ReviewTemplate,
)
from pms_dashboard.reviews.peers import nominate_peers
from pms_dashboard.reviews.writing import weighted_score
from pms_dashboard.tenancy.session import owner_session
from pms_dashboard.ui.states.base import MALFORMED
from pms_dashboard.ui.states.cycles import CyclesState
from pms_dashboard.ui.states.reviews import NO_ACCESS, ReviewsState
from tests.conftest import TEST_PASSWORD, TenantFixture
from tests.test_reviews import (
    Org,
    _build_org,
    _criterion_ids,
    _launched,
    _outcome,
    _review,
    _to_calibration,
    _write,
)
from tests.ui_harness import call, redirects_to, state_for, token_for, vars_text

SECRETS = (
    "Secret Opsperson",
    "other-team-secret-comment",
    "other-team-secret-reason",
    "Globex",
    "globex-secret-comment",
    "globex-secret-reason",
)
GARBAGE: list[Any] = ["garbage", "", "' OR 1=1 --", "0" * 100, 12345, None, str(uuid.uuid4())]
# What a malformed, unknown or another tenant's id gets, by what it was meant to be.
NOT_FOUND = {kind: not_found_message(kind) for kind in IdKind}


def refused_with(bad: Any, message: str) -> str:
    """What the page says: an id that is no string is refused by type before the handler
    runs (the generic message); any string reaches the service, which names the refusal."""
    return message if isinstance(bad, str) else MALFORMED


def _rename(o: Org, names: dict[str, str]) -> None:
    with owner_session() as s:
        for key, name in names.items():
            s.execute(update(User).where(col(User.id) == o.ids[key]).values(display_name=name))


def _snapshot() -> tuple[Any, ...]:
    """Every review row of every tenant, and the audit count (read as the owner)."""
    with owner_session() as s:
        rows = []
        for model in (ReviewTemplate, ReviewCycle, Review, ReviewRating, ReviewOutcome):
            rows.append(
                sorted(repr(sorted(r.model_dump().items())) for r in s.scalars(select(model)))
            )
        rows.append(s.scalar(select(func.count()).select_from(CalibrationChange)))
        rows.append(  # refusals are audited on purpose (access.*); nothing else may appear
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(col(AuditEvent.action).not_like("access.%"))
            )
        )
    return tuple(map(str, rows))


def _token(o: Org, who: str) -> str:
    return token_for(o.t.slug, f"{who}@{o.t.slug}.test", TEST_PASSWORD)


@pytest.fixture
def world(make_tenant: Callable[..., TenantFixture]) -> dict[str, Any]:
    a, b = _build_org(make_tenant()), _build_org(make_tenant())
    _rename(a, {"ops": "Secret Opsperson"})
    _rename(b, {k: f"Globex {k}" for k in ("admin", "hr", "manager", "emp1", "emp2", "ops")})

    # A: a cycle in calibration; the other team's person is calibrated by their manager.
    a_cycle = _launched(a, name="A cycle")
    ops_self = _review(a, a_cycle, "ops", "self")
    _write(a, "ops", ops_self, [3, 3], comments=["other-team-secret-comment", ""])
    _to_calibration(a, a_cycle)
    ops_out = _outcome(a, a_cycle, "ops")
    a.do(
        "other_mgr",
        adjust_calibration,
        outcome_id=ops_out.id,
        change={"final_rating": 5, "potential": 3, "reason": "other-team-secret-reason"},
    )
    # B: a shared result with comments and a calibration reason.
    b_cycle = _launched(b, name="Globex cycle")
    b_self = _review(b, b_cycle, "emp1", "self")
    _write(b, "emp1", b_self, [4, 4], comments=["globex-secret-comment", ""])
    _to_calibration(b, b_cycle)
    b_out = _outcome(b, b_cycle, "emp1")
    b.do(
        "hr",
        adjust_calibration,
        outcome_id=b_out.id,
        change={"final_rating": 4, "potential": 2, "reason": "globex-secret-reason"},
    )
    b.do("hr", share_results, cycle_id=b_cycle)
    b_template = b.read(lambda s: s.scalars(select(col(ReviewTemplate.id))).first())
    return {
        "a": a,
        "b": b,
        "a_cycle": a_cycle,
        "ops_self": ops_self.id,
        "ops_out": ops_out.id,
        "emp1_out": _outcome(a, a_cycle, "emp1").id,
        "b_cycle": b_cycle,
        "b_self": b_self.id,
        "b_out": b_out.id,
        "b_template": b_template,
        "b_criteria": _criterion_ids(b, b_self.id),
        "tokens": {w: _token(a, w) for w in ("admin", "manager", "emp1")},
    }


def _clean(st: Any) -> None:
    text = vars_text(st)
    for secret in SECRETS:
        assert secret not in text, secret


# ------------------------------------------------------------------------- /cycles


CYCLE_ID_HANDLERS = [
    CyclesState.select_cycle,
    CyclesState.launch,
    CyclesState.start_calibration,
    CyclesState.close_cycle,
    CyclesState.share,
    CyclesState.edit_cycle,
]


@pytest.mark.parametrize("handler", CYCLE_ID_HANDLERS, ids=lambda h: h.fn.__name__)
@pytest.mark.parametrize("who", ["admin", "manager"])
def test_cycle_handlers_refuse_foreign_and_garbage_ids(world, handler, who) -> None:
    before = _snapshot()
    for bad in [str(world["b_cycle"]), *GARBAGE]:
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        call(st, handler, bad)
        assert st.error == refused_with(bad, NOT_FOUND[IdKind.cycle]), bad
        assert st.cycle == {} and st.status_rows == [] and st.ninebox == []
        _clean(st)
    assert _snapshot() == before


@pytest.mark.parametrize("handler", CYCLE_ID_HANDLERS[1:], ids=lambda h: h.fn.__name__)
def test_a_manager_cannot_run_their_own_tenants_cycle(world, handler) -> None:
    before = _snapshot()
    st = state_for(CyclesState, world["tokens"]["manager"], "/cycles")
    call(st, handler, str(world["a_cycle"]))
    assert st.error == NO_ACCESS
    assert _snapshot() == before


def test_a_managers_cycle_view_shows_only_their_team(world) -> None:
    st = state_for(CyclesState, world["tokens"]["manager"], "/cycles")
    call(st, CyclesState.load)
    assert [c["name"] for c in st.cycles] == ["A cycle"] and not st.can_manage
    assert st.templates == []
    call(st, CyclesState.select_cycle, str(world["a_cycle"]))
    assert st.error == ""
    assert [r["reviewee_name"] for r in st.status_rows] == ["Employee 1", "Employee 2"]
    assert sum(c["count"] for c in st.ninebox) == 0 and st.unplaced == 2
    assert {f["name"] for f in st.funnel} >= {"not started", "calibrated"}
    _clean(st)
    # Paging with a tampered selected id is refused like any other.
    st.cycle_id = str(world["b_cycle"])
    call(st, CyclesState.status_next)
    assert st.error == NOT_FOUND[IdKind.cycle] and st.status_rows == []
    _clean(st)


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_open_adjust_refuses_foreign_other_team_and_garbage(world, who) -> None:
    before = _snapshot()
    bad_ids = [(str(world["b_out"]), NOT_FOUND[IdKind.outcome])]
    bad_ids += [(g, NOT_FOUND[IdKind.outcome]) for g in GARBAGE]
    if who == "manager":  # the other team's person: found, and not theirs
        bad_ids.append((str(world["ops_out"]), NO_ACCESS))
    for bad, message in bad_ids:
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        call(st, CyclesState.open_adjust, bad)
        assert st.error == refused_with(bad, message), bad
        assert not st.adjust_open and st.history == [] and st.adjust_outcome_id == ""
        _clean(st)
    assert _snapshot() == before


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_save_adjust_refuses_foreign_other_team_and_garbage(world, who) -> None:
    before = _snapshot()
    nothing_open = "Open a person's calibration first."
    bad_ids = [(str(world["b_out"]), NOT_FOUND[IdKind.outcome])]
    bad_ids += [
        (g, nothing_open if g in ("", None) else NOT_FOUND[IdKind.outcome]) for g in GARBAGE
    ]
    if who == "manager":
        bad_ids.append((str(world["ops_out"]), NO_ACCESS))
    form = {"final_rating": "1", "potential": "1", "reason": "hijack attempt"}
    for bad, message in bad_ids:
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        st.adjust_outcome_id = bad  # as if the client had tampered with it
        call(st, CyclesState.save_adjust, form)
        assert st.error == message, bad
        _clean(st)
    for bad_form in (None, "x", ["final_rating"], 5):
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        st.adjust_outcome_id = str(world["emp1_out"])
        call(st, CyclesState.save_adjust, bad_form)
        assert st.error != ""
    assert _snapshot() == before


def test_calibrating_through_the_dialog(world) -> None:
    a = world["a"]
    st = state_for(CyclesState, world["tokens"]["manager"], "/cycles")
    call(st, CyclesState.select_cycle, str(world["a_cycle"]))
    call(st, CyclesState.open_adjust, str(world["emp1_out"]))
    assert st.adjust_open and st.adjust_name == "Employee 1" and st.history == []
    assert st.adjust_scores == []  # emp1 has no submitted review in this cycle
    before = _snapshot()
    call(st, CyclesState.save_adjust, {"final_rating": "4", "potential": "keep", "reason": " "})
    assert "reason" in st.error and st.adjust_open
    assert _snapshot() == before
    call(st, CyclesState.save_adjust, {"final_rating": "4", "potential": "2", "reason": "Solid"})
    assert st.error == "" and not st.adjust_open
    out = _outcome(a, world["a_cycle"], "emp1")
    assert (out.final_rating, out.potential, out.status) == (4, 2, "calibrated")
    cells = [c for c in st.ninebox if c["count"]]
    assert [(c["performance"], c["potential"]) for c in cells] == [("high", 2)]
    call(st, CyclesState.open_adjust, str(world["emp1_out"]))
    assert [h["reason"] for h in st.history] == ["Solid"]
    _clean(st)
    call(st, CyclesState.open_adjust, str(world["ops_out"]))  # another team's: refused
    assert st.error and st.adjust_scores == [] and not st.adjust_open


def test_create_cycle_refuses_another_tenants_template_and_bad_input(world) -> None:
    before = _snapshot()
    form = {
        "name": "Hijack",
        "template_id": str(world["b_template"]),
        "period_start": "2025-01-01",
        "period_end": "2025-03-01",
    }
    for who in ("admin", "manager"):
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        call(st, CyclesState.create_cycle, form)  # the words beside the template input
        assert (st.cycle_error, st.cycle_field) == (NOT_FOUND[IdKind.template], "template_id")
        _clean(st)
    st = state_for(CyclesState, world["tokens"]["admin"], "/cycles")
    for bad in ({**form, "template_id": "garbage"}, {**form, "period_end": "soon"}, None, "x"):
        st.error = st.cycle_error = ""
        call(st, CyclesState.create_cycle, bad)
        assert (st.error or st.cycle_error) != "" and st.notice == ""
    call(st, CyclesState.create_template, {"template_name": "T", "criteria": ""})
    assert "criteria" in st.error.lower()
    assert _snapshot() == before


def test_an_admin_runs_a_cycle_from_the_page(world) -> None:
    a = world["a"]
    st = state_for(CyclesState, world["tokens"]["admin"], "/cycles")
    call(st, CyclesState.load)
    assert st.can_manage
    call(st, CyclesState.create_template, {"template_name": "UI", "criteria": "Craft; 2\nCare"})
    assert st.error == "", st.error
    template_id = next(t["id"] for t in st.templates if t["name"] == "UI")
    form = {
        "name": "UI cycle",
        "template_id": template_id,
        "period_start": "2025-01-01",
        "period_end": "2025-03-01",
        "self_review_due": "",
        "manager_review_due": "2025-03-15",
        "departments": "",
        "teams": "",
        "manager_emails": f"manager@{a.t.slug}.test",
    }
    call(st, CyclesState.create_cycle, form)
    assert st.error == "", st.error
    cycle_id = next(c["id"] for c in st.cycles if c["name"] == "UI cycle")
    call(st, CyclesState.select_cycle, cycle_id)
    call(st, CyclesState.launch, cycle_id)
    assert st.error == "" and "2 people" in st.notice
    assert st.cycle["status"] == "active" and st.status_total == 2
    call(st, CyclesState.launch, cycle_id)
    assert "already been launched" in st.error


# ------------------------------------------------------------------------ /reviews


@pytest.mark.parametrize("who", ["emp1", "manager"])
def test_open_review_refuses_foreign_other_team_and_garbage(world, who) -> None:
    before = _snapshot()
    cases = [(str(world["b_self"]), NOT_FOUND[IdKind.review]), (str(world["ops_self"]), NO_ACCESS)]
    for bad, message in cases + [(g, NOT_FOUND[IdKind.review]) for g in GARBAGE]:
        st = state_for(ReviewsState, world["tokens"][who], "/reviews")
        call(st, ReviewsState.open_review, bad)
        assert st.error == refused_with(bad, message), bad
        assert st.review_id == "" and st.ratings == [] and st.review == {}
        _clean(st)
    assert _snapshot() == before


@pytest.mark.parametrize("handler", [ReviewsState.save_draft, ReviewsState.submit_review])
@pytest.mark.parametrize("who", ["emp1", "manager"])
def test_writing_refuses_tampered_review_ids(world, handler, who) -> None:
    before = _snapshot()
    cases = [
        (str(world["b_self"]), NOT_FOUND[IdKind.review]),
        (str(world["ops_self"]), NOT_FOUND[IdKind.criterion]),  # the ratings are B's
        *[(g, "Open a review first." if g == "" else NOT_FOUND[IdKind.review]) for g in GARBAGE],
    ]
    for bad, message in cases:
        st = state_for(ReviewsState, world["tokens"][who], "/reviews")
        st.review_id = bad if isinstance(bad, str) else str(bad)
        st.ratings = [
            {"criterion_id": c, "score": "1", "comment": "hijack"} for c in world["b_criteria"]
        ]
        call(st, handler)
        assert st.error == message, bad
        _clean(st)
    assert _snapshot() == before


@pytest.mark.parametrize("who", ["emp1", "manager"])
def test_open_results_refuses_foreign_unshared_and_garbage(world, who) -> None:
    before = _snapshot()
    for bad in [str(world["b_cycle"]), str(world["a_cycle"]), *GARBAGE]:
        st = state_for(ReviewsState, world["tokens"][who], "/reviews")
        call(st, ReviewsState.open_results, bad)
        assert st.error != "" and st.results == {}
        if bad != str(world["a_cycle"]):
            assert st.error == refused_with(bad, NOT_FOUND[IdKind.cycle]), bad
        elif who == "manager":  # emp1 takes part, not shared; the manager does not
            assert st.error == NO_ACCESS, bad
        _clean(st)
    assert _snapshot() == before


def test_writing_and_reading_my_review_from_the_page(make_tenant) -> None:
    o = _build_org(make_tenant())
    cycle_id = _launched(o)
    token = _token(o, "emp1")
    st = state_for(ReviewsState, token, "/reviews")
    call(st, ReviewsState.load)
    assert [r["kind"] for r in st.my_reviews] == ["self"]
    assert st.scale_options[0]["value"] == "none" and len(st.scale_options) == 6
    call(st, ReviewsState.open_review, st.my_reviews[0]["id"])
    assert st.editable and [r["score"] for r in st.ratings] == ["none", "none"]
    first, second = (r["criterion_id"] for r in st.ratings)
    call(st, ReviewsState.set_score, first, "4")
    call(st, ReviewsState.set_score, "not-a-criterion", "5")  # refused, changes nothing
    assert st.error == NOT_FOUND[IdKind.criterion]
    call(st, ReviewsState.set_comment, first, "Went well")
    call(st, ReviewsState.submit_review)
    assert "Missing: Collaboration" in st.error
    call(st, ReviewsState.save_draft)
    assert st.error == "" and st.notice == "Draft saved."
    call(st, ReviewsState.set_score, second, "9")
    call(st, ReviewsState.submit_review)
    assert "from 1 to 5" in st.error
    call(st, ReviewsState.set_score, second, "2")
    call(st, ReviewsState.submit_review)
    assert st.error == "" and st.review["status"] == "submitted" and not st.editable
    assert _review(o, cycle_id, "emp1", "self").score == weighted_score(
        [(4, Decimal(3)), (2, Decimal(1))]
    )


def test_my_results_from_the_page_keep_peers_anonymous(make_tenant) -> None:
    o = _build_org(make_tenant())
    cycle_id = _launched(o)
    i = o.ids
    o.do(
        "hr",
        nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=i["emp1"],
        data={"peer_ids": [str(i["emp2"])]},
    )
    _write(o, "emp2", _review(o, cycle_id, "emp1", "peer"), [2, 2], comments=["lonely", ""])
    _to_calibration(o, cycle_id)
    o.do(
        "hr",
        adjust_calibration,
        outcome_id=_outcome(o, cycle_id, "emp1").id,
        change={"final_rating": 3, "potential": 1, "reason": "fine"},
    )
    o.do("hr", share_results, cycle_id=cycle_id)
    st = state_for(ReviewsState, _token(o, "emp1"), "/reviews")
    call(st, ReviewsState.load)
    assert [r["cycle_name"] for r in st.shared] == ["H1"]
    call(st, ReviewsState.open_results, st.shared[0]["cycle_id"])
    assert st.results["final_label"] == "Meets expectations"
    assert not st.results["peers_shown"]
    text = vars_text(st)
    assert "lonely" not in text and "Employee 2" not in text and str(i["emp2"]) not in text


# ------------------------------------------------------------- nominating and reopening


@pytest.fixture
def active(make_tenant: Callable[..., TenantFixture]) -> dict[str, Any]:
    """Active cycles in two tenants. A: the manager's review of emp1 and the other team's
    manager's review of ops are submitted. B (Globex): its manager's review of emp1 too."""
    a, b = _build_org(make_tenant()), _build_org(make_tenant())
    _rename(a, {"ops": "Secret Opsperson"})
    _rename(b, {k: f"Globex {k}" for k in ("admin", "hr", "manager", "emp1", "emp2", "ops")})
    with owner_session() as s:  # the other team's manager signs in too
        s.execute(
            update(User)
            .where(col(User.id) == a.ids["other_mgr"])
            .values(password_hash=hash_password(TEST_PASSWORD))
        )
    a_cycle, b_cycle = _launched(a, name="A active"), _launched(b, name="Globex active")
    emp1_mgr = _review(a, a_cycle, "emp1", "manager")
    _write(a, "manager", emp1_mgr, [4, 4])
    ops_mgr = _review(a, a_cycle, "ops", "manager")
    _write(a, "other_mgr", ops_mgr, [3, 3], comments=["other-team-secret-comment", ""])
    emp1_self = _review(a, a_cycle, "emp1", "self")
    _write(a, "emp1", emp1_self, [5, 5])
    b_mgr = _review(b, b_cycle, "emp1", "manager")
    _write(b, "manager", b_mgr, [2, 2], comments=["globex-secret-comment", ""])
    return {
        "a": a,
        "b": b,
        "a_cycle": a_cycle,
        "b_cycle": b_cycle,
        "out": {k: _outcome(a, a_cycle, k).id for k in ("emp1", "emp2", "ops")},
        "b_out": _outcome(b, b_cycle, "emp1").id,
        "emp1_mgr": emp1_mgr.id,
        "ops_mgr": ops_mgr.id,
        "emp1_self": emp1_self.id,
        "b_mgr": b_mgr.id,
        "tokens": {w: _token(a, w) for w in ("admin", "manager", "emp1", "other_mgr")},
    }


def _review_counts() -> Counter[tuple[str, str]]:
    with owner_session() as s:
        return Counter(
            (kind, status)
            for kind, status in s.execute(select(col(Review.kind), col(Review.status))).all()
        )


def _cycle_view(world: dict[str, Any], who: str, cycle: Any = None) -> CyclesState:
    """A's active cycle open for `who` (for an admin only selected: their view would list
    the other team's person, rightly, and the refusals check that nothing foreign lands)."""
    st = state_for(CyclesState, world["tokens"][who], "/cycles")
    if who == "admin":
        st.cycle_id = str(world["a_cycle"])
    else:
        call(st, CyclesState.select_cycle, str(world["a_cycle"]))
        assert st.error == ""
    if cycle is not None:
        st.cycle_id = str(cycle)  # as if tampered with
    return st


def _no_nominate_dialog(st: CyclesState) -> None:
    assert not st.nominate_open and st.nominate_candidates == []
    assert st.nominate_outcome_id == "" and st.nominate_name == ""


@pytest.mark.parametrize("who", ["admin", "manager", "emp1"])
def test_open_nominate_refuses_foreign_other_team_and_garbage(active, who) -> None:
    before, counts = _snapshot(), _review_counts()
    row, cyc = NOT_FOUND[IdKind.outcome], NOT_FOUND[IdKind.cycle]
    bad: list[tuple[Any, Any, str]] = [(None, str(active["b_out"]), row)]  # B's row, A's cycle
    bad += [(active["b_cycle"], str(active["b_out"]), cyc)]  # B's row and B's cycle
    bad += [(active["b_cycle"], str(active["out"]["emp1"]), cyc)]  # A's row, B's cycle
    bad += [(None, g, row) for g in GARBAGE] + [("garbage", str(active["out"]["emp1"]), cyc)]
    if who != "admin":
        bad.append((None, str(active["out"]["ops"]), NO_ACCESS))  # another team's row
    if who == "emp1":
        bad.append((None, str(active["out"]["emp2"]), NO_ACCESS))  # a colleague's row
    for cycle, outcome, message in bad:
        st = _cycle_view(active, who, cycle)
        call(st, CyclesState.open_nominate, outcome)
        assert st.error == refused_with(outcome, message), (cycle, outcome)
        _no_nominate_dialog(st)
        _clean(st)
    assert _snapshot() == before and _review_counts() == counts


@pytest.mark.parametrize("who", ["admin", "manager", "emp1"])
def test_save_nominate_refuses_foreign_other_team_and_garbage(active, who) -> None:
    a, b = active["a"], active["b"]
    emp1_out, emp2 = str(active["out"]["emp1"]), str(a.ids["emp2"])
    before, counts = _snapshot(), _review_counts()
    row, cyc, peer = NOT_FOUND[IdKind.outcome], NOT_FOUND[IdKind.cycle], NOT_FOUND[IdKind.peer]
    nothing_open = "Open a person's peer nomination first."
    # (the peers are resolved first, then the cycle and the row: the first not found says so)
    cases: list[tuple[Any, Any, list[Any], str]] = [
        (None, str(active["b_out"]), [str(b.ids["emp2"])], peer),  # B's row and person
        (None, str(active["b_out"]), [emp2], row),  # B's row
        (active["b_cycle"], str(active["b_out"]), [emp2], cyc),
        (active["b_cycle"], emp1_out, [emp2], cyc),  # A's row under B's cycle
        (None, emp1_out, [str(b.ids["emp2"])], peer),  # a foreign peer
        (None, emp1_out, [emp2, str(b.ids["ops"])], peer),  # one foreign peer among good ones
        (None, emp1_out, [str(uuid.uuid4())], peer),
        *[(None, emp1_out, [emp2, g], peer) for g in GARBAGE],
        *[(None, g, [emp2], nothing_open if g == "" else row) for g in GARBAGE],
    ]
    if who != "admin":
        cases.append((None, str(active["out"]["ops"]), [emp2], NO_ACCESS))  # another team's row
    if who == "emp1":
        cases.append((None, str(active["out"]["emp2"]), [str(a.ids["ops"])], NO_ACCESS))
        cases.append((None, emp1_out, [emp2], NO_ACCESS))  # one's own row
    for cycle, outcome, peers, message in cases:
        st = _cycle_view(active, who, cycle)
        st.nominate_outcome_id = outcome if isinstance(outcome, str) else str(outcome)
        st.nominate_selected = peers
        call(st, CyclesState.save_nominate)
        assert st.error == message, (cycle, outcome, peers)
        assert st.notice == ""
        _clean(st)
    assert _snapshot() == before and _review_counts() == counts


def test_set_peer_keeps_only_people_of_the_tenant(active) -> None:
    st = _cycle_view(active, "manager")
    b = active["b"]
    for bad in (12345, None, ["x"], "0" * 100, "a", str(uuid.uuid4()), str(b.ids["emp2"])):
        call(st, CyclesState.set_peer, bad, True)
        assert st.error == refused_with(bad, NOT_FOUND[IdKind.peer]), bad
    assert st.nominate_selected == []
    emp2, ops = str(active["a"].ids["emp2"]), str(active["a"].ids["ops"])
    call(st, CyclesState.set_peer, emp2, True)
    call(st, CyclesState.set_peer, ops, True)
    call(st, CyclesState.set_peer, emp2, False)
    call(st, CyclesState.set_peer, emp2, "yes")  # no boolean: refused, nothing changes
    assert st.error == MALFORMED and st.nominate_selected == [ops]


def test_a_manager_nominates_two_peers_from_the_cycle_view(active) -> None:
    a, i = active["a"], active["a"].ids
    st = _cycle_view(active, "manager")
    rows = {r["reviewee_name"]: r for r in st.status_rows}
    assert set(rows) == {"Employee 1", "Employee 2"}
    assert all(r["can_nominate"] for r in rows.values())
    assert all(str(i[k]) not in vars_text(st) for k in ("emp1", "emp2"))  # rows keep no ids
    call(st, CyclesState.open_nominate, rows["Employee 1"]["outcome_id"])
    assert st.error == "" and st.nominate_open and st.nominate_name == "Employee 1"
    offered = {c["id"] for c in st.nominate_candidates}
    assert offered == {str(i[k]) for k in ("admin", "hr", "other_mgr", "ops", "emp2")}
    # Nothing chosen, or too many: said in the dialog, nothing stored.
    before, counts = _snapshot(), _review_counts()
    call(st, CyclesState.save_nominate)
    assert st.error == "Choose at least one peer." and st.nominate_open
    for c in st.nominate_candidates:
        call(st, CyclesState.set_peer, c["id"], True)
    call(st, CyclesState.set_peer, str(i["manager"]), True)
    call(st, CyclesState.save_nominate)
    assert st.error == "Choose at most 5 peers." and st.nominate_open
    assert _snapshot() == before
    # The reviewee's own manager as a peer is refused by the service, in the dialog.
    st.nominate_selected = [str(i["manager"])]
    call(st, CyclesState.save_nominate)
    assert "already writes the manager review" in st.error and st.nominate_open
    assert _snapshot() == before
    st.nominate_selected = []
    call(st, CyclesState.set_peer, str(i["emp2"]), True)
    call(st, CyclesState.set_peer, str(i["ops"]), True)
    call(st, CyclesState.save_nominate)
    assert st.error == "" and st.notice == "2 peer reviews requested."
    _no_nominate_dialog(st)
    assert st.nominate_selected == [] and len(st.status_rows) == 2
    assert _review_counts() == counts + Counter({("peer", "not_started"): 2})
    peers = a.read(
        lambda s: set(
            s.scalars(
                select(col(Review.reviewer_id)).where(
                    col(Review.reviewee_id) == i["emp1"], col(Review.kind) == "peer"
                )
            )
        )
    )
    assert peers == {i["emp2"], i["ops"]}
    # Those two are no longer offered.
    call(st, CyclesState.open_nominate, rows["Employee 1"]["outcome_id"])
    offered = {c["id"] for c in st.nominate_candidates}
    assert offered == {str(i[k]) for k in ("admin", "hr", "other_mgr")}
    call(st, CyclesState.nominate_open_change, False)
    _no_nominate_dialog(st)
    text = vars_text(st)
    assert "Globex" not in text and "globex-secret-comment" not in text


def test_nominate_is_offered_only_where_one_may_nominate(active, world) -> None:
    st = state_for(CyclesState, active["tokens"]["admin"], "/cycles")
    call(st, CyclesState.select_cycle, str(active["a_cycle"]))
    assert len(st.status_rows) == 3 and all(r["can_nominate"] for r in st.status_rows)
    st = state_for(CyclesState, active["tokens"]["emp1"], "/cycles")
    call(st, CyclesState.select_cycle, str(active["a_cycle"]))
    assert st.status_rows == []
    # A cycle in calibration: nothing to offer, and the dialog is refused with the reason.
    st = state_for(CyclesState, world["tokens"]["manager"], "/cycles")
    call(st, CyclesState.select_cycle, str(world["a_cycle"]))
    assert st.status_rows and all(r["can_nominate"] for r in st.status_rows)
    assert st.cycle["status"] == "calibration"  # (the page offers it only while active)
    call(st, CyclesState.open_nominate, str(world["emp1_out"]))
    assert "only while the cycle is active" in st.error
    _no_nominate_dialog(st)


@pytest.mark.parametrize("who", ["admin", "manager", "emp1"])
def test_reopen_refuses_foreign_other_team_and_garbage(active, who) -> None:
    before, counts = _snapshot(), _review_counts()
    review = NOT_FOUND[IdKind.review]
    bad = [(str(active["b_mgr"]), review)]
    bad += [(g, "Open a review first." if g == "" else review) for g in GARBAGE]
    if who != "admin":
        bad.append((str(active["ops_mgr"]), NO_ACCESS))
    if who == "emp1":  # own review, own result
        bad += [(str(active["emp1_self"]), NO_ACCESS), (str(active["emp1_mgr"]), NO_ACCESS)]
    for review_id, message in bad:
        st = state_for(ReviewsState, active["tokens"][who], "/reviews")
        st.review_id = review_id if isinstance(review_id, str) else str(review_id)
        call(st, ReviewsState.reopen_review)
        assert st.error == message, review_id
        assert st.notice == "" and st.review == {} and not st.can_reopen
        _clean(st)
    assert _snapshot() == before and _review_counts() == counts


def test_reopen_is_offered_only_to_whom_may_reopen(active) -> None:
    st = state_for(ReviewsState, active["tokens"]["emp1"], "/reviews")
    call(st, ReviewsState.open_review, str(active["emp1_self"]))
    assert st.review["status"] == "submitted" and not st.editable and not st.can_reopen
    st = state_for(ReviewsState, active["tokens"]["manager"], "/reviews")
    call(st, ReviewsState.open_review, str(active["emp1_self"]))  # a report's self review
    assert st.error == "" and st.can_reopen
    st = state_for(ReviewsState, active["tokens"]["other_mgr"], "/reviews")
    call(st, ReviewsState.open_review, str(active["emp1_mgr"]))
    assert st.error == NO_ACCESS and not st.can_reopen


def test_a_manager_reopens_their_submitted_review_of_a_report(active) -> None:
    a = active["a"]
    st = state_for(ReviewsState, active["tokens"]["manager"], "/reviews")
    call(st, ReviewsState.load)
    row = next(r for r in st.my_reviews if r["kind"] == "manager" and r["status"] == "submitted")
    call(st, ReviewsState.open_review, row["id"])
    assert st.review["reviewee_name"] == "Employee 1" and not st.editable and st.can_reopen
    counts = _review_counts()
    call(st, ReviewsState.reopen_review)
    assert st.error == "" and st.notice == "Review reopened."
    assert st.review["status"] == "in_progress" and st.editable and not st.can_reopen
    assert _review(a, active["a_cycle"], "emp1", "manager").status == "in_progress"
    assert _outcome(a, active["a_cycle"], "emp1").status == "self_done"
    assert _review_counts() == counts - Counter({("manager", "submitted"): 1}) + Counter(
        {("manager", "in_progress"): 1}
    )
    assert next(r for r in st.my_reviews if r["id"] == row["id"])["status"] == "in_progress"
    call(st, ReviewsState.reopen_review)  # not submitted any more: said, nothing changes
    assert st.error == "This review is not submitted." and st.notice == ""
    _clean(st)


# ------------------------------------------------------------------------ no cookie


NO_COOKIE_CALLS: list[tuple[type, Any, tuple[Any, ...]]] = [
    (ReviewsState, ReviewsState.load, ()),
    (ReviewsState, ReviewsState.open_review, ("review",)),
    (ReviewsState, ReviewsState.save_draft, ()),
    (ReviewsState, ReviewsState.submit_review, ()),
    (ReviewsState, ReviewsState.open_results, ("cycle",)),
    (ReviewsState, ReviewsState.reopen_review, ()),
    (CyclesState, CyclesState.load, ()),
    (CyclesState, CyclesState.select_cycle, ("cycle",)),
    (CyclesState, CyclesState.status_next, ()),
    (CyclesState, CyclesState.status_prev, ()),
    (CyclesState, CyclesState.launch, ("cycle",)),
    (CyclesState, CyclesState.start_calibration, ("cycle",)),
    (CyclesState, CyclesState.close_cycle, ("cycle",)),
    (CyclesState, CyclesState.share, ("cycle",)),
    (CyclesState, CyclesState.open_adjust, ("outcome",)),
    (CyclesState, CyclesState.save_adjust, ({"reason": "abc", "final_rating": "3"},)),
    (CyclesState, CyclesState.create_cycle, ({"name": "x"},)),
    (CyclesState, CyclesState.create_template, ({"template_name": "x"},)),
    (CyclesState, CyclesState.open_nominate, ("outcome",)),
    (CyclesState, CyclesState.save_nominate, ()),
]


@pytest.mark.parametrize(
    ("state_cls", "handler", "args"),
    NO_COOKIE_CALLS,
    ids=[f"{c.__name__}.{h.fn.__name__}" for c, h, _ in NO_COOKIE_CALLS],
)
def test_no_cookie_redirects_to_signin(world, state_cls, handler, args) -> None:
    before = _snapshot()
    real = {
        "cycle": str(world["a_cycle"]),
        "outcome": str(world["emp1_out"]),
        "review": str(world["ops_self"]),
    }
    args = tuple(real.get(a, a) if isinstance(a, str) else a for a in args)
    for token in (None, "forged.token.value"):
        st = state_for(state_cls, token, "/cycles")
        if state_cls is CyclesState:
            st.cycle_id = real["cycle"]
            st.adjust_outcome_id = st.nominate_outcome_id = real["outcome"]
            st.nominate_selected = [str(world["a"].ids["emp2"])]
        else:
            st.review_id = real["review"]
        assert redirects_to(call(st, handler, *args)) == "/signin"
        _clean(st)
    assert _snapshot() == before


def test_sharing_results_and_closing_a_cycle_ask_first_and_say_what_will_happen(
    world: dict[str, Any],
) -> None:
    """The page's Share results and Close open a confirmation that says what will happen;
    nothing changes until it is confirmed, and Cancel changes nothing."""
    a, cycle_id = world["a"], str(world["a_cycle"])
    st = state_for(CyclesState, _token(a, "admin"), "/cycles")
    call(st, CyclesState.load)

    def shared() -> int:
        return len(
            a.read(
                lambda s: s.scalars(
                    select(col(ReviewOutcome.id)).where(col(ReviewOutcome.shared_at).is_not(None))
                ).all()
            )
        )

    call(st, CyclesState.ask, "share", cycle_id)
    assert st.confirm_step == "share" and "can't be taken back" in st.confirm_text
    assert shared() == 0
    call(st, CyclesState.cancel_confirm)
    assert st.confirm_step == "" and shared() == 0
    call(st, CyclesState.ask, "share", cycle_id)
    call(st, CyclesState.confirm)
    assert st.error == "" and st.notice == "Shared 1 results with their people." and shared() == 1

    call(st, CyclesState.ask, "close", cycle_id)
    assert "no rating can be adjusted" in st.confirm_text
    assert [c["status"] for c in st.cycles if c["id"] == cycle_id] == ["calibration"]
    call(st, CyclesState.confirm)
    assert st.notice == "Cycle closed."
    assert [c["status"] for c in st.cycles if c["id"] == cycle_id] == ["closed"]
