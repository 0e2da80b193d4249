"""Every id a Reflex handler receives goes through one resolver, and is refused and audited
the same way everywhere.

The table below names, for every handler of every page, each argument, form field or URL
part that carries an id (or a name used as a filter) and what it stands for. An inventory
test fails when a handler takes something that looks like an id and is not in the table
(like the console's handler inventory), and every entry is then called, as each role of
tenant A, with tenant B's id and with an unknown one, through the handler itself:

* the browser gets the same message for both (not found in this organisation);
* A's trail has a flagged `access.not_found` with the kind, and no trace of B's id, name
  or slug, nor any word of a cross-tenant check;
* the platform's trail has a flagged `access.cross_tenant` naming both tenants, the actor,
  the kind and B's id (for ids; names such as a team are never looked up elsewhere), and
  nothing for the unknown id;
* none of B's rows, nor its trail, changes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import reflex as rx
from sqlalchemy import select, update
from sqlmodel import col

import pms_dashboard.pms_dashboard  # noqa: F401  (every page, so every state is defined)
from pms_dashboard.auth import refusals, resolve
from pms_dashboard.auth.models import User
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.auth.resolve import IdKind, not_found_message
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.models import KeyResult
from pms_dashboard.goals.schemas import GoalInput, KeyResultInput
from pms_dashboard.models import TENANT_MODELS
from pms_dashboard.reviews.models import ReviewCriterion, ReviewTemplate
from pms_dashboard.tenancy.session import owner_session
from pms_dashboard.ui.states.console import ConsoleState
from pms_dashboard.ui.states.cycles import CyclesState
from pms_dashboard.ui.states.goals import GoalDetailState, GoalFormState, GoalsState
from pms_dashboard.ui.states.people import PeopleState
from pms_dashboard.ui.states.reviews import ReviewsState
from tests.conftest import TEST_PASSWORD, new_tenant
from tests.test_reviews import Org, _build_org, _launched, _outcome, _review
from tests.trails import cross_tenant_since, platform_head, tenant_head, tenant_since
from tests.ui_harness import call, state_for, token_for

# What looks like an id: a name ending in _id or _ids (or an f-string prefix such as
# "kr_id_"), or one of the things ids and filter names stand for.
ID_NAME = re.compile(
    r"^(?:[a-z0-9_]+_)?ids?_?$|^(?:owner|manager|parent|peers?|template|cycle|review|reviewee"
    r"|reviewer|outcome|goal|person|teams?|departments?|criterion|key_results?"
    r"|manager_emails)$"
)
NAMES = {IdKind.team, IdKind.department, IdKind.email}  # looked up in the tenant only
ROLES = ("admin", "hr", "manager", "emp1")
TODAY = date.today()


# ------------------------------------------------------------------------------ world


@dataclass
class World:
    """Tenant A (who asks: a token per role) and tenant B (whose ids A sends)."""

    a: Org
    b: Org
    tokens: dict[str, str]
    a_goal: uuid.UUID
    a_cycle: uuid.UUID
    a_template: str
    foreign: dict[IdKind, str] = field(default_factory=dict)


def _goal_with_kr(o: Org, who: str, title: str) -> tuple[uuid.UUID, uuid.UUID]:
    data = GoalInput(
        title=title, start_date=TODAY, due_date=TODAY + timedelta(days=30),
        key_results=[KeyResultInput(title="Measure", target_value=10)],
    )  # fmt: skip
    goal_id = o.do(who, goals.create_goal, data=data)
    kr = o.read(lambda s: s.scalars(select(col(KeyResult.id)).where(KeyResult.goal_id == goal_id)))
    return goal_id, next(iter(kr))


@pytest.fixture(scope="module")
def world(database: str) -> World:
    a, b = _build_org(new_tenant()), _build_org(new_tenant())
    with owner_session() as s:  # HR signs in too; B's other team has names no one else has
        s.execute(
            update(User)
            .where(col(User.id) == a.ids["hr"])
            .values(password_hash=hash_password(TEST_PASSWORD))
        )
        s.execute(
            update(User)
            .where(col(User.tenant_id) == b.t.id, col(User.team) == "Beta")
            .values(team=f"Beta of {b.t.slug}", department=f"Ops of {b.t.slug}")
        )
    a_goal, _ = _goal_with_kr(a, "emp1", "A's own goal")
    a_cycle = _launched(a, name="A cycle")
    b_goal, b_kr = _goal_with_kr(b, "emp1", "B's secret goal")
    b_cycle = _launched(b, name="B cycle")
    b_template = b.read(lambda s: s.scalars(select(col(ReviewTemplate.id))).first())
    b_criterion = b.read(lambda s: s.scalars(select(col(ReviewCriterion.id))).first())
    w = World(
        a=a, b=b, a_goal=a_goal, a_cycle=a_cycle,
        a_template=str(a.read(lambda s: s.scalars(select(col(ReviewTemplate.id))).first())),
        tokens={r: token_for(a.t.slug, f"{r}@{a.t.slug}.test", TEST_PASSWORD) for r in ROLES},
    )  # fmt: skip
    person = str(b.ids["emp1"])
    w.foreign = {
        IdKind.goal: str(b_goal),
        IdKind.parent: str(b_goal),
        IdKind.key_result: str(b_kr),
        IdKind.review: str(_review(b, b_cycle, "emp1", "self").id),
        IdKind.cycle: str(b_cycle),
        IdKind.outcome: str(_outcome(b, b_cycle, "emp1").id),
        IdKind.template: str(b_template),
        IdKind.criterion: str(b_criterion),
        IdKind.person: person,
        IdKind.owner: person,
        IdKind.manager: str(b.ids["manager"]),
        IdKind.peer: person,
        IdKind.team: f"Beta of {b.t.slug}",
        IdKind.department: f"Ops of {b.t.slug}",
        IdKind.email: f"manager@{b.t.slug}.test",
    }
    return w


def _unknown(kind: IdKind) -> str:
    """An id (or name) that exists nowhere."""
    if kind is IdKind.email:
        return f"nobody-{uuid.uuid4().hex[:8]}@nowhere.test"
    if kind in NAMES:
        return f"No such {kind.value} {uuid.uuid4().hex[:8]}"
    return str(uuid.uuid4())


# ------------------------------------------------------------------------------ table


@dataclass(frozen=True)
class Entry:
    """One id a handler receives: where it travels and what it stands for; `run` calls the
    handler as the holder of `token`, with `value` in that place, and returns the state."""

    state: type[rx.State]
    handler: str
    where: str  # "arg", "form", "url" (query string) or "route" (a dynamic path part)
    field: str
    kind: IdKind
    run: Callable[[World, str, str], rx.State]

    @property
    def name(self) -> str:
        return f"{self.state.__name__}.{self.handler}:{self.where}:{self.field}"


def _arg(
    state: type[rx.State], handler: str, field: str, kind: IdKind, *,
    before: Callable[[World], tuple[Any, ...]] = lambda w: (),
    after: tuple[Any, ...] = (),
    prepare: Callable[[rx.State, World], None] = lambda st, w: None,
) -> Entry:  # fmt: skip
    def run(w: World, token: str, value: str) -> rx.State:
        st = state_for(state, token, "/")
        prepare(st, w)
        call(st, getattr(state, handler), *before(w), value, *after)
        return st

    return Entry(state, handler, "arg", field, kind, run)


def _form(
    state: type[rx.State], handler: str, field: str, kind: IdKind,
    base: Callable[[World], dict[str, Any]], *,
    route: Callable[[World], dict[str, str]] | None = None, key: str | None = None,
) -> Entry:  # fmt: skip
    """`field` as the handler's module names it; `key`, the form's name for it (for
    numbered fields such as kr_id_0)."""

    def run(w: World, token: str, value: str) -> rx.State:
        st = state_for(state, token, "/", route(w) if route else None)
        call(st, getattr(state, handler), base(w) | {key or field: value})
        return st

    return Entry(state, handler, "form", field, kind, run)


def _param(
    state: type[rx.State], handler: str, where: str, field: str, kind: IdKind,
    *args: Any, form: Callable[[World], dict[str, Any]] | None = None,
) -> Entry:  # fmt: skip
    def run(w: World, token: str, value: str) -> rx.State:
        st = state_for(state, token, "/", {field: value})
        call(st, getattr(state, handler), *args, *((form(w),) if form else ()))
        return st

    return Entry(state, handler, where, field, kind, run)


def _goal_form(w: World) -> dict[str, Any]:
    return {"title": "Probe goal", "start_date": TODAY.isoformat(),
            "due_date": (TODAY + timedelta(days=30)).isoformat(), "owner_id": "me",
            "parent_id": "none"}  # fmt: skip


def _goal_form_with_kr(w: World) -> dict[str, Any]:
    return _goal_form(w) | {"kr_title_0": "Measure", "kr_target_0": "10"}


def _a_goal(w: World) -> dict[str, str]:
    return {"goal_id": str(w.a_goal)}


def _cycle_form(w: World) -> dict[str, Any]:
    return {"name": f"Probe {uuid.uuid4().hex[:6]}", "template_id": w.a_template,
            "period_start": "2025-01-01", "period_end": "2025-03-01", "departments": "",
            "teams": "", "manager_emails": ""}  # fmt: skip


def _in_a_cycle(st: rx.State, w: World) -> None:
    st.cycle_id = str(w.a_cycle)  # type: ignore[attr-defined]  # as the page has it open


K = IdKind
TABLE: list[Entry] = [
    # /goals: the list's filters, from its menus and from links to it (?owner=, ?team=)
    _arg(GoalsState, "filter_owner", "owner", K.owner),
    _arg(GoalsState, "filter_team", "team", K.team),
    _param(GoalsState, "load", "url", "owner", K.owner),
    _param(GoalsState, "load", "url", "team", K.team),
    # the new-goal dialog
    _form(GoalFormState, "create", "owner_id", K.owner, _goal_form),
    _form(GoalFormState, "create", "parent_id", K.parent, _goal_form),
    _form(GoalFormState, "create", "kr_id_", K.key_result, _goal_form_with_kr, key="kr_id_0"),
    # /goals/[goal_id]
    _param(GoalDetailState, "load", "route", "goal_id", K.goal),
    _param(GoalDetailState, "archive", "route", "goal_id", K.goal),
    _param(
        GoalDetailState,
        "submit_check_in",
        "route",
        "goal_id",
        K.goal,
        form=lambda w: {"confidence": "on_track", "progress": "10"},
    ),
    _param(GoalDetailState, "save_edit", "route", "goal_id", K.goal, form=_goal_form),
    _form(GoalDetailState, "save_edit", "owner_id", K.owner, _goal_form, route=_a_goal),
    _form(GoalDetailState, "save_edit", "parent_id", K.parent, _goal_form, route=_a_goal),
    _form(
        GoalDetailState,
        "save_edit",
        "kr_id_",
        K.key_result,
        _goal_form_with_kr,
        route=_a_goal,
        key="kr_id_0",
    ),
    # /reviews
    _arg(ReviewsState, "open_review", "review_id", K.review),
    _arg(ReviewsState, "open_results", "cycle_id", K.cycle),
    _arg(ReviewsState, "set_score", "criterion_id", K.criterion, after=("3",)),
    _arg(ReviewsState, "set_comment", "criterion_id", K.criterion, after=("A comment",)),
    # /cycles
    _param(CyclesState, "load", "url", "cycle", K.cycle),
    *[
        _arg(CyclesState, h, "cycle_id", K.cycle)
        for h in (
            "select_cycle",
            "launch",
            "start_calibration",
            "reopen_calibration",
            "close_cycle",
            "share",
            "edit_cycle",
        )
    ],
    # the confirmation of a launch counts the reviews it would create: the id is resolved
    _arg(CyclesState, "ask", "cycle_id", K.cycle, before=lambda w: ("launch",)),
    _arg(CyclesState, "open_adjust", "outcome_id", K.outcome),
    _arg(CyclesState, "open_nominate", "outcome_id", K.outcome, prepare=_in_a_cycle),
    _arg(CyclesState, "set_peer", "person_id", K.peer, after=(True,), prepare=_in_a_cycle),
    _form(CyclesState, "create_cycle", "template_id", K.template, _cycle_form),
    _form(CyclesState, "create_cycle", "manager_emails", K.email, _cycle_form),
    _form(CyclesState, "create_cycle", "departments", K.department, _cycle_form),
    _form(CyclesState, "create_cycle", "teams", K.team, _cycle_form),
    # /people
    *[
        _arg(PeopleState, h, "person_id", K.person)
        for h in ("select_person", "deactivate", "reactivate")
    ],
    _arg(PeopleState, "change_role", "person_id", K.person, after=("employee",)),
    _arg(PeopleState, "change_manager", "person_id", K.person, after=("",)),
    _arg(
        PeopleState,
        "change_manager",
        "manager_id",
        K.manager,
        before=lambda w: (str(w.a.ids["emp1"]),),
    ),
    _form(
        PeopleState,
        "save_profile",
        "person_id",
        K.person,
        lambda w: {"department": "", "team": "", "job_title": ""},
    ),
    _form(
        PeopleState,
        "invite",
        "manager_id",
        K.manager,
        lambda w: {
            "email": f"probe-{uuid.uuid4().hex[:6]}@{w.a.t.slug}.test",
            "display_name": "Probe",
            "role": "employee",
        },
    ),
    _arg(PeopleState, "filter_department", "value", K.department),
    _arg(PeopleState, "filter_team", "value", K.team),
]

# Handler arguments that look like ids but are no tenant's rows, and why.
NOT_TENANT_IDS = {
    (ConsoleState, "revoke", "grant_id"): "the platform console: a super-admin's own grant, "
    "checked against their grants (console.grants), never inside a tenant",
}
# Literal names in a state module that look like ids but are not read from the browser
# as one (or are read through a table entry above under another name), and why.
NOT_INPUTS = {
    "pms_dashboard.ui.states.session": {"manager": "a role's name (display labels)"},
    "pms_dashboard.ui.states.goals": {
        "owner": "the owner filter as GoalsState keeps it, and the ?owner= entry above",
        "goal_id": "the route part, read by _goal_id (entries above)",
    },
    "pms_dashboard.ui.states.people": {
        "department": "the people filter, sent through filter_department's value (above)",
        "team": "the people filter, sent through filter_team's value (above)",
    },
    "pms_dashboard.ui.states.reviews": {
        "criterion_id": "the open form's ratings as the server made them",
    },
    "pms_dashboard.ui.states.cycles": {
        "outcome_id": "status rows and nine-box cells as the server made them",
        "cycle_id": "the export's filter, from the selected cycle (resolved again there)",
        "department": "a summary export 'by department' (a choice, not a name)",
        "manager": "a summary export 'by manager' (a choice, not a name)",
        "peer_ids": "the nomination sent to the service from ticked, resolved people",
    },
    "pms_dashboard.ui.states.sso": {
        "client_id": "the identity provider's client identifier, text the admin types",
    },
    "pms_dashboard.ui.states.console": {
        "actor_id": "the console's audit search: any tenant's user id, a filter of the "
        "platform's own cross-tenant search (console.search), never a tenant's lookup",
        "event_id": "the console's review of a flagged event (console.flagged.review_flag)",
    },
}


# -------------------------------------------------------------------------- inventory


def _app_states() -> Iterator[type[rx.State]]:
    pending = list(rx.State.get_substates())
    while pending:
        state = pending.pop()
        pending.extend(state.get_substates())
        if state.__module__.startswith("pms_dashboard."):
            yield state


def _own_handlers(state: type[rx.State]) -> dict[str, Any]:
    return {n: h for n, h in state.event_handlers.items() if n != "setvar"}  # Reflex's own


def test_the_resolver_reads_real_tenant_tables_by_name() -> None:
    """The resolver names tables instead of importing the domains' models: each name is a
    tenant table, every kind of id has one, and every id it resolves counts as this
    tenant's in a refusal's audit (`exists_here`)."""
    tenant_tables = {m.__tablename__ for m in TENANT_MODELS}
    assert set(refusals.ADDRESSABLE) <= tenant_tables
    assert set(resolve.ID_TABLES.values()) <= set(refusals.ADDRESSABLE)
    names = {IdKind.team, IdKind.department, IdKind.email}
    assert set(resolve.ID_TABLES) == set(IdKind) - names


def test_every_handler_argument_that_looks_like_an_id_is_in_the_table() -> None:
    known = {(e.state, e.handler, e.field) for e in TABLE if e.where == "arg"}
    missing = []
    for state in _app_states():
        for name, handler in _own_handlers(state).items():
            for param in list(inspect.signature(handler.fn).parameters)[1:]:
                key = (state, name, param)
                if ID_NAME.match(param) and key not in known and key not in NOT_TENANT_IDS:
                    missing.append(f"{state.__name__}.{name}({param})")
    assert missing == [], "add these to TABLE (and resolve them) or explain them"


def test_every_table_entry_names_a_real_handler_and_argument() -> None:
    for entry in TABLE:
        handler = _own_handlers(entry.state).get(entry.handler)
        assert handler is not None, entry.name
        params = list(inspect.signature(handler.fn).parameters)[1:]
        if entry.where == "arg":
            assert entry.field in params, entry.name
        elif entry.where == "form":
            assert "form" in params, entry.name


def _id_literals(module: str) -> set[str]:
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value != "id" and ID_NAME.match(node.value)
    }  # fmt: skip


def test_every_name_a_state_module_reads_that_looks_like_an_id_is_accounted_for() -> None:
    """Form fields and URL parts are read by name: every such name in a state's module is a
    table entry of that module's states, or explained (a new form field fails here)."""
    modules = {s.__module__ for s in _app_states()}
    unexplained = {}
    for module in sorted(modules):
        fields = {e.field for e in TABLE if e.state.__module__ == module}
        fields |= {p for (s, _, p) in NOT_TENANT_IDS if s.__module__ == module}
        left = _id_literals(module) - fields - set(NOT_INPUTS.get(module, {}))
        if left:
            unexplained[module] = sorted(left)
    assert unexplained == {}
    # and every explanation still names something there
    for module, names in NOT_INPUTS.items():
        assert set(names) <= _id_literals(module), module


