"""The Encryption page in a real browser: Initech's tenant admin (a schema tenant) turns on
encryption with the platform's key, tests the key and sees its use logged, and the check-in
notes still read as written; a manager finds no Encryption entry and is refused
at the address. At a desktop and a phone width."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from pms_dashboard.goals.models import GoalCheckIn
from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import demo_tenant_id, shoot, sign_in

pytestmark = pytest.mark.e2e

ADMIN = "ines.admin@initech.example"
MANAGER = "rafael.manager@initech.example"


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


def _a_note() -> tuple[str, str]:
    """A check-in note of Initech: its goal's id and the text as written (read through the
    ORM in the tenant's own unit of work: opened, whether sealed by a test before or not)."""
    with owner_session(demo_tenant_id("initech")) as s:
        check_in = s.scalars(
            select(GoalCheckIn).where(col(GoalCheckIn.note) != "").order_by(GoalCheckIn.id)
        ).first()
        assert check_in is not None
        return str(check_in.goal_id), check_in.note


@pytest.mark.parametrize("width", [1400, 390])
def test_admin_turns_on_encryption_and_text_still_reads(page, app_url, demo, width) -> None:
    goal_id, note = _a_note()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, app_url, "initech", ADMIN)
    page.goto(f"{app_url}/encryption")
    page.wait_for_selector("#encryption-on, #encryption-off")
    if page.locator("#encryption-off").count():
        page.select_option("#encryption-provider-choice", "platform")
        page.click("#encryption-save")
        page.wait_for_selector("#encryption-success, #encryption-error")
        assert page.locator("#encryption-error").count() == 0, page.inner_text("#encryption-error")
    page.wait_for_selector("#encryption-on")
    page.click("#encryption-test")
    page.wait_for_selector("#encryption-success:has-text('The key works')")
    page.wait_for_selector("#encryption-log .key-use-row")
    assert "Unwrapped" in page.inner_text("#encryption-log")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"the page is {scroll} px wide in a {width} px window"
    shoot(page, f"encryption-{width}")
    page.goto(f"{app_url}/goals/{goal_id}")
    page.wait_for_selector(f"text={note[:40]}")  # read as written


def test_a_manager_is_refused(page, app_url, demo) -> None:
    sign_in(page, app_url, "initech", MANAGER)
    assert page.locator("a[href='/encryption']").count() == 0
    page.goto(f"{app_url}/encryption")
    page.wait_for_selector("#encryption-denied")
    assert page.locator("#encryption-provider-choice").count() == 0
