"""Review cycles end to end, as pms_app through tenant_session: what each person can do, and
every refusal (with nothing changed in the database when refused)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth.models import Role, User
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import NotFoundHere, not_found_message
from pms_dashboard.reviews.calibration import (
    adjust_calibration,
    calibration_history,
    cycle_status,
    ninebox,
    performance_bucket,
    share_results,
)
from pms_dashboard.reviews.cycles import (
    close_cycle,
    create_cycle,
    get_cycle,
    launch_cycle,
    list_cycles,
    start_calibration,
)
from pms_dashboard.reviews.models import (
    CalibrationChange,
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewOutcome,
    ReviewRating,
    ReviewTemplate,
)
from pms_dashboard.reviews.peers import nominate_peers, nomination_targets, peer_candidates
from pms_dashboard.reviews.results import list_my_results, my_results
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.reviews.templates import create_template, list_templates
from pms_dashboard.reviews.writing import (
    get_review,
    list_my_reviews,
    reopen_review,
    review_detail,
    save_review,
    submit_review,
    weighted_score,
)
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture

ROLES = {
    "admin": Role.tenant_admin.value,
    "hr": Role.hr_admin.value,
    "manager": Role.manager.value,
    "other_mgr": Role.manager.value,
    "emp1": Role.employee.value,
    "emp2": Role.employee.value,
    "ops": Role.employee.value,
    "gone": Role.employee.value,
}


class Org:
    """A tenant: admin, hr, manager -> emp1, emp2 (Sales/Alpha); other_mgr -> ops (Ops/Beta);
    gone is an inactive report of the manager."""

    def __init__(self, t: TenantFixture, ids: dict[str, uuid.UUID]) -> None:
        self.t, self.ids = t, ids

    def ctx(self, who: str) -> TenantContext:
        return TenantContext(tenant_id=self.t.id, user_id=self.ids[who], role=ROLES[who])

    def do(self, who: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        ctx = self.ctx(who)
        with tenant_session(ctx) as session:
            return fn(session=session, actor=ctx, **kwargs)

    def read(self, fn: Callable[[Any], Any]) -> Any:
        with tenant_session(TenantContext(tenant_id=self.t.id)) as session:
            return fn(session)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every review-related row and audit event of the tenant, for "nothing changed"."""
        models = (
            ReviewTemplate,
            ReviewCriterion,
            ReviewCycle,
            Review,
            ReviewRating,
            ReviewOutcome,
            CalibrationChange,
            AuditEvent,
        )

        def rows(session: Any) -> dict[str, list[dict[str, Any]]]:
            # refusals are audited on purpose (access.*): "nothing changed" means no change
            # to the data and no other event
            changes = {AuditEvent: [col(AuditEvent.action).not_like("access.%")]}
            return {
                m.__name__: sorted(
                    (
                        r.model_dump(mode="json")
                        for r in session.scalars(select(m).where(*changes.get(m, [])))
                    ),
                    key=lambda d: d["id"],
                )
                for m in models
            }

        return self.read(rows)


def _build_org(t: TenantFixture) -> Org:
    ids = {k: t.user_id(k) for k in ("admin", "manager", "emp1", "emp2")}
    with owner_session() as s:

        def person(key: str, role: str, manager: str | None, **extra: Any) -> None:
            u = User(
                tenant_id=t.id,
                email=f"{key}@{t.slug}.test",
                display_name=key.title(),
                role=role,
                manager_id=ids[manager] if manager else None,
                **extra,
            )
            s.add(u)
            s.flush()
            ids[key] = u.id

        person("hr", Role.hr_admin.value, None, department="People", team="HR")
        person("other_mgr", Role.manager.value, None, department="Ops", team="Beta")
        person("ops", Role.employee.value, "other_mgr", department="Ops", team="Beta")
        person("gone", Role.employee.value, "manager", is_active=False)
        for key in ("manager", "emp1", "emp2"):
            s.execute(
                update(User)
                .where(col(User.id) == ids[key])
                .values(department="Sales", team="Alpha")
            )
    return Org(t, ids)


@pytest.fixture
def org(make_tenant: Callable[..., TenantFixture]) -> Org:
    return _build_org(make_tenant())


@pytest.fixture
def other(make_tenant: Callable[..., TenantFixture]) -> Org:
    return _build_org(make_tenant())


CRITERIA = [
    {"name": "Delivery", "weight": "3"},
    {"name": "Collaboration", "weight": "1"},
]


def _template(o: Org, criteria: list[dict[str, Any]] | None = None, name: str = "Std") -> str:
    row = o.do("hr", create_template, data={"name": name, "criteria": criteria or CRITERIA})
    return row.id


def _cycle(o: Org, *, participants: dict[str, Any] | None = None, name: str = "H1") -> str:
    template_id = _template(o, name=f"{name} template")
    row = o.do(
        "hr",
        create_cycle,
        data={
            "name": name,
            "template_id": template_id,
            "period_start": date(2025, 1, 1),
            "period_end": date(2025, 6, 30),
            "self_review_due": date(2025, 7, 7),
            "manager_review_due": date(2025, 7, 21),
            "participants": participants
            if participants is not None
            else {"managers": [str(o.ids["manager"]), str(o.ids["other_mgr"])]},
        },
    )
    return row.id


def _launched(o: Org, **kw: Any) -> uuid.UUID:
    cycle_id = uuid.UUID(_cycle(o, **kw))
    o.do("hr", launch_cycle, cycle_id=cycle_id)
    return cycle_id


