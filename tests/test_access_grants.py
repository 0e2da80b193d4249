"""Break-glass access: no grant, an expired grant, a revoked grant or another admin's grant
shows zero rows; an active grant shows the tenant's goals, and every read and every grant
change is a flagged event in that tenant's own trail, which the tenant can read."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pyotp
import pytest
from sqlalchemy import text

from pms_dashboard.audit.chain import verify
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.console import grants
from pms_dashboard.console import routes as console_routes
from pms_dashboard.console import service as console
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import GoalInput
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, as_admin, create_console_admin

PASSWORD = "a long console passphrase"


def _admin() -> console.ConsoleAdmin:
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password=PASSWORD
    )
    code = pyotp.TOTP(new.totp_secret).at(time.time())
    return console_routes.sign_in_with_code(email=new.email, password=PASSWORD, code=code).admin


@pytest.fixture
def t(make_tenant: Callable[..., TenantFixture]) -> TenantFixture:
    t = make_tenant()
    actor = TenantContext(tenant_id=t.id, user_id=t.user_id("emp1"), role="employee")
    with tenant_session(actor) as s:
        goals.create_goal(
            session=s,
            actor=actor,
            data=GoalInput(title="Quarterly plan", start_date=date.today(),
                           due_date=date.today() + timedelta(days=30)),
        )  # fmt: skip
    return t


def _events(t: TenantFixture) -> list[tuple[str, bool, dict]]:
    with owner_session() as s:
        return [
            (a, f, d)
            for a, f, d in s.execute(
                text("SELECT action, flagged, detail FROM audit_event WHERE tenant_id = :t"
                     " AND action LIKE 'console.%' ORDER BY seq"), {"t": t.id},
            )
        ]  # fmt: skip


def test_no_grant_reads_nothing_and_the_attempt_is_logged(t) -> None:
    admin = _admin()
    assert as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug) == []
    [(action, flagged, detail)] = _events(t)
    assert (action, flagged, detail["rows"], detail["grant"]) == ("console.read", True, 0, None)


def test_an_active_grant_reads_and_every_step_is_in_the_tenants_trail(t) -> None:
    admin = _admin()
    grant_id = as_admin(grants.open_grant, 
        admin=admin, tenant_slug=t.slug, justification="customer_support",
        ticket="SUP-1234", hours=1,
    )  # fmt: skip
    rows = as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug)
    assert [(r.title, r.owner) for r in rows] == [("Quarterly plan", "Employee 1")]
    as_admin(grants.revoke_grant, admin=admin, grant_id=grant_id)
    assert as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug) == []
    events = _events(t)
    assert [a for a, _, _ in events] == [
        "console.grant_opened", "console.read", "console.grant_revoked", "console.read",
    ]  # fmt: skip
    assert all(f for _, f, _ in events)
    assert events[1][2]["ticket"] == "SUP-1234" and events[1][2]["rows"] == 1
    # the tenant sees the grant itself, read-only, through its own session
    with tenant_session(TenantContext(tenant_id=t.id)) as s:
        seen = s.execute(text("SELECT admin_name, justification, ticket FROM access_grant")).all()
    assert [tuple(r) for r in seen] == [("Ops", "customer_support", "SUP-1234")]
    with owner_session() as s:
        assert verify(s.connection(), tenant_id=t.id).ok


def test_another_admins_grant_and_an_expired_grant_show_nothing(t) -> None:
    holder, other = _admin(), _admin()
    as_admin(
        grants.open_grant,
        admin=holder,
        tenant_slug=t.slug,
        justification="legal_request",
        ticket="LEG-9",
        hours=2,
    )
    assert as_admin(grants.read_goals, admin=other, tenant_slug=t.slug) == []
    assert [g.tenant_slug for g in as_admin(grants.my_grants, admin=other)] == []
    with owner_session() as s:  # the clock moves past the grant's end
        s.execute(
            text("UPDATE access_grant SET created_at = created_at - interval '3 hours',"
                 " expires_at = expires_at - interval '3 hours' WHERE tenant_id = :t"),
            {"t": t.id},
        )  # fmt: skip
    assert as_admin(grants.read_goals, admin=holder, tenant_slug=t.slug) == []
    assert [g.active for g in as_admin(grants.my_grants, admin=holder)] == [False]


def _launch_reviews(t: TenantFixture) -> None:
    """A launched cycle: a self review for everyone, a manager review for the reports."""
    from pms_dashboard.reviews import cycles, templates

    admin = TenantContext(tenant_id=t.id, user_id=t.user_id("admin"), role="tenant_admin")
    with tenant_session(admin) as s:
        template = templates.create_template(
            session=s, actor=admin, data={"name": "Std", "criteria": [{"name": "Delivery"}]}
        )
        cycle = cycles.create_cycle(
            session=s, actor=admin,
            data={"name": "H1", "template_id": template.id, "period_start": date(2025, 1, 1),
                  "period_end": date(2025, 6, 30)},
        )  # fmt: skip
        cycles.launch_cycle(session=s, actor=admin, cycle_id=uuid.UUID(str(cycle.id)))


def test_reviews_are_read_only_under_an_active_grant_and_every_attempt_is_logged(t) -> None:
    from dataclasses import astuple

    _launch_reviews(t)
    admin, other = _admin(), _admin()
    assert as_admin(grants.read_reviews, admin=admin, tenant_slug=t.slug) == []
    grant_id = as_admin(grants.open_grant, 
        admin=admin, tenant_slug=t.slug, justification="customer_support",
        ticket="SUP-77", hours=1,
    )  # fmt: skip
    assert as_admin(grants.read_reviews, admin=other, tenant_slug=t.slug) == []  # not their grant
    rows = as_admin(grants.read_reviews, admin=admin, tenant_slug=t.slug)
    assert len(rows) == 6 and {r.cycle for r in rows} == {"H1"}
    assert ("H1", "Employee 1", "Manager", "manager", "not_started", None) in map(astuple, rows)
    assert ("H1", "Employee 1", "Employee 1", "self", "not_started", None) in map(astuple, rows)
    as_admin(grants.revoke_grant, admin=admin, grant_id=grant_id)
    assert as_admin(grants.read_reviews, admin=admin, tenant_slug=t.slug) == []
    reads = [(f, d) for a, f, d in _events(t) if a == "console.read"]
    assert [(f, d["what"], d["rows"], d["ticket"]) for f, d in reads] == [
        (True, "reviews", 0, None),
        (True, "reviews", 0, None),
        (True, "reviews", 6, "SUP-77"),
        (True, "reviews", 0, None),
    ]
    assert reads[1][1]["admin"] == other.email
    # the tenant admin sees each attempt in words
    tenant_admin = TenantContext(tenant_id=t.id, user_id=t.user_id("admin"), role="tenant_admin")
    with tenant_session(tenant_admin) as s:
        log = grants.provider_access_log(session=s, actor=tenant_admin)
    assert [e.what for e in log if e.action == "Read data"] == [
        "reviews (0 rows) — refused: no grant",
        "reviews (6 rows)",
        "reviews (0 rows) — refused: no grant",
        "reviews (0 rows) — refused: no grant",
    ]
    with pytest.raises(console.ConsoleError, match="No organisation"):
        as_admin(grants.read_reviews, admin=admin, tenant_slug="no-such-org")
    with pytest.raises(console.ConsoleError, match="Sign in"):
        as_admin(grants.read_reviews, admin=None, tenant_slug=t.slug)  # type: ignore[arg-type]
    assert len(_events(t)) == 6  # the refused calls above logged nothing


def test_the_console_shows_reviews_read_under_a_grant(t) -> None:
    from pms_dashboard.ui.states.base import MALFORMED
    from pms_dashboard.ui.states.console import NO_GRANT, ConsoleState
    from tests.ui_harness import call, state_for

    _launch_reviews(t)
    new = create_console_admin(
        email=f"ui-{uuid.uuid4().hex[:8]}@platform.example", display_name="UI", password=PASSWORD
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    st = state_for(ConsoleState, signed.token, cookie_name="pms_console")
    call(st, ConsoleState.read_reviews, t.slug)
    assert (st.error, st.read_rows) == (NO_GRANT, [])
    as_admin(grants.open_grant, 
        admin=signed.admin, tenant_slug=t.slug, justification="legal_request",
        ticket="LEG-1", hours=1,
    )  # fmt: skip
    call(st, ConsoleState.read_reviews, t.slug)
    assert (st.error, st.read_what, st.read_tenant, len(st.read_rows)) == (
        "", "reviews", t.slug, 6,
    )  # fmt: skip
    assert set(st.read_rows[0]) == {"cycle", "reviewee", "reviewer", "kind", "status", "score"}
    call(st, ConsoleState.read_goals, t.slug)
    assert (st.read_what, [r["title"] for r in st.read_rows]) == ("goals", ["Quarterly plan"])
    for garbage in (None, 42, {"slug": t.slug}, "../" * 40):
        call(st, ConsoleState.read_reviews, garbage)
        expected = "No organisation with that slug." if isinstance(garbage, str) else MALFORMED
        assert st.error == expected, garbage


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"justification": "curiosity"}, "justification"),
        ({"ticket": "  "}, "ticket"),
        ({"hours": 5}, "at most 4 hours"),
        ({"hours": 0}, "at most 4 hours"),
        ({"tenant_slug": "no-such-org"}, "No organisation"),
    ],
)
def test_a_grant_needs_reason_ticket_and_a_short_time(t, kwargs, message) -> None:
    args = {"tenant_slug": t.slug, "justification": "security_investigation",
            "ticket": "SEC-77", "hours": 1} | kwargs  # fmt: skip
    with pytest.raises(console.ConsoleError, match=message):
        as_admin(grants.open_grant, admin=_admin(), **args)
    assert _events(t) == []


def test_the_app_role_cannot_open_or_change_grants(t) -> None:
    import psycopg
    from sqlalchemy import exc

    for sql in (
        "INSERT INTO access_grant (tenant_id, admin_id, admin_name, justification, ticket,"
        " expires_at) VALUES (:t, gen_random_uuid(), 'x', 'legal_request', 'abc',"
        " now() + interval '1 hour')",
        "UPDATE access_grant SET revoked_at = now()",
        "DELETE FROM access_grant",
    ):
        with (
            pytest.raises(exc.DBAPIError) as err,
            tenant_session(TenantContext(tenant_id=t.id)) as s,
        ):
            s.connection().execute(text(sql), {"t": t.id})
        assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege)


def test_password_hashes_stay_out_of_reach_even_under_a_grant(t) -> None:
    import psycopg
    from sqlalchemy import exc

    from pms_dashboard.console.routes import admin_session

    admin = _admin()
    as_admin(
        grants.open_grant,
        admin=admin,
        tenant_slug=t.slug,
        justification="customer_support",
        ticket="SUP-1",
        hours=1,
    )
    with pytest.raises(exc.DBAPIError) as err, admin_session(admin) as s:
        s.execute(text("SELECT password_hash FROM app_user"))
    assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege)
    with pytest.raises(exc.DBAPIError), admin_session(admin) as s:
        s.execute(text("SELECT * FROM auth_session"))


# Every console event handler, by what it touches. A new handler fails this test until it
# is classified here, and every one that reaches tenant data (rows read under a grant, or
# the metadata of a tenant's audit events) must leave a flagged event in that tenant's chain.
# In the order the test calls them (reads before the grant ends, the queue before a review).
CONSOLE_HANDLERS = {
    "load": "counts",  # the platform overview: counts, never a tenant's rows
    # a new organisation: the platform's trail (tests/test_console_tiers.py), no tenant's
    "create_organisation": "platform",
    "open_grant": "tenant",
    "read_goals": "tenant",
    "read_reviews": "tenant",
    "revoke": "tenant",
    "search_audit": "tenant",  # audit metadata of every tenant on the page
    "search_goto": "tenant",
    "load_flagged": "tenant",  # the review queue: metadata of flagged events
    "flagged_goto": "tenant",
    "mark_reviewed": "tenant",
    # hands the browser the export URL only; the route audits itself (tests/test_exports.py)
    "export_search": "none",
    # a move reads no tenant data for the admin: it is recorded as tenant.move_started and
    # tenant.move_completed in the tenant's own chain (with the admin as actor) and in the
    # platform's (tests/test_console_moves.py); following it reads the mover's progress only
    "move_organisation": "none",
    "follow_move": "none",
    "setvar": "none",  # Reflex's own setter: display vars only, never identity or access
}


def test_every_console_handler_that_reaches_tenant_data_leaves_a_flagged_event(t) -> None:
    from pms_dashboard.ui.states.console import ConsoleState
    from tests.ui_harness import call, state_for

    assert set(ConsoleState.event_handlers) == set(CONSOLE_HANDLERS)
    # a refused request of an ordinary user: flagged, so the review queue has it
    emp = TenantContext(tenant_id=t.id, user_id=t.user_id("emp2"), role="employee")
    with pytest.raises(PermissionDenied), tenant_session(emp) as s:
        goals.goal_detail(session=s, actor=emp, goal_id=uuid.uuid4())
    new = create_console_admin(
        email=f"ui-{uuid.uuid4().hex[:8]}@platform.example", display_name="UI", password=PASSWORD
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    st = state_for(ConsoleState, signed.token, cookie_name="pms_console")
    search_form = {"tenant": t.slug, "actor_id": "", "action": "", "flagged": "all",
                   "since": "", "until": ""}  # fmt: skip
    calls: dict[str, Callable[[], tuple]] = {
        "load": lambda: (),
        "create_organisation": lambda: ({"slug": f"new-{uuid.uuid4().hex[:8]}",
                                         "name": "New Org", "tier": "pool",
                                         "region": "eu-central", "justification": "ORD-7"},),
        "open_grant": lambda: ({"tenant": t.slug, "justification": "customer_support",
                                "ticket": "SUP-9", "hours": "1"},),
        "read_goals": lambda: (t.slug,),
        "read_reviews": lambda: (t.slug,),
        "revoke": lambda: (next(g["id"] for g in st.my_grants if g["active"]),),
        "search_audit": lambda: (search_form,),
        "search_goto": lambda: (1,),
        "load_flagged": lambda: ({"tenant": t.slug},),
        "flagged_goto": lambda: (1,),
        "mark_reviewed": lambda: ({"event_id": st.flagged_rows[0]["event_id"],
                                   "note": "A mistyped link."},),
    }  # fmt: skip
    for name, kind in CONSOLE_HANDLERS.items():
        if kind == "none":
            continue
        before = len(_events(t))
        call(st, getattr(ConsoleState, name), *calls[name]())
        assert st.error == "", (name, st.error)
        after = _events(t)
        if kind == "tenant":
            assert len(after) == before + 1 and after[-1][1] is True, name
        else:
            assert len(after) == before, name
    assert [a for a, _, _ in _events(t)][-4:] == [
        "console.audit_read", "console.audit_read", "console.audit_read",
        "console.flag_reviewed",
    ]  # fmt: skip
    with owner_session() as s:
        assert verify(s.connection(), tenant_id=t.id).ok


# Every backend HTTP route a console cookie opens, and whether it reaches tenant data.
CONSOLE_ROUTES = {
    "/api/console/signin": "none",  # checks the super-admin's own credentials
    "/api/console/signout": "none",
    "/api/console/export/audit.csv": "tenant",  # audit metadata of every tenant it covers
}


def test_every_console_route_is_known_and_the_one_reaching_tenants_leaves_flagged_events(
    t,
) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from pms_dashboard.auth.cookies import CONSOLE_COOKIE
    from pms_dashboard.pms_dashboard import api

    paths = {r.path for r in api.routes if getattr(r, "path", "").startswith("/api/console")}
    assert paths == set(CONSOLE_ROUTES), "classify the new console route in CONSOLE_ROUTES"
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password=PASSWORD
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    client = TestClient(Starlette(routes=api.routes))
    client.cookies.set(CONSOLE_COOKIE, signed.token)
    for path, kind in CONSOLE_ROUTES.items():
        if kind != "tenant":
            continue
        before = [e for e in _events(t) if e[0] == "console.audit_read"]
        response = client.get(path, params={"tenant": t.slug})
        assert response.status_code == 200
        after = [e for e in _events(t) if e[0] == "console.audit_read"]
        assert len(after) == len(before) + 1 and after[-1][1] is True  # flagged, in t's chain
