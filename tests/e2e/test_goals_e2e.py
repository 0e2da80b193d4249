"""A manager's goal flow in a real browser: overview with charts, a new goal with two key
results aligned to a parent, a check-in, the roll-up to the parent; Globex sees none of it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlmodel import col

from pms_dashboard.goals.models import Goal
from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import shoot, sign_in

pytestmark = pytest.mark.e2e

TITLE = "Launch one-tap refunds"
PARENT = "Ship v2 checkout"


def _progress(page) -> int:
    return int(page.inner_text("#goal-progress").strip().rstrip("%"))


def _db_progress(title: str) -> int:
    """Acme's goal of that title (other tests seed the demo data under other slugs too)."""
    with owner_session() as s:
        value = s.scalar(
            select(Goal.progress)
            .join(Tenant, col(Tenant.id) == Goal.tenant_id)
            .where(Goal.title == title, col(Tenant.slug) == "acme")
        )
    return round(float(value))


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


def test_manager_creates_aligned_goal_checks_in_and_parent_rolls_up(page, app_url, demo, browser):
    sign_in(page, app_url, "acme", "maria.manager@acme.example")
    page.wait_for_selector("#chart-health .bar-row")
    page.wait_for_selector("#chart-funnel .bar-row")  # the running review cycle
    assert int(page.inner_text("#stat-total h1, #stat-total .rt-Heading").strip()) > 0
    shoot(page, "overview")
    # a bar of the goal-health chart opens the goals it counts
    at_risk = page.locator("#chart-health .bar-link", has_text="At risk")
    count = int(at_risk.locator(".bar-value").inner_text())
    at_risk.click()
    page.wait_for_url("**/goals?*confidence=at_risk*")
    page.wait_for_selector(".goal-row")
    assert page.locator(".goal-row").count() == count
    assert page.get_by_role("button", name="Confidence: at risk").is_visible()  # to clear it
    parent_before = _db_progress(PARENT)

    page.goto(f"{app_url}/goals")
    page.wait_for_selector(".goal-row")
    page.click("#goal-new")
    page.wait_for_selector("#goal-title")
    page.fill("#goal-title", TITLE)
    page.fill("#goal-description", "Customers refund in one tap from the receipt.")
    option = page.locator("#goal-parent option", has_text=PARENT).first
    page.select_option("#goal-parent", value=option.get_attribute("value"))
    page.fill("#kr-title-0", "Refunds self-served")
    page.fill("#kr-start-0", "0")
    page.fill("#kr-target-0", "100")
    page.fill("#kr-unit-0", "%")
    page.fill("#kr-title-1", "Refund tickets per week")
    page.fill("#kr-start-1", "40")
    page.fill("#kr-target-1", "10")
    page.click("#goal-create")
    page.wait_for_url(re.compile(r".*/goals/[0-9a-f-]{36}$"))
    page.wait_for_selector(".kr-row")
    assert page.locator(".kr-row").count() == 2
    assert _progress(page) == 0
    assert PARENT in page.inner_text("#goal-breadcrumb")

    inputs = page.locator(".checkin-kr input")
    inputs.nth(0).fill("50")  # 50 % of the way
    inputs.nth(1).fill("10")  # target reached: 100 %
    page.select_option("#checkin-confidence", value="at_risk")
    page.fill("#checkin-note", "Pilot live for one market")
    page.click("#checkin-save")
    page.wait_for_function(
        "() => document.querySelector('#goal-progress').innerText.startsWith('75')"
    )
    assert page.locator(".checkin-row").count() == 1
    shoot(page, "goal")

    # the parent rolled up: the page shows what the database holds, and it moved
    page.locator("#goal-breadcrumb a", has_text=PARENT).click()
    page.wait_for_selector(f"#goal-heading:has-text('{PARENT}')")
    parent_after = _db_progress(PARENT)
    assert parent_after != parent_before
    page.wait_for_function(
        "p => document.querySelector('#goal-progress').innerText.startsWith(String(p))",
        arg=parent_after,
    )
    assert (
        TITLE in page.inner_text(".tree-row >> nth=0")
        or page.locator(".tree-row", has_text=TITLE).count() == 1
    )
    goal_url = None
    with owner_session() as s:
        goal_id = s.scalar(select(Goal.id).where(Goal.title == TITLE))
    goal_url = f"{app_url}/goals/{goal_id}"

    # Globex: not in any list, and the direct address reveals nothing
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        gp = other.new_page()
        gp.set_default_timeout(20_000)
        sign_in(gp, app_url, "globex", "gus.manager@globex.example")
        # Globex's own look: its accent colour from its tenant settings
        gp.wait_for_selector(".radix-themes[data-accent-color=teal] #tenant-name")
        gp.goto(f"{app_url}/goals?scope=all")
        gp.wait_for_selector("#goal-total")
        assert TITLE not in gp.content()
        gp.goto(goal_url)
        gp.wait_for_selector("#goal-error")
        assert TITLE not in gp.content() and PARENT not in gp.content()
    finally:
        other.close()