def _review(o: Org, cycle_id: uuid.UUID, reviewee: str, kind: str, reviewer: str | None = None):
    def q(s: Any) -> Review:
        stmt = select(Review).where(
            col(Review.cycle_id) == cycle_id,
            col(Review.reviewee_id) == o.ids[reviewee],
            col(Review.kind) == kind,
        )
        if reviewer:
            stmt = stmt.where(col(Review.reviewer_id) == o.ids[reviewer])
        return s.scalars(stmt).one()

    return o.read(q)


def _outcome(o: Org, cycle_id: uuid.UUID, reviewee: str) -> ReviewOutcome:
    return o.read(
        lambda s: s.scalars(
            select(ReviewOutcome).where(
                col(ReviewOutcome.cycle_id) == cycle_id,
                col(ReviewOutcome.reviewee_id) == o.ids[reviewee],
            )
        ).one()
    )


def _criterion_ids(o: Org, review_id: uuid.UUID) -> list[str]:
    detail = o.read(
        lambda s: review_detail(
            s,
            TenantContext(tenant_id=o.t.id),
            s.scalars(select(Review).where(col(Review.id) == review_id)).one(),
            s.scalars(
                select(ReviewCycle).where(
                    col(ReviewCycle.id)
                    == s.scalar(select(col(Review.cycle_id)).where(col(Review.id) == review_id))
                )
            ).one(),
            editable=False,
        )
    )
    return [r.criterion_id for r in detail.ratings]


def _ratings(crit: list[str], scores: list[Any], comments: list[str] | None = None):
    comments = comments or [""] * len(crit)
    return [
        {"criterion_id": c, "score": s, "comment": m}
        for c, s, m in zip(crit, scores, comments, strict=True)
    ]


def _write(o: Org, who: str, review: Review, scores: list[Any], *, submit: bool = True, **kw):
    crit = _criterion_ids(o, review.id)
    draft = {
        "summary": kw.get("summary", ""),
        "ratings": _ratings(crit, scores, kw.get("comments")),
    }
    fn = submit_review if submit else save_review
    return o.do(who, fn, review_id=review.id, draft=draft)


def _to_calibration(o: Org, cycle_id: uuid.UUID) -> None:
    o.do("hr", start_calibration, cycle_id=cycle_id)


def _audit_actions(o: Org) -> list[str]:
    return o.read(
        lambda s: list(s.scalars(select(col(AuditEvent.action)).order_by(AuditEvent.occurred_at)))
    )


# ---------------------------------------------------------------------- the happy path


