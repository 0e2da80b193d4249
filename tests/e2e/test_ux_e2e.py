"""The product as people use it, in a real browser at a desktop (1400x900) and a phone
(390x844) size: "View" on a cycle shows its detail and marks the cycle, chart labels do not
run into each other, a logo address must load, unknown pages stay in the shell, goal
filters survive a reload, and people change their own password and the time zone their
times are shown in on their profile page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, text
from sqlmodel import col

from pms_dashboard.seed import seed_demo
from pms_dashboard.settings import get_settings
from pms_dashboard.sso import domains
from pms_dashboard.sso.models import SsoConfig
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import catalog_session, owner_session
from tests.e2e.helpers import demo_tenant_id, shoot, sign_in

pytestmark = pytest.mark.e2e

HR = "hana.hr@acme.example"
ADMIN = "ada.admin@acme.example"
MANAGER = "maria.manager@acme.example"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
NEW_PASSWORD = "a brand new passphrase 2026"


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


# each of these tests runs in a desktop and a phone window (`window(size)` opens its page)
in_both_sizes = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])


def _look(page, name: str) -> None:
    """With PMS_LOOK_DIR set, a screenshot of the whole page there (to look at by eye)."""
    where = os.environ.get("PMS_LOOK_DIR")
    if where:
        width = page.viewport_size["width"]
        page.wait_for_timeout(300)  # late rows settle
        page.screenshot(path=str(Path(where) / f"{name}-{width}.png"), full_page=True)


def _fits(page, where: str) -> None:
    """No wider than the window (else say which element sticks out furthest)."""
    page.wait_for_timeout(300)
    width, inner, widest = page.evaluate(
        "() => { let w = null; for (const e of document.querySelectorAll('body *')) {"
        " const r = e.getBoundingClientRect(); if (!w || r.right > w[0]) w = [r.right,"
        " e.tagName + '#' + e.id + '.' + e.className]; }"
        " return [document.documentElement.scrollWidth, window.innerWidth, w]; }"
    )
    assert width <= inner, f"{where}: {width} px wide in a {inner} px window ({widest})"


def _in_view(page, selector: str) -> bool:
    """The element's top is inside the window (not below the fold, not above it)."""
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }",
        selector,
    )


@in_both_sizes
def test_view_on_a_cycle_brings_its_detail_into_view_and_marks_the_cycle(
    size, window, app_url, demo
) -> None:
    page = window(size)
    sign_in(page, app_url, "acme", HR)
    page.goto(f"{app_url}/cycles")
    page.wait_for_selector(".cycle-row")
    rows = page.locator(".cycle-row")
    assert rows.count() >= 2
    for i in range(2):  # the second View moves the mark and the view to the other cycle
        row = rows.nth(i)
        name = row.locator("th").inner_text()
        row.locator(".cycle-view").click()
        page.locator("#cycle-detail", has_text=name).wait_for()
        page.wait_for_function(
            "() => { const r = document.getElementById('cycle-detail').getBoundingClientRect();"
            " return r.top >= 0 && r.top < window.innerHeight; }",
            timeout=5_000,
        )
        assert _in_view(page, "#cycle-detail")
        marked = page.locator(".cycle-row[aria-current=true]")
        assert marked.count() == 1 and marked.locator("th").inner_text() == name
        assert marked.locator(".cycle-view").inner_text() == "Viewing"
        page.evaluate("window.scrollTo(0, 0)")
    _fits(page, "/cycles with a cycle open")
    _look(page, "cycles")


# Every text of a chart (names, counts, the ring's legend and total) as a box, with the
# chart's own box.
_CHART_TEXTS = """(id) => {
  const chart = document.getElementById(id);
  const box = (e) => { const r = e.getBoundingClientRect();
    return {text: e.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom}; };
  const texts = [...chart.querySelectorAll(
    '.bar-name, .bar-value, .ring-legend li, .ring-total')].map(box);
  const bars = [...chart.querySelectorAll('.bar-fill')].map(box);
  return {chart: box(chart), texts, bars};
}"""


