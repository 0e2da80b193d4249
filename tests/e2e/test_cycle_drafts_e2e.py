"""A draft cycle corrected and then thrown away from the cycles page: HR opens Edit (the
form fills with the draft), renames it and saves; then Delete asks first and removes it."""

from __future__ import annotations

import uuid

import pytest

from pms_dashboard.seed import seed_demo
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

HR = "hana.hr@acme.example"


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


def test_hr_edits_then_deletes_a_draft(page, app_url, demo) -> None:
    name = f"Draft {uuid.uuid4().hex[:6]}"
    sign_in(page, app_url, "acme", HR)
    page.goto(f"{app_url}/cycles")
    page.wait_for_selector("#cycle-create")
    page.fill("#cycle-name", name)
    page.click("#cycle-template")
    page.get_by_role("option").first.click()
    page.fill("#cycle-period-start", "2027-01-01")
    page.fill("#cycle-period-end", "2026-12-01")  # before the start: refused beside it
    page.click("#cycle-create-submit")
    assert "Period end" in page.wait_for_selector("#cycle-period-end-error").inner_text()
    assert page.input_value("#cycle-name") == name  # what was typed is still there
    assert page.input_value("#cycle-period-start") == "2027-01-01"
    page.fill("#cycle-period-end", "2027-06-30")
    page.click("#cycle-create-submit")
    row = page.locator(".cycle-row", has_text=name)
    row.wait_for()

    row.locator(".cycle-edit").click()
    page.wait_for_function("n => document.querySelector('#cycle-name').value === n", arg=name)
    assert page.input_value("#cycle-period-end") == "2027-06-30"
    page.fill("#cycle-name", f"{name} (final)")
    page.click("#cycle-create-submit")
    page.wait_for_selector(f"#cycles-notice:has-text('{name} (final)')")
    assert page.input_value("#cycle-name") == ""  # the form is a new-cycle form again
    renamed = page.locator(".cycle-row", has_text=f"{name} (final)")
    renamed.wait_for()

    renamed.locator(".cycle-delete").click()
    page.wait_for_selector("#cycle-confirm:has-text('for good')")
    page.click("#cycle-confirm-go")
    page.wait_for_selector("#cycles-notice:has-text('deleted')")
    assert page.locator(".cycle-row", has_text=name).count() == 0
