"""People and settings event handlers called the way a hostile browser could: any cookie (or
none), any arguments. Another tenant's ids, another team's ids and garbage change nothing in
the database and put no foreign data into vars; non-admins change nothing; no cookie means a
redirect to /signin."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from pms_dashboard.auth.models import Role, User
from pms_dashboard.organisation.service import get_customization
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import owner_session, tenant_session
from pms_dashboard.ui.states.people import PeopleState
from pms_dashboard.ui.states.settings import SettingsState
from tests.conftest import TEST_PASSWORD, TenantFixture
from tests.test_people import snapshot
from tests.ui_harness import call, redirects_to, state_for, token_for

MakeTenant = Callable[..., TenantFixture]
GARBAGE = ["", "not-a-uuid", "' OR 1=1 --", "../../etc/passwd", "0" * 5000, "None", "{}"]


class World:
    """Acme (the actor's tenant, with an extra person outside the manager's team) and Globex."""

    def __init__(self, make_tenant: MakeTenant) -> None:
        self.acme = make_tenant(name="Acme")
        self.globex = make_tenant(name="Globex")
        with owner_session() as s:
            outsider = User(
                tenant_id=self.acme.id,
                email=f"outsider@{self.acme.slug}.test",
                display_name="Outsider",
                role=Role.employee.value,
                manager_id=self.acme.user_id("admin"),
            )
            s.add(outsider)
            s.flush()
            self.outsider = outsider.id
        self.tokens: dict[str, str] = {}
        for who in ("admin", "manager", "emp1"):  # sign in first: "unchanged" counts sessions
            self.token(who)

    def token(self, who: str) -> str:
        if who not in self.tokens:
            self.tokens[who] = token_for(
                self.acme.slug, f"{who}@{self.acme.slug}.test", TEST_PASSWORD
            )
        return self.tokens[who]

    def state(self, cls: type, who: str | None):
        return state_for(cls, self.token(who) if who else None)

    def unchanged(self) -> tuple:
        return snapshot(self.acme.id), snapshot(self.globex.id), _tenants(), _settings_audits()

    def foreign_markers(self) -> list[str]:
        """Strings that must never appear in an Acme user's vars."""
        g = self.globex
        return [g.slug, "Globex", *(str(u.id) for u in g.users.values())]


def _tenants() -> list[tuple]:
    with owner_session() as s:
        return [tuple(r) for r in s.execute(text("SELECT id, name, settings FROM tenant"))]


def _settings_audits() -> int:
    with owner_session() as s:
        return s.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'tenant.update_settings'")
        ).scalar_one()


def _vars(state: Any) -> str:
    return repr({name: getattr(state, name) for name in type(state).base_vars})


@pytest.fixture
def world(make_tenant: MakeTenant) -> World:
    return World(make_tenant)


# Every people handler that takes an id, with the id in each place it can go.
def _id_calls(bad: str, good_person: str) -> list[tuple[Any, tuple]]:
    return [
        (PeopleState.select_person, (bad,)),
        (PeopleState.deactivate, (bad,)),
        (PeopleState.reactivate, (bad,)),
        (PeopleState.change_role, (bad, "manager")),
        (PeopleState.change_manager, (bad, "")),
        # "" as the manager means "top level", a legitimate change: not a bad id there
        *([(PeopleState.change_manager, (good_person, bad))] if bad else []),
        (PeopleState.save_profile, ({"person_id": bad, "department": "Pwned"},)),
    ]


def _bad_ids(world: World) -> list[str]:
    return [
        str(world.globex.user_id("emp1")),
        str(world.globex.user_id("admin")),
        str(uuid.uuid4()),
        *GARBAGE,
    ]


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_foreign_unknown_and_garbage_ids_change_nothing_and_leak_nothing(
    world: World, who: str
) -> None:
    before = world.unchanged()
    good = str(world.acme.user_id("emp1"))  # the manager's own report; anyone for the admin
    for bad in _bad_ids(world):
        for handler, args in _id_calls(bad, good):
            state = world.state(PeopleState, who)
            call(state, PeopleState.load)
            events = call(state, handler, *args)
            assert redirects_to(events) is None
            assert state.error, (handler, bad)
            assert state.selected == {} or state.selected.get("id") == good
            dump = _vars(state)
            for marker in world.foreign_markers():
                assert marker not in dump, (handler, bad, marker)
    assert world.unchanged() == before


