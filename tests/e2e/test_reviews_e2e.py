"""The review cycle in a real browser: an employee writes the self review, the manager the
manager review, HR calibrates with a reason; Globex sees none of it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import shoot, sign_in

pytestmark = pytest.mark.e2e

EMPLOYEE, MANAGER, HR = (
    "priya.nair@acme.example",
    "maria.manager@acme.example",
    "hana.hr@acme.example",
)


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def _fill_review(page, scores: list[str]) -> None:
    """Pick a score for every criterion (Radix selects) and submit."""
    page.wait_for_selector("#review-form")
    triggers = page.locator("#review-form .rating-row [role=combobox]")
    assert triggers.count() == len(scores) > 0
    for i, label in enumerate(scores):
        triggers.nth(i).click()
        page.get_by_role("option", name=re.compile(rf"^{label}\b")).click()
        page.wait_for_function(
            "([i, l]) => document.querySelectorAll('#review-form .rating-row [role=combobox]')[i]"
            ".innerText.trim().startsWith(l)",
            arg=[i, label],
        )
    page.fill("#review-summary", "A strong half: shipped wallet payments.")
    page.click("#review-submit")
    page.click("#review-submit-confirm")  # a submitted review cannot be changed: confirmed
    page.wait_for_selector("#reviews-notice, #reviews-error")
    assert page.locator("#reviews-error").count() == 0, page.inner_text("#reviews-error")


def _review_status(kind: str) -> str:
    with owner_session() as s:
        return s.execute(
            text(
                "SELECT r.status FROM review r JOIN review_cycle c ON c.tenant_id = r.tenant_id"
                " AND c.id = r.cycle_id JOIN app_user u ON u.tenant_id = r.tenant_id"
                " AND u.id = r.reviewee_id WHERE c.status IN ('active', 'calibration')"
                " AND u.email = :e AND r.kind = :k"
            ),
            {"e": EMPLOYEE, "k": kind},
        ).scalar_one()


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


def test_self_review_manager_review_calibration_and_globex_sees_nothing(
    app_url, browser, demo
) -> None:
    ctx, page = _new_page(browser)
    try:
        sign_in(page, app_url, "acme", EMPLOYEE)
        page.goto(f"{app_url}/reviews")
        row = page.locator(".review-row", has_text="Self").filter(has_text="Not started").first
        row.locator(".review-open").click()
        shoot(page, "review-form")
        _fill_review(page, ["4", "4", "5", "3"])
    finally:
        ctx.close()
    assert _review_status("self") == "submitted"

    # The manager writes the manager review of Priya
    ctx, page = _new_page(browser)
    try:
        sign_in(page, app_url, "acme", MANAGER)
        page.goto(f"{app_url}/reviews")
        row = (
            page.locator(".review-row", has_text="Priya Nair")
            .filter(has_text="Manager")
            .filter(has_text="Not started")
            .first
        )
        row.locator(".review-open").click()
        # beside the form: Priya's submitted self review, its scores named, and her goals
        context = page.locator("#review-context")
        context.get_by_text("A strong half: shipped wallet payments.").wait_for()
        assert "Exceeds expectations" in context.inner_text()
        assert context.locator(".context-goal").count() > 0
        _fill_review(page, ["5", "4", "4", "4"])
        shoot(page, "reviews")
    finally:
        ctx.close()
    assert _review_status("manager") == "submitted"

    # HR starts calibration and moves Priya's rating, with a reason kept in the history
    ctx, page = _new_page(browser)
    try:
        sign_in(page, app_url, "acme", HR)
        page.goto(f"{app_url}/cycles")
        current = page.locator(".cycle-row", has_text="active").first
        current.locator(".cycle-calibrate").click()
        page.click("#cycle-confirm-go")  # it asks first
        page.wait_for_selector(".cycle-row:has-text('calibration')")
        page.locator(".cycle-row", has_text="calibration").first.locator(".cycle-view").click()
        page.wait_for_selector("#ninebox")
        page.locator(".status-row", has_text="Priya Nair").locator(".status-adjust").click()
        page.wait_for_selector("#calibrate-reason")
        scores = page.inner_text("#calibrate-scores")  # what the reviews said, by name
        assert "Self review" in scores and "Manager review" in scores, scores
        page.locator("#calibrate-dialog [role=combobox]").nth(0).click()
        page.get_by_role("option", name=re.compile(r"^5\b")).click()
        page.locator("#calibrate-dialog [role=combobox]").nth(1).click()
        page.get_by_role("option", name=re.compile(r"^3\b")).click()
        page.fill("#calibrate-reason", "Led the wallet launch across two teams")
        page.click("#calibrate-save")
        page.wait_for_selector("#cycles-notice, #calibrate-error")
        assert page.locator("#calibrate-error").count() == 0, page.inner_text("#calibrate-error")
        page.wait_for_selector(".status-row:has-text('Priya Nair'):has-text('calibrated')")
        # the history, shown when the dialog opens again, keeps who moved what and why
        page.locator(".status-row", has_text="Priya Nair").locator(".status-adjust").click()
        page.wait_for_selector(".calibration-history-row")
        assert "Led the wallet launch" in page.inner_text("#calibration-history")
        page.keyboard.press("Escape")
        page.wait_for_selector("#calibrate-reason", state="detached")
        # the README's picture: last half-year's calibrated cycle, nine-box filled
        page.locator(".cycle-row", has_text="closed").first.locator(".cycle-view").click()
        page.wait_for_selector(".ninebox-person")
        shoot(page, "calibration", "#cycle-detail")
    finally:
        ctx.close()
    with owner_session() as s:
        final, potential, reason = s.execute(
            text(
                "SELECT o.final_rating, o.potential, h.reason FROM review_outcome o"
                " JOIN calibration_change h ON h.tenant_id = o.tenant_id AND h.outcome_id = o.id"
                " JOIN app_user u ON u.tenant_id = o.tenant_id AND u.id = o.reviewee_id"
                " JOIN review_cycle c ON c.tenant_id = o.tenant_id AND c.id = o.cycle_id"
                " WHERE u.email = :e AND c.status = 'calibration'"
            ),
            {"e": EMPLOYEE},
        ).one()
    assert (int(final), potential) == (5, 3)
    assert reason == "Led the wallet launch across two teams"

    # Globex's manager and HR see none of Acme's people, reviews or calibration
    for email in ("gus.manager@globex.example", "hugo.hr@globex.example"):
        ctx, page = _new_page(browser)
        try:
            sign_in(page, app_url, "globex", email)
            for path in ("/reviews", "/cycles", "/overview", "/goals?scope=all"):
                page.goto(f"{app_url}{path}")
                page.wait_for_load_state("networkidle")
                content = page.content()
                assert "Priya" not in content and "Acme" not in content, (email, path)
        finally:
            ctx.close()
