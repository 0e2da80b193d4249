"""The platform console in a real browser: a super-admin signs in with a password and a
code from their authenticator, sees every organisation as counts only, and signs out; a
wrong code or a tenant's session gets nowhere."""

from __future__ import annotations

import re
import time
import uuid

import pyotp
import pytest
from sqlalchemy import text

from pms_dashboard.console import service
from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import shoot, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "correct console passphrase"


@pytest.fixture(scope="module")
def admin() -> service.NewAdmin:
    seed_demo()
    return service.create_admin(
        email=f"ops-{uuid.uuid4().hex[:6]}@platform.example",
        display_name="Olu Operator",
        password=PASSWORD,
    )


def _console_sign_in(page, app_url: str, email: str, password: str, code: str) -> None:
    page.goto(f"{app_url}/console/signin")
    page.fill("#console-email", email)
    page.fill("#console-password", password)
    page.fill("#console-code", code)
    page.click("#console-sign-in")


def test_super_admin_signs_in_with_totp_and_sees_counts_only(page, app_url, admin) -> None:
    page.goto(f"{app_url}/console")
    page.wait_for_url("**/console/signin**")

    totp = pyotp.TOTP(admin.totp_secret)
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    _console_sign_in(page, app_url, admin.email, PASSWORD, wrong)
    page.wait_for_selector("#console-error")
    assert not [c for c in page.context.cookies() if c["name"] == "pms_console"]

    _console_sign_in(page, app_url, admin.email, PASSWORD, totp.now())
    page.wait_for_selector(".console-tenant-row")
    page.wait_for_selector("#console-admin:has-text('Olu Operator')")
    rows = page.locator(".console-tenant-row")
    acme = rows.filter(has=page.locator("code", has_text=re.compile(r"^acme$")))
    with owner_session() as s:
        people = s.execute(
            text(
                "SELECT count(*) FROM app_user u JOIN tenant t ON t.id = u.tenant_id"
                " WHERE t.slug = 'acme'"
            )
        ).scalar_one()
    assert acme.count() == 1
    assert acme.locator("td").nth(3).inner_text().strip() == str(people)  # a count, no names
    body = page.inner_text("body")
    assert "maria.manager" not in body and "Ship v2 checkout" not in body  # no tenant rows
    shoot(page, "console")

    page.click("#console-sign-out")
    page.wait_for_url("**/console/signin**")
    page.goto(f"{app_url}/console")
    page.wait_for_url("**/console/signin**")


def test_a_tenant_admins_session_does_not_open_the_console(page, app_url, admin) -> None:
    sign_in(page, app_url, "acme", "ada.admin@acme.example")
    page.goto(f"{app_url}/console")
    page.wait_for_url("**/console/signin**")
    assert page.locator(".console-tenant-row").count() == 0


def test_break_glass_read_is_justified_logged_and_visible_to_the_tenant(
    page, app_url, admin, browser
) -> None:
    totp = pyotp.TOTP(admin.totp_secret)
    # a fresh step: the previous test used this admin's current code
    code = totp.at(time.time() + totp.interval)
    _console_sign_in(page, app_url, admin.email, PASSWORD, code)
    page.wait_for_selector(".console-tenant-row")
    page.select_option("#grant-tenant", value="acme")
    page.select_option("#grant-justification", value="customer_support")
    page.fill("#grant-ticket", "SUP-4711")
    page.select_option("#grant-hours", value="1")
    page.click("#grant-open")
    page.wait_for_selector("#console-page-notice")
    row = page.locator(".grant-row", has_text="SUP-4711")
    row.locator(".grant-read").click()
    page.wait_for_selector(".console-goal-row")
    assert page.locator(".console-goal-row", has_text="Ship v2 checkout").count() == 1
    shoot(page, "console-grant")
    row.locator(".grant-revoke").click()
    page.wait_for_selector(".grant-row:has-text('ended')")
    assert page.locator(".console-goal-row").count() == 0

    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tp = other.new_page()
        tp.set_default_timeout(30_000)
        sign_in(tp, app_url, "acme", "ada.admin@acme.example")
        tp.goto(f"{app_url}/access-log")
        tp.wait_for_selector(".access-row")
        table = tp.inner_text("#access-table")
        assert "Opened access" in table and "Read data" in table and "Ended access" in table
        assert "SUP-4711" in table and "Customer-initiated support" in table
        assert admin.email in table
        shoot(tp, "access-log")
    finally:
        other.close()
