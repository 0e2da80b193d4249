"""Reviews and cycles event handlers called directly, as any browser could: with another
tenant's ids, another team's ids, garbage and no cookie. Nothing changes in the database and
nothing foreign lands in the state's vars."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.people.models import User
from pms_dashboard.reviews import service
from pms_dashboard.reviews.models import (
    CalibrationChange,
    Review,
    ReviewCycle,
    ReviewOutcome,
    ReviewRating,
    ReviewTemplate,
)
from pms_dashboard.tenancy.session import owner_session
from pms_dashboard.ui.states.reviews import NO_ACCESS, CyclesState, ReviewsState
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
        rows.append(s.scalar(select(func.count()).select_from(AuditEvent)))
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
        service.adjust_calibration,
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
        service.adjust_calibration,
        outcome_id=b_out.id,
        change={"final_rating": 4, "potential": 2, "reason": "globex-secret-reason"},
    )
    b.do("hr", service.share_results, cycle_id=b_cycle)
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
]


@pytest.mark.parametrize("handler", CYCLE_ID_HANDLERS, ids=lambda h: h.fn.__name__)
@pytest.mark.parametrize("who", ["admin", "manager"])
def test_cycle_handlers_refuse_foreign_and_garbage_ids(world, handler, who) -> None:
    before = _snapshot()
    for bad in [str(world["b_cycle"]), *GARBAGE]:
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        call(st, handler, bad)
        assert st.error == NO_ACCESS, bad
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
    assert st.error == NO_ACCESS and st.status_rows == []
    _clean(st)


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_open_adjust_refuses_foreign_other_team_and_garbage(world, who) -> None:
    before = _snapshot()
    bad_ids = [str(world["b_out"]), *GARBAGE]
    if who == "manager":
        bad_ids.append(str(world["ops_out"]))
    for bad in bad_ids:
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        call(st, CyclesState.open_adjust, bad)
        assert st.error == NO_ACCESS, bad
        assert not st.adjust_open and st.history == [] and st.adjust_outcome_id == ""
        _clean(st)
    assert _snapshot() == before


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_save_adjust_refuses_foreign_other_team_and_garbage(world, who) -> None:
    before = _snapshot()
    bad_ids = [str(world["b_out"]), *GARBAGE]
    if who == "manager":
        bad_ids.append(str(world["ops_out"]))
    form = {"final_rating": "1", "potential": "1", "reason": "hijack attempt"}
    for bad in bad_ids:
        st = state_for(CyclesState, world["tokens"][who], "/cycles")
        st.adjust_outcome_id = bad  # as if the client had tampered with it
        call(st, CyclesState.save_adjust, form)
        assert st.error == NO_ACCESS, bad
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
        call(st, CyclesState.create_cycle, form)
        assert st.error == NO_ACCESS
        _clean(st)
    st = state_for(CyclesState, world["tokens"]["admin"], "/cycles")
    for bad in ({**form, "template_id": "garbage"}, {**form, "period_end": "soon"}, None, "x"):
        call(st, CyclesState.create_cycle, bad)
        assert st.error != "" and st.notice == ""
    call(st, CyclesState.create_template, {"template_name": "T", "criteria": ""})
    assert "criteria" in st.error
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
    for bad in [str(world["b_self"]), str(world["ops_self"]), *GARBAGE]:
        st = state_for(ReviewsState, world["tokens"][who], "/reviews")
        call(st, ReviewsState.open_review, bad)
        assert st.error == NO_ACCESS, bad
        assert st.review_id == "" and st.ratings == [] and st.review == {}
        _clean(st)
    assert _snapshot() == before


@pytest.mark.parametrize("handler", [ReviewsState.save_draft, ReviewsState.submit_review])
@pytest.mark.parametrize("who", ["emp1", "manager"])
def test_writing_refuses_tampered_review_ids(world, handler, who) -> None:
    before = _snapshot()
    for bad in [str(world["b_self"]), str(world["ops_self"]), *GARBAGE]:
        st = state_for(ReviewsState, world["tokens"][who], "/reviews")
        st.review_id = bad if isinstance(bad, str) else str(bad)
        st.ratings = [
            {"criterion_id": c, "score": "1", "comment": "hijack"} for c in world["b_criteria"]
        ]
        call(st, handler)
        assert st.error == NO_ACCESS, bad
        _clean(st)
    assert _snapshot() == before


@pytest.mark.parametrize("who", ["emp1", "manager"])
def test_open_results_refuses_foreign_unshared_and_garbage(world, who) -> None:
    before = _snapshot()
    for bad in [str(world["b_cycle"]), str(world["a_cycle"]), *GARBAGE]:
        st = state_for(ReviewsState, world["tokens"][who], "/reviews")
        call(st, ReviewsState.open_results, bad)
        assert st.error != "" and st.results == {}
        if bad != str(world["a_cycle"]) or who == "manager":  # emp1 takes part, not shared
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
    call(st, ReviewsState.set_score, "not-a-criterion", "5")  # ignored
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
    assert _review(o, cycle_id, "emp1", "self").score == service.weighted_score(
        [(4, service.Decimal(3)), (2, service.Decimal(1))]
    )


def test_my_results_from_the_page_keep_peers_anonymous(make_tenant) -> None:
    o = _build_org(make_tenant())
    cycle_id = _launched(o)
    i = o.ids
    o.do(
        "hr",
        service.nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=i["emp1"],
        data={"peer_ids": [str(i["emp2"])]},
    )
    _write(o, "emp2", _review(o, cycle_id, "emp1", "peer"), [2, 2], comments=["lonely", ""])
    _to_calibration(o, cycle_id)
    o.do(
        "hr",
        service.adjust_calibration,
        outcome_id=_outcome(o, cycle_id, "emp1").id,
        change={"final_rating": 3, "potential": 1, "reason": "fine"},
    )
    o.do("hr", service.share_results, cycle_id=cycle_id)
    st = state_for(ReviewsState, _token(o, "emp1"), "/reviews")
    call(st, ReviewsState.load)
    assert [r["cycle_name"] for r in st.shared] == ["H1"]
    call(st, ReviewsState.open_results, st.shared[0]["cycle_id"])
    assert st.results["final_label"] == "Meets expectations"
    assert not st.results["peers_shown"]
    text = vars_text(st)
    assert "lonely" not in text and "Employee 2" not in text and str(i["emp2"]) not in text


# ------------------------------------------------------------------------ no cookie


NO_COOKIE_CALLS: list[tuple[type, Any, tuple[Any, ...]]] = [
    (ReviewsState, ReviewsState.load, ()),
    (ReviewsState, ReviewsState.open_review, ("review",)),
    (ReviewsState, ReviewsState.save_draft, ()),
    (ReviewsState, ReviewsState.submit_review, ()),
    (ReviewsState, ReviewsState.open_results, ("cycle",)),
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
            st.adjust_outcome_id = real["outcome"]
        else:
            st.review_id = real["review"]
        assert redirects_to(call(st, handler, *args)) == "/signin"
        _clean(st)
    assert _snapshot() == before
