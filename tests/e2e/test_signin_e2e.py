"""Sign-in to My goals in a real browser: redirects, errors, tenant scoping, sign-out."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from pms_dashboard.auth.models import User
from pms_dashboard.goals.models import Goal, GoalStatus
from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import demo_tenant_id, shoot, sign_in

pytestmark = pytest.mark.e2e

MANAGER = "maria.manager@acme.example"


@pytest.fixture(scope="module")
def demo() -> dict[str, set[str]]:
    """Seed the demo organisations; return goal titles per (tenant slug) and Maria's titles."""
    seed_demo()
    titles: dict[str, set[str]] = {"acme": set(), "globex": set(), "initech": set(), "maria": set()}
    for slug in ("acme", "globex", "initech"):
        tid = demo_tenant_id(slug)
        with owner_session(tid) as s:  # each organisation's rows at its placement
            rows = s.execute(
                select(User.email, Goal.title, Goal.status)
                .join(User, (User.id == Goal.owner_id) & (User.tenant_id == Goal.tenant_id))
                .where(Goal.tenant_id == tid)
            ).all()
        for email, title, status in rows:
            titles[slug].add(title)
            if email == MANAGER and status != GoalStatus.archived.value:
                titles["maria"].add(title)
    assert titles["globex"] and titles["initech"], "each demo organisation has goals"
    assert titles["maria"], "the demo data gives the Acme manager goals"
    return titles


def _me(app_url: str, token: str | None) -> int:
    req = urllib.request.Request(f"{app_url}/api/auth/me")  # noqa: S310 (loopback)
    if token:
        req.add_header("Cookie", f"pms_session={token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback)
            json.loads(resp.read())
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_unauthenticated_goals_redirects_to_signin(page, app_url):
    page.goto(f"{app_url}/goals")
    page.wait_for_url("**/signin**")
    page.wait_for_selector("#sign-in", state="visible")


def test_wrong_password_shows_message_and_sets_no_cookie(page, app_url, demo):
    sign_in(page, app_url, "acme", MANAGER, "not-the-password", land=False)
    page.wait_for_selector("#signin-error")
    assert "Sign-in failed" in page.inner_text("#signin-error")
    assert not [c for c in page.context.cookies() if c["name"] == "pms_session"]
    shoot(page, "signin")


def test_manager_sees_only_own_tenant_goals_then_signs_out(page, app_url, demo):
    sign_in(page, app_url, "acme", MANAGER, land=False)
    page.wait_for_url("**/overview**")
    page.wait_for_selector("#chart-health")
    page.goto(f"{app_url}/goals")
    page.wait_for_selector(".goal-row")
    assert page.inner_text("#tenant-name").strip() == "Acme Corp"

    seen: list[str] = []
    for _ in range(20):  # page through with Next until it is disabled
        seen += [t.strip() for t in page.locator(".goal-title").all_inner_texts()]
        nxt = page.locator("#goals-next")
        if nxt.is_disabled():
            break
        before = page.inner_text("#goals-page")
        nxt.click()
        page.wait_for_function(
            "b => document.querySelector('#goals-page').innerText !== b", arg=before
        )
    assert set(seen) == demo["maria"], "exactly the manager's own active goals, all pages"
    assert len(seen) == len(set(seen)), "no goal shown twice across pages"
    assert not set(seen) & (demo["globex"] - demo["acme"]), "no Globex goal leaks in"
    assert f"{len(seen)} goals" in page.inner_text("#goal-total")
    shoot(page, "goals")

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "pms_session")
    assert _me(app_url, token) == 200
    page.click("#sign-out")
    page.wait_for_url("**/signin**")
    assert not [c for c in page.context.cookies() if c["name"] == "pms_session"]
    assert _me(app_url, token) == 401, "the old token is revoked on sign-out"
    page.goto(f"{app_url}/goals")
    page.wait_for_url("**/signin**")
