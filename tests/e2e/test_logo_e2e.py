"""A tenant admin uploads the organisation's logo on the settings page, in a real browser at
a desktop (1400x900) and a phone (390x844) size: a file that is not an image (whatever its
name) is refused beside the upload, a real one shows in the sidebar at once (loaded through
its route), stays after a reload, and can be removed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pms_dashboard.organisation.image import NOT_AN_IMAGE
from tests.e2e.helpers import shoot, sign_in
from tests.e2e.test_ux_e2e import ADMIN, PHONE, demo, in_both_sizes

pytestmark = pytest.mark.e2e
__all__ = ["demo"]  # the demo organisations, seeded once (a fixture of this module too)

SIDEBAR_LOGO = "#nav img"


def _png(path: Path, size: tuple[int, int]) -> Path:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return path


def _sidebar_logo_loaded(page, width: int) -> None:
    """The sidebar's logo is the uploaded one and the browser really loaded it."""
    page.wait_for_function(
        "([s, w]) => { const i = document.querySelector(s); return i && i.complete"
        " && i.getAttribute('src').startsWith('/api/logo/acme?v=') && i.naturalWidth === w; }",
        arg=[SIDEBAR_LOGO, width],
    )


def _sidebar_shown(page, size: dict[str, int]) -> None:
    """On a phone the sidebar is a drawer: open it to see the logo."""
    if size == PHONE:
        page.click("#nav-menu")
    assert page.locator(SIDEBAR_LOGO).first.is_visible()


@in_both_sizes
def test_an_uploaded_logo_shows_in_the_sidebar_and_can_be_removed(
    size, window, app_url, demo, tmp_path: Path
) -> None:
    page = window(size)
    sign_in(page, app_url, "acme", ADMIN)
    page.goto(f"{app_url}/settings")
    page.wait_for_selector("#settings-logo-card")
    chooser = "#logo-upload input[type=file]"
    fake = tmp_path / "logo.png"
    fake.write_text("not an image at all, only named like one")
    page.set_input_files(chooser, str(fake))
    page.wait_for_selector("text=logo.png")
    page.click("#settings-logo-upload")
    said = page.wait_for_selector("#settings-logo-upload-error").inner_text()
    assert said == NOT_AN_IMAGE
    assert not page.get_attribute(SIDEBAR_LOGO, "src").startswith("/api/logo/")

    page.set_input_files(chooser, str(_png(tmp_path / "mark.png", (64, 32))))
    page.click("#settings-logo-upload")
    page.wait_for_selector("#settings-success")
    assert page.inner_text("#settings-success") == "Logo uploaded."
    assert page.locator("#settings-logo-upload-error").count() == 0
    _sidebar_logo_loaded(page, 64)
    if size["width"] > 900:
        shoot(page, "settings-logo-1400")
    _sidebar_shown(page, size)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= size["width"]

    page.reload()
    page.wait_for_selector("#settings-logo-card")
    _sidebar_logo_loaded(page, 64)  # stored, not only in this page's state
    page.click("#settings-logo-remove")
    page.wait_for_selector("text=Logo removed.")
    page.wait_for_function(
        "(s) => document.querySelector(s).getAttribute('src') === '/logo.svg'", arg=SIDEBAR_LOGO
    )
