"""Review exports as a user downloads them: each statement run through PostgreSQL COPY as
pms_app in a tenant session (the export machinery's way), the CSV parsed back with pandas and
compared with the database; the summary pivot compared with a hand count. Who may export
what, and what a peer review never shows, are tested both ways.

Fixture data is written as the owner (set-up only); every export runs as pms_app.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
import pytest
from sqlalchemy import Select, event, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth.models import Role, User
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.db import csvsafe
from pms_dashboard.db.engine import app_engine
from pms_dashboard.exports import service as exports
from pms_dashboard.exports import stream
from pms_dashboard.exports.routes import export_stream
from pms_dashboard.reviews import reporting
from pms_dashboard.reviews.calibration import cycle_status
from pms_dashboard.reviews.cycles import create_cycle
from pms_dashboard.reviews.models import (
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewOutcome,
    ReviewRating,
)
from pms_dashboard.reviews.peers import nominate_peers
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.reviews.templates import create_template
from pms_dashboard.reviews.writing import get_review
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture
from tests.test_reviews import ROLES, Org, _build_org, _launched, _review, _write

HOSTILE = ("=cmd|' /C calc'!A0", "+1", "-2", "@SUM(1)", "\tx")
PEER_NAMES = ("Petra Peerwriter", "Paul Peerwriter")
PEER_WORDS = "peer-secret"
KIND_ORDER = {"self": 0, "manager": 1, "peer": 2}


# ------------------------------------------------------------------------------ helpers


def copy_csv(session: Session, statement: Select[Any]) -> tuple[str, pd.DataFrame]:
    """Run `statement` as the export does (the export's own COPY streamer) and return the
    raw text and the parsed table (every cell as text, empty cells as "")."""
    csv_text = b"".join(stream.copy_csv(session, statement)).decode("utf-8")
    frame = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    return csv_text, frame


def export(o: Org, who: str, cycle_id: uuid.UUID) -> tuple[str, pd.DataFrame]:
    ctx = o.ctx(who)
    with tenant_session(ctx) as session:
        statement = reporting.reviews_export_statement(
            session=session, actor=ctx, cycle_id=cycle_id
        )
        return copy_csv(session, statement)


def summary(o: Org, who: str, cycle_id: uuid.UUID, by: str) -> pd.DataFrame:
    return o.do(who, reporting.cycle_summary_frame, cycle_id=cycle_id, by=by)


def quoted(value: str) -> str:
    """What a spreadsheet-dangerous cell must come back as (the oracle, written out)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _owner_update(model: Any, where: Any, **values: Any) -> None:
    with owner_session() as s:
        s.execute(update(model).where(where).values(**values))


class People(Org):
    """test_reviews' organisation, plus people added here (employees unless said)."""

    def ctx(self, who: str) -> TenantContext:
        role = ROLES.get(who, Role.employee.value)
        return TenantContext(tenant_id=self.t.id, user_id=self.ids[who], role=role)

    def add(self, key: str, name: str, **extra: Any) -> None:
        with owner_session() as s:
            user = User(
                tenant_id=self.t.id,
                email=f"{key}@{self.t.slug}.test",
                display_name=name,
                role=Role.employee.value,
                **extra,
            )
            s.add(user)
            s.flush()
            self.ids[key] = user.id


@pytest.fixture
def org(make_tenant: Callable[..., TenantFixture]) -> People:
    built = _build_org(make_tenant())
    return People(built.t, built.ids)


@pytest.fixture
def other(make_tenant: Callable[..., TenantFixture]) -> Org:
    return _build_org(make_tenant())


@pytest.fixture
def reviewed(org: People) -> tuple[Org, uuid.UUID]:
    """A launched cycle (emp1, emp2 under manager; ops under other_mgr) with emp1's self and
    manager reviews submitted, emp2's self review in draft, ops's manager review submitted,
    and two peers of emp1 who are nobody else in the cycle: one submitted, one in draft."""
    o = org
    for key, name in zip(("peer_a", "peer_b"), PEER_NAMES, strict=True):
        o.add(key, name, department="Elsewhere", team="Far")
    cycle_id = _launched(o)
    i = o.ids
    o.do(
        "manager",
        nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=i["emp1"],
        data={"peer_ids": [str(i["peer_a"]), str(i["peer_b"])]},
    )
    _write(o, "emp1", _review(o, cycle_id, "emp1", "self"), [4, 3],
           comments=["Shipped it", ""], summary="Good half")  # fmt: skip
    _write(o, "manager", _review(o, cycle_id, "emp1", "manager"), [5, 2],
           comments=["Delivered", "Quiet"])  # fmt: skip
    _write(o, "emp2", _review(o, cycle_id, "emp2", "self"), [3, None],
           comments=["Half done", ""], submit=False)  # fmt: skip
    _write(o, "other_mgr", _review(o, cycle_id, "ops", "manager"), [2, 4])
    peer_words = [f"{PEER_WORDS} a1", f"{PEER_WORDS} a2"]
    _write(o, "peer_a", _review(o, cycle_id, "emp1", "peer", "peer_a"), [1, 5],
           comments=peer_words, summary=f"{PEER_WORDS} sa")  # fmt: skip
    _write(o, "peer_b", _review(o, cycle_id, "emp1", "peer", "peer_b"), [2, None],
           comments=[f"{PEER_WORDS} b1", ""], submit=False)  # fmt: skip
    return o, cycle_id


def expected_rows(o: Org, cycle_id: uuid.UUID, reviewees: set[str]) -> list[dict[str, str]]:
    """The export's rows built in Python from the tables (read as pms_app): one per review
    and criterion of the visible reviewees, peers without reviewer, scores or comments."""
    wanted = {o.ids[k] for k in reviewees}

    def read(s: Any) -> list[dict[str, str]]:
        cycle = s.scalars(select(ReviewCycle).where(col(ReviewCycle.id) == cycle_id)).one()
        criteria = list(
            s.scalars(
                select(ReviewCriterion)
                .where(col(ReviewCriterion.template_id) == cycle.template_id)
                .order_by(col(ReviewCriterion.position))
            )
        )
        users = {u.id: u for u in s.scalars(select(User))}
        reviews = list(s.scalars(select(Review).where(col(Review.cycle_id) == cycle_id)))
        ratings = {(r.review_id, r.criterion_id): r for r in s.scalars(select(ReviewRating))}
        rows = []
        for review in sorted(
            (r for r in reviews if r.reviewee_id in wanted),
            key=lambda r: (str(r.reviewee_id), KIND_ORDER[r.kind], str(r.id)),
        ):
            peer = review.kind == "peer"
            person = users[review.reviewee_id]
            for c in criteria:
                rating = None if peer else ratings.get((review.id, c.id))
                submitted = review.submitted_at
                rows.append(
                    {
                        "cycle": quoted(cycle.name),
                        "reviewee": quoted(person.display_name),
                        "reviewee_department": quoted(person.department or ""),
                        "reviewee_team": quoted(person.team or ""),
                        "reviewer": "" if peer else quoted(users[review.reviewer_id].display_name),
                        "kind": review.kind,
                        "status": review.status,
                        "submitted_at": submitted.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                        if submitted
                        else "",
                        "criterion": quoted(c.name),
                        "criterion_weight": str(c.weight),
                        "score": str(rating.score)
                        if rating is not None and rating.score is not None
                        else "",
                        "comment": quoted(rating.comment) if rating is not None else "",
                        "review_score": str(review.score)
                        if not peer and review.score is not None
                        else "",
                    }
                )
        return rows

    return o.read(read)


def _sorted(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return sorted(tuple(r[c] for c in reporting.REVIEW_EXPORT_COLUMNS) for r in rows)


# ------------------------------------------------------------------ reviews with ratings


def test_export_rows_are_the_databases(reviewed: tuple[Org, uuid.UUID]) -> None:
    o, cycle_id = reviewed
    later = _launched(o, name="H2")  # the same people in another cycle stay out of this file
    _write(o, "emp1", _review(o, later, "emp1", "self"), [1, 1], comments=["Next half", ""])
    csv_text, frame = export(o, "hr", cycle_id)
    assert "Next half" not in csv_text and set(frame["cycle"]) == {"H1"}
    assert list(frame.columns) == list(reporting.REVIEW_EXPORT_COLUMNS)
    rows = frame.to_dict("records")
    want = expected_rows(o, cycle_id, {"emp1", "emp2", "ops"})
    # emp1: self, manager, 2 peers; emp2: self, manager; ops: self, manager -> 8 reviews x 2
    assert len(want) == 16
    assert _sorted(rows) == _sorted(want)

    # Spot checks against what the fixture wrote, so the oracle itself is checked too.
    def pick(reviewee: str, kind: str, criterion: str) -> list[dict[str, str]]:
        return [
            r
            for r in rows
            if r["reviewee"] == reviewee and r["kind"] == kind and r["criterion"] == criterion
        ]

    [mgr] = pick("Employee 1", "manager", "Delivery")
    assert (mgr["reviewer"], mgr["score"], mgr["comment"], mgr["review_score"]) == (
        "Manager",
        "5.00",
        "Delivered",
        "4.25",
    )
    assert mgr["status"] == "submitted" and mgr["submitted_at"].endswith("Z")
    assert (mgr["cycle"], mgr["reviewee_department"], mgr["reviewee_team"]) == (
        "H1",
        "Sales",
        "Alpha",
    )
    assert mgr["criterion_weight"] == "3.00"
    [draft] = pick("Employee 2", "self", "Collaboration")
    assert (draft["status"], draft["score"], draft["submitted_at"], draft["review_score"]) == (
        "in_progress",
        "",
        "",
        "",
    )
    [untouched] = pick("Employee 2", "manager", "Delivery")
    assert (untouched["status"], untouched["score"], untouched["reviewer"]) == (
        "not_started",
        "",
        "Manager",
    )

    # Order: by reviewee, then self, manager, peer, then criterion position.
    for name in ("Employee 1", "Employee 2", "Ops"):
        block = [i for i, r in enumerate(rows) if r["reviewee"] == name]
        assert block == list(range(block[0], block[0] + len(block)))  # contiguous
        kinds = [KIND_ORDER[rows[i]["kind"]] for i in block]
        assert kinds == sorted(kinds)
        assert [rows[i]["criterion"] for i in block[:2]] == ["Delivery", "Collaboration"]


def test_peer_reviews_never_show_who_or_what(reviewed: tuple[Org, uuid.UUID]) -> None:
    o, cycle_id = reviewed
    peer_ids = [str(o.ids["peer_a"]), str(o.ids["peer_b"])]
    for who in ("hr", "admin", "manager"):
        csv_text, frame = export(o, who, cycle_id)
        peers = frame[frame["kind"] == "peer"]
        # Both peer reviews are there (4 rows), with their status, and nothing else of theirs.
        assert len(peers) == 4, who
        assert sorted(peers["status"]) == ["in_progress"] * 2 + ["submitted"] * 2
        for column in ("reviewer", "score", "comment", "review_score"):
            assert set(peers[column]) == {""}, (who, column)
        lowered = csv_text.lower()
        for secret in (*PEER_NAMES, *peer_ids, PEER_WORDS, "Elsewhere", "Far"):
            assert secret.lower() not in lowered, (who, secret)
    # The peer reviews hold scores and words (so the blanks above are the export's doing).
    assert _review(o, cycle_id, "emp1", "peer", "peer_a").score == Decimal("2.00")
    assert PEER_WORDS in o.do("peer_b", get_review, review_id=_review(
        o, cycle_id, "emp1", "peer", "peer_b").id).ratings[0].comment  # fmt: skip


def test_a_manager_exports_only_their_reports(reviewed: tuple[Org, uuid.UUID]) -> None:
    o, cycle_id = reviewed
    _, frame = export(o, "manager", cycle_id)
    assert set(frame["reviewee"]) == {"Employee 1", "Employee 2"}
    assert _sorted(frame.to_dict("records")) == _sorted(
        expected_rows(o, cycle_id, {"emp1", "emp2"})
    )
    _, theirs = export(o, "other_mgr", cycle_id)
    assert set(theirs["reviewee"]) == {"Ops"}
    assert _sorted(theirs.to_dict("records")) == _sorted(expected_rows(o, cycle_id, {"ops"}))


def test_nobody_exports_their_own_reviews(org: Org) -> None:
    """Everyone active takes part: the exporter's own self and manager reviews are left out,
    as on the status page (calibration is never of oneself)."""
    o = org
    cycle_id = _launched(o, participants={})
    _, hr = export(o, "hr", cycle_id)
    assert "Hr" not in set(hr["reviewee"])
    assert set(hr["reviewee"]) == {"Admin", "Manager", "Other_Mgr", "Employee 1", "Employee 2",
                                   "Ops"}  # fmt: skip
    _, mgr = export(o, "manager", cycle_id)
    assert set(mgr["reviewee"]) == {"Employee 1", "Employee 2"}


@pytest.mark.parametrize("who", ["emp1", "ops"])
def test_an_employee_is_refused(reviewed: tuple[Org, uuid.UUID], who: str) -> None:
    o, cycle_id = reviewed
    with pytest.raises(PermissionDenied):
        export(o, who, cycle_id)
    with pytest.raises(PermissionDenied):
        summary(o, who, cycle_id, "department")


def test_an_employee_who_leads_people_exports_their_reports(org: Org) -> None:
    """The rule is "may see someone's result" (the permission table), not the role name."""
    o = org
    _owner_update(User, col(User.id) == o.ids["ops"], manager_id=o.ids["emp1"])
    cycle_id = _launched(o, participants={})
    _, frame = export(o, "emp1", cycle_id)
    assert set(frame["reviewee"]) == {"Ops"}


def _denials(o: Org) -> list[tuple[str, bool]]:
    return o.read(
        lambda s: [
            (e.action, e.flagged)
            for e in s.scalars(
                select(AuditEvent)
                .where(col(AuditEvent.action).like("access.%"))
                .order_by(col(AuditEvent.seq))
            )
        ]
    )


def test_other_tenants_and_unknown_cycle_ids_are_refused_like_the_status_page(
    org: Org, other: Org
) -> None:
    o = org
    _launched(o)
    b_cycle = _launched(other)
    a_review = _review(o, _launched(o, name="H2"), "emp1", "self").id
    for who in ("hr", "admin", "manager"):
        for cycle_id in (b_cycle, uuid.uuid4(), a_review):
            with pytest.raises(PermissionDenied) as status_err:
                o.do(who, cycle_status, cycle_id=cycle_id)
            before = len(_denials(o))
            with pytest.raises(PermissionDenied) as export_err:
                export(o, who, cycle_id)
            with pytest.raises(PermissionDenied) as summary_err:
                summary(o, who, cycle_id, "manager")
            for err in (export_err.value, summary_err.value):
                assert (str(err), err.resource, err.action, err.target_id) == (
                    str(status_err.value),
                    status_err.value.resource,
                    status_err.value.action,
                    status_err.value.target_id,
                )
            # Audited the same way too: not found in this organisation (another tenant's id
            # goes to the platform's trail only: tests/test_resolve_handlers.py)
            new = _denials(o)[before:]
            assert new == [("access.not_found", True)] * 2, (who, cycle_id)


def test_garbage_cycle_ids_fail_like_the_status_page(org: Org) -> None:
    o = org
    for garbage in ("not-a-uuid", "'; SELECT 1; --", None):
        with pytest.raises(Exception) as status_err:
            o.do("hr", cycle_status, cycle_id=garbage)
        with pytest.raises(Exception) as export_err:
            export(o, "hr", garbage)  # type: ignore[arg-type]
        assert type(export_err.value) is type(status_err.value), garbage


def test_formula_cells_are_neutralised_and_numbers_are_not(
    reviewed: tuple[Org, uuid.UUID],
) -> None:
    o, cycle_id = reviewed
    eq, plus, minus, at, tab = HOSTILE
    i = o.ids
    self1 = _review(o, cycle_id, "emp1", "self")
    mgr_ops = _review(o, cycle_id, "ops", "manager")
    _owner_update(ReviewCycle, col(ReviewCycle.id) == cycle_id, name=minus)
    _owner_update(User, col(User.id) == i["emp1"], display_name=eq, department=plus, team=at)
    _owner_update(User, col(User.id) == i["manager"], display_name=tab)
    _owner_update(ReviewRating, col(ReviewRating.review_id) == self1.id, comment=at)
    template = o.read(
        lambda s: s.scalar(
            select(col(ReviewCycle.template_id)).where(col(ReviewCycle.id) == cycle_id)
        )
    )
    _owner_update(
        ReviewCriterion,
        (col(ReviewCriterion.template_id) == template) & (col(ReviewCriterion.name) == "Delivery"),
        name=plus,
    )
    # Numbers that start with "-": a negative score and review score (weights are > 0).
    _owner_update(ReviewRating, col(ReviewRating.review_id) == mgr_ops.id, score=Decimal(-2))
    _owner_update(Review, col(Review.id) == mgr_ops.id, score=Decimal("-1.50"))

    csv_text, frame = export(o, "hr", cycle_id)
    assert set(frame["cycle"]) == {"'-2"}
    emp1 = frame[frame["reviewee"] == "'" + eq]
    assert len(emp1) == 8
    assert set(emp1["reviewee_department"]) == {"'+1"}
    assert set(emp1["reviewee_team"]) == {"'@SUM(1)"}
    assert set(emp1.loc[emp1["kind"] == "manager", "reviewer"]) == {"'\tx"}
    assert set(emp1.loc[emp1["kind"] == "self", "comment"]) == {"'@SUM(1)"}
    assert set(frame["criterion"]) == {"'+1", "Collaboration"}
    ops = frame[(frame["reviewee"] == "Ops") & (frame["kind"] == "manager")]
    assert list(ops["score"]) == ["-2.00", "-2.00"]
    assert set(ops["review_score"]) == {"-1.50"}
    assert set(ops["criterion_weight"]) == {"3.00", "1.00"}
    # No cell anywhere starts a formula (a parsed cell, so quoting cannot hide one).
    for value in frame.to_numpy().ravel():
        assert not value.startswith(("=", "+", "@", "\t", "\r")), value
        assert not value.startswith("-") or value in ("-2.00", "-1.50"), value
    # The same through the product's own number reading: scores stay numbers.
    numbers = pd.read_csv(io.StringIO(csv_text))
    assert numbers.loc[numbers["reviewee"] == "Ops", "score"].dropna().min() == -2.0


def test_every_table_is_confined_to_the_actors_tenant_by_the_statement_itself(
    reviewed: tuple[Org, uuid.UUID],
) -> None:
    """Defence in depth for the raw COPY: in the executed plan (EXPLAIN VERBOSE, as pms_app)
    every scan of a table carries `tenant_id = '<the actor's tenant>'` from the statement,
    not only row-level security's `current_tenant_id()` (which shows as a parameter)."""
    o, cycle_id = reviewed
    for who in ("hr", "manager"):
        ctx = o.ctx(who)
        with tenant_session(ctx) as session:
            statement = reporting.reviews_export_statement(
                session=session, actor=ctx, cycle_id=cycle_id
            )
            compiled = statement.compile(
                dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
            )
            raw = session.connection().connection.dbapi_connection
            assert isinstance(raw, psycopg.Connection)
            with psycopg.ClientCursor(raw) as cursor:
                cursor.execute(
                    "EXPLAIN (VERBOSE, FORMAT JSON) " + compiled.string, dict(compiled.params)
                )
                row = cursor.fetchone()
                assert row is not None
                plan = row[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        scans = list(_scans(plan[0]["Plan"]))
        tables = {s["Relation Name"] for s in scans}
        assert {"review", "review_cycle", "review_outcome", "app_user"} <= tables
        assert {"review_criterion", "review_rating"} <= tables
        if who == "manager":  # the reports tree is walked in app_user too
            assert sum(s["Relation Name"] == "app_user" for s in scans) >= 3
        for scan in scans:
            conditions = " ".join(
                str(scan.get(k, "")) for k in ("Filter", "Index Cond", "Recheck Cond")
            )
            assert f"'{o.t.id}'::uuid" in conditions, (who, scan["Relation Name"], conditions)


def _scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Relation Name" in node:
        yield node
    for child in node.get("Plans", []):
        yield from _scans(child)


def test_a_draft_cycle_exports_just_the_header(org: Org) -> None:
    o = org
    created = o.do(
        "hr",
        create_template,
        data={"name": "T", "criteria": [{"name": "A"}]},
    )
    cycle = o.do(
        "hr",
        create_cycle,
        data={
            "name": "Draft",
            "template_id": created.id,
            "period_start": "2025-01-01",
            "period_end": "2025-06-30",
        },
    )
    csv_text, frame = export(o, "hr", uuid.UUID(cycle.id))
    assert csv_text == ",".join(reporting.REVIEW_EXPORT_COLUMNS) + "\n"
    assert frame.empty


# --------------------------------------------------------------------------- the summary


@pytest.fixture
def summarised(org: Org) -> tuple[Org, uuid.UUID]:
    """Everyone active takes part (admin, hr, manager, other_mgr, emp1, emp2, ops):

    reviews   self x7, manager x3 (emp1, emp2 by manager; ops by other_mgr), peer x2 (emp1)
    submitted self: emp1 emp2 ops hr; manager: emp1 (4.25), ops (2.25); peer: emp2 -> emp1
    ratings   emp1 4.25 -> 4; ops 2.25 -> 2; emp2 final 3; manager final 5 over computed 1;
              other_mgr computed 2.5 -> 3 (rounded as the status page does); admin none
    """
    o = org
    cycle_id = _launched(o, participants={})
    i = o.ids
    o.do(
        "manager",
        nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=i["emp1"],
        data={"peer_ids": [str(i["emp2"]), str(i["ops"])]},
    )
    for who in ("emp1", "emp2", "ops", "hr"):
        _write(o, who, _review(o, cycle_id, who, "self"), [3, 3])
    _write(o, "manager", _review(o, cycle_id, "emp1", "manager"), [5, 2])
    _write(o, "other_mgr", _review(o, cycle_id, "ops", "manager"), [2, 3])
    _write(o, "emp2", _review(o, cycle_id, "emp1", "peer", "emp2"), [4, 4])

    def outcome(key: str) -> Any:
        return (col(ReviewOutcome.cycle_id) == cycle_id) & (
            col(ReviewOutcome.reviewee_id) == i[key]
        )

    _owner_update(ReviewOutcome, outcome("emp2"), final_rating=Decimal(3))
    _owner_update(
        ReviewOutcome, outcome("manager"), final_rating=Decimal(5), computed_score=Decimal(1)
    )
    _owner_update(ReviewOutcome, outcome("other_mgr"), computed_score=Decimal("2.50"))
    return o, cycle_id


LABELS = [
    "Below expectations",
    "Partially meets",
    "Meets expectations",
    "Exceeds expectations",
    "Outstanding",
]
COUNTS = ["participants", "self_submitted", "manager_submitted", "peer_submitted"]


def _table(frame: pd.DataFrame) -> list[list[Any]]:
    return [[v.item() if hasattr(v, "item") else v for v in row] for row in frame.to_numpy()]


def test_summary_by_department_is_the_hand_count(summarised: tuple[Org, uuid.UUID]) -> None:
    o, cycle_id = summarised
    frame = summary(o, "hr", cycle_id, "department")
    assert list(frame.columns) == ["department", *COUNTS, "completion_pct", *LABELS, "not_rated"]
    # department, people, self, mgr, peer, completion (submitted/expected), ratings low..high, none
    assert _table(frame) == [
        ["(no department)", 1, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 1],  # admin: 0/1
        ["Ops", 2, 1, 1, 0, 66.7, 0, 1, 1, 0, 0, 0],  # other_mgr, ops: 2/3
        ["Sales", 3, 2, 1, 1, 57.1, 0, 0, 1, 1, 1, 0],  # manager, emp1, emp2: 4/7
        ["total", 6, 3, 2, 1, 54.5, 0, 1, 2, 1, 1, 1],  # 6/11; hr (the viewer) left out
    ]
    assert all(str(frame[c].dtype) == "int64" for c in [*COUNTS, *LABELS, "not_rated"])


def test_summary_by_manager_is_the_hand_count(summarised: tuple[Org, uuid.UUID]) -> None:
    o, cycle_id = summarised
    frame = summary(o, "hr", cycle_id, "manager")
    assert list(frame.columns) == ["manager", *COUNTS, "completion_pct", *LABELS, "not_rated"]
    assert _table(frame) == [
        ["(no manager)", 3, 0, 0, 0, 0.0, 0, 0, 1, 0, 1, 1],  # admin, manager, other_mgr: 0/3
        ["Manager", 2, 2, 1, 1, 66.7, 0, 0, 1, 1, 0, 0],  # emp1, emp2: 4/6
        ["Other_Mgr", 1, 1, 1, 0, 100.0, 0, 1, 0, 0, 0, 0],  # ops: 2/2
        ["total", 6, 3, 2, 1, 54.5, 0, 1, 2, 1, 1, 1],
    ]


def test_a_managers_summary_has_only_their_reports(summarised: tuple[Org, uuid.UUID]) -> None:
    o, cycle_id = summarised
    for by in ("department", "manager"):
        frame = summary(o, "manager", cycle_id, by)
        group = "Sales" if by == "department" else "Manager"
        assert _table(frame) == [
            [group, 2, 2, 1, 1, 66.7, 0, 0, 1, 1, 0, 0],
            ["total", 2, 2, 1, 1, 66.7, 0, 0, 1, 1, 0, 0],
        ]


def test_summary_ratings_agree_with_the_status_page_on_the_tenants_scale(
    summarised: tuple[Org, uuid.UUID],
) -> None:
    """A 1-4 scale with a label that would start a formula: columns follow the scale (the
    cycle's, kept since launch; the 5 is clamped into its top label as the status page
    does), headers and text cells are neutralised, and the total row equals cycle_status's
    distribution."""
    o, cycle_id = summarised
    labels = {"1": "=Low", "2": "Mid", "3": "Good", "4": "Top"}
    scale = {"low": 1, "high": 4, "labels": labels}
    with owner_session() as s:
        s.execute(update(Tenant).where(col(Tenant.id) == o.t.id).values(
            settings={"rating_scale": scale}))  # fmt: skip
    _owner_update(ReviewCycle, col(ReviewCycle.id) == cycle_id, rating_scale=scale)
    _owner_update(User, col(User.id) == o.ids["other_mgr"], department="@SUM(1)")
    _owner_update(User, col(User.id) == o.ids["manager"], display_name="+1 Boss")

    by_dept = summary(o, "hr", cycle_id, "department")
    assert list(by_dept.columns)[6:] == ["'=Low", "Mid", "Good", "Top", "not_rated"]
    status = o.do("hr", cycle_status, cycle_id=cycle_id)
    distribution = dict(status.distribution)
    total = by_dept[by_dept["department"] == "total"].iloc[0]
    assert [int(total[csvsafe.neutralize(v)]) for v in labels.values()] == [
        distribution[v] for v in labels.values()
    ]
    assert int(total["not_rated"]) == distribution.get("Not rated", 0) == 1
    assert int(total["Top"]) == 2  # emp1's 4.25 and the manager's 5
    assert int(total["participants"]) == status.page.total
    assert "'@SUM(1)" in set(by_dept["department"])  # other_mgr alone; ops stays in Ops
    by_mgr = summary(o, "hr", cycle_id, "manager")
    assert "'+1 Boss" in set(by_mgr["manager"])
    for frame in (by_dept, by_mgr):
        csv_text = frame.to_csv(index=False)
        for cell in pd.read_csv(io.StringIO(csv_text), dtype=str).to_numpy().ravel():
            assert not str(cell).startswith(("=", "+", "-", "@", "\t")), cell


def test_summary_loads_aggregates_not_people(summarised: tuple[Org, uuid.UUID]) -> None:
    """A handful of statements, the same for 6 people as for 2: no per-person queries."""
    o, cycle_id = summarised
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = app_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        summary(o, "hr", cycle_id, "department")
        for_six = len(statements)
        statements.clear()
        summary(o, "manager", cycle_id, "manager")
        for_two = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert for_six <= 6 and for_two <= 6
    # Two of them read the cycle's data; the rest are the permission checks and the scale.
    assert sum("review_outcome" in s for s in statements) == 2


def test_summary_refuses_other_groupings(summarised: tuple[Org, uuid.UUID]) -> None:
    o, cycle_id = summarised
    with pytest.raises(ReviewError, match="department or by manager"):
        summary(o, "hr", cycle_id, "team")


def test_a_summary_of_nobody_is_a_zero_total(org: Org) -> None:
    o = org
    cycle_id = _launched(o, participants={"departments": ["Ops"]})  # other_mgr and ops
    frame = summary(o, "manager", cycle_id, "department")  # their reports take no part
    assert _table(frame) == [["total", 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 0]]
    assert list(frame.columns) == ["department", *COUNTS, "completion_pct", *LABELS, "not_rated"]
    frame = summary(o, "other_mgr", cycle_id, "manager")
    assert _table(frame) == [
        ["Other_Mgr", 1, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 1],
        ["total", 1, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 1],
    ]


@pytest.mark.parametrize(
    ("submitted", "expected", "pct"),
    [(0, 0, 0.0), (1, 16, 6.3), (2, 3, 66.7), (1, 3, 33.3), (7, 7, 100.0), (1, 2000, 0.1)],
)
def test_completion_is_rounded_half_up_to_one_decimal(
    submitted: int, expected: int, pct: float
) -> None:
    got = reporting._completion_pct(pd.Series([submitted]), pd.Series([expected]))
    assert got.tolist() == [pct]


def test_the_export_service_streams_audits_and_refuses_like_the_page(
    reviewed: tuple[Org, uuid.UUID],
) -> None:
    o, cycle_id = reviewed
    request = exports.prepare("reviews", {"cycle_id": str(cycle_id)})
    body = b"".join(export_stream(o.ctx("hr"), request)).decode()
    assert body == export(o, "hr", cycle_id)[0]
    summary = exports.prepare("cycle-summary", {"cycle_id": str(cycle_id), "by": "manager"})
    text = b"".join(export_stream(o.ctx("manager"), summary)).decode()
    assert text == summary_frame_csv(o, "manager", cycle_id, "manager")
    details = o.read(
        lambda s: [
            e.detail
            for e in s.scalars(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "export.csv")
                .order_by(col(AuditEvent.seq))
            )
        ]
    )
    assert [(d["export"], d["filters"], d["completed"]) for d in details] == [
        ("reviews", {"cycle_id": str(cycle_id)}, True),
        ("cycle-summary", {"cycle_id": str(cycle_id), "by": "manager"}, True),
    ]
    assert details[0]["rows"] == len(export(o, "hr", cycle_id)[1])
    with pytest.raises(PermissionDenied):
        next(export_stream(o.ctx("emp1"), request))
    for raw in ({"cycle_id": str(cycle_id), "by": "salary"}, {}):
        with pytest.raises(exports.ExportError):
            exports.prepare("cycle-summary", raw)
    # a malformed id is refused like an unknown one, when the export runs (and audited)
    garbage = exports.prepare("cycle-summary", {"cycle_id": "garbage"})
    with pytest.raises(PermissionDenied, match="review cycle was not found"):
        next(export_stream(o.ctx("hr"), garbage))


def summary_frame_csv(o: Org, who: str, cycle_id: uuid.UUID, by: str) -> str:
    frame = o.do(who, reporting.cycle_summary_frame, cycle_id=cycle_id, by=by)
    return frame.to_csv(index=False, lineterminator="\n")