def test_a_cycle_end_to_end(org: Org) -> None:
    o = org
    cycle_id = _launched(o)

    # Launch: participants are the managers' subtrees (active people only); a self review
    # each, a manager review where there is a manager, an outcome with the manager snapshot.
    reviews = o.read(lambda s: list(s.scalars(select(Review).where(Review.cycle_id == cycle_id))))
    got = {(r.kind, r.reviewee_id, r.reviewer_id) for r in reviews}
    i = o.ids
    assert got == {
        ("self", i["emp1"], i["emp1"]),
        ("self", i["emp2"], i["emp2"]),
        ("self", i["ops"], i["ops"]),
        ("manager", i["emp1"], i["manager"]),
        ("manager", i["emp2"], i["manager"]),
        ("manager", i["ops"], i["other_mgr"]),
    }
    assert _outcome(o, cycle_id, "emp1").manager_id == i["manager"]
    assert _outcome(o, cycle_id, "emp1").status == "not_started"

    # Everyone sees the cycle exists.
    assert [c.status for c in o.do("emp1", list_cycles)] == ["active"]

    # The manager nominates two peers for emp1.
    o.do(
        "manager",
        nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=i["emp1"],
        data={"peer_ids": [str(i["emp2"]), str(i["ops"])]},
    )
    with pytest.raises(ReviewError, match="already a peer reviewer"):
        o.do(
            "manager",
            nominate_peers,
            cycle_id=cycle_id,
            reviewee_id=i["emp1"],
            data={"peer_ids": [str(i["emp2"])]},
        )

    # My reviews: emp2 writes a self review and a peer review of emp1.
    mine = o.do("emp2", list_my_reviews)
    assert sorted((r.kind, r.reviewee_name) for r in mine) == [
        ("peer", "Employee 1"),
        ("self", "Employee 2"),
    ]
    assert next(r for r in mine if r.kind == "self").due == date(2025, 7, 7)

    # emp1: draft, then submit.
    self1 = _review(o, cycle_id, "emp1", "self")
    detail = _write(o, "emp1", self1, [4, None], submit=False, summary="Good half")
    assert detail.status == "in_progress" and detail.editable
    assert [r.score for r in detail.ratings] == [4, None]
    assert _outcome(o, cycle_id, "emp1").status == "not_started"
    detail = _write(o, "emp1", self1, [4, 3], summary="Good half")
    assert detail.status == "submitted" and detail.score == 3.75  # (4*3 + 3*1) / 4
    assert _outcome(o, cycle_id, "emp1").status == "self_done"
    assert _outcome(o, cycle_id, "emp1").computed_score is None  # a self score is not final

    # The manager reads the self review (read-only), then writes theirs.
    seen = o.do("manager", get_review, review_id=self1.id)
    assert seen.summary == "Good half" and not seen.editable
    mgr1 = _review(o, cycle_id, "emp1", "manager")
    detail = _write(o, "manager", mgr1, [5, 2], comments=["Shipped", "Quiet"])
    assert detail.score == 4.25
    out = _outcome(o, cycle_id, "emp1")
    assert out.status == "manager_done" and out.computed_score == Decimal("4.25")

    # Peers.
    _write(o, "emp2", _review(o, cycle_id, "emp1", "peer", "emp2"), [4, 5],
           comments=["Reliable", "Zeal"], summary="emp2 says hi")  # fmt: skip
    _write(o, "ops", _review(o, cycle_id, "emp1", "peer", "ops"), [2, 4],
           comments=["Also reliable", "Helpful"])  # fmt: skip

    # Results are not visible before sharing.
    with pytest.raises(ReviewError, match="not been shared"):
        o.do("emp1", my_results, cycle_id=cycle_id)

    # Calibration: the manager moves emp1 twice; history keeps both with reasons.
    _to_calibration(o, cycle_id)
    o.do(
        "manager",
        adjust_calibration,
        outcome_id=out.id,
        change={"final_rating": 4, "potential": 3, "reason": "Consistent delivery"},
    )
    o.do(
        "hr",
        adjust_calibration,
        outcome_id=out.id,
        change={"potential": "2", "reason": "  Panel view  "},
    )
    history = o.do("manager", calibration_history, outcome_id=out.id)
    assert [(h.old_rating, h.new_rating, h.old_potential, h.new_potential) for h in history] == [
        (4.25, 4.0, None, 3),  # the rating in force was the computed score
        (4.0, 4.0, 3, 2),
    ]
    assert [h.reason for h in history] == ["Consistent delivery", "Panel view"]
    assert [h.actor_name for h in history] == ["Manager", "Hr"]
    out = _outcome(o, cycle_id, "emp1")
    assert (out.status, out.final_rating, out.potential) == ("calibrated", Decimal(4), 2)

    # Status for the manager: their subtree only, never themselves or the other team.
    status = o.do("manager", cycle_status, cycle_id=cycle_id)
    assert [r.reviewee_name for r in status.page.rows] == ["Employee 1", "Employee 2"]
    assert dict(status.funnel) == {
        "not_started": 1,
        "self_done": 0,
        "manager_done": 0,
        "calibrated": 1,
        "shared": 0,
    }
    assert dict(status.distribution)["Exceeds expectations"] == 1
    assert dict(status.distribution)["Not rated"] == 1
    admin_status = o.do("hr", cycle_status, cycle_id=cycle_id)
    assert admin_status.page.total == 3

    # Nine-box: emp1 is high performance (4 on 1-5), potential 2.
    box = o.do("manager", ninebox, cycle_id=cycle_id)
    placed = [(c.performance, c.potential, c.count, c.people) for c in box.cells if c.count]
    assert placed == [("high", 2, 1, [{"outcome_id": str(out.id), "name": "Employee 1"}])]
    assert box.unplaced == 1

    # Share: only calibrated outcomes are shared.
    assert o.do("hr", share_results, cycle_id=cycle_id) == 1
    assert _outcome(o, cycle_id, "emp2").status == "not_started"
    assert [r.cycle_name for r in o.do("emp1", list_my_results)] == ["H1"]
    assert o.do("emp2", list_my_results) == []

    results = o.do("emp1", my_results, cycle_id=cycle_id)
    assert results.final_rating == 4.0 and results.final_label == "Exceeds expectations"
    assert results.self_review is not None and results.self_review.score == 3.75
    assert results.manager_review is not None and results.manager_review.score == 4.25
    assert results.manager_review.reviewer_name == "Manager"
    assert results.peers_shown and results.peer_count == 2
    assert [(p.name, p.mean, p.count) for p in results.peers] == [
        ("Delivery", 3.0, 2),
        ("Collaboration", 4.5, 2),
    ]
    assert results.peers[0].comments == ["Also reliable", "Reliable"]
    assert results.peer_summaries == ["emp2 says hi"]
    # Anonymity: no peer's name or id anywhere in what the reviewee receives.
    dumped = repr(asdict(results))
    for who in ("emp2", "ops"):
        assert str(i[who]) not in dumped
    for name in ("Employee 2", "Ops"):
        assert name not in dumped
    assert "potential" not in dumped  # potential stays with calibration

    with pytest.raises(ReviewError, match="not been shared"):
        o.do("emp2", my_results, cycle_id=cycle_id)

    # Shared results can no longer be calibrated; the cycle closes.
    with pytest.raises(ReviewError, match="shared"):
        o.do(
            "hr",
            adjust_calibration,
            outcome_id=out.id,
            change={"final_rating": 3, "reason": "late"},
        )
    assert o.do("hr", close_cycle, cycle_id=cycle_id).status == "closed"

    actions = _audit_actions(o)
    for action in (
        "review_template.create",
        "review_cycle.create",
        "review_cycle.launch",
        "review.nominate_peer",
        "review.save",
        "review.submit",
        "review_cycle.calibration",
        "calibration.adjust",
        "review_cycle.share",
        "review_cycle.closed",
    ):
        assert action in actions, action


def test_peer_feedback_needs_two_responses(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    i = o.ids
    o.do(
        "admin",
        nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=i["emp1"],
        data={"peer_ids": [str(i["emp2"]), str(i["ops"])]},
    )
    _write(o, "emp2", _review(o, cycle_id, "emp1", "peer", "emp2"), [1, 1], comments=["x", "y"])
    _write(o, "manager", _review(o, cycle_id, "emp1", "manager"), [3, 3])
    _to_calibration(o, cycle_id)
    out = _outcome(o, cycle_id, "emp1")
    o.do(
        "hr",
        adjust_calibration,
        outcome_id=out.id,
        change={"final_rating": 3, "reason": "ok!"},
    )
    o.do("hr", share_results, cycle_id=cycle_id)
    results = o.do("emp1", my_results, cycle_id=cycle_id)
    assert not results.peers_shown and results.peer_count == 1
    assert results.peers == [] and results.peer_summaries == []
    assert results.peer_message == "Not enough peer responses to keep them anonymous."
    assert results.self_review is None  # never submitted


# --------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([(5, "3"), (2, "1")], "4.25"),
        ([(1, "1"), (2, "1"), (2, "1")], "1.67"),
        ([(1, "7"), (2, "1")], "1.13"),  # 1.125: half up, not half even
        ([(3, "0.5"), (3, "2")], "3.00"),
        ([(4, "1.5"), (1, "0.5")], "3.25"),
    ],
)
def test_weighted_score(pairs: list[tuple[int, str]], expected: str) -> None:
    got = weighted_score([(s, Decimal(w)) for s, w in pairs])
    assert got == Decimal(expected)