def test_a_manager_cannot_touch_another_team(world: World) -> None:
    before = world.unchanged()
    outsider = str(world.outsider)
    for handler, args in _id_calls(outsider, str(world.acme.user_id("emp1"))):
        state = world.state(PeopleState, "manager")
        call(state, PeopleState.load)
        call(state, handler, *args)
        assert state.error
        assert state.selected == {}
        assert outsider not in _vars(state) and "Outsider" not in _vars(state)
    assert world.unchanged() == before


@pytest.mark.parametrize("who", ["manager", "emp1"])
def test_non_admins_calling_admin_handlers_change_nothing(world: World, who: str) -> None:
    before = world.unchanged()
    targets = [str(world.acme.user_id(k)) for k in ("emp1", "emp2", "admin", "manager")]
    for target in targets:
        for handler, args in [
            (PeopleState.deactivate, (target,)),
            (PeopleState.reactivate, (target,)),
            (PeopleState.change_role, (target, "tenant_admin")),
            (PeopleState.change_manager, (target, "")),
            (PeopleState.save_profile, ({"person_id": target, "team": "Mine"},)),
        ]:
            state = world.state(PeopleState, who)
            call(state, handler, *args)
            assert state.error, (who, handler, target)
    state = world.state(PeopleState, who)
    call(state, PeopleState.load)
    assert state.can_manage is False
    call(state, PeopleState.open_invite)
    assert state.invite_open is False and state.manager_options == []
    call(
        state,
        PeopleState.invite,
        {"email": f"new@{world.acme.slug}.test", "display_name": "New", "role": "tenant_admin"},
    )
    assert state.invite_error and state.temp_password == ""
    settings = world.state(SettingsState, who)
    call(settings, SettingsState.load)
    assert settings.can_edit is False and settings.loaded and settings.org_name == ""
    call(
        settings, SettingsState.save, {"name": "Mine now", "logo_url": "", "stale_after_days": "9"}
    )
    assert "Only tenant admins" in settings.error and settings.success == ""
    assert world.unchanged() == before


def test_admin_cannot_lock_themself_out_from_the_ui(world: World) -> None:
    before = world.unchanged()
    me = str(world.acme.user_id("admin"))
    for handler, args in [
        (PeopleState.deactivate, (me,)),
        (PeopleState.change_role, (me, "employee")),
        (PeopleState.change_manager, (me, str(world.acme.user_id("manager")))),
    ]:
        state = world.state(PeopleState, "admin")
        call(state, handler, *args)
        assert "your own" in state.error
    assert world.unchanged() == before


NO_COOKIE_CALLS: list[tuple[type, Any, tuple]] = [
    (PeopleState, PeopleState.load, ()),
    (PeopleState, PeopleState.next_page, ()),
    (PeopleState, PeopleState.previous_page, ()),
    (PeopleState, PeopleState.search_people, ({"search": "a"},)),
    (PeopleState, PeopleState.filter_department, ("Eng",)),
    (PeopleState, PeopleState.filter_team, ("Core",)),
    (PeopleState, PeopleState.filter_role, ("manager",)),
    (PeopleState, PeopleState.filter_active, ("all",)),
    (PeopleState, PeopleState.show_view, ("tree",)),
    (PeopleState, PeopleState.select_person, ("{id}",)),
    (PeopleState, PeopleState.open_invite, ()),
    (PeopleState, PeopleState.invite, ({"email": "x@y.test", "display_name": "X"},)),
    (PeopleState, PeopleState.deactivate, ("{id}",)),
    (PeopleState, PeopleState.reactivate, ("{id}",)),
    (PeopleState, PeopleState.change_role, ("{id}", "manager")),
    (PeopleState, PeopleState.change_manager, ("{id}", "")),
    (PeopleState, PeopleState.save_profile, ({"person_id": "{id}", "team": "x"},)),
    (SettingsState, SettingsState.load, ()),
    (SettingsState, SettingsState.save, ({"name": "x"},)),
]


