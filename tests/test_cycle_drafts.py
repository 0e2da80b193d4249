"""Draft cycles can be corrected or thrown away before launch: HR edits a draft's name,
period and participants (checked as at creation) or deletes it, both audited; a launched
cycle can be neither; only cycle admins; ids of other tenants are not found. And from the
page: Edit fills the form with the draft, saving updates it, Delete asks first."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.auth.resolve import IdKind, NotFoundHere
from pms_dashboard.errors import UserError
from pms_dashboard.reviews.cycles import (
    delete_cycle,
    get_cycle,
    get_draft,
    launch_cycle,
    update_cycle,
)
from pms_dashboard.reviews.models import ReviewCycle
from pms_dashboard.reviews.schemas import ReviewError
from pms_dashboard.ui.states.cycles import CYCLE_FORM_FIELDS, CYCLE_IDS, CyclesState
from pms_dashboard.ui.states.session import form_refusal
from tests.conftest import TEST_PASSWORD, TenantFixture
from tests.test_reviews import Org, _build_org, _cycle, _template
from tests.ui_harness import call, state_for, token_for


@pytest.fixture
def org(make_tenant: Callable[..., TenantFixture]) -> Org:
    return _build_org(make_tenant())


def _data(o: Org, cycle_id: str, **changes: Any) -> dict[str, Any]:
    draft = o.do("hr", get_draft, cycle_id=cycle_id)
    data = {
        "name": draft.name,
        "template_id": draft.template_id,
        "period_start": draft.period_start,
        "period_end": draft.period_end,
        "self_review_due": draft.self_review_due,
        "manager_review_due": draft.manager_review_due,
        "participants": {
            "departments": draft.departments,
            "teams": draft.teams,
            "manager_emails": draft.manager_emails,
        },
    }
    return data | changes


def _audits(o: Org, action: str) -> list[dict[str, Any]]:
    return o.read(
        lambda s: [
            e.detail for e in s.scalars(select(AuditEvent).where(col(AuditEvent.action) == action))
        ]
    )


def test_a_draft_is_edited_then_deleted_and_both_are_audited(org: Org) -> None:
    o = org
    cycle_id = _cycle(o, name="H1")
    changed = _data(
        o,
        cycle_id,
        name="H1 (corrected)",
        period_end=date(2025, 5, 31),
        participants={"departments": ["Sales"]},
    )
    row = o.do("hr", update_cycle, cycle_id=cycle_id, data=changed)
    assert (row.name, row.period_end) == ("H1 (corrected)", date(2025, 5, 31))
    assert "Departments: Sales" in row.participants
    [audit] = _audits(o, "review_cycle.update")
    assert audit["before"]["name"] == "H1" and audit["after"]["name"] == "H1 (corrected)"

    assert o.do("hr", delete_cycle, cycle_id=cycle_id) == "H1 (corrected)"
    assert o.read(lambda s: s.get(ReviewCycle, (o.t.id, uuid.UUID(cycle_id)))) is None
    [gone] = _audits(o, "review_cycle.delete")
    assert gone["before"]["name"] == "H1 (corrected)"


def test_bad_edits_are_refused_and_change_nothing(org: Org) -> None:
    o = org
    cycle_id = _cycle(o, name="H1")
    _cycle(o, name="H2")
    before = o.snapshot()
    for changes, words in [
        ({"name": "h2"}, "already exists"),
        ({"participants": {"departments": ["Nowhere"]}}, "department was not found"),
        ({"period_end": date(2024, 1, 1)}, "period"),
    ]:
        with pytest.raises((ReviewError, NotFoundHere, ValueError)) as err:
            o.do("hr", update_cycle, cycle_id=cycle_id, data=_data(o, cycle_id, **changes))
        assert words.lower() in str(err.value).lower(), str(err.value)
    assert o.snapshot() == before


def test_a_launched_cycle_is_neither_edited_nor_deleted(org: Org) -> None:
    o = org
    cycle_id = _cycle(o)
    data = _data(o, cycle_id, name="Renamed")
    o.do("hr", launch_cycle, cycle_id=uuid.UUID(cycle_id))
    before = o.snapshot()
    for fn, kw in ((update_cycle, {"data": data}), (delete_cycle, {}), (get_draft, {})):
        with pytest.raises(ReviewError, match="Only a draft"):
            o.do("hr", fn, cycle_id=cycle_id, **kw)
    assert o.snapshot() == before


@pytest.mark.parametrize("who", ["manager", "emp1"])
def test_only_cycle_admins(org: Org, who: str) -> None:
    o = org
    cycle_id = _cycle(o)
    data = _data(o, cycle_id, name="Mine now")
    before = o.snapshot()
    for fn, kw in ((update_cycle, {"data": data}), (delete_cycle, {}), (get_draft, {})):
        with pytest.raises(PermissionDenied):
            o.do(who, fn, cycle_id=cycle_id, **kw)
    assert o.snapshot() == before


def test_another_tenants_draft_is_not_found(
    org: Org, make_tenant: Callable[..., TenantFixture]
) -> None:
    o, other = org, _build_org(make_tenant())
    theirs = _cycle(other)
    for fn, kw in ((update_cycle, {"data": {}}), (delete_cycle, {}), (get_draft, {})):
        with pytest.raises(NotFoundHere):
            o.do("hr", fn, cycle_id=theirs, **kw)
    assert other.do("hr", get_cycle, cycle_id=theirs).status == "draft"


def test_from_the_page_edit_save_and_delete(org: Org) -> None:
    o = org
    cycle_id = _cycle(o, name="H1")
    token = token_for(o.t.slug, f"admin@{o.t.slug}.test", TEST_PASSWORD)
    st = state_for(CyclesState, token, "/cycles")
    call(st, CyclesState.load)
    call(st, CyclesState.edit_cycle, cycle_id)
    assert st.editing_cycle_id == cycle_id and st.draft["name"] == "H1"
    form = dict(st.draft) | {"name": "H1 final", "departments": "Sales"}
    call(st, CyclesState.create_cycle, form)
    assert st.error == "" and "saved" in st.notice and st.editing_cycle_id == ""
    assert [c["name"] for c in st.cycles] == ["H1 final"]

    call(st, CyclesState.ask, "delete", cycle_id)
    assert "for good" in st.confirm_text
    call(st, CyclesState.confirm)
    assert "deleted" in st.notice and st.cycles == []


def test_each_cycle_form_refusal_goes_beside_its_input_and_keeps_what_was_typed(
    org: Org, make_tenant: Callable[..., TenantFixture]
) -> None:
    o = org
    _cycle(o, name="H1")
    mine, theirs = _template(o, name="Mine"), _template(_build_org(make_tenant()), name="Theirs")
    token = token_for(o.t.slug, f"admin@{o.t.slug}.test", TEST_PASSWORD)
    st = state_for(CyclesState, token, "/cycles")
    call(st, CyclesState.load)
    good = {
        "name": "H2",
        "template_id": mine,
        "period_start": "2025-01-01",
        "period_end": "2025-06-30",
        "self_review_due": "2025-07-07",
        "manager_review_due": "2025-07-21",
        "departments": "Sales",
        "teams": "Alpha",
        "manager_emails": f"manager@{o.t.slug}.test",
    }
    before = o.snapshot()
    for changes, field, words in [
        ({"name": ""}, "name", "Name:"),
        ({"period_end": "2024-12-31"}, "period_end", "Period end: the period must end on or after"),
        ({"template_id": theirs}, "template_id", "template was not found"),
        ({"departments": "Sales, Nowhere"}, "participants.departments", "department"),
        ({"teams": "Gamma"}, "participants.teams", "team"),
        ({"manager_emails": "nobody@x.test"}, "participants.manager_emails", "email"),
        ({"manager_review_due": "2025-07-01"}, "manager_review_due", "self review deadline"),
    ]:
        typed, drawn = good | changes, st.form_key
        call(st, CyclesState.create_cycle, typed)
        assert (st.cycle_field, st.error, st.notice) == (field, "", ""), (changes, st.error)
        assert words.lower() in st.cycle_error.lower(), st.cycle_error
        # the inputs are not drawn afresh: the browser keeps what was typed (the state
        # holds none of it, an id typed there may be another organisation's)
        assert st.form_key == drawn and st.draft == {}
        assert o.snapshot() == before

    # A refusal about no one input stays in the page's callout, the typed values kept.
    call(st, CyclesState.create_cycle, good | {"name": "h1"})
    assert "already exists" in st.error and (st.cycle_error, st.cycle_field) == ("", "")
    assert st.form_key == drawn and o.snapshot() == before

    call(st, CyclesState.create_cycle, good)
    assert "created" in st.notice and (st.error, st.cycle_error, st.cycle_field) == ("", "", "")
    assert st.draft == {} and "H2" in [c["name"] for c in st.cycles]


@pytest.mark.parametrize(
    ("err", "placed"),
    [
        (ReviewError("Refused.", field="period_end"), "period_end"),
        (ReviewError("Refused.", field="participants.teams.0"), "participants.teams"),
        (ReviewError("Refused.", field="participants"), ""),
        (ReviewError("Refused.", field="status"), ""),
        (ReviewError("Refused.", field='name"><script>'), ""),
        (ReviewError("Refused.", field="key_results.0"), ""),
        (NotFoundHere(IdKind.goal), ""),
        (NotFoundHere(IdKind.department), "participants.departments"),
    ],
)
def test_a_forged_field_never_places_a_refusal_beside_a_wrong_input(
    err: UserError, placed: str
) -> None:
    assert form_refusal(err, CYCLE_FORM_FIELDS, CYCLE_IDS) == (str(err), placed)
    st = state_for(CyclesState, None, "/cycles")
    st._cycle_form_refused(err)
    assert (st.cycle_field, st.cycle_error if placed else st.error) == (placed, str(err))
    assert (st.error if placed else st.cycle_error) == ""