def test_submitted_score_uses_the_criterion_weights(org: Org) -> None:
    o = org
    _template(o, [{"name": "A", "weight": "7"}, {"name": "B", "weight": "1"}], name="W")
    template_id = next(t.id for t in o.do("hr", list_templates) if t.name == "W")
    assert [
        c.weight for c in next(t for t in o.do("hr", list_templates) if t.name == "W").criteria
    ] == [7.0, 1.0]
    cycle = o.do(
        "hr",
        create_cycle,
        data={
            "name": "W",
            "template_id": template_id,
            "period_start": "2025-01-01",
            "period_end": "2025-03-31",
            "participants": {"teams": ["Alpha"]},
        },
    )
    cycle_id = uuid.UUID(cycle.id)
    o.do("hr", launch_cycle, cycle_id=cycle_id)
    detail = _write(o, "manager", _review(o, cycle_id, "emp1", "manager"), [1, 2])
    assert detail.score == 1.13
    assert _outcome(o, cycle_id, "emp1").computed_score == Decimal("1.13")


# ------------------------------------------------------------------------- launching


def test_participant_filters(org: Org) -> None:
    o = org

    def reviewees(cycle_id: uuid.UUID) -> set[str]:
        names = {v: k for k, v in o.ids.items()}
        return o.read(
            lambda s: {
                names[r]
                for r in s.scalars(
                    select(col(ReviewOutcome.reviewee_id)).where(
                        col(ReviewOutcome.cycle_id) == cycle_id
                    )
                )
            }
        )

    assert reviewees(_launched(o, participants={"departments": ["Ops"]}, name="a")) == {
        "other_mgr",
        "ops",
    }
    assert reviewees(_launched(o, participants={"teams": ["Alpha", "HR"]}, name="b")) == {
        "manager",
        "emp1",
        "emp2",
        "hr",
    }
    by_email = {"manager_emails": [f" MANAGER@{o.t.slug}.test"]}
    assert reviewees(_launched(o, participants=by_email, name="d")) == {"emp1", "emp2"}
    with pytest.raises(PermissionDenied, match="No one with that email was found"):
        _cycle(o, participants={"manager_emails": ["nobody@else.test"]}, name="e")
    for n, names in enumerate(({"teams": ["Nobody"]}, {"departments": ["Nowhere"]})):
        with pytest.raises(PermissionDenied, match="was not found in this organisation"):
            _cycle(o, participants=names, name=f"f{n}")
    everyone = _launched(o, participants={}, name="c")
    assert reviewees(everyone) == {"admin", "hr", "manager", "other_mgr", "emp1", "emp2", "ops"}
    # People without a manager get only a self review.
    kinds = o.read(
        lambda s: sorted(
            s.scalars(
                select(col(Review.kind)).where(
                    col(Review.cycle_id) == everyone, col(Review.reviewee_id) == o.ids["admin"]
                )
            )
        )
    )
    assert kinds == ["self"]
    assert _outcome(o, everyone, "admin").manager_id is None


