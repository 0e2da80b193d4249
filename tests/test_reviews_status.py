"""Review statuses: the table of allowed changes (walked pair by pair), that nothing in the
reviews package changes a status but through it, and that the Reopen offer a review carries
is exactly what `reopen_review` accepts."""

from __future__ import annotations

import ast
import itertools
import uuid
from pathlib import Path

import pytest

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.reviews import status
from pms_dashboard.reviews.calibration import adjust_calibration, share_results
from pms_dashboard.reviews.cycles import start_calibration
from pms_dashboard.reviews.models import Review, ReviewCycle, ReviewOutcome
from pms_dashboard.reviews.peers import nominate_peers
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.reviews.writing import get_review, reopen_review
from pms_dashboard.tenancy.session import tenant_session
from tests.test_reviews import ROLES, Org, _build_org, _launched, _outcome, _review, _write

# What the product allows, written out: a change here is a change of the product's rules.
EXPECTED = {
    ReviewCycle: {
        ("draft", "active"),
        ("active", "calibration"),
        ("calibration", "active"),
        ("calibration", "closed"),
    },
    Review: {
        ("not_started", "in_progress"),
        ("in_progress", "submitted"),
        ("submitted", "in_progress"),
    },
    ReviewOutcome: {
        ("not_started", "self_done"),
        ("not_started", "manager_done"),
        ("self_done", "manager_done"),
        ("self_done", "not_started"),
        ("manager_done", "self_done"),
        ("manager_done", "not_started"),
        ("not_started", "calibrated"),
        ("self_done", "calibrated"),
        ("manager_done", "calibrated"),
        ("calibrated", "calibrated"),
        ("calibrated", "shared"),
    },
}


def _row(model: type[status.Row], value: str) -> status.Row:
    return model(status=value)


@pytest.mark.parametrize("model", list(status.STATUSES), ids=lambda m: m.__name__)
def test_the_table_is_the_products_rules(model: type[status.Row]) -> None:
    assert status.allowed_pairs(model) == EXPECTED[model]


@pytest.mark.parametrize("model", list(status.STATUSES), ids=lambda m: m.__name__)
def test_every_allowed_change_works_and_every_other_pair_is_refused(
    model: type[status.Row],
) -> None:
    values = [s.value for s in status.STATUSES[model]]
    steps = [s for s in status.STEPS if s.model is model]
    assert steps
    for before, after in itertools.product(values, values):
        towards = [s for s in steps if s.after == after]
        if (before, after) in status.allowed_pairs(model):
            taking = [s for s in towards if before in s.before]
            assert taking, (before, after)
            for step in taking:
                row = _row(model, before)
                assert status.can(row, step)
                assert status.move(row, step) == before
                assert row.status == after
        else:
            for step in towards:  # every way to `after` refuses a row that is `before`
                row = _row(model, before)
                assert not status.can(row, step)
                with pytest.raises(ReviewError, match=step.refusal):
                    status.move(row, step)
                assert row.status == before, (before, after)


def test_a_step_refuses_a_row_of_another_kind() -> None:
    with pytest.raises(TypeError):
        status.move(_row(Review, "draft"), status.LAUNCH)
    assert not status.can(_row(Review, "draft"), status.LAUNCH)


def test_reopening_needs_an_outcome_that_is_not_calibrated_yet() -> None:
    for value in ("not_started", "self_done", "manager_done"):
        status.check_reopenable(_row(ReviewOutcome, value))  # type: ignore[arg-type]
    for value in ("calibrated", "shared"):
        with pytest.raises(ReviewError, match="already calibrated"):
            status.check_reopenable(_row(ReviewOutcome, value))  # type: ignore[arg-type]