# ------------------------------------------------------------------- every handler


def _var_names(st: rx.State) -> set[str]:
    """The state's vars and those of the states it extends (a page's `error` may be its
    base state's)."""
    return {n for c in type(st).__mro__ if isinstance(c, type) and issubclass(c, rx.State)
            for n in c.base_vars}  # fmt: skip


def _errors(st: rx.State) -> str:
    """What the page shows as refusals (every `*error` var that is set)."""
    names = sorted(n for n in _var_names(st) if n.endswith("error"))
    return " | ".join(str(getattr(st, n)) for n in names if getattr(st, n))


def _b_rows(b: Org) -> str:
    """Every row of tenant B in every table, its trail included (read as the owner)."""
    with owner_session() as s:
        return json.dumps(
            {
                m.__tablename__: sorted(
                    json.dumps(r.model_dump(mode="json"), sort_keys=True)
                    for r in s.scalars(select(m).where(col(m.tenant_id) == b.t.id))
                )
                for m in TENANT_MODELS
            },
            sort_keys=True,
        )


@pytest.mark.parametrize("entry", TABLE, ids=lambda e: e.name)
def test_another_tenants_id_is_refused_like_an_unknown_one_and_reported_to_the_platform(
    world: World, entry: Entry
) -> None:
    w, kind = world, entry.kind
    foreign = w.foreign[kind]
    b_before = _b_rows(w.b)
    for role in ROLES:
        actor = w.a.ids[role]
        answers = {}
        for label, value in (("foreign", foreign), ("unknown", _unknown(kind))):
            a_head, p_head = tenant_head(w.a.t.id), platform_head()
            st = entry.run(w, w.tokens[role], value)
            answers[label] = _errors(st)
            events = tenant_since(w.a.t.id, a_head)
            where = (entry.name, role, label)
            # A's trail: refused as not found, flagged, with the kind and nothing more
            refusals = [e for e in events if e.action == "access.not_found"]
            assert len(refusals) == 1 and refusals[0].flagged, (where, events)
            assert refusals[0].entity_type == kind.value and refusals[0].entity_id is None
            assert [e.action for e in events] == ["access.not_found"], where
            text = json.dumps([list(e) for e in events], default=str)
            assert foreign not in text and w.b.t.slug not in text, where
            assert "cross" not in text and "foreign" not in text, where
            # the platform's trail: another tenant's id, reported; anything else, not
            reports = cross_tenant_since(p_head)
            if label == "foreign" and kind not in NAMES:
                [report] = reports
                assert report | {"tenant_event_id": None, "tenant_event_seq": None} == {
                    "flagged": True, "tenant_id": str(w.a.t.id), "tenant": w.a.t.slug,
                    "actor_id": str(actor), "kind": kind.value, "foreign_id": foreign,
                    "owner_tenant_id": str(w.b.t.id), "owner_tenant": w.b.t.slug,
                    "tenant_event_id": None, "tenant_event_seq": None,
                }, where  # fmt: skip
                assert report["tenant_event_seq"] == refusals[0].seq
            else:
                assert reports == [], where
            # nothing of B's in what the browser holds
            held = repr({n: getattr(st, n) for n in st.base_vars})
            assert foreign not in held and w.b.t.slug not in held, where
            assert "B's secret goal" not in held, where
        assert answers["foreign"] == answers["unknown"] == not_found_message(kind), (
            entry.name, role, answers,
        )  # fmt: skip
    assert _b_rows(w.b) == b_before