@pytest.mark.parametrize("cookie", [None, "", "garbage.token.value"])
def test_no_valid_cookie_redirects_to_signin(world: World, cookie: str | None) -> None:
    before = world.unchanged()
    pid = str(world.acme.user_id("emp1"))
    for cls, handler, raw_args in NO_COOKIE_CALLS:
        args = tuple(
            a.replace("{id}", pid)
            if isinstance(a, str)
            else {k: v.replace("{id}", pid) for k, v in a.items()}
            for a in raw_args
        )
        state = state_for(cls, cookie)
        events = call(state, handler, *args)
        assert redirects_to(events) == "/signin", handler
        assert world.acme.slug not in _vars(state) and "Employee" not in _vars(state)
    assert world.unchanged() == before


def test_a_revoked_session_is_signed_out_on_the_next_event(world: World) -> None:
    state = world.state(PeopleState, "emp1")
    call(state, PeopleState.load)
    assert state.total > 0
    admin = world.state(PeopleState, "admin")
    call(admin, PeopleState.deactivate, str(world.acme.user_id("emp1")))
    assert admin.error == "" and "signed out" in admin.notice
    events = call(state, PeopleState.next_page)
    assert redirects_to(events) == "/signin"
    assert state.rows == [] and state.total == 0


# --------------------------------------------------------------------- happy paths


def test_admin_directory_tree_and_detail(world: World) -> None:
    state = world.state(PeopleState, "admin")
    call(state, PeopleState.load)
    assert state.can_manage and state.total == 5 and len(state.rows) == 5
    assert state.role == "tenant_admin"
    call(state, PeopleState.search_people, {"search": "employee"})
    assert {r["display_name"] for r in state.rows} == {"Employee 1", "Employee 2"}
    call(state, PeopleState.show_view, "tree")
    assert [(x["name"], x["depth"]) for x in state.tree] == [
        ("Admin", 0),
        ("Outsider", 1),
        ("Manager", 0),
        ("Employee 1", 1),
        ("Employee 2", 1),
    ]
    assert state.tree[1]["indent"] == "24px"
    call(state, PeopleState.select_person, str(world.acme.user_id("manager")))
    assert state.selected["display_name"] == "Manager" and state.selected["can_manage"]
    assert {r["display_name"] for r in state.selected_reports} == {"Employee 1", "Employee 2"}
    assert len(state.manager_options) == 4  # every active person but the manager themself
    call(state, PeopleState.filter_role, "superuser")
    assert state.error == "That filter is not available."


def test_employee_sees_self_and_chain_only(world: World) -> None:
    state = world.state(PeopleState, "emp1")
    call(state, PeopleState.load)
    assert {r["display_name"] for r in state.rows} == {"Employee 1", "Manager"}
    assert state.can_manage is False
    call(state, PeopleState.select_person, str(world.acme.user_id("emp2")))  # a peer
    assert state.selected == {} and state.error


def test_admin_invites_and_sees_the_password_once(world: World) -> None:
    state = world.state(PeopleState, "admin")
    call(state, PeopleState.open_invite)
    assert state.invite_open and len(state.manager_options) == 5
    call(
        state,
        PeopleState.invite,
        {
            "email": f"Dup@{world.acme.slug}.test".replace("Dup", "EMP1"),
            "display_name": "Dup",
            "role": "employee",
            "manager_id": "",
        },
    )
    assert "already exists" in state.invite_error and state.temp_password == ""
    call(
        state,
        PeopleState.invite,
        {"email": "nope", "display_name": "X", "role": "employee", "manager_id": ""},
    )
    assert "Email" in state.invite_error
    call(
        state,
        PeopleState.invite,
        {
            "email": f"new@{world.acme.slug}.test",
            "display_name": "New Person",
            "role": "manager",
            "manager_id": str(world.acme.user_id("manager")),
            "department": "Eng",
            "team": "",
            "job_title": "",
            "is_active": "false",  # ignored: not a field the form may set
        },
    )
    assert state.invite_error == "" and len(state.temp_password) >= 16
    password = state.temp_password
    token_for(world.acme.slug, f"new@{world.acme.slug}.test", password)  # it works
    call(state, PeopleState.close_invite)
    assert state.temp_password == "" and state.invite_open is False