def _readable(page, chart_id: str) -> None:
    """Every name and count is inside the chart's box and no two of them overlap; no bar
    runs out of the chart either."""
    found = page.evaluate(_CHART_TEXTS, chart_id)
    edge, texts = found["chart"], found["texts"]
    assert texts, f"{chart_id}: no labels drawn"
    for t in texts + found["bars"]:
        inside = t["l"] >= edge["l"] - 1 and t["r"] <= edge["r"] + 1
        inside = inside and t["t"] >= edge["t"] - 1 and t["b"] <= edge["b"] + 1
        assert inside, f"{chart_id}: {t['text']!r} is cut off by the chart's edge ({t}, {edge})"
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            apart = a["r"] <= b["l"] or b["r"] <= a["l"] or a["b"] <= b["t"] or b["b"] <= a["t"]
            assert apart, f"{chart_id}: {a['text']!r} runs into {b['text']!r}"


@in_both_sizes
def test_chart_labels_neither_overlap_nor_are_cut_off(size, window, app_url, demo) -> None:
    page = window(size)
    sign_in(page, app_url, "acme", HR)  # HR sees the whole organisation's charts
    page.wait_for_selector("#chart-ratings .bar-row")
    page.wait_for_selector("#chart-completion .ring-legend li")
    for chart in ("chart-completion", "chart-health", "chart-funnel", "chart-ratings"):
        _readable(page, chart)
    _look(page, "overview")
    page.goto(f"{app_url}/cycles")
    page.locator(".cycle-row", has_text="closed").first.locator(".cycle-view").click()
    page.wait_for_selector("#cycle-distribution .bar-row")
    for chart in ("cycle-funnel", "cycle-distribution"):
        _readable(page, chart)
    _look(page, "cycle")


@in_both_sizes
def test_an_sso_domain_of_another_organisation_is_refused_and_nothing_is_saved(
    size, window, app_url, demo
) -> None:
    page = window(size)
    # Globex signs in its people by globex.example (proved and published in the catalog)
    globex = TenantContext(tenant_id=demo_tenant_id("globex"), role="tenant_admin")
    with catalog_session(globex) as s:
        domains.publish(session=s, domains=["globex.example"])
    try:
        sign_in(page, app_url, "acme", ADMIN)
        page.goto(f"{app_url}/settings")
        page.wait_for_selector("#sso-card #sso-issuer")
        before = _acme_sso_domains()
        page.fill("#sso-issuer", "https://idp.acme.example")
        page.fill("#sso-client-id", "pms")
        page.fill("#sso-client-secret", "a secret")
        page.fill("#sso-domains", "acme.example, globex.example")
        page.click("#sso-save")
        said = page.wait_for_selector("#sso-error").inner_text()
        assert "globex.example is already used for single sign-on by another organisation" in said
        assert page.input_value("#sso-domains") == "acme.example, globex.example"  # kept
        assert _acme_sso_domains() == before and "globex.example" not in before
        _fits(page, "/settings with a refusal")
        _look(page, "settings-sso")
    finally:  # other tests sign Globex's people in by their domain: it routes nowhere again
        with catalog_session(globex) as s:
            domains.publish(session=s, domains=[])


def _acme_sso_domains() -> list[str]:
    with owner_session() as s:
        found = s.scalars(
            select(SsoConfig.allowed_domains).where(
                col(SsoConfig.tenant_id) == demo_tenant_id("acme")
            )
        ).first()
    return list(found or [])


def test_a_logo_that_does_not_load_is_refused_and_the_favicon_exists(page, app_url, demo) -> None:
    icon = page.request.get(f"{app_url}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/")
    sign_in(page, app_url, "acme", ADMIN)
    page.goto(f"{app_url}/settings")
    page.wait_for_selector("#settings-logo")
    before = page.input_value("#settings-logo")
    page.fill("#settings-logo", "/no-such-logo.png")
    page.click("#settings-save")
    said = page.wait_for_selector("#settings-error").inner_text()
    assert "There is no file at /no-such-logo.png on this site" in said
    assert page.input_value("#settings-logo") == "/no-such-logo.png"  # kept to correct
    page.reload()
    page.wait_for_selector("#settings-logo")
    assert page.input_value("#settings-logo") == before  # nothing saved
    page.fill("#settings-logo", "/favicon.ico")
    page.click("#settings-save")
    page.wait_for_selector("#settings-success")
    assert page.get_attribute("#nav img", "src") == "/favicon.ico"
    page.fill("#settings-logo", before)
    page.click("#settings-save")
    page.wait_for_selector("#settings-success")


