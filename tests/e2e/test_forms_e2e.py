"""Forms that keep what was typed and steps that ask first, in a real browser: a refused
check-in keeps the note, confidence and progress with the message beside the field; Launch
and Start calibration say what will happen before anything does, and calibration can be
reopened while nothing is calibrated or shared."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import new_goal_form, sign_in

pytestmark = pytest.mark.e2e

MANAGER, HR = "maria.manager@acme.example", "hana.hr@acme.example"
GOAL = "Check-in refusal keeps the form"
CYCLE = f"Confirm before launching {uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


def _cycle_status(name: str) -> str:
    with owner_session() as s:
        return s.execute(
            text(
                "SELECT c.status FROM review_cycle c JOIN tenant t ON t.id = c.tenant_id"
                " WHERE t.slug = 'acme' AND c.name = :n"
            ),
            {"n": name},
        ).scalar_one()


def _active_cycle() -> str:
    with owner_session() as s:
        return s.execute(
            text(
                "SELECT c.name FROM review_cycle c JOIN tenant t ON t.id = c.tenant_id"
                " WHERE t.slug = 'acme' AND c.status IN ('active', 'calibration')"
            )
        ).scalar_one()


def test_a_refused_check_in_keeps_what_was_typed_beside_the_message(page, app_url, demo):
    new_goal_form(page, app_url, MANAGER, GOAL)
    page.click("#goal-create")
    page.wait_for_url(re.compile(r".*/goals/[0-9a-f-]{36}$"))
    page.wait_for_selector("#checkin-progress")

    page.fill("#checkin-progress", "150")
    page.select_option("#checkin-confidence", value="off_track")
    page.fill("#checkin-note", "Blocked on the vendor")
    page.click("#checkin-save")
    message = page.wait_for_selector("#checkin-progress-error")
    assert "100" in message.inner_text()
    assert "Input should" not in message.inner_text()  # people's words, not pydantic's
    # the message sits with the progress field, and everything typed is still there
    field = page.locator("#checkin-progress-field")
    assert field.locator("#checkin-progress-error").count() == 1
    assert page.input_value("#checkin-progress") == "150"
    assert page.input_value("#checkin-confidence") == "off_track"
    assert page.input_value("#checkin-note") == "Blocked on the vendor"
    assert page.locator(".checkin-row").count() == 0

    # corrected and saved: the note clears, confidence starts from the last check-in's
    page.fill("#checkin-progress", "40")
    page.click("#checkin-save")
    page.wait_for_selector(".checkin-row")
    page.wait_for_selector("#checkin-progress-error", state="detached")
    assert page.input_value("#checkin-note") == ""
    assert page.input_value("#checkin-confidence") == "off_track"
    assert page.input_value("#checkin-progress") in ("40", "40.00")


def test_launch_and_calibration_ask_first_and_calibration_can_be_reopened(page, app_url, demo):
    sign_in(page, app_url, "acme", HR)
    page.goto(f"{app_url}/cycles")
    page.wait_for_selector(".cycle-row")
    page.fill("#cycle-name", CYCLE)
    page.locator("#cycle-create [role=combobox]").first.click()
    page.get_by_role("option").first.click()
    page.fill("#cycle-period-start", "2031-01-01")
    page.fill("#cycle-period-end", "2031-06-30")
    page.fill("#cycle-self-due", "2031-07-10")
    page.fill("#cycle-manager-due", "2031-07-20")
    page.fill("#cycle-departments", "Engineering")
    page.click("#cycle-create-submit")
    row = page.locator(".cycle-row", has_text=CYCLE)
    row.wait_for()

    # Launch asks first and says what will happen; Cancel changes nothing
    row.locator(".cycle-launch").click()
    dialog = page.wait_for_selector("#cycle-confirm")
    said = dialog.inner_text()
    assert re.search(r"creates \d+ reviews", said), said
    assert "can't be changed" in said
    page.click("#cycle-confirm-cancel")
    page.wait_for_selector("#cycle-confirm", state="detached")
    assert _cycle_status(CYCLE) == "draft"

    # Start calibration of the running cycle asks too, and can be taken back
    running = _active_cycle()
    current = page.locator(".cycle-row", has_text=running)
    current.locator(".cycle-calibrate").click()
    said = page.wait_for_selector("#cycle-confirm").inner_text()
    assert "read-only" in said, said
    page.click("#cycle-confirm-go")
    current.locator(".cycle-reopen").wait_for()  # offered only in calibration
    assert _cycle_status(running) == "calibration"
    current.locator(".cycle-reopen").click()
    page.wait_for_selector("#cycle-confirm")
    page.click("#cycle-confirm-go")
    current.locator(".cycle-calibrate").wait_for()  # offered only while active
    assert _cycle_status(running) == "active"