def _status_writes(path: Path) -> list[int]:
    """Lines that assign a `status` attribute, `setattr` one, or write `status=` in a SQL
    `.values(...)`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets]
            targets += [e for t in node.targets if isinstance(t, ast.Tuple) for e in t.elts]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets):
            found.append(node.lineno)
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            name = name or (node.func.id if isinstance(node.func, ast.Name) else "")
            if name == "setattr" and any(
                isinstance(a, ast.Constant) and a.value == "status" for a in node.args
            ):
                found.append(node.lineno)
            if name in ("values", "update") and any(k.arg == "status" for k in node.keywords):
                found.append(node.lineno)
    return found


def test_nothing_in_the_reviews_package_changes_a_status_but_the_status_module() -> None:
    package = Path(status.__file__).parent
    writes = {
        p.name: lines
        for p in sorted(package.glob("*.py"))
        if p.name != "status.py" and (lines := _status_writes(p))
    }
    assert writes == {}
    assert _status_writes(package / "status.py")  # (the check sees the one that does)


# ----------------------------------------------------------------------- the Reopen offer


class _Undo(Exception):
    """Raised inside a unit of work so it rolls back."""


def _reopen_accepted(o: Org, who: str, review_id: uuid.UUID) -> bool:
    """Whether `reopen_review` accepts it now (rolled back either way)."""
    ctx = o.ctx(who)
    try:
        with tenant_session(ctx) as session:
            reopen_review(session=session, actor=ctx, review_id=review_id)
            raise _Undo
    except _Undo:
        return True
    except (PermissionDenied, ReviewError):
        return False


def _offers(o: Org, reviews: dict[str, Review]) -> set[tuple[str, str]]:
    """(who, review) for every review each person may open and is offered Reopen on,
    checking each offer against what the service accepts."""
    offered = set()
    for who, (name, review) in itertools.product(ROLES, reviews.items()):
        try:
            detail = o.do(who, get_review, review_id=review.id)
        except (PermissionDenied, ReviewError):
            continue
        assert detail.may_reopen == _reopen_accepted(o, who, review.id), (who, name)
        if detail.may_reopen:
            offered.add((who, name))
    return offered


def test_the_reopen_offer_is_what_the_service_accepts(make_tenant) -> None:
    o = _build_org(make_tenant())
    cycle_id = _launched(o)
    self1 = _review(o, cycle_id, "emp1", "self")
    mgr1 = _review(o, cycle_id, "emp1", "manager")
    self2 = _review(o, cycle_id, "emp2", "self")
    _write(o, "emp1", self1, [3, 3])
    _write(o, "manager", mgr1, [4, 4])
    _write(o, "emp2", self2, [2, 2], submit=False)
    o.do(
        "manager",
        nominate_peers,
        cycle_id=cycle_id,
        reviewee_id=o.ids["emp1"],
        data={"peer_ids": [o.ids["hr"]]},
    )
    peer = _review(o, cycle_id, "emp1", "peer", "hr")
    _write(o, "hr", peer, [3, 4])
    reviews = {"self1": self1, "mgr1": mgr1, "self2": self2, "peer": peer}

    # The reviewee's managers and the admins, on submitted reviews; never one's own self
    # review; a peer review is shown to its writer only, who may reopen it as an admin.
    assert _offers(o, reviews) == {
        ("manager", "self1"),
        ("manager", "mgr1"),
        ("hr", "self1"),
        ("hr", "mgr1"),
        ("hr", "peer"),
        ("admin", "self1"),
        ("admin", "mgr1"),
    }
    # Nothing was reopened on the way.
    assert _review(o, cycle_id, "emp1", "manager").status == "submitted"

    # In calibration nothing is reopened, whoever asks.
    o.do("hr", start_calibration, cycle_id=cycle_id)
    assert _offers(o, reviews) == set()
    change = {"final_rating": 3, "potential": 2, "reason": "Panel agreed"}
    o.do("hr", adjust_calibration, outcome_id=_outcome(o, cycle_id, "emp1").id, change=change)
    o.do("hr", share_results, cycle_id=cycle_id)
    assert _offers(o, reviews) == set()
