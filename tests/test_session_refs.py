"""No session id in any export or page: a token names a session, so whoever could read a
session id (a tenant admin's audit export, the console's search) could aim a forged token
at it. The trail names sessions by `session_ref`; events written before that rule (which
hold the ids and can never be rewritten: the trail is a hash chain) are shown with the same
reference in place of each id."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta

import pandas as pd
import pyotp
from sqlalchemy import select, text
from sqlmodel import col
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pms_dashboard.audit import service as audit
from pms_dashboard.audit.chain import verify
from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.audit.sessions import session_ref
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.cookies import CONSOLE_COOKIE, token_from_cookie_header
from pms_dashboard.auth.models import AuthSession
from pms_dashboard.auth.routes import routes as auth_route_list
from pms_dashboard.console import flagged, grants, search
from pms_dashboard.console import routes as console_routes
from pms_dashboard.console import service as console
from pms_dashboard.console.search import AuditQuery
from pms_dashboard.db.engine import owner_engine
from pms_dashboard.exports.catalog import EXPORTS
from pms_dashboard.exports.routes import routes as export_routes
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import GoalInput
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import (
    TEST_PASSWORD,
    TenantFixture,
    as_admin,
    create_console_admin,
    ctx,
    draft_cycle,
)

MakeTenant = Callable[..., TenantFixture]
ORIGIN = "http://localhost:3000"


def _browser() -> TestClient:
    app = Starlette(routes=[*auth_route_list, *export_routes])
    return TestClient(app, base_url=ORIGIN, follow_redirects=False)


def _sign_in(browser: TestClient, t: TenantFixture, key: str) -> str:
    response = browser.post(
        "/api/auth/signin",
        data={"organisation": t.slug, "email": f"{key}@{t.slug}.test", "password": TEST_PASSWORD},
        headers={"origin": ORIGIN},
    )
    token = token_from_cookie_header(response.headers["set-cookie"].split(";")[0])
    assert response.status_code == 303 and token
    return token


def _every_kind_of_session_event(t: TenantFixture) -> None:
    """Sign-ins, a rotation, a sign-out, sign-out everywhere and an idle timeout."""
    laptop, phone, other = _browser(), _browser(), _browser()
    _sign_in(laptop, t, "manager")
    _sign_in(laptop, t, "manager")  # rotation: the first session is replaced
    _sign_in(phone, t, "manager")
    assert laptop.post("/api/auth/signout-everywhere", headers={"origin": ORIGIN}).status_code
    _sign_in(other, t, "emp1")
    assert other.post("/api/auth/signout", headers={"origin": ORIGIN}).status_code == 303
    idle = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"emp2@{t.slug}.test", password=TEST_PASSWORD
    )
    with owner_session() as s:
        s.execute(
            text("UPDATE auth_session SET last_seen_at = now() - interval '1 day' WHERE id = :i"),
            {"i": idle.principal.session_id},
        )
    assert auth_routes.authenticate(idle.token) is None


def _events_as_they_were_written_before(t: TenantFixture) -> tuple[uuid.UUID, uuid.UUID]:
    """Events the way sign-in wrote them before session references (raw ids): they stay in
    the chain as they are. Returns the two session ids they name."""
    with owner_session() as s:
        first, second = s.scalars(
            select(AuthSession.id).where(col(AuthSession.tenant_id) == t.id).limit(2)
        ).all()
    admin = t.user_id("admin")
    with tenant_session(TenantContext(tenant_id=t.id)) as s:
        for action, entity_type, entity_id, detail in (
            ("auth.sign_in", "auth_session", second, {"method": "password",
                                                       "replaces": str(first)}),
            ("auth.session_rotated", "auth_session", first, {"reason": "rotated",
                                                              "replaced_by": str(second)}),
            ("auth.sign_out_everywhere", "app_user", admin, {
                "reason": "sign_out_everywhere", "sessions": [str(first), str(second)],
                "from_session": str(second)}),
        ):  # fmt: skip
            audit.record(
                session=s,
                action=action,
                actor_id=admin,
                entity_type=entity_type,
                entity_id=entity_id,
                detail=detail,
            )
    return first, second


def _console_admin() -> tuple[console.ConsoleAdmin, str]:
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password="x" * 20
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password="x" * 20, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    return signed.admin, signed.token


def test_no_session_id_appears_in_any_export_or_page(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    with tenant_session(ctx(t, "manager")) as s:
        data = GoalInput(
            title="Grow revenue", start_date=date.today(), due_date=date.today() + timedelta(30)
        )
        goals.create_goal(session=s, actor=ctx(t, "manager"), data=data)
    _every_kind_of_session_event(t)
    old_first, old_second = _events_as_they_were_written_before(t)
    cycle_id = draft_cycle(t)
    admin = _browser()
    _sign_in(admin, t, "admin")  # the tenant admin who exports, in a live session

    shown: dict[str, str] = {}
    for name in EXPORTS:
        params = {"cycle_id": str(cycle_id)} if name in ("reviews", "cycle-summary") else {}
        params |= {"scope": "all"} if name in ("goals", "key-results", "check-ins") else {}
        response = admin.get(f"/api/export/{name}.csv", params=params)
        assert response.status_code == 200, (name, response.text)
        shown[f"export {name}"] = response.text
    with tenant_session(ctx(t, "admin")) as s:
        shown["provider access page"] = str(
            grants.provider_access_log(session=s, actor=ctx(t, "admin"))
        )

    ops, ops_token = _console_admin()
    client = TestClient(Starlette(routes=export_routes))
    client.cookies.set(CONSOLE_COOKIE, ops_token)
    console_csv = client.get("/api/console/export/audit.csv", params={"tenant": t.slug})
    assert console_csv.status_code == 200
    shown["console export"] = console_csv.text
    page = as_admin(search.search, admin=ops, query=AuditQuery(tenant=t.slug, page_size=100))
    shown["console search page"] = str([asdict(r) for r in page.rows])
    queue = as_admin(flagged.flagged_queue, admin=ops, tenant=t.slug, page_size=100)
    shown["console flagged queue"] = str([asdict(r) for r in queue.rows])

    with owner_session() as s:
        session_ids = set(
            s.scalars(select(AuthSession.id).where(col(AuthSession.tenant_id) == t.id))
        )
    assert len(session_ids) == 6
    session_ids.add(ops.session_id)  # the console's own session, too
    forms = {str(i) for i in session_ids} | {i.hex for i in session_ids}
    for where, body in shown.items():
        assert not [f for f in forms if f in body.lower()], where

    # what is shown instead: the references, for new events and for the old ones alike
    trail = pd.read_csv(io.StringIO(shown["export audit"]), dtype=str, keep_default_na=False)
    sessions = trail[trail["entity_type"] == "auth_session"]
    assert len(sessions) >= 8 and sessions["entity_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    old = trail[(trail["action"] == "auth.sign_in") & trail["detail"].str.contains('"replaces"')]
    assert session_ref(old_second) in set(old["entity_id"])
    assert any(session_ref(old_first) in d for d in old["detail"])
    everywhere = " ".join(trail.loc[trail["action"] == "auth.sign_out_everywhere", "detail"])
    assert session_ref(old_first) in everywhere and session_ref(old_second) in everywhere
    console_rows = pd.read_csv(io.StringIO(shown["console export"]), dtype=str)
    assert session_ref(old_first) in set(console_rows["entity_id"])
    # and the chain, old events included, is intact: nothing was rewritten to show them
    with owner_engine().connect() as conn:
        assert verify(conn, tenant_id=t.id).ok
    with owner_session() as s:
        stored = s.scalar(
            select(AuditEvent.detail).where(
                col(AuditEvent.tenant_id) == t.id, col(AuditEvent.entity_id) == old_second
            )
        )
    assert stored == {"method": "password", "replaces": str(old_first)}


def test_a_session_event_names_no_session_id_at_all(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    browser = _browser()
    _sign_in(browser, t, "manager")
    second = _sign_in(browser, t, "manager")
    principal = auth_routes.authenticate(second)
    assert principal is not None
    browser.post("/api/auth/signout-everywhere", headers={"origin": ORIGIN})
    with owner_session() as s:
        ids = {
            str(i)
            for i in s.scalars(select(AuthSession.id).where(col(AuthSession.tenant_id) == t.id))
        }
        rows = s.execute(
            select(AuditEvent.entity_id, AuditEvent.detail).where(
                col(AuditEvent.tenant_id) == t.id, col(AuditEvent.action).startswith("auth.")
            )
        ).all()
    assert len(rows) >= 4
    assert not any(str(r.entity_id) in ids or any(i in str(r.detail) for i in ids) for r in rows)
    assert any(r.detail.get("session_ref") == session_ref(principal.session_id) for r in rows)