def test_admin_changes_role_manager_profile_and_activation(world: World) -> None:
    state = world.state(PeopleState, "admin")
    emp1 = str(world.acme.user_id("emp1"))
    call(state, PeopleState.select_person, emp1)
    call(state, PeopleState.change_role, emp1, "manager")
    assert state.error == "" and state.selected["role"] == "manager"
    call(state, PeopleState.change_manager, emp1, str(world.outsider))
    assert state.selected["manager_name"] == "Outsider"
    call(state, PeopleState.change_manager, str(world.outsider), emp1)
    assert "loop" in state.error
    call(state, PeopleState.change_role, emp1, "root")
    assert state.error == "That role does not exist."
    call(
        state,
        PeopleState.save_profile,
        {"person_id": emp1, "department": "Eng", "team": "Core", "job_title": "Lead"},
    )
    assert state.error == "" and state.selected["job_title"] == "Lead"
    call(state, PeopleState.deactivate, emp1)
    assert state.selected["is_active"] is False
    call(state, PeopleState.reactivate, emp1)
    assert state.selected["is_active"] is True


def test_settings_admin_save_and_refusals(world: World) -> None:
    state = world.state(SettingsState, "admin")
    call(state, SettingsState.load)
    assert state.can_edit and state.org_name == "Acme" and len(state.labels) == 5
    before = world.unchanged()
    form = {"name": "Acme", "logo_url": "javascript:alert(1)", "stale_after_days": "14"}
    form |= {f"label_{i}": f"L{i}" for i in range(1, 6)}
    call(state, SettingsState.save, form)
    assert "Logo URL" in state.error and state.success == ""
    call(state, SettingsState.set_accent, "not-a-colour")
    assert state.form_accent == "indigo"
    call(state, SettingsState.save, form | {"logo_url": "", "stale_after_days": "zero"})
    assert "Stale after" in state.error
    assert world.unchanged() == before

    call(state, SettingsState.set_accent, "teal")
    call(state, SettingsState.set_high, "4")
    assert [row["score"] for row in state.labels] == ["1", "2", "3", "4"]
    call(state, SettingsState.set_high, "99")  # not offered: ignored
    assert state.rating_high == "4"
    call(
        state,
        SettingsState.save,
        {"name": " Acme Ltd ", "logo_url": "/logo.svg", "stale_after_days": "21"}
        | {f"label_{i}": f"Level {i}" for i in range(1, 5)},
    )
    assert state.error == "" and state.success == "Settings saved."
    assert state.tenant_name == "Acme Ltd"
    assert (state.accent, state.logo_url) == ("teal", "/logo.svg")  # the shell's look, at once
    actor = TenantContext(tenant_id=world.acme.id, user_id=world.acme.user_id("emp1"))
    with tenant_session(actor) as s:
        seen = get_customization(session=s)
    assert (seen.accent, seen.logo_url, seen.stale_after_days) == ("teal", "/logo.svg", 21)
    assert seen.rating_scale.labels == {1: "Level 1", 2: "Level 2", 3: "Level 3", 4: "Level 4"}
    globex_row = [r for r in before[2] if r[0] == world.globex.id]
    assert [r for r in _tenants() if r[0] == world.globex.id] == globex_row


def test_the_address_keeps_the_list(world: World) -> None:
    """Filters, view and page come from the address on a load (a reload, a shared link) and
    go back into it after each step; a forged filter in the address is refused."""
    st = state_for(PeopleState, world.token("admin"), "/people",
                   {"active": "inactive", "view": "tree", "page": "1"})  # fmt: skip
    events = call(st, PeopleState.load)
    assert st.active_filter == "inactive" and st.view == "tree" and st.error == ""
    scripts = " ".join(str(e) for e in events)
    assert "active=inactive" in scripts and "view=tree" in scripts
    call(st, PeopleState.filter_active, "all")
    assert st.active_filter == "all"
    forged = state_for(PeopleState, world.token("admin"), "/people", {"role": "' OR 1=1"})
    call(forged, PeopleState.load)
    assert forged.error == "That filter is not available." and forged.rows == []
