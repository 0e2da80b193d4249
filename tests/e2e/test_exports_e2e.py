"""Export in a real browser: the Export CSV button of a filtered goal list downloads, over
the streaming route, a file with exactly the rows the list shows across all its pages."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import select
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.seed import seed_demo
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import shoot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo() -> None:
    seed_demo()


def _titles_on_every_page(page) -> list[str]:
    titles: list[str] = []
    while True:
        page.wait_for_selector(".goal-row")
        titles += [t.strip() for t in page.locator(".goal-row .goal-title").all_inner_texts()]
        if page.locator("#goals-next").is_disabled():
            return titles
        current = page.inner_text("#goals-page")
        page.click("#goals-next")
        page.wait_for_function(
            "prev => document.querySelector('#goals-page').innerText !== prev", arg=current
        )


def test_export_button_downloads_the_filtered_list(page, app_url, demo) -> None:
    sign_in(page, app_url, "acme", "maria.manager@acme.example")
    page.goto(f"{app_url}/goals?scope=all&status=active")
    page.wait_for_selector(".goal-row")
    shown = _titles_on_every_page(page)
    assert shown

    page.click("#goals-export")
    shoot(page, "goals-export-menu")
    with page.expect_download() as info:
        page.click("#goals-export-goals")
    download = info.value
    assert download.suggested_filename == f"acme-goals-{date.today():%Y-%m-%d}.csv"
    frame = pd.read_csv(io.BytesIO(open(download.path(), "rb").read()), dtype=str)  # noqa: SIM115
    assert sorted(frame["title"]) == sorted(shown)
    assert set(frame["status"]) == {"active"}
    assert "acme.example" in " ".join(frame["owner_email"]) and "globex" not in frame.to_csv()

    with owner_session() as s:
        acme = s.scalars(select(Tenant).where(col(Tenant.slug) == "acme")).one()
        event = s.scalars(
            select(AuditEvent)
            .where(col(AuditEvent.tenant_id) == acme.id, col(AuditEvent.action) == "export.csv")
            .order_by(col(AuditEvent.seq).desc())
        ).first()
    assert event is not None
    assert event.detail["rows"] == len(frame) and event.detail["completed"] is True
    assert (
        event.detail["filters"]["scope"] == "all" and event.detail["filters"]["status"] == "active"
    )
