"""A tenant admin in a real browser: changes the organisation's accent colour (every page
takes it at once), invites a person, who then signs in with the one-time password."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import shoot, sign_in

pytestmark = pytest.mark.e2e

ADMIN = "ada.admin@acme.example"
NEWCOMER = "noor.new@acme.example"


@pytest.fixture(scope="module")
def demo() -> Iterator[None]:
    seed_demo()
    yield
    with owner_session() as s:  # the other browser tests (and screenshots) expect indigo
        s.execute(
            text(
                'UPDATE tenant SET settings = settings || \'{"accent": "indigo"}\'::jsonb'
                " WHERE slug = 'acme'"
            )
        )


def test_admin_recolours_the_tenant_and_invites_someone_who_can_sign_in(
    page, app_url, demo, browser
) -> None:
    sign_in(page, app_url, "acme", ADMIN)
    page.goto(f"{app_url}/settings")
    page.wait_for_selector("#settings-accent")
    page.click("#settings-accent")
    page.get_by_role("option", name="crimson", exact=True).click()
    page.click("#settings-save")
    page.wait_for_selector("#settings-success, #settings-error")
    assert page.locator("#settings-error").count() == 0, page.inner_text("#settings-error")
    page.wait_for_selector(".radix-themes[data-accent-color=crimson] #tenant-name")
    page.goto(f"{app_url}/overview")  # and on the next page too, from the stored settings
    page.wait_for_selector(".radix-themes[data-accent-color=crimson] #tenant-name")

    page.goto(f"{app_url}/people")
    page.wait_for_selector(".person-row")
    page.click("#invite-open")
    page.fill("#invite-email", NEWCOMER)
    page.fill("#invite-name", "Noor Newcomer")
    page.click("#invite-save")
    page.wait_for_selector("#invite-password, #invite-error")
    assert page.locator("#invite-error").count() == 0, page.inner_text("#invite-error")
    password = page.inner_text("#invite-password").strip()
    assert len(password) >= 12
    page.click("#invite-done")
    page.wait_for_selector(f".person-row:has-text('{NEWCOMER}')")
    shoot(page, "people")

    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        newcomer = other.new_page()
        newcomer.set_default_timeout(30_000)
        sign_in(newcomer, app_url, "acme", NEWCOMER, password)
        newcomer.wait_for_selector("#user-name:has-text('Noor Newcomer')")
        newcomer.wait_for_selector(".radix-themes[data-accent-color=crimson] #tenant-name")
    finally:
        other.close()
