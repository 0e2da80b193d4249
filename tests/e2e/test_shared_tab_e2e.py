"""One browser tab, two organisations one after the other (a shared computer, a kiosk, a
support desk): after Globex's admin leaves and Acme's manager signs in, not one websocket
frame the tab receives carries anything of Globex.

Three ways into the same tab: a sign-out then a sign-in (the tab gets a new client token),
the same with the tab's old client token forced back (so the server's own guard must reset
the state it kept for that token), and a sign-in that replaces an expired session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from pms_dashboard.auth.models import AuthSession, User
from pms_dashboard.goals.models import Goal, GoalCheckIn
from pms_dashboard.seed import seed_demo
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import demo_tenant_id, sign_in

pytestmark = pytest.mark.e2e

GLOBEX_ADMIN = "greta.admin@globex.example"
ACME_MANAGER = "maria.manager@acme.example"
CLIENT_TOKEN = "window.sessionStorage.getItem('token')"


def _texts(slug: str) -> set[str]:
    """What a tenant's pages can show of it: names, emails, titles, goals, check-in notes."""
    tid = demo_tenant_id(slug)
    with owner_session(tid) as s:  # the organisation's rows at its placement
        people = s.execute(
            select(User.display_name, User.email, User.job_title).where(User.tenant_id == tid)
        ).all()
        goals = s.scalars(select(Goal.title).where(Goal.tenant_id == tid)).all()
        notes = s.scalars(select(GoalCheckIn.note).where(GoalCheckIn.tenant_id == tid)).all()
        name = s.scalar(select(Tenant.name).where(Tenant.id == tid))
    out = {name or ""} | set(goals) | set(notes)
    for row in people:
        out |= {str(v) for v in row if v}
    return {t for t in out if t and len(t) >= 6}


@pytest.fixture(scope="module")
def markers() -> set[str]:
    """Globex's own strings that no Acme page could show."""
    seed_demo()
    acme = "\n".join(_texts("acme"))
    found = {m for m in _texts("globex") if m not in acme}
    assert len(found) > 30, "the demo gives Globex plenty of its own names and titles"
    return found


def _visit_everything(page, app_url: str) -> None:
    """The pages that fill the most state: people, goals, one goal, reviews, overview."""
    page.goto(f"{app_url}/people")
    page.wait_for_selector(".person-row", timeout=30_000)
    page.goto(f"{app_url}/goals")
    page.wait_for_selector(".goal-row")
    page.locator(".goal-row a").first.click()
    page.wait_for_url("**/goals/**")
    page.wait_for_selector("#goal-heading")
    page.goto(f"{app_url}/reviews")
    page.wait_for_load_state("networkidle")
    page.goto(f"{app_url}/overview")
    page.wait_for_selector("#chart-health")  # in the page before its state arrives, so also:
    page.wait_for_function("document.querySelector('#tenant-name')?.innerText.trim()")


def _record_frames(page) -> list[str]:
    frames: list[str] = []

    def on_socket(ws) -> None:
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    return frames


def _leaks(frames: list[str], markers: set[str]) -> list[str]:
    text = "\n".join(frames)
    return sorted(m for m in markers if m in text)


def _globex_then_acme(page, app_url, markers, *, reuse_token: bool, expire: bool) -> None:
    sign_in(page, app_url, "globex", GLOBEX_ADMIN)
    before = _record_frames(page)
    _visit_everything(page, app_url)
    assert _leaks(before, markers), "the recorder sees Globex's own frames while its admin works"
    old_token = page.evaluate(CLIENT_TOKEN)
    if expire:  # the session ends on the server while the tab stays open
        with owner_session(demo_tenant_id("globex")) as s:
            greta = select(col(User.id)).where(col(User.email) == GLOBEX_ADMIN)
            s.execute(
                update(AuthSession)
                .where(col(AuthSession.user_id).in_(greta), col(AuthSession.revoked_at).is_(None))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        page.goto(f"{app_url}/goals")
        page.wait_for_url("**/signin**")
    else:
        page.click("#sign-out")
        page.wait_for_url("**/signin**")
    page.goto(f"{app_url}/signin")
    page.wait_for_selector("#sign-in")
    page.wait_for_function(f"{CLIENT_TOKEN} === null")  # the sign-in page forgot the token
    if reuse_token:  # a client that keeps the tab's token: only the server's guard is left
        page.evaluate(f"window.sessionStorage.setItem('token', {old_token!r})")
    after = _record_frames(page)
    page.fill("#organisation", "acme")
    page.fill("#email", ACME_MANAGER)
    page.fill("#password", get_settings().demo_password)
    page.click("#sign-in")
    page.wait_for_url("**/overview**")
    _visit_everything(page, app_url)
    new_token = page.evaluate(CLIENT_TOKEN)
    assert (new_token == old_token) is reuse_token
    assert len(after) > 20, "the recorder saw the Acme manager's pages arrive"
    assert page.inner_text("#tenant-name").strip() == "Acme Corp"
    assert _leaks(after, markers) == []


def test_sign_out_then_another_organisation_signs_in_in_the_same_tab(page, app_url, markers):
    _globex_then_acme(page, app_url, markers, reuse_token=False, expire=False)


def test_a_client_keeping_the_tabs_token_gets_nothing_of_the_last_session(page, app_url, markers):
    _globex_then_acme(page, app_url, markers, reuse_token=True, expire=False)


def test_a_sign_in_replacing_an_expired_session_gets_nothing_of_it(page, app_url, markers):
    _globex_then_acme(page, app_url, markers, reuse_token=True, expire=True)