def test_launching_twice_is_refused_and_changes_nothing(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    before = o.snapshot()
    with pytest.raises(ReviewError, match="already been launched"):
        o.do("hr", launch_cycle, cycle_id=cycle_id)
    assert o.snapshot() == before


def test_launch_with_nobody_matching_is_refused(org: Org) -> None:
    o = org
    cycle_id = uuid.UUID(_cycle(o, participants={"departments": ["Ops"]}))
    with owner_session() as s:  # everyone of the department leaves before the launch
        s.execute(update(User).where(col(User.department) == "Ops").values(is_active=False))
    with pytest.raises(ReviewError, match="No active people"):
        o.do("hr", launch_cycle, cycle_id=cycle_id)
    assert o.read(lambda s: s.scalars(select(ReviewCycle)).one().status) == "draft"


# ------------------------------------------------------------------- refusals: who


@pytest.mark.parametrize("who", ["emp1", "manager"])
def test_only_admins_create_templates_and_cycles(org: Org, who: str) -> None:
    o = org
    template_id = _template(o)
    before = o.snapshot()
    with pytest.raises(PermissionDenied):
        o.do(who, create_template, data={"name": "Mine", "criteria": CRITERIA})
    with pytest.raises(PermissionDenied):
        o.do(who, list_templates)
    with pytest.raises(PermissionDenied):
        o.do(
            who,
            create_cycle,
            data={
                "name": "Mine",
                "template_id": template_id,
                "period_start": "2025-01-01",
                "period_end": "2025-02-01",
            },
        )
    assert o.snapshot() == before


@pytest.mark.parametrize("who", ["emp1", "manager"])
def test_only_admins_run_cycles(org: Org, who: str) -> None:
    o = org
    cycle_id = uuid.UUID(_cycle(o))
    before = o.snapshot()
    for fn in (
        launch_cycle,
        start_calibration,
        close_cycle,
        share_results,
    ):
        with pytest.raises(PermissionDenied):
            o.do(who, fn, cycle_id=cycle_id)
    assert o.snapshot() == before


def test_nobody_writes_someone_elses_review(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    mgr1 = _review(o, cycle_id, "emp1", "manager")
    before = o.snapshot()
    for who, review in (
        ("emp2", self1),
        ("manager", self1),  # the manager may read it, not write it
        ("admin", self1),
        ("emp1", mgr1),
        ("other_mgr", mgr1),
    ):
        for submit in (False, True):
            with pytest.raises(PermissionDenied):
                _write(o, who, review, [3, 3], submit=submit)
    assert o.snapshot() == before


def test_who_may_read_a_review(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    i = o.ids
    o.do(
        "manager",
        nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=i["emp1"],
        data={"peer_ids": [str(i["emp2"])]},
    )
    self1 = _review(o, cycle_id, "emp1", "self")
    mgr1 = _review(o, cycle_id, "emp1", "manager")
    peer1 = _review(o, cycle_id, "emp1", "peer")
    assert o.do("emp1", get_review, review_id=self1.id).editable
    assert not o.do("manager", get_review, review_id=self1.id).editable
    assert not o.do("hr", get_review, review_id=mgr1.id).editable
    assert o.do("emp2", get_review, review_id=peer1.id).editable
    for who, review in (
        ("emp2", self1),  # a colleague
        ("other_mgr", self1),  # another team's manager
        ("emp1", mgr1),  # the reviewee, before sharing
        ("emp1", peer1),
        ("manager", peer1),  # peer reviews only to their writer
    ):
        with pytest.raises(PermissionDenied):
            o.do(who, get_review, review_id=review.id)


def test_only_the_reviewees_manager_or_an_admin_nominates_peers(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    i = o.ids
    before = o.snapshot()
    for who in ("emp1", "emp2", "other_mgr"):
        with pytest.raises(PermissionDenied):
            o.do(
                who,
                nominate_peers,
                cycle_id=cycle_id,
                reviewee_id=i["emp1"],
                data={"peer_ids": [str(i["ops"])]},
            )
    assert o.snapshot() == before


@pytest.mark.parametrize(
    ("peers", "message"),
    [
        (["emp1"], "own peer"),
        (["gone"], "not active"),
        (["manager"], "manager review"),
        (["emp2", "emp2"], "only once"),
        ([], "at least 1"),
        (["emp2", "ops", "hr", "admin", "other_mgr", "gone"], "at most 5"),
    ],
)
def test_bad_peer_nominations(org: Org, peers: list[str], message: str) -> None:
    o = org
    cycle_id = _launched(o)
    before = o.snapshot()
    with pytest.raises(ReviewError, match=message):
        o.do(
            "manager",
            nominate_peers,
            cycle_id=cycle_id,
            reviewee_id=o.ids["emp1"],
            data={"peer_ids": [str(o.ids[p]) for p in peers]},
        )
    assert o.snapshot() == before


def test_at_most_five_peers_in_total(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    i = o.ids
    with owner_session() as s:
        extra = User(tenant_id=o.t.id, email=f"extra@{o.t.slug}.test", display_name="Extra")
        s.add(extra)
        s.flush()
        extra_id = extra.id
    nominate = {"cycle_id": cycle_id, "reviewee_id": i["emp1"]}
    first = [str(i[k]) for k in ("emp2", "ops", "hr")]
    o.do("hr", nominate_peers, **nominate, data={"peer_ids": first})
    o.do("hr", nominate_peers, **nominate, data={"peer_ids": [str(i["admin"])]})
    before = o.snapshot()
    with pytest.raises(ReviewError, match="At most 5"):
        o.do(
            "hr",
            nominate_peers,
            **nominate,
            data={"peer_ids": [str(i["other_mgr"]), str(extra_id)]},
        )
    with pytest.raises(PermissionDenied):  # an unknown id is refused like another tenant's
        o.do("hr", nominate_peers, **nominate, data={"peer_ids": [str(uuid.uuid4())]})
    assert o.snapshot() == before


def test_peer_candidates_follow_the_nomination_rule(org: Org, other: Org) -> None:
    o = org
    cycle_id = _launched(o)
    i = o.ids
    for_emp1 = {"cycle_id": cycle_id, "reviewee_id": i["emp1"]}

    def ids(who: str) -> list[uuid.UUID]:
        return [uuid.UUID(p["id"]) for p in o.do(who, peer_candidates, **for_emp1)]

    everyone_else = {i[k] for k in ("admin", "hr", "other_mgr", "ops", "emp2")}
    # Active people of the tenant but the reviewee and their manager; never the inactive.
    assert set(ids("manager")) == everyone_else and set(ids("hr")) == everyone_else
    rows = o.do("manager", peer_candidates, **for_emp1)
    assert [r["name"].lower() for r in rows] == sorted(r["name"].lower() for r in rows)
    assert all(set(r) == {"id", "name"} for r in rows)
    assert len(o.do("hr", peer_candidates, **for_emp1, limit=2)) == 2
    # Someone already nominated is no longer a candidate.
    o.do("manager", nominate_peers, **for_emp1, data={"peer_ids": [str(i["emp2"])]})
    assert set(ids("manager")) == everyone_else - {i["emp2"]}
    # Nobody else may ask: not the reviewee, a colleague, another team's manager; not for
    # someone outside the cycle, and not from another tenant.
    b_cycle = _launched(other)
    before = o.snapshot()
    refused: list[tuple[str, dict[str, Any]]] = [
        ("emp1", for_emp1),
        ("emp2", for_emp1),
        ("other_mgr", for_emp1),
        ("manager", {"cycle_id": cycle_id, "reviewee_id": i["ops"]}),
        ("hr", {"cycle_id": cycle_id, "reviewee_id": i["hr"]}),  # not a participant
        ("hr", {"cycle_id": cycle_id, "reviewee_id": other.ids["emp1"]}),
        ("hr", {"cycle_id": b_cycle, "reviewee_id": other.ids["emp1"]}),
        ("hr", {"cycle_id": uuid.uuid4(), "reviewee_id": i["emp1"]}),
    ]
    for who, kwargs in refused:
        with pytest.raises(PermissionDenied):
            o.do(who, peer_candidates, **kwargs)
    assert o.snapshot() == before
    _to_calibration(o, cycle_id)
    with pytest.raises(ReviewError, match="only while the cycle is active"):
        o.do("manager", peer_candidates, **for_emp1)


def test_nomination_targets_are_the_rows_one_may_nominate_for(org: Org, other: Org) -> None:
    o = org
    cycle_id = _launched(o)
    i = o.ids
    out = {k: _outcome(o, cycle_id, k).id for k in ("emp1", "emp2", "ops")}
    b_cycle = _launched(other)
    b_out = _outcome(other, b_cycle, "emp1").id

    def targets(who: str, cycle: uuid.UUID = cycle_id, **extra: uuid.UUID) -> dict[str, str]:
        return o.do(
            who,
            nomination_targets,
            cycle_id=cycle,
            outcome_ids=[*out.values(), *extra.values()],
        )

    assert targets("manager") == {str(out[k]): str(i[k]) for k in ("emp1", "emp2")}
    assert targets("other_mgr") == {str(out["ops"]): str(i["ops"])}
    assert set(targets("hr")) == {str(v) for v in out.values()}
    assert targets("emp1") == {} and targets("emp2") == {}
    # another tenant's outcome or cycle, or an unknown one: refused as not found
    for refused in (lambda: targets("hr", b=b_out), lambda: targets("hr", b_cycle),
                    lambda: targets("hr", uuid.uuid4())):  # fmt: skip
        with pytest.raises(NotFoundHere):
            refused()
    assert o.do("hr", nomination_targets, cycle_id=cycle_id, outcome_ids=[]) == {}


# ----------------------------------------------------------------- refusals: what


def test_submitting_an_incomplete_review_is_refused(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    _write(o, "emp1", self1, [4, None], submit=False)
    before = o.snapshot()
    with pytest.raises(ReviewError, match="Missing: Collaboration"):
        o.do("emp1", submit_review, review_id=self1.id)
    with pytest.raises(ReviewError, match="Missing: Collaboration"):
        _write(o, "emp1", self1, [5, ""], submit=True)
    assert o.snapshot() == before
    assert _review(o, cycle_id, "emp1", "self").status == "in_progress"


@pytest.mark.parametrize("score", [0, 6, -1, "3.5", 2.5, "abc", True, "1e1"])
def test_scores_outside_the_scale_are_refused(org: Org, score: Any) -> None:
    o = org
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    before = o.snapshot()
    for submit in (False, True):
        with pytest.raises(ReviewError):
            _write(o, "emp1", self1, [score, 3], submit=submit)
    assert o.snapshot() == before


def test_the_tenants_own_scale_applies(org: Org) -> None:
    o = org
    with owner_session() as s:
        labels = {"1": "Low", "2": "Okay", "3": "Good", "4": "Great"}
        s.execute(
            update(Tenant)
            .where(col(Tenant.id) == o.t.id)
            .values(settings={"rating_scale": {"low": 1, "high": 4, "labels": labels}})
        )
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    with pytest.raises(ReviewError, match="from 1 to 4"):
        _write(o, "emp1", self1, [5, 4])
    assert _write(o, "emp1", self1, ["4", 4]).score == 4.0
    # Nine-box thirds of 1-4: 2 is mid, 3 is high (position 2/3).
    assert performance_bucket(_scale_1_4(), 1) == "low"
    assert performance_bucket(_scale_1_4(), 2) == "mid"
    assert performance_bucket(_scale_1_4(), 3) == "high"


def _scale_1_4():
    from pms_dashboard.organisation.schemas import RatingScale

    return RatingScale(low=1, high=4, labels={1: "a", 2: "b", 3: "c", 4: "d"})


def test_performance_buckets_on_the_default_scale() -> None:
    from pms_dashboard.organisation.schemas import RatingScale

    scale = RatingScale()
    got = {s: performance_bucket(scale, s) for s in (1, 2, 2.33, 2.34, 3, 3.66, 3.67, 4, 5)}
    assert got == {
        1: "low", 2: "low", 2.33: "low", 2.34: "mid", 3: "mid",
        3.66: "mid", 3.67: "high", 4: "high", 5: "high",
    }  # fmt: skip
    assert performance_bucket(scale, None) is None


def test_comment_length_is_limited(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    before = o.snapshot()
    with pytest.raises(ReviewError, match="5000"):
        _write(o, "emp1", self1, [3, 3], submit=False, comments=["x" * 5001, ""])
    assert o.snapshot() == before
    _write(o, "emp1", self1, [3, 3], submit=False, comments=["x" * 5000, ""])


def test_a_criterion_of_another_template_is_refused(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    _template(o, name="Another")
    stray = o.read(lambda s: s.scalars(select(col(ReviewCriterion.id))).all())
    own = set(_criterion_ids(o, self1.id))
    foreign = next(str(c) for c in stray if str(c) not in own)
    before = o.snapshot()
    with pytest.raises(PermissionDenied):
        o.do(
            "emp1",
            save_review,
            review_id=self1.id,
            draft={"ratings": [{"criterion_id": foreign, "score": 3}]},
        )
    assert o.snapshot() == before


def test_submitted_reviews_and_closed_windows_cannot_be_written(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    self2 = _review(o, cycle_id, "emp2", "self")
    _write(o, "emp1", self1, [3, 3])
    with pytest.raises(ReviewError, match="already submitted"):
        _write(o, "emp1", self1, [4, 4])
    _to_calibration(o, cycle_id)
    before = o.snapshot()
    with pytest.raises(ReviewError, match="not open"):
        _write(o, "emp2", self2, [4, 4], submit=False)
    assert o.snapshot() == before


def test_reopen_rules(org: Org) -> None:
    o = org
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    mgr1 = _review(o, cycle_id, "emp1", "manager")
    _write(o, "emp1", self1, [3, 3])
    _write(o, "manager", mgr1, [4, 4])
    assert _outcome(o, cycle_id, "emp1").status == "manager_done"
    before = o.snapshot()
    for who in ("emp1", "emp2", "other_mgr"):  # not the reviewee, a colleague or another team
        with pytest.raises(PermissionDenied):
            o.do(who, reopen_review, review_id=mgr1.id)
    assert o.snapshot() == before

    o.do("manager", reopen_review, review_id=mgr1.id)
    out = _outcome(o, cycle_id, "emp1")
    assert (out.status, out.computed_score) == ("self_done", None)
    assert _review(o, cycle_id, "emp1", "manager").status == "in_progress"
    assert _review(o, cycle_id, "emp1", "manager").score is None
    with pytest.raises(ReviewError, match="not submitted"):
        o.do("manager", reopen_review, review_id=mgr1.id)
    o.do("hr", reopen_review, review_id=self1.id)
    assert _outcome(o, cycle_id, "emp1").status == "not_started"
    assert "review.reopen" in _audit_actions(o)

    # Resubmitted, calibrated: reopening is no longer possible.
    _write(o, "emp1", self1, [3, 3])
    _write(o, "manager", mgr1, [2, 2])
    assert _outcome(o, cycle_id, "emp1").computed_score == Decimal("2.00")
    _to_calibration(o, cycle_id)
    with pytest.raises(ReviewError, match="only while the cycle is active"):
        o.do("manager", reopen_review, review_id=mgr1.id)


def test_calibration_refusals(org: Org) -> None:
    o = org
    cycle_id = _launched(o, participants={})
    out1 = _outcome(o, cycle_id, "emp1")
    change = {"final_rating": 4, "potential": 2, "reason": "Strong half"}

    # Not while the cycle is still active.
    with pytest.raises(ReviewError, match="in calibration"):
        o.do("manager", adjust_calibration, outcome_id=out1.id, change=change)
    _to_calibration(o, cycle_id)
    before = o.snapshot()

    # Without a reason.
    for reason in ("", "  ", "ab", " ab\n "):
        with pytest.raises(ReviewError, match=r"(?i)reason"):
            o.do(
                "manager",
                adjust_calibration,
                outcome_id=out1.id,
                change={**change, "reason": reason},
            )
    with pytest.raises(ReviewError, match=r"(?i)reason"):
        o.do("manager", adjust_calibration, outcome_id=out1.id, change={"final_rating": 4})
    # Nothing to change, out of scale, bad potential.
    with pytest.raises(ReviewError, match="choose"):
        o.do("manager", adjust_calibration, outcome_id=out1.id, change={"reason": "why"})
    with pytest.raises(ReviewError, match="from 1 to 5"):
        o.do(
            "manager",
            adjust_calibration,
            outcome_id=out1.id,
            change={**change, "final_rating": 9},
        )
    with pytest.raises(ReviewError):
        o.do(
            "manager",
            adjust_calibration,
            outcome_id=out1.id,
            change={**change, "potential": 4},
        )
    # One's own rating: the manager, HR and the tenant admin are participants too.
    for who in ("manager", "hr", "admin"):
        own = _outcome(o, cycle_id, who)
        with pytest.raises(PermissionDenied):
            o.do(who, adjust_calibration, outcome_id=own.id, change=change)
        with pytest.raises(PermissionDenied):
            o.do(who, calibration_history, outcome_id=own.id)
    # Another team's person, a colleague, oneself as an employee.
    ops = _outcome(o, cycle_id, "ops")
    for who, outcome in (("manager", ops), ("other_mgr", out1), ("emp2", out1), ("emp1", out1)):
        with pytest.raises(PermissionDenied):
            o.do(who, adjust_calibration, outcome_id=outcome.id, change=change)
    with pytest.raises(PermissionDenied):
        o.do("manager", calibration_history, outcome_id=ops.id)
    assert o.snapshot() == before

    # Nine-box and status never include the viewer or other teams.
    names = {
        p["name"] for c in o.do("other_mgr", ninebox, cycle_id=cycle_id).cells for p in c.people
    }
    assert names == set()
    status = o.do("other_mgr", cycle_status, cycle_id=cycle_id)
    assert [r.reviewee_name for r in status.page.rows] == ["Ops"]
    assert o.do("emp1", cycle_status, cycle_id=cycle_id).page.total == 0


def test_cycle_validation(org: Org) -> None:
    o = org
    template_id = _template(o)
    base = {
        "name": "Cycle",
        "template_id": template_id,
        "period_start": "2025-01-01",
        "period_end": "2025-06-30",
    }
    bad = [
        ({"period_end": "2024-12-31"}, "end on or after"),
        ({"self_review_due": "2024-12-01"}, "before the period"),
        ({"self_review_due": "2025-07-10", "manager_review_due": "2025-07-01"}, "self review"),
        ({"name": "  "}, "name"),
        ({"surprise": 1}, "surprise"),
    ]
    before = o.snapshot()
    for change, message in bad:
        with pytest.raises(ReviewError, match=f"(?i){message}"):
            o.do("hr", create_cycle, data={**base, **change})
    # ids that are malformed or not in the tenant: refused as not found, alike
    for change, message in (
        ({"participants": {"managers": [str(uuid.uuid4())]}}, "manager was not found"),
        ({"participants": {"managers": ["nope"]}}, "manager was not found"),
        ({"template_id": str(uuid.uuid4())}, "review template was not found"),
        ({"template_id": "not-a-uuid"}, "review template was not found"),
    ):
        with pytest.raises(NotFoundHere, match=message):
            o.do("hr", create_cycle, data={**base, **change})
    assert o.snapshot() == before
    o.do("hr", create_cycle, data=base)
    with pytest.raises(ReviewError, match="already exists"):
        o.do("hr", create_cycle, data={**base, "name": "cycle"})


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ([], "at least 1"),
        ([{"name": f"c{n}"} for n in range(21)], "at most 20"),
        ([{"name": "A"}, {"name": "a "}], "unique"),
        ([{"name": "A", "weight": 0}], "greater than 0"),
        ([{"name": "A", "weight": -1}], "greater than 0"),
        ([{"name": ""}], "at least 1"),
    ],
)
def test_template_validation(org: Org, criteria: list[dict[str, Any]], message: str) -> None:
    o = org
    before = o.snapshot()
    with pytest.raises(ReviewError, match=message):
        o.do("hr", create_template, data={"name": "T", "criteria": criteria})
    assert o.snapshot() == before


def test_template_names_are_unique_and_twenty_criteria_are_fine(org: Org) -> None:
    o = org
    row = o.do(
        "admin",
        create_template,
        data={"name": "Big", "criteria": [{"name": f"c{n}", "weight": "0.5"} for n in range(20)]},
    )
    assert [c.position for c in row.criteria] == list(range(20))
    with pytest.raises(ReviewError, match="already exists"):
        _template(o, name="big")


def test_status_paging(org: Org) -> None:
    o = org
    cycle_id = _launched(o, participants={})
    page1 = o.do("hr", cycle_status, cycle_id=cycle_id, query={"page_size": 2})
    page2 = o.do("hr", cycle_status, cycle_id=cycle_id, query={"page_size": 2, "page": 2})
    last = o.do("hr", cycle_status, cycle_id=cycle_id, query={"page_size": 2, "page": 99})
    assert page1.page.total == 6 and page1.page.pages == 3  # everyone but the viewer
    assert len(page1.page.rows) == 2 and len(page2.page.rows) == 2
    assert last.page.page == 3 and len(last.page.rows) == 2
    seen = [r.reviewee_name for p in (page1, page2, last) for r in p.page.rows]
    assert len(set(seen)) == 6 and "Hr" not in seen
    with pytest.raises(ReviewError, match="100"):
        o.do("hr", cycle_status, cycle_id=cycle_id, query={"page_size": 101})


# ---------------------------------------------------------------- another tenant's ids


def test_another_tenants_ids_are_refused_everywhere(org: Org, other: Org) -> None:
    """Every id-taking service, called by tenant A's admin, manager and employee with tenant
    B's ids: refused as not found, as an unknown id is, and neither tenant changes."""
    b = other
    b_cycle = _launched(b)
    i = b.ids
    b.do("hr", nominate_peers, cycle_id=b_cycle, reviewee_id=i["emp1"],
         data={"peer_ids": [str(i["emp2"])]})  # fmt: skip
    b_self = _review(b, b_cycle, "emp1", "self")
    b_mgr = _review(b, b_cycle, "emp1", "manager")
    _write(b, "emp1", b_self, [3, 3])
    b_out = _outcome(b, b_cycle, "emp1")
    b_template = b.read(lambda s: s.scalars(select(col(ReviewTemplate.id))).first())
    a_cycle = _launched(org)
    a_self = _review(org, a_cycle, "emp1", "self")

    a_before, b_before = org.snapshot(), b.snapshot()
    draft = {"ratings": _ratings(_criterion_ids(b, b_self.id), [3, 3])}
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (get_cycle, {"cycle_id": b_cycle}),
        (launch_cycle, {"cycle_id": b_cycle}),
        (start_calibration, {"cycle_id": b_cycle}),
        (close_cycle, {"cycle_id": b_cycle}),
        (share_results, {"cycle_id": b_cycle}),
        (cycle_status, {"cycle_id": b_cycle}),
        (ninebox, {"cycle_id": b_cycle}),
        (my_results, {"cycle_id": b_cycle}),
        (get_review, {"review_id": b_self.id}),
        (save_review, {"review_id": b_mgr.id, "draft": draft}),
        (submit_review, {"review_id": b_mgr.id, "draft": draft}),
        (reopen_review, {"review_id": b_self.id}),
        (calibration_history, {"outcome_id": b_out.id}),
        (
            adjust_calibration,
            {"outcome_id": b_out.id, "change": {"final_rating": 5, "reason": "xyz"}},
        ),
        (
            nominate_peers,
            {"cycle_id": b_cycle, "reviewee_id": i["emp1"], "data": {"peer_ids": [str(i["ops"])]}},
        ),
        (peer_candidates, {"cycle_id": b_cycle, "reviewee_id": i["emp1"]}),
        (
            nominate_peers,  # a peer from another tenant for one's own cycle
            {
                "cycle_id": a_cycle,
                "reviewee_id": org.ids["emp1"],
                "data": {"peer_ids": [str(i["ops"])]},
            },
        ),
        (
            create_cycle,
            {
                "data": {
                    "name": "X",
                    "template_id": str(b_template),
                    "period_start": "2025-01-01",
                    "period_end": "2025-02-01",
                }
            },
        ),
        (
            save_review,  # one's own review with another tenant's criterion
            {"review_id": a_self.id, "draft": draft},
        ),
    ]
    for who in ("admin", "manager", "emp1"):
        for fn, kwargs in calls:
            actor = "emp1" if fn is save_review and kwargs["review_id"] == a_self.id else who
            with pytest.raises(NotFoundHere) as err:
                org.do(actor, fn, **kwargs)
            assert str(err.value) == not_found_message(err.value.kind), fn.__name__
            assert "was not found in this organisation" in str(err.value), fn.__name__
    assert org.snapshot() == a_before
    assert b.snapshot() == b_before
