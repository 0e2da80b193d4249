"""Goal event handlers called directly, as any browser could, with other tenants' ids,
another team's ids, garbage and no cookie: nothing changes and nothing foreign is shown."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from pms_dashboard.auth.models import Role, User
from pms_dashboard.goals import service
from pms_dashboard.goals.models import Goal, GoalCheckIn
from pms_dashboard.goals.schemas import GoalInput
from pms_dashboard.tenancy.session import owner_session, tenant_session
from pms_dashboard.ui.states.base import EndEvent
from pms_dashboard.ui.states.goals import GoalDetailState, GoalFormState, GoalsState
from pms_dashboard.ui.states.overview import OverviewState
from tests.conftest import TEST_PASSWORD, TenantFixture, add_person, ctx
from tests.ui_harness import call, redirects_to, state_for, token_for, vars_text

START, DUE = date.today() - timedelta(days=10), date.today() + timedelta(days=50)


def _goal(t: TenantFixture, who: str, title: str) -> uuid.UUID:
    actor = ctx(t, who)
    with tenant_session(actor) as s:
        return service.create_goal(
            session=s,
            actor=actor,
            data=GoalInput(title=title, start_date=START, due_date=DUE),
        )


def _snapshot() -> tuple[Any, ...]:
    with owner_session() as s:
        goals = sorted(
            (str(g.id), g.title, g.status, str(g.progress), str(g.parent_id), str(g.owner_id))
            for g in s.scalars(select(Goal))
        )
        check_ins = s.scalar(select(func.count()).select_from(GoalCheckIn))
    return tuple(goals), check_ins


@pytest.fixture
def world(make_tenant: Callable[..., TenantFixture]) -> dict[str, Any]:
    a, b = make_tenant(), make_tenant()
    add_person(a, "boss2", Role.manager.value, display_name="Boss Two")  # a second team in A
    add_person(a, "emp3", manager="boss2", display_name="Emp Three")
    return {
        "a": a,
        "b": b,
        "own": _goal(a, "emp1", "Own team goal"),
        "other_team": _goal(a, "emp3", "Other team secret goal"),
        "foreign": _goal(b, "emp1", "Globex secret goal"),
        "token": token_for(a.slug, f"manager@{a.slug}.test", TEST_PASSWORD),
    }


SECRETS = ("Other team secret goal", "Globex secret goal")


def _bad_ids(w: dict[str, Any]) -> list[str]:
    return [str(w["foreign"]), str(w["other_team"]), "garbage", str(uuid.uuid4()), "' OR 1=1 --"]


def _form(**extra: str) -> dict[str, str]:
    return {
        "title": "Hijacked title",
        "start_date": START.isoformat(),
        "due_date": DUE.isoformat(),
        "status": "active",
        "kr_title_0": "Sneaky KR",
        "kr_target_0": "10",
        "confidence": "on_track",
        "progress": "99",
        "note": "hijack",
    } | extra


DETAIL_HANDLERS = {
    "load": lambda st: call(st, GoalDetailState.load),
    "submit_check_in": lambda st: call(st, GoalDetailState.submit_check_in, _form()),
    "save_edit": lambda st: call(st, GoalDetailState.save_edit, _form()),
    "archive": lambda st: call(st, GoalDetailState.archive),
}


@pytest.mark.parametrize("handler", DETAIL_HANDLERS)
def test_detail_handlers_refuse_foreign_other_team_and_garbage_ids(world, handler) -> None:
    before = _snapshot()
    for bad in _bad_ids(world):
        st = state_for(GoalDetailState, world["token"], "/goals/[goal_id]", {"goal_id": bad})
        DETAIL_HANDLERS[handler](st)
        assert not any(secret in vars_text(st) for secret in SECRETS), (handler, bad)
        assert st.found is False
    assert _snapshot() == before


def test_detail_works_for_an_own_team_goal(world) -> None:
    st = state_for(
        GoalDetailState, world["token"], "/goals/[goal_id]", {"goal_id": str(world["own"])}
    )
    call(st, GoalDetailState.load)
    assert st.found and st.goal["title"] == "Own team goal"
    call(
        st, GoalDetailState.submit_check_in, {"confidence": "at_risk", "progress": "30", "note": ""}
    )
    assert st.check_in_error == "" and st.goal["progress"] == 30


@pytest.mark.parametrize("field", ["parent_id", "owner_id"])
def test_create_refuses_foreign_and_other_team_references(world, field) -> None:
    before = _snapshot()
    a, b = world["a"], world["b"]
    bad_values = {
        "parent_id": [str(world["foreign"]), str(world["other_team"]), "garbage"],
        "owner_id": [str(b.user_id("emp1")), str(a.user_id("emp3")), "garbage"],
    }[field]
    for bad in bad_values:
        st = state_for(GoalFormState, world["token"])
        call(st, GoalFormState.create, _form(**{field: bad}))
        assert st.error, (field, bad)
        assert not any(secret in vars_text(st) for secret in SECRETS)
    assert _snapshot() == before


def test_form_options_and_lists_show_only_visible_things(world) -> None:
    form = state_for(GoalFormState, world["token"])
    call(form, GoalFormState.open_form)
    listing = state_for(GoalsState, world["token"], "/goals")
    call(listing, GoalsState.load)
    call(listing, GoalsState.set_scope, "all")
    overview = state_for(OverviewState, world["token"], "/overview")
    call(overview, OverviewState.load)
    for st in (form, listing, overview):
        assert not any(secret in vars_text(st) for secret in SECRETS)
    assert [r["title"] for r in listing.rows] == ["Own team goal"]
    names = {o["name"] for o in form.owners}
    assert names == {"Manager", "Employee 1", "Employee 2"}


@pytest.mark.parametrize(
    "bad",
    [{"scope": "everything"}, {"sort": "password_hash"}, {"status": "deleted"}, {"page": -1}],
)
def test_list_handlers_refuse_unknown_filters(world, bad) -> None:
    st = state_for(GoalsState, world["token"], "/goals")
    call(st, GoalsState.load)
    rows = list(st.rows)
    key, value = next(iter(bad.items()))
    handler = {
        "scope": GoalsState.set_scope,
        "sort": GoalsState.sort_by,
        "status": GoalsState.filter_status,
    }.get(key)
    if handler is None:  # no handler takes a page: the helper they share, unwrapped
        with contextlib.suppress(EndEvent):  # (what the handlers' wrapper turns into a return)
            st._load(page=value)
    else:
        call(st, handler, value)
    assert st.error == "That filter or sort is not available."
    assert st.rows == rows


@pytest.mark.parametrize(
    ("state", "handler", "args"),
    [
        (GoalsState, GoalsState.load, ()),
        (GoalsState, GoalsState.set_scope, ("all",)),
        (GoalDetailState, GoalDetailState.load, ()),
        (GoalDetailState, GoalDetailState.submit_check_in, ({"progress": "1"},)),
        (GoalDetailState, GoalDetailState.archive, ()),
        (GoalDetailState, GoalDetailState.save_edit, ({},)),
        (GoalFormState, GoalFormState.open_form, ()),
        (GoalFormState, GoalFormState.create, ({},)),
        (OverviewState, OverviewState.load, ()),
    ],
)
def test_no_cookie_redirects_and_changes_nothing(world, state, handler, args) -> None:
    before = _snapshot()
    st = state_for(state, None, "/goals/[goal_id]", {"goal_id": str(world["own"])})
    assert redirects_to(call(st, handler, *args)) == "/signin"
    assert _snapshot() == before


def test_owner_and_team_filters_never_widen_what_is_visible(world) -> None:
    a, b = world["a"], world["b"]
    st = state_for(GoalsState, world["token"], "/goals")
    call(st, GoalsState.load)
    call(st, GoalsState.set_scope, "all")
    assert {o["name"] for o in st.owners} == {"Manager", "Employee 1", "Employee 2"}
    shown = st.rows
    # another tenant's person, an unknown id and garbage: refused alike, the list stays
    for foreign in (str(b.user_id("emp1")), str(uuid.uuid4()), "garbage"):
        call(st, GoalsState.filter_owner, foreign)
        assert st.error == "That owner was not found in this organisation.", foreign
        assert st.rows == shown and st.owner == ""
        assert not any(secret in vars_text(st) for secret in SECRETS)
    # someone of the tenant the viewer may not see: found, and the list shows nothing of theirs
    call(st, GoalsState.filter_owner, str(a.user_id("emp3")))
    assert st.error == "" and st.rows == [] and st.total == 0
    assert not any(secret in vars_text(st) for secret in SECRETS)
    call(st, GoalsState.filter_owner, str(a.user_id("emp1")))
    assert [r["title"] for r in st.rows] == ["Own team goal"]
    call(st, GoalsState.filter_owner, "all")
    with owner_session() as s:  # the other team's and Globex's team names
        s.execute(update(User).where(User.id == a.user_id("emp3")).values(team="Secret team"))
    call(st, GoalsState.filter_team, "Secret team")
    assert st.rows == [] and "Secret team" not in st.teams
    call(st, GoalsState.filter_team, "No such team")
    assert st.error == "That team was not found in this organisation." and st.team == "Secret team"


@pytest.mark.parametrize("state", [GoalsState, OverviewState])
def test_lists_say_none_only_once_read(world, state) -> None:
    """Until a tab's first load answers, the page draws grey bars, not "no goals"; a
    signed-out load leaves it unread (nothing of the list is shown to nobody)."""
    st = state_for(state, world["token"], "/goals")
    assert st.loaded is False
    call(st, state.load)
    assert st.loaded is True
    gone = state_for(state, None, "/goals")
    assert redirects_to(call(gone, state.load)) == "/signin" and gone.loaded is False


# ------------------------------------------------------- the goal form's refusals, placed


def _refusal_cases(w: dict[str, Any]) -> list[tuple[dict[str, str], str, str]]:
    """(what is typed, the input the refusal goes beside, words it says)."""
    return [
        ({"title": "ab"}, "title", "Title: needs at least 3 characters."),
        ({"weight": "0"}, "weight", "Weight: must be greater than 0."),
        ({"period": "p" * 40}, "period", "Period: may have at most 32 characters."),
        ({"start_date": "someday"}, "start_date", "Start date: must be a date."),
        ({"due_date": (START - timedelta(days=1)).isoformat()}, "due_date", "on or after"),
        (
            {"kr_start_1": "0", "kr_target_1": "10"},
            "key_results.1",
            "Key result 2: give it a title",
        ),
        ({"kr_title_2": "B", "kr_target_2": "x"}, "key_results.2", "Key result 3 target: 'x' is"),
        ({"kr_title_3": "sneaky kr", "kr_target_3": "5"}, "key_results.3", "Key result 4: give"),
        ({"kr_unit_0": "u" * 40}, "key_results.0", "Key result 1 unit: may have at most 32"),
        ({"parent_id": str(w["foreign"])}, "parent_id", "not found"),
        ({"parent_id": str(w["other_team"])}, "parent_id", "parent goal"),
        ({"owner_id": "garbage"}, "owner_id", "not found"),
    ]


def test_each_goal_form_refusal_goes_beside_its_input_and_saves_nothing(world) -> None:
    before = _snapshot()
    for typed, field, words in _refusal_cases(world):
        st = state_for(GoalFormState, world["token"])
        call(st, GoalFormState.create, _form(**typed))
        assert (st.error_field, words in st.error) == (field, True), (typed, st.error)
        assert "Input should" not in st.error and "_" not in st.error.split(":")[0]
    assert _snapshot() == before


def test_the_edit_forms_refusal_goes_beside_its_input_not_the_pages_line(world) -> None:
    st = state_for(
        GoalDetailState, world["token"], "/goals/[goal_id]", {"goal_id": str(world["own"])}
    )
    call(st, GoalDetailState.load)
    call(st, GoalDetailState.start_edit)
    call(st, GoalDetailState.save_edit, _form(weight="0"))
    assert (st.edit_field, st.edit_error) == ("weight", "Weight: must be greater than 0.")
    assert st.error == "" and st.editing
    call(st, GoalDetailState.save_edit, _form(kr_start_1="1", kr_target_1="2"))
    assert st.edit_field == "key_results.1" and st.edit_error.startswith("Key result 2:")
    call(st, GoalDetailState.cancel_edit)
    assert st.edit_error == st.edit_field == ""


def test_forged_names_never_pick_an_input(world) -> None:
    """Keys the form does not have are ignored; a refusal about anything the form does not
    show (a forged key-result id, a name no input has) lands on the form's own line."""
    forged = {
        "key_results.0.title": "x", "kr_title_9": "", "kr_target_9": "5", "error_field": "title",
        "__proto__": "x", "title.x": "y",
    }  # fmt: skip
    st = state_for(GoalFormState, world["token"])
    call(st, GoalFormState.create, _form(title="ab", **forged))
    assert st.error_field == "title"
    call(st, GoalFormState.create, _form(kr_id_0=str(uuid.uuid4())))
    assert st.error_field == "" and "not found" in st.error
