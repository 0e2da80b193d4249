"""The product as people use it, in a real browser at a desktop (1400x900) and a phone
(390x844) size: "View" on a cycle shows its detail and marks the cycle, chart labels do not
run into each other, a logo address must load, unknown pages stay in the shell, goal
filters survive a reload and people change their own password."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pms_dashboard.seed import seed_demo
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

HR = "hana.hr@acme.example"
MANAGER = "maria.manager@acme.example"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def sized(request, browser) -> Iterator:
    """A fresh page in a window of the parametrised size."""
    context = browser.new_context(viewport=request.param)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def _look(page, name: str) -> None:
    """With PMS_LOOK_DIR set, a screenshot of the whole page there (to look at by eye)."""
    where = os.environ.get("PMS_LOOK_DIR")
    if where:
        width = page.viewport_size["width"]
        page.wait_for_timeout(1200)  # charts finish their entry animation
        page.screenshot(path=str(Path(where) / f"{name}-{width}.png"), full_page=True)


def _in_view(page, selector: str) -> bool:
    """The element's top is inside the window (not below the fold, not above it)."""
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }",
        selector,
    )


def test_view_on_a_cycle_brings_its_detail_into_view_and_marks_the_cycle(
    sized, app_url, demo
) -> None:
    page = sized
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
    _look(page, "cycles")
