"""The three demo organisations, one per isolation tier, in a real browser: Acme (pool,
eu-central), Globex (its own database, us-east) and Initech (its own schema, eu-central).
Each organisation's manager signs in and sees their organisation's goals only; the console
lists all three with their tier and region."""

from __future__ import annotations

import re
import uuid

import pyotp
import pytest
from sqlalchemy import select

from pms_dashboard.goals.models import Goal
from pms_dashboard.seed import demo_sign_ins, seed_demo
from pms_dashboard.seed.data import DEMO_TENANTS
from pms_dashboard.tenancy import placement
from pms_dashboard.tenancy.session import owner_session
from tests.conftest import create_console_admin
from tests.e2e.helpers import shoot, sign_in

pytestmark = pytest.mark.e2e

PLACES = {
    "acme": ("pool", "eu-central"),
    "globex": ("database", "us-east"),
    "initech": ("schema", "eu-central"),
}
PASSWORD = "correct console passphrase"


@pytest.fixture(scope="module")
def titles() -> dict[str, set[str]]:
    """Each demo organisation's goal titles, read as the owner at its own placement."""
    seed_demo()
    found: dict[str, set[str]] = {}
    for slug in PLACES:
        where = placement.by_slug(slug)
        assert where is not None, slug
        assert (where.tier.value, where.region) == PLACES[slug]
        with owner_session(where.tenant_id) as s:
            found[slug] = set(s.scalars(select(Goal.title)).all())
    return found


@pytest.mark.parametrize("slug", sorted(PLACES))
def test_each_tier_signs_in_and_sees_only_its_own_goals(page, app_url, titles, slug) -> None:
    manager = next(d for d in demo_sign_ins() if d.slug == slug and d.role == "manager")
    sign_in(page, app_url, slug, manager.email)
    page.goto(f"{app_url}/goals")
    page.wait_for_selector(".goal-row")
    name = next(t.name for t in DEMO_TENANTS if t.slug == slug)
    assert page.inner_text("#tenant-name").strip() == name
    seen = {t.strip() for t in page.locator(".goal-title").all_inner_texts()}
    others = set().union(*(v for k, v in titles.items() if k != slug)) - titles[slug]
    assert seen and seen <= titles[slug], seen - titles[slug]
    assert not seen & others
    shoot(page, f"tiers-{slug}")


def test_the_console_lists_every_tier_and_region(page, app_url, titles) -> None:
    admin = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:6]}@platform.example",
        display_name="Tier Operator",
        password=PASSWORD,
    )
    page.goto(f"{app_url}/console/signin")
    page.fill("#console-email", admin.email)
    page.fill("#console-password", PASSWORD)
    page.fill("#console-code", pyotp.TOTP(admin.totp_secret).now())
    page.click("#console-sign-in")
    page.wait_for_selector(".console-tenant-row")
    rows = page.locator(".console-tenant-row")
    for slug, (tier, region) in PLACES.items():
        row = rows.filter(has=page.locator("code", has_text=re.compile(f"^{slug}$")))
        text = row.inner_text()
        assert tier in text and region in text, (slug, text)
    shoot(page, "tiers-console")