# ------------------------------------------------------------------- export filters

# Every export filter that names an id or a name, and what it stands for (the page's
# filters and the cycle a cycle export is of).
EXPORT_FILTERS = [
    *[(name, "owner_id", K.owner) for name in ("goals", "key-results", "check-ins")],
    *[
        (name, filter_name, kind)
        for name in ("goals", "key-results", "check-ins", "people")
        for filter_name, kind in (("team", K.team), ("department", K.department))
    ],
    ("reviews", "cycle_id", K.cycle),
    ("cycle-summary", "cycle_id", K.cycle),
]


def test_every_export_filter_that_names_something_is_in_the_table() -> None:
    from pms_dashboard.exports.catalog import EXPORTS

    listed = {(n, f) for n, f, _ in EXPORT_FILTERS}
    for name, spec in EXPORTS.items():
        for filter_name in spec.params.model_fields:
            if ID_NAME.match(filter_name):
                assert (name, filter_name) in listed, (name, filter_name)


@pytest.mark.parametrize(("export", "filter_name", "kind"), EXPORT_FILTERS)
def test_an_export_filter_naming_another_tenants_id_is_refused_like_the_page(
    world: World, export: str, filter_name: str, kind: IdKind
) -> None:
    """400 with the page's words for B's id and for an unknown one alike; audited as not
    found in A's trail, B's id reported to the platform's trail only, nothing exported."""
    from tests.test_exports import _client_for

    w = world
    foreign = w.foreign[kind]
    b_before = _b_rows(w.b)
    client = _client_for(w.a.t.slug, f"admin@{w.a.t.slug}.test")
    answers = {}
    for label, value in (("foreign", foreign), ("unknown", _unknown(kind))):
        a_head, p_head = tenant_head(w.a.t.id), platform_head()
        extra = {"by": "department"} if export == "cycle-summary" else {}
        response = client.get(f"/api/export/{export}.csv", params={filter_name: value} | extra)
        answers[label] = (response.status_code, response.json())
        events = tenant_since(w.a.t.id, a_head)
        assert [(e.action, e.flagged, e.entity_type) for e in events] == [
            ("access.not_found", True, kind.value)
        ], (label, events)
        text = json.dumps([list(e) for e in events], default=str)
        assert foreign not in text and w.b.t.slug not in text and "cross" not in text
        reports = cross_tenant_since(p_head)
        if label == "foreign" and kind not in NAMES:
            assert [(r["foreign_id"], r["owner_tenant_id"]) for r in reports] == [
                (foreign, str(w.b.t.id))
            ]
        else:
            assert reports == []
    assert answers["foreign"] == answers["unknown"] == (400, {"error": not_found_message(kind)})
    assert _b_rows(w.b) == b_before
