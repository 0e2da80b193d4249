"""What the browser tests share: signing in through the real form, README screenshots, and
where a demo organisation lives."""

from __future__ import annotations

import os
import uuid

from pms_dashboard.settings import PROJECT_ROOT, get_settings
from pms_dashboard.tenancy import placement

SCREENSHOTS = PROJECT_ROOT / "assets" / "screenshots"


def sign_in(
    page, app_url: str, org: str, email: str, password: str | None = None, *, land: bool = True
) -> None:
    """Fill and submit the sign-in form; with `land`, wait for the overview."""
    page.goto(f"{app_url}/signin")
    page.fill("#organisation", org)
    page.fill("#email", email)
    page.fill("#password", password or get_settings().demo_password)
    page.click("#sign-in")
    if land:
        page.wait_for_url("**/overview**")


def demo_tenant_id(slug: str) -> uuid.UUID:
    """A demo organisation's id, from the catalog; its rows are at its placement (Globex in
    a database of its own, Initech in a schema): read them with owner_session(that id)."""
    found = placement.by_slug(slug)
    assert found is not None, f"no organisation {slug!r}: seed the demo first"
    return found.tenant_id


def shoot(page, name: str, selector: str | None = None) -> None:
    """With PMS_SCREENSHOTS=1, save assets/screenshots/<name>.png (the viewport, or one
    element) for the README."""
    if os.environ.get("PMS_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    page.wait_for_timeout(300)  # late rows settle
    if selector:
        page.locator(selector).screenshot(path=path)
    else:
        page.screenshot(path=path)


def new_goal_form(page, app_url: str, email: str, title: str) -> None:
    """Signed in to Acme as `email`, the "New goal" dialog open on the goal list with
    `title` typed (not yet created)."""
    sign_in(page, app_url, "acme", email)
    page.goto(f"{app_url}/goals")
    page.wait_for_selector(".goal-row")
    page.click("#goal-new")
    page.wait_for_selector("#goal-title")
    page.fill("#goal-title", title)
