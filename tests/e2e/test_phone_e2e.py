"""The shell on a phone (390x844) and a desktop (1280x800): no page is wider than the
window, each page's primary action is on screen and nothing covers it, and on a phone the
menu button opens the navigation."""

from __future__ import annotations

import pytest

from pms_dashboard.seed import seed_demo
from tests.e2e.helpers import shoot, sign_in

pytestmark = pytest.mark.e2e

MANAGER = "maria.manager@acme.example"
ADMIN = "ada.admin@acme.example"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def sized(request, window):
    """A fresh page in a window of the parametrised size."""
    return window(request.param)


def _fits(page, where: str) -> None:
    page.wait_for_timeout(500)  # charts and late rows settle
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{where}: the page is {width} px wide in a {inner} px window"


def _usable(page, selector: str, where: str) -> None:
    """On screen (scrolled to, within the window's width) and the top element where it is
    clicked: a trial click fails when something else, e.g. a switch, covers it."""
    target = page.locator(selector).first
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    inner = page.evaluate("window.innerWidth")
    assert box is not None and box["width"] > 0, f"{where}: {selector} is not shown"
    assert box["x"] >= 0 and box["x"] + box["width"] <= inner, f"{where}: {selector} is off-screen"
    target.click(trial=True, timeout=5_000)


def test_manager_pages_fit_and_their_primary_action_can_be_used(sized, app_url, demo) -> None:
    page = sized
    sign_in(page, app_url, "acme", MANAGER)
    page.goto(f"{app_url}/goals")
    page.wait_for_selector(".goal-row")
    goal = page.get_attribute(".goal-title >> nth=0", "href")
    pages = [
        ("/overview", "#chart-health .bar-row", ["#goal-new", "#stat-total"]),
        ("/goals", ".goal-row", ["#goal-new", ".goal-title"]),
        # ready once the check-in form is there: the first goal may be one without key results
        (goal, "#checkin-save", ["#goal-new", "#checkin-save"]),
        ("/reviews", ".review-row", ["#goal-new", ".review-open"]),
        ("/people", ".person-row", ["#goal-new", ".person-name"]),
    ]
    phone = page.viewport_size == PHONE
    for path, ready, actions in pages:
        page.goto(f"{app_url}{path}")
        page.wait_for_selector(ready)
        _fits(page, path)
        if phone and path in ("/overview", goal):
            shoot(page, "phone-overview" if path == "/overview" else "phone-goal")
        for selector in actions:
            _usable(page, selector, path)
    page.goto(f"{app_url}/goals")
    page.click("#goal-new")  # the header's "New goal" opens the form on any page
    page.wait_for_selector("#goal-title")
    _fits(page, "the new-goal form")
    _usable(page, "#goal-create", "the new-goal form")


def test_people_page_with_a_person_open_fits_and_keeps_the_admin_panel_on_screen(
    sized, app_url, demo
) -> None:
    page = sized
    sign_in(page, app_url, "acme", ADMIN)
    page.goto(f"{app_url}/people")
    page.wait_for_selector(".person-row")
    page.locator(".person-name").nth(1).click()
    page.wait_for_selector("#person-card #person-deactivate")
    _fits(page, "/people with a person open")
    for selector in ("#person-role", "#person-manager", "#person-deactivate", "#invite-open"):
        _usable(page, selector, "/people with a person open")
    _usable(page, "#sign-out", "/people with a person open")


def test_the_menu_button_opens_the_navigation_on_a_phone(browser, app_url, demo) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        sign_in(page, app_url, "acme", MANAGER)
        assert not page.is_visible("#nav-goals")  # the sidebar is folded away
        _usable(page, "#nav-menu", "/overview")
        page.click("#nav-menu")
        page.wait_for_selector("#nav-goals", state="visible")
        _usable(page, "#nav-goals", "the open menu")
        page.click("#nav-goals")
        page.wait_for_url("**/goals")
        page.wait_for_selector(".goal-row")
        page.wait_for_selector("#nav-goals", state="hidden")  # closed again after choosing
        _fits(page, "/goals")
    finally:
        context.close()
    desktop = browser.new_context(viewport=DESKTOP)
    try:
        page = desktop.new_page()
        sign_in(page, app_url, "acme", MANAGER)
        assert page.is_visible("#nav-goals") and not page.is_visible("#nav-menu")
    finally:
        desktop.close()
