"""People service: who sees whom in the directory and the tree, paging and search, and every
tenant-admin change with each of its refusals. Real PostgreSQL as pms_app, no mocks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text, update

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth import service as auth_service
from pms_dashboard.auth.models import AuthSession, User
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.people import service as people
from pms_dashboard.people.schemas import (
    InviteInput,
    PeopleError,
    PeopleQuery,
    ProfileInput,
    TreeNode,
    parse_input,
)
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TEST_PASSWORD, TenantFixture, add_person, ctx, set_manager

MakeTenant = Callable[..., TenantFixture]
E, M, H, T = "employee", "manager", "hr_admin", "tenant_admin"
Org = tuple[TenantFixture, dict[str, uuid.UUID]]


@pytest.fixture
def org(make_tenant: MakeTenant) -> Org:
    """director -> manager -> emp1 -> lead -> dev; manager -> emp2; director -> other_mgr ->
    ops; admin (tenant_admin) and hr (hr_admin) at the top."""
    t = make_tenant()
    add_person(t, "director", M, department="Eng")
    set_manager(t, "manager", "director")
    add_person(t, "lead", M, "emp1", department="Eng", team="Core")
    add_person(t, "dev", E, "lead", department="Eng", team="Core", job_title="Developer")
    add_person(t, "other_mgr", M, "director", department="Ops")
    add_person(t, "ops", E, "other_mgr", department="Ops", team="Infra")
    add_person(t, "hr", H, department="People")
    return t, {k: u.id for k, u in t.users.items()}


def names(t: TenantFixture, ids: dict[str, uuid.UUID], rows: list[Any]) -> set[str]:
    by_id = {str(v): k for k, v in ids.items()}
    return {by_id.get(r.id, r.display_name) for r in rows}


def listing(t, ids, who: str, **query: Any):
    actor = ctx(t, who)
    with tenant_session(actor) as s:
        return people.list_people(session=s, actor=actor, query=PeopleQuery(**query))


def snapshot(tenant_id: uuid.UUID) -> list[tuple]:
    """Every person of a tenant and every session, read as the owner: "nothing changed"."""
    with owner_session() as s:
        users = s.execute(
            text(
                "SELECT id, email, display_name, role, manager_id, department, team, job_title,"
                " is_active, password_hash FROM app_user WHERE tenant_id = :t ORDER BY id"
            ),
            {"t": tenant_id},
        ).all()
        sessions = s.execute(
            text("SELECT id, revoked_at FROM auth_session WHERE tenant_id = :t ORDER BY id"),
            {"t": tenant_id},
        ).all()
        audits = s.execute(
            text(
                "SELECT count(*) FROM audit_event WHERE tenant_id = :t AND action LIKE 'person.%'"
            ),
            {"t": tenant_id},
        ).scalar_one()
    return [*map(tuple, users), *map(tuple, sessions), ("audit", audits)]


def audit_events(tenant_id: uuid.UUID, action: str) -> list[AuditEvent]:
    with owner_session() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant_id, AuditEvent.action == action
                )
            )
        )


def db_user(user_id: uuid.UUID) -> User:
    with owner_session() as s:
        return s.scalars(select(User).where(User.id == user_id)).one()


# --------------------------------------------------------------------------- visibility


# the organisation of `org`
EVERYONE = {"admin", "hr", "director", "manager", "other_mgr", "lead", "emp1", "emp2", "dev", "ops"}
VISIBLE = {
    # self + everyone below + the management chain; never peers or other branches
    "dev": {"dev", "lead", "emp1", "manager", "director"},
    "emp2": {"emp2", "manager", "director"},
    "emp1": {"emp1", "lead", "dev", "manager", "director"},
    "manager": {"manager", "emp1", "emp2", "lead", "dev", "director"},
    "director": {"director", "manager", "emp1", "emp2", "lead", "dev", "other_mgr", "ops"},
    "ops": {"ops", "other_mgr", "director"},
    "hr": EVERYONE,
    "admin": EVERYONE,
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_list_shows_exactly_the_visible_people(org: Org, who: str, make_tenant) -> None:
    t, ids = org
    make_tenant()  # another tenant's people must never appear
    page = listing(t, ids, who, page_size=100)
    assert names(t, ids, page.rows) == VISIBLE[who]
    assert page.total == len(VISIBLE[who])


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_person_detail_only_for_visible_people(org: Org, who: str) -> None:
    t, ids = org
    actor = ctx(t, who)
    for subject in sorted(EVERYONE):
        with tenant_session(actor) as s:
            if subject in VISIBLE[who]:
                detail = people.get_person(session=s, actor=actor, person_id=ids[subject])
                assert detail.person.id == str(ids[subject])
                # reports listed are only those the actor may see too
                assert names(t, ids, detail.reports) <= VISIBLE[who]
            else:
                with pytest.raises(PermissionDenied):
                    people.get_person(session=s, actor=actor, person_id=ids[subject])


def test_detail_shows_chain_and_only_visible_reports(org: Org) -> None:
    t, ids = org
    actor = ctx(t, "dev")
    with tenant_session(actor) as s:
        detail = people.get_person(session=s, actor=actor, person_id=ids["director"])
        mine = people.get_person(session=s, actor=actor, person_id=ids["dev"])
    assert [r.display_name for r in detail.reports] == ["Manager"]  # not other_mgr
    assert [c.display_name for c in mine.chain] == ["lead", "Employee 1", "Manager", "director"]
    assert mine.person.job_title == "Developer" and mine.person.manager_name == "lead"
    assert not mine.can_manage and not detail.can_manage
    admin = ctx(t, "admin")
    with tenant_session(admin) as s:
        full = people.get_person(session=s, actor=admin, person_id=ids["director"])
        own = people.get_person(session=s, actor=admin, person_id=ids["admin"])
    assert {r.display_name for r in full.reports} == {"Manager", "other_mgr"}
    assert full.person.direct_reports == 2
    assert full.can_manage and not own.can_manage  # never on themself


def test_other_tenants_people_are_refused_and_never_listed(org: Org, make_tenant) -> None:
    t, ids = org
    other = make_tenant()
    for who in ("admin", "hr", "manager"):
        actor = ctx(t, who)
        with tenant_session(actor) as s, pytest.raises(PermissionDenied):
            people.get_person(session=s, actor=actor, person_id=other.user_id("emp1"))
        assert str(other.user_id("emp1")) not in {r.id for r in listing(t, ids, who).rows}
    with tenant_session(ctx(t, "admin")) as s, pytest.raises(PermissionDenied):
        people.get_person(session=s, actor=ctx(t, "admin"), person_id=uuid.uuid4())


# ------------------------------------------------------------------------ paging, search


@pytest.fixture
def crowd(org: Org) -> Org:
    """25 more people under other_mgr, half in "Sales" and one deactivated."""
    t, ids = org
    with owner_session() as s:
        for i in range(25):
            u = User(
                tenant_id=t.id,
                email=f"p{i:02d}@{t.slug}.test",
                display_name=f"Person {i:02d}" + (" 100%_x" if i == 7 else ""),
                role=E,
                manager_id=ids["other_mgr"],
                department="Sales" if i % 2 else "Ops",
                team="North" if i % 4 == 1 else None,
                is_active=i != 3,
            )
            s.add(u)
            s.flush()
            ids[f"p{i:02d}"] = u.id
    return t, ids


def test_paging_is_server_side_and_clamped(crowd: Org) -> None:
    t, ids = crowd
    first = listing(t, ids, "admin", page_size=10)
    assert first.total == 10 + 24 and first.pages == 4 and len(first.rows) == 10
    seen = [r.id for p in range(1, 5) for r in listing(t, ids, "admin", page=p, page_size=10).rows]
    assert len(seen) == len(set(seen)) == 34
    last = listing(t, ids, "admin", page=99, page_size=10)
    assert last.page == 4 and len(last.rows) == 4
    everyone = listing(t, ids, "admin", page_size=100, active="all")
    assert everyone.total == 35
    with pytest.raises(ValueError):
        PeopleQuery(page_size=101)
    with pytest.raises(ValueError):
        PeopleQuery(role="superuser")
    with pytest.raises(ValueError):
        PeopleQuery(unknown="x")  # type: ignore[call-arg]


def test_search_and_filters(crowd: Org) -> None:
    t, ids = crowd
    assert names(t, ids, listing(t, ids, "admin", search="person 1").rows) == {
        f"p{i}" for i in range(10, 20)
    }
    by_email = listing(t, ids, "admin", search=f"P05@{t.slug}")
    assert names(t, ids, by_email.rows) == {"p05"}
    # LIKE wildcards in the search are literal characters
    assert names(t, ids, listing(t, ids, "admin", search="100%_").rows) == {"p07"}
    assert names(t, ids, listing(t, ids, "admin", search="%").rows) == {"p07"}
    sales = listing(t, ids, "admin", department="Sales", page_size=100)
    assert sales.total == 11 and {r.department for r in sales.rows} == {"Sales"}
    north = listing(t, ids, "admin", department="Sales", team="North", page_size=100)
    assert north.total == 6
    assert names(t, ids, listing(t, ids, "admin", role=H).rows) == {"hr"}
    assert names(t, ids, listing(t, ids, "admin", active="inactive").rows) == {"p03"}
    # a manager's search never reaches outside what they may see
    assert listing(t, ids, "manager", search="person").total == 0
    assert listing(t, ids, "other_mgr", search="person", page_size=100).total == 24
    row = listing(t, ids, "admin", search="other_mgr").rows[0]
    # 26 report to them, one of whom (p03) is deactivated: no longer counted
    assert row.direct_reports == 25 and row.manager_name == "director"


def test_departments_and_teams_of_visible_people(org: Org) -> None:
    t, _ = org
    admin = ctx(t, "admin")
    with tenant_session(admin) as s:
        assert people.departments(session=s, actor=admin) == ["Eng", "Ops", "People"]
        assert people.teams(session=s, actor=admin) == ["Core", "Infra"]
        assert people.teams(session=s, actor=admin, department="Ops") == ["Infra"]
    dev = ctx(t, "dev")
    with tenant_session(dev) as s:
        assert people.departments(session=s, actor=dev) == ["Eng"]
        assert people.teams(session=s, actor=dev) == ["Core"]


# ---------------------------------------------------------------------------------- tree


def shape(nodes: list[TreeNode]) -> dict[str, Any]:
    return {n.name: shape(n.children) for n in nodes}


def tree_of(t, ids, who: str, **kw: Any) -> list[TreeNode]:
    actor = ctx(t, who)
    with tenant_session(actor) as s:
        return people.team_tree(session=s, actor=actor, **kw)


def test_admin_tree_is_the_whole_tenant_from_the_top(org: Org) -> None:
    t, ids = org
    roots = tree_of(t, ids, "admin")
    assert shape(roots) == {
        "Admin": {},
        "director": {
            "Manager": {
                "Employee 1": {"lead": {"dev": {}}},
                "Employee 2": {},
            },
            "other_mgr": {"ops": {}},
        },
        "hr": {},
    }
    director = roots[1]
    assert (director.direct_reports, director.total_reports) == (2, 7)
    assert director.children[0].total_reports == 4
    lines = people.flatten_tree(roots)
    assert [(x.name, x.depth) for x in lines][:6] == [
        ("Admin", 0),
        ("director", 0),
        ("Manager", 1),
        ("Employee 1", 2),
        ("lead", 3),
        ("dev", 4),
    ]
    assert len(lines) == 10


def test_non_admin_tree_is_chain_plus_subtree(org: Org) -> None:
    t, ids = org
    assert shape(tree_of(t, ids, "dev")) == {
        "director": {"Manager": {"Employee 1": {"lead": {"dev": {}}}}}
    }
    manager_tree = tree_of(t, ids, "manager")
    assert shape(manager_tree) == {
        "director": {"Manager": {"Employee 1": {"lead": {"dev": {}}}, "Employee 2": {}}}
    }
    assert manager_tree[0].direct_reports == 1  # counts only what is shown: no other_mgr
    assert shape(tree_of(t, ids, "ops")) == {"director": {"other_mgr": {"ops": {}}}}


def test_tree_without_deactivated_people_lifts_their_reports(org: Org) -> None:
    t, ids = org
    with owner_session() as s:
        s.execute(update(User).where(User.id == ids["lead"]).values(is_active=False))
    roots = tree_of(t, ids, "admin")
    assert "dev" in {r.name for r in roots}  # nobody is lost
    assert "lead" not in {x.name for x in people.flatten_tree(roots)}
    with_inactive = people.flatten_tree(tree_of(t, ids, "admin", include_inactive=True))
    assert {x.name: x.is_active for x in with_inactive}["lead"] is False


def test_tree_survives_a_cycle_made_in_the_database(org: Org) -> None:
    t, ids = org
    with owner_session() as s:
        s.execute(update(User).where(User.id == ids["lead"]).values(manager_id=ids["dev"]))
    lines = people.flatten_tree(tree_of(t, ids, "admin"))
    assert len(lines) == 10


# --------------------------------------------------------------------------- admin: invite


def invite(t, ids, who: str, **data: Any):
    actor = ctx(t, who)
    with tenant_session(actor) as s:
        return people.invite_user(
            session=s, actor=actor, data=parse_input(InviteInput, {"role": E} | data)
        )


def test_invite_creates_an_active_person_who_can_sign_in(org: Org) -> None:
    t, ids = org
    invited = invite(
        t,
        ids,
        "admin",
        email=f"  New.Person@{t.slug.upper()}.TEST ",
        display_name="  New   Person ",
        role="manager",
        manager_id=str(ids["director"]),
        department="Eng",
        team=" ",
        job_title="Staff engineer",
    )
    assert len(invited.temporary_password) >= 16
    person = invited.person
    assert person.email == f"new.person@{t.slug}.test"
    assert (person.display_name, person.role, person.manager_name) == (
        "New Person",
        "manager",
        "director",
    )
    assert person.team == "" and person.is_active
    stored = db_user(uuid.UUID(person.id))
    assert stored.password_hash and invited.temporary_password not in stored.password_hash
    signed = auth_routes.sign_in_with_password(
        slug=t.slug, email=person.email, password=invited.temporary_password
    )
    assert signed.principal.role == "manager"
    [event] = audit_events(t.id, "person.invite")
    assert event.actor_id == ids["admin"] and event.entity_id == stored.id
    assert event.detail["after"]["email"] == person.email
    assert "password" not in str(event.detail).lower()


@pytest.mark.parametrize(
    "email",
    ["", "plain", "a@b", "a b@c.de", "@x.de", "a@@x.de", "a@x.d", "x" * 65 + "@a.de"],
)
def test_invite_refuses_bad_emails(org: Org, email: str) -> None:
    t, ids = org
    before = snapshot(t.id)
    with pytest.raises(PeopleError, match="Email"):
        invite(t, ids, "admin", email=email, display_name="X")
    assert snapshot(t.id) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"display_name": ""}, "Name"),
        ({"display_name": "x" * 201}, "Name"),
        ({"role": "superuser"}, "Role"),
        ({"manager_id": ["a list"]}, "Manager"),
        ({"department": "x" * 101}, "Department"),
        ({"tenant_id": "x"}, "tenant"),  # unknown fields are refused, not ignored
    ],
)
def test_invite_refuses_bad_fields(org: Org, data: dict, message: str) -> None:
    t, ids = org
    before = snapshot(t.id)
    with pytest.raises(PeopleError, match=message):
        invite(t, ids, "admin", **({"email": f"ok@{t.slug}.test", "display_name": "Ok"} | data))
    assert snapshot(t.id) == before


def test_invite_refuses_a_malformed_manager_id_like_an_unknown_one(org: Org) -> None:
    t, ids = org
    before = snapshot(t.id)
    for manager_id in ("not-a-uuid", str(uuid.uuid4())):
        with pytest.raises(PermissionDenied, match="That manager was not found"):
            invite(t, ids, "admin", email=f"ok@{t.slug}.test", display_name="Ok",
                   manager_id=manager_id)  # fmt: skip
    assert snapshot(t.id) == before


def test_invite_refuses_a_duplicate_email_with_a_clear_message(org: Org) -> None:
    t, ids = org
    before = snapshot(t.id)
    with pytest.raises(PeopleError, match="already exists"):
        invite(t, ids, "admin", email=f"EMP1@{t.slug}.test", display_name="Again")
    assert snapshot(t.id) == before


def test_the_same_email_may_exist_in_another_tenant(org: Org, make_tenant) -> None:
    t, ids = org
    other = make_tenant()
    invited = invite(t, ids, "admin", email=f"emp1@{other.slug}.test", display_name="Twin")
    assert invited.person.email == f"emp1@{other.slug}.test"


@pytest.mark.parametrize("who", ["hr", "manager", "director", "emp1"])
def test_only_tenant_admins_invite(org: Org, who: str) -> None:
    t, ids = org
    before = snapshot(t.id)
    with pytest.raises(PermissionDenied):
        invite(t, ids, who, email=f"x@{t.slug}.test", display_name="X")
    assert snapshot(t.id) == before


def test_invite_refuses_a_foreign_or_inactive_manager(org: Org, make_tenant) -> None:
    t, ids = org
    other = make_tenant()
    before = snapshot(t.id)
    with pytest.raises(PermissionDenied):
        invite(
            t,
            ids,
            "admin",
            email=f"x@{t.slug}.test",
            display_name="X",
            manager_id=str(other.user_id("manager")),
        )
    with owner_session() as s:
        s.execute(update(User).where(User.id == ids["lead"]).values(is_active=False))
    before = snapshot(t.id)
    with pytest.raises(PeopleError, match="deactivated"):
        invite(
            t, ids, "admin", email=f"x@{t.slug}.test", display_name="X", manager_id=str(ids["lead"])
        )
    assert snapshot(t.id) == before


# ------------------------------------------------------------------- admin: (de)activate


def act(t, ids, who: str, op: Callable[..., Any], **kw: Any) -> Any:
    actor = ctx(t, who)
    with tenant_session(actor) as s:
        return op(session=s, actor=actor, **kw)


def test_deactivation_revokes_every_session_at_once(org: Org) -> None:
    t, ids = org
    tokens = [
        auth_routes.sign_in_with_password(
            slug=t.slug, email=f"emp1@{t.slug}.test", password=TEST_PASSWORD
        ).token
        for _ in range(2)
    ]
    bystander = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"emp2@{t.slug}.test", password=TEST_PASSWORD
    ).token
    assert all(auth_routes.authenticate(tok) for tok in tokens)
    row = act(t, ids, "admin", people.deactivate_user, person_id=ids["emp1"])
    assert row.is_active is False
    assert [auth_routes.authenticate(tok) for tok in tokens] == [None, None]
    assert auth_routes.authenticate(bystander) is not None
    with owner_session() as s:
        revoked = s.scalars(
            select(AuthSession.revoked_at).where(AuthSession.user_id == ids["emp1"])
        ).all()
    assert len(revoked) == 2 and all(revoked)
    with pytest.raises(auth_service.SignInError):
        auth_routes.sign_in_with_password(
            slug=t.slug, email=f"emp1@{t.slug}.test", password=TEST_PASSWORD
        )
    [event] = audit_events(t.id, "person.deactivate")
    assert event.detail == {
        "before": {"is_active": True},
        "after": {"is_active": False},
        "sessions_revoked": 2,
    }
    # doing it again changes nothing and records nothing
    act(t, ids, "admin", people.deactivate_user, person_id=ids["emp1"])
    assert len(audit_events(t.id, "person.deactivate")) == 1


def test_reactivation_lets_them_sign_in_again(org: Org) -> None:
    t, ids = org
    act(t, ids, "admin", people.deactivate_user, person_id=ids["emp1"])
    row = act(t, ids, "admin", people.reactivate_user, person_id=ids["emp1"])
    assert row.is_active
    auth_routes.sign_in_with_password(
        slug=t.slug, email=f"emp1@{t.slug}.test", password=TEST_PASSWORD
    )
    assert len(audit_events(t.id, "person.reactivate")) == 1


def test_an_admin_cannot_lock_themself_out(org: Org) -> None:
    t, ids = org
    before = snapshot(t.id)
    for op, kw in [
        (people.deactivate_user, {}),
        (people.change_role, {"role": E}),
        (people.change_manager, {"manager_id": ids["director"]}),
        (people.update_profile, {"data": ProfileInput(team="X")}),
    ]:
        with pytest.raises(PermissionDenied, match="your own"):
            act(t, ids, "admin", op, person_id=ids["admin"], **kw)
    assert snapshot(t.id) == before


def test_the_last_active_tenant_admin_cannot_be_removed(org: Org) -> None:
    t, ids = org
    # hr acts on a stale context that still says tenant_admin (demoted a moment ago, a race):
    # the database, not the context, decides how many admins remain.
    stale = ctx(t, "hr", T)
    before = snapshot(t.id)
    for op, kw in [(people.deactivate_user, {}), (people.change_role, {"role": M})]:
        with tenant_session(stale) as s, pytest.raises(PeopleError, match="last active"):
            op(session=s, actor=stale, person_id=ids["admin"], **kw)
    assert snapshot(t.id) == before
    # with a second real admin, one may demote or deactivate the other
    with owner_session() as s:
        s.execute(update(User).where(User.id == ids["hr"]).values(role=T))
    with tenant_session(stale) as s:
        people.change_role(session=s, actor=stale, person_id=ids["admin"], role=E)
    assert db_user(ids["admin"]).role == E
    with owner_session() as s:
        s.execute(update(User).where(User.id == ids["admin"]).values(role=T))
    row = act(t, ids, "admin", people.deactivate_user, person_id=ids["hr"])
    assert row.is_active is False
    # now the admin is the only active one left; demoting them from a stale context fails
    with tenant_session(stale) as s, pytest.raises(PeopleError, match="last active"):
        people.change_role(session=s, actor=stale, person_id=ids["admin"], role=E)
    # an inactive admin may be demoted: it does not lock anyone out
    act(t, ids, "admin", people.change_role, person_id=ids["hr"], role=E)


@pytest.mark.parametrize("who", ["hr", "director", "manager", "emp1"])
def test_non_admins_change_nobody(org: Org, who: str) -> None:
    t, ids = org
    before = snapshot(t.id)
    target = ids["dev"]  # below director, manager and emp1; "other" for hr
    for op, kw in [
        (people.deactivate_user, {}),
        (people.reactivate_user, {}),
        (people.change_role, {"role": M}),
        (people.change_manager, {"manager_id": ids["director"]}),
        (people.update_profile, {"data": ProfileInput(team="X")}),
    ]:
        with pytest.raises(PermissionDenied):
            act(t, ids, who, op, person_id=target, **kw)
    with pytest.raises(PermissionDenied):
        act(t, ids, who, people.manager_choices)
    assert snapshot(t.id) == before


def test_other_tenants_ids_are_refused_and_change_nothing(org: Org, make_tenant) -> None:
    t, ids = org
    other = make_tenant()
    mine, theirs = snapshot(t.id), snapshot(other.id)
    foreign = other.user_id("emp1")
    for op, kw in [
        (people.deactivate_user, {}),
        (people.reactivate_user, {}),
        (people.change_role, {"role": M}),
        (people.change_manager, {"manager_id": None}),
        (people.update_profile, {"data": ProfileInput(team="X")}),
    ]:
        with pytest.raises(PermissionDenied):
            act(t, ids, "admin", op, person_id=foreign, **kw)
        with pytest.raises(PermissionDenied):
            act(t, ids, "admin", op, person_id=uuid.uuid4(), **kw)
    with pytest.raises(PermissionDenied):  # my person, their manager
        act(
            t,
            ids,
            "admin",
            people.change_manager,
            person_id=ids["dev"],
            manager_id=other.user_id("manager"),
        )
    assert snapshot(t.id) == mine and snapshot(other.id) == theirs


# ------------------------------------------------------------------ admin: role, manager


def test_change_role(org: Org) -> None:
    t, ids = org
    row = act(t, ids, "admin", people.change_role, person_id=ids["emp1"], role=H)
    assert row.role == H and db_user(ids["emp1"]).role == H
    [event] = audit_events(t.id, "person.change_role")
    assert event.detail == {"before": {"role": E}, "after": {"role": H}}
    before = snapshot(t.id)
    with pytest.raises(PeopleError, match="Unknown role"):
        act(t, ids, "admin", people.change_role, person_id=ids["emp1"], role="root")
    act(t, ids, "admin", people.change_role, person_id=ids["emp1"], role=H)  # no-op
    assert snapshot(t.id) == before


def test_change_manager_moves_the_person(org: Org) -> None:
    t, ids = org
    row = act(
        t, ids, "admin", people.change_manager, person_id=ids["ops"], manager_id=ids["manager"]
    )
    assert row.manager_name == "Manager"
    assert db_user(ids["ops"]).manager_id == ids["manager"]
    [event] = audit_events(t.id, "person.change_manager")
    assert event.detail == {
        "before": {"manager_id": str(ids["other_mgr"])},
        "after": {"manager_id": str(ids["manager"])},
    }
    # the manager now sees ops; other_mgr no longer does
    assert "ops" in names(t, ids, listing(t, ids, "manager", page_size=100).rows)
    assert "ops" not in names(t, ids, listing(t, ids, "other_mgr", page_size=100).rows)
    row = act(t, ids, "admin", people.change_manager, person_id=ids["ops"], manager_id=None)
    assert row.manager_id == "" and db_user(ids["ops"]).manager_id is None


@pytest.mark.parametrize(
    ("person", "new_manager", "message"),
    [
        ("manager", "dev", "loop"),  # dev is four levels below manager
        ("director", "emp1", "loop"),
        ("emp1", "lead", "loop"),  # a direct report
        ("lead", "lead", "own manager"),
    ],
)
def test_change_manager_refuses_cycles(org: Org, person: str, new_manager: str, message) -> None:
    t, ids = org
    before = snapshot(t.id)
    with pytest.raises(PeopleError, match=message):
        act(
            t,
            ids,
            "admin",
            people.change_manager,
            person_id=ids[person],
            manager_id=ids[new_manager],
        )
    assert snapshot(t.id) == before


def test_change_manager_refuses_an_inactive_manager(org: Org) -> None:
    t, ids = org
    act(t, ids, "admin", people.deactivate_user, person_id=ids["other_mgr"])
    before = snapshot(t.id)
    with pytest.raises(PeopleError, match="deactivated"):
        act(
            t,
            ids,
            "admin",
            people.change_manager,
            person_id=ids["dev"],
            manager_id=ids["other_mgr"],
        )
    assert snapshot(t.id) == before


def test_update_profile(org: Org) -> None:
    t, ids = org
    row = act(
        t,
        ids,
        "admin",
        people.update_profile,
        person_id=ids["dev"],
        data=ProfileInput(department="Eng", team=" Platform ", job_title=""),
    )
    assert (row.department, row.team, row.job_title) == ("Eng", "Platform", "")
    [event] = audit_events(t.id, "person.update_profile")
    assert event.detail == {
        "before": {"team": "Core", "job_title": "Developer"},
        "after": {"team": "Platform", "job_title": None},
    }
    with pytest.raises(PeopleError, match="Team"):
        parse_input(ProfileInput, {"team": "x" * 101})


def test_manager_choices_are_active_people_only(org: Org) -> None:
    t, ids = org
    act(t, ids, "admin", people.deactivate_user, person_id=ids["ops"])
    choices = act(t, ids, "admin", people.manager_choices)
    assert "ops" not in {c.display_name for c in choices}
    assert len(choices) == 9
    found = act(t, ids, "admin", people.manager_choices, search="other")
    assert [c.display_name for c in found] == ["other_mgr"]


def test_no_audit_detail_ever_mentions_a_password(org: Org) -> None:
    t, ids = org
    invite(t, ids, "admin", email=f"x@{t.slug}.test", display_name="X")
    act(t, ids, "admin", people.deactivate_user, person_id=ids["emp1"])
    act(t, ids, "admin", people.reactivate_user, person_id=ids["emp1"])
    with owner_session() as s:
        details = s.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.tenant_id == t.id, AuditEvent.action.like("person.%")
            )
        ).all()
    assert len(details) == 3
    assert not any("password" in str(d).lower() or "argon2" in str(d) for d in details)