@in_both_sizes
def test_an_unknown_address_shows_a_page_in_the_shell_with_a_way_back(size, window, app_url, demo):
    page = window(size)
    sign_in(page, app_url, "acme", MANAGER)
    page.goto(f"{app_url}/no/such/page")
    page.wait_for_selector("#not-found")
    assert "There is no page at this address" in page.inner_text("#not-found")
    assert page.locator("#nav").count() == 1 and page.locator("#sign-out").count() == 1
    _fits(page, "the missing page")
    _look(page, "not-found")
    page.click("#not-found-home")
    page.wait_for_url("**/overview**")


def test_goal_filters_are_in_the_address_and_a_reload_keeps_them(page, app_url, demo) -> None:
    sign_in(page, app_url, "acme", MANAGER)
    page.goto(f"{app_url}/goals")
    page.wait_for_selector(".goal-row")
    page.locator("#goal-scope").get_by_role("radio", name="Everything I can see").click()
    page.wait_for_url(re.compile(r".*/goals/?\?scope=all$"))
    page.get_by_role("radio", name="Active", exact=True).click()
    page.wait_for_url(re.compile(r".*/goals/?\?scope=all&status=active$"))
    page.wait_for_selector(".goal-row")
    shown = page.locator(".goal-title").all_inner_texts()
    page.reload()
    page.wait_for_selector(".goal-row")
    scope = page.locator("#goal-scope").get_by_role("radio", name="Everything I can see")
    assert scope.get_attribute("aria-checked") == "true"
    active = page.get_by_role("radio", name="Active", exact=True)
    assert active.get_attribute("aria-checked") == "true"
    assert page.locator(".goal-title").all_inner_texts() == shown
    assert re.search(r"\?scope=all&status=active$", page.url)


def test_the_access_log_and_cycles_keep_their_state_in_the_address_on_a_reload(
    page, app_url, demo
) -> None:
    """The access log's kind and the cycles page's open cycle go into the address; a reload
    shows the same list and the same cycle."""
    sign_in(page, app_url, "acme", ADMIN)
    page.goto(f"{app_url}/access-log")
    page.wait_for_selector("#access-page")
    page.select_option("#access-kind", "read")
    page.wait_for_url(re.compile(r".*/access-log/?\?kind=read$"))
    page.reload()
    page.wait_for_selector("#access-page")
    page.wait_for_function("() => document.getElementById('access-kind').value === 'read'")
    assert re.search(r"\?kind=read$", page.url)
    page.goto(f"{app_url}/cycles")
    row = page.locator(".cycle-row").first
    name = row.locator("th").inner_text()
    row.locator(".cycle-view").click()
    page.locator("#cycle-detail", has_text=name).wait_for()
    page.wait_for_url(re.compile(r".*/cycles/?\?cycle=[0-9a-f-]{36}$"))
    address = page.url
    page.reload()
    page.locator("#cycle-detail", has_text=name).wait_for()
    assert page.locator(".cycle-row[aria-current=true] th").inner_text() == name
    assert page.url == address


