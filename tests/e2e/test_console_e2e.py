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
from tests.conftest import create_console_admin
from tests.e2e.helpers import demo_tenant_id, shoot, sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "correct console passphrase"


@pytest.fixture(scope="module")
def admin() -> service.NewAdmin:
    seed_demo()
    return create_console_admin(
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


def _rival_manager_asks_for_an_acme_goal() -> str:
    """An ordinary user's cross-tenant attempt, as any browser could make it: refused. The
    user is of another organisation in the same shared pool as Acme (only there can an id
    be found to be another tenant's: a dedicated schema or database holds no one else's
    rows). Returns the rival organisation's slug."""
    from sqlalchemy import select
    from sqlmodel import col

    from pms_dashboard.auth.permissions import PermissionDenied
    from pms_dashboard.goals import service as goals
    from pms_dashboard.goals.models import Goal
    from pms_dashboard.tenancy.session import tenant_session
    from tests.conftest import ctx, new_tenant

    acme = demo_tenant_id("acme")
    with owner_session(acme) as s:  # each organisation's rows at its placement
        acme_goal = s.scalars(select(Goal.id).where(col(Goal.tenant_id) == acme)).first()
    rival = new_tenant(f"rival-{uuid.uuid4().hex[:6]}")
    actor = ctx(rival, "manager")
    with pytest.raises(PermissionDenied), tenant_session(actor) as session:
        goals.goal_detail(session=session, actor=actor, goal_id=acme_goal)
    return rival.slug


def test_cross_tenant_attempt_is_flagged_searchable_exportable_and_reviewed(
    page, app_url, admin
) -> None:
    import io

    import pandas as pd

    rival = _rival_manager_asks_for_an_acme_goal()
    # a second super-admin: the first one's codes of this half-minute are spent (one use each)
    auditor = create_console_admin(
        email=f"sec-{uuid.uuid4().hex[:6]}@platform.example",
        display_name="Sam Security",
        password=PASSWORD,
    )
    code = pyotp.TOTP(auditor.totp_secret).now()
    _console_sign_in(page, app_url, auditor.email, PASSWORD, code)
    page.wait_for_selector(".console-tenant-row")

    page.fill("#search-tenant", rival)
    page.select_option("#search-flagged", value="only")
    page.fill("#search-action", "access.")
    page.click("#search-submit")
    page.wait_for_selector(".search-row")
    # the rival's own trail says "not found" (it may not learn the id is Acme's) ...
    first = page.locator(".search-row").first.inner_text()
    assert "access.not_found" in first and rival in first
    shoot(page, "console-audit-search", "#search-results")

    with page.expect_download() as info:
        page.click("#search-export")
    frame = pd.read_csv(io.BytesIO(open(info.value.path(), "rb").read()), dtype=str)  # noqa: SIM115
    assert info.value.suggested_filename.startswith("platform-audit-")
    assert set(frame["tenant"]) == {rival} and set(frame["flagged"]) == {"true"}
    assert "access.not_found" in set(frame["action"])

    page.fill("#flagged-tenant", rival)
    page.click("#flagged-load")
    page.wait_for_selector(".flagged-row")
    before = page.locator(".flagged-row").count()
    # ... the queue, which also reads the platform's trail, shows the cross-tenant attempt
    row = page.locator(".flagged-row", has_text="access.cross_tenant").first
    assert "acme" in row.inner_text()
    row.locator("input[name=note]").fill(
        "Stale bookmark from a former Acme contractor; no data seen"
    )
    row.locator(".flag-review").click()
    page.wait_for_function("n => document.querySelectorAll('.flagged-row').length < n", arg=before)


def test_a_move_from_the_console_shows_its_progress_then_the_new_place(page, app_url) -> None:
    from tests.conftest import new_tenant

    t = new_tenant()  # not a demo organisation: the other browser tests read those
    mover = create_console_admin(
        email=f"move-{uuid.uuid4().hex[:6]}@platform.example", display_name="Mia Mover",
        password=PASSWORD,
    )  # fmt: skip
    page.set_viewport_size({"width": 1400, "height": 900})
    _console_sign_in(page, app_url, mover.email, PASSWORD, pyotp.TOTP(mover.totp_secret).now())
    page.wait_for_selector(".console-tenant-row")
    # what the progress card says, as often as the page changes (it may be over in a second)
    page.evaluate(
        """() => { window.__moveSeen = [];
        new MutationObserver(() => { const c = document.querySelector('#move-progress');
          if (c) window.__moveSeen.push(c.innerText); })
        .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
    )
    page.select_option("#move-tenant", value=t.slug)
    page.select_option("#move-tier", value="schema")
    page.select_option("#move-region", value="us-east")
    page.fill("#move-reason", "ORD-2048 enterprise contract")
    page.click("#move-submit")
    page.wait_for_selector("#move-outcome", timeout=120_000)
    outcome = page.inner_text("#move-outcome")
    assert re.search(rf"{t.slug} moved to us-east, dedicated schema; writes frozen \d+\.\d\d s",
                     outcome), outcome  # fmt: skip
    seen = page.evaluate("window.__moveSeen")
    assert any(s.startswith("Moving") for s in seen), seen  # shown while it ran
    assert any("tables" in s and "rows copied" in s for s in seen)
    assert "done" in page.inner_text("#move-progress")
    row = page.locator(".console-tenant-row").filter(
        has=page.locator("code", has_text=re.compile(rf"^{t.slug}$"))
    )
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[1:3] == ["schema", "us-east"], cells
    assert "eu-central, shared pool → us-east, dedicated schema" in cells[-1]
    page.locator("#move-progress").scroll_into_view_if_needed()
    shoot(page, "console-move")
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#move-progress").scroll_into_view_if_needed()
    shoot(page, "console-move-phone")