@in_both_sizes
def test_a_person_changes_their_password_on_their_profile(
    size, window, browser, app_url, demo
) -> None:
    page, who, demo_password = window(size), "priya.nair@acme.example", get_settings().demo_password
    other = browser.new_context(viewport=DESKTOP)  # the same person in another browser
    try:
        elsewhere = other.new_page()
        sign_in(elsewhere, app_url, "acme", who)
        sign_in(page, app_url, "acme", who)
        page.click("#user-name")  # the header's name leads to the profile
        page.wait_for_url("**/profile**")
        page.fill("#profile-current-password", "not my password")
        page.fill("#profile-new-password", NEW_PASSWORD)
        page.fill("#profile-confirm-password", NEW_PASSWORD)
        page.click("#profile-save")
        said = page.wait_for_selector("#profile-current_password-error").inner_text()
        assert "not your current password" in said
        assert page.input_value("#profile-new-password") == NEW_PASSWORD  # kept
        _fits(page, "/profile with a refusal")
        _look(page, "profile")
        page.fill("#profile-current-password", demo_password)
        page.click("#profile-save")
        assert "Your password is changed" in page.wait_for_selector("#profile-success").inner_text()
        assert page.input_value("#profile-new-password") == ""  # emptied after the change
        assert elsewhere.request.get(f"{app_url}/api/auth/me").status == 401  # ended
        assert page.request.get(f"{app_url}/api/auth/me").status == 200  # this one stays
    finally:
        other.close()
        # back to the demo password, the same way, for the other tests
        page.fill("#profile-current-password", NEW_PASSWORD)
        page.fill("#profile-new-password", demo_password)
        page.fill("#profile-confirm-password", demo_password)
        page.click("#profile-save")
        page.wait_for_selector("#profile-success")


def _a_checked_in_goal_of_a_report(email: str) -> str:
    """A goal of `email`'s (or of one of their reports) that has a check-in."""
    with owner_session(demo_tenant_id("acme")) as s:
        return str(
            s.execute(
                text(
                    "SELECT g.id FROM goal g JOIN app_user o ON o.tenant_id = g.tenant_id"
                    " AND o.id = g.owner_id JOIN app_user me ON me.tenant_id = o.tenant_id"
                    " AND me.email = :e WHERE (o.id = me.id OR o.manager_id = me.id)"
                    " AND EXISTS (SELECT 1 FROM goal_check_in c WHERE c.tenant_id = g.tenant_id"
                    " AND c.goal_id = g.id) ORDER BY g.id LIMIT 1"
                ),
                {"e": email},
            ).scalar_one()
        )


def _hydrated(page) -> None:
    """The profile holds its state (the zone's clock is shown): an input typed into before
    would be drawn afresh, with the stored value, and lose what was typed."""
    expect(page.locator("#profile-zone-now")).to_have_text(re.compile(r"\S"))


@in_both_sizes
def test_a_person_picks_a_time_zone_and_times_show_in_it(size, window, app_url, demo) -> None:
    page = window(size)
    goal_id = _a_checked_in_goal_of_a_report(MANAGER)
    sign_in(page, app_url, "acme", MANAGER)
    page.goto(f"{app_url}/profile")
    try:
        _hydrated(page)
        page.fill("#profile-time-zone", "Mars/Olympus_Mons")
        page.click("#profile-zone-save")
        said = page.wait_for_selector("#profile-time_zone-error").inner_text()
        assert "not a time zone we know" in said
        assert page.input_value("#profile-time-zone") == "Mars/Olympus_Mons"  # kept
        _fits(page, "/profile with a refused zone")
        page.fill("#profile-time-zone", "Asia/Tokyo")
        page.click("#profile-zone-save")
        done = page.wait_for_selector("#profile-success").inner_text()
        assert "now shown in Asia/Tokyo" in done
        assert page.inner_text("#profile-zone-now").endswith(" JST")
        _fits(page, "/profile with a zone")
        _look(page, "profile-zone")
        if size == DESKTOP:
            shoot(page, "profile-1400")
        page.goto(f"{app_url}/goals/{goal_id}")
        first = page.locator(".checkin-row").first
        first.wait_for()
        assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d JST", first.inner_text())
        _fits(page, "a goal read in Asia/Tokyo")
    finally:  # back to no zone of their own, the same way, for the other tests
        page.goto(f"{app_url}/profile")
        _hydrated(page)
        page.wait_for_selector("#profile-success", state="detached")  # loaded: notices cleared
        page.fill("#profile-time-zone", "")
        page.click("#profile-zone-save")
        expect(page.locator("#profile-success")).to_contain_text("now shown in UTC")
