"""Every list keeps its filters, sort, page and open item in the address: a load (a reload,
a shared link) reads them, each step writes them back, and a forged or stale value (wrong
type, another tenant's id, page 99999, unknown filter) gets a clear message or the default,
never anything of someone else. The console's cross-tenant reads opened from the address
pass the same grant checks and leave the same logs as its forms."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pyotp
import pytest

from pms_dashboard.console import grants
from pms_dashboard.console import routes as console_routes
from pms_dashboard.console.service import ConsoleAdmin
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.access_log import AccessLogState
from pms_dashboard.ui.states.console import NO_GRANT, ConsoleState
from pms_dashboard.ui.states.cycles import CyclesState
from tests.conftest import (
    TEST_PASSWORD,
    TenantFixture,
    add_goals,
    as_admin,
    create_console_admin,
    ctx,
    draft_cycle,
)
from tests.ui_harness import call, state_for, token_for

PASSWORD = "a long console passphrase"


def _address(events: list[Any]) -> str:
    """What the events put into the browser's address bar (their scripts, as text)."""
    return " ".join(str(e) for e in events)


def _token(t: TenantFixture, who: str) -> str:
    return token_for(t.slug, f"{who}@{t.slug}.test", TEST_PASSWORD)


def _console_admin() -> tuple[ConsoleAdmin, str]:
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password=PASSWORD
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password=PASSWORD, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    return signed.admin, signed.token


def _console(token: str, address: dict[str, str]) -> ConsoleState:
    """The console page of the admin with `token`, as loaded from `address`."""
    return state_for(ConsoleState, token, "/console", address, cookie_name="pms_console")


def _log(t: TenantFixture) -> list[str]:
    """The tenant's provider access log as its admin reads it (what happened, newest first)."""
    actor = ctx(t, "admin", "tenant_admin")
    with tenant_session(actor) as s:
        return [e.action for e in grants.provider_access_log(session=s, actor=actor)]


# ------------------------------------------------------------------------------ cycles


def test_the_open_cycle_is_in_the_address(make_tenant: Callable[..., TenantFixture]) -> None:
    t, other = make_tenant(), make_tenant()
    cycle = str(draft_cycle(t))
    st = state_for(CyclesState, _token(t, "admin"), "/cycles", {"cycle": cycle, "page": "99999"})
    events = call(st, CyclesState.load)
    assert (st.cycle_id, st.cycle["name"], st.error) == (cycle, "H2", "")
    assert st.status_page == 1  # a page past the end is the last one
    assert f"cycle={cycle}" in _address(events) and "page=" not in _address(events)
    assert f"/cycles?cycle={cycle}" not in _address(call(st, CyclesState.close_cycle_detail))
    assert st.cycle_id == ""
    events = call(st, CyclesState.select_cycle, cycle)
    assert f"cycle={cycle}" in _address(events)
    # another organisation's cycle, a malformed id, a list: refused as not found, nothing shown
    foreign = str(draft_cycle(other))
    for forged in (foreign, "not-an-id", str(uuid.uuid4()), "' OR 1=1 --"):
        page = state_for(CyclesState, _token(t, "admin"), "/cycles", {"cycle": forged})
        events = call(page, CyclesState.load)
        assert "not found" in page.error, (forged, page.error)
        assert (page.cycle_id, page.cycle, page.status_rows) == ("", {}, []), forged
        assert "cycle=" not in _address(events) and "H2" not in repr(page.cycle)
        assert [c["name"] for c in page.cycles] == ["H2"]  # the list itself still shows


# -------------------------------------------------------------------------- access log


@pytest.fixture
def accessed(make_tenant: Callable[..., TenantFixture]) -> tuple[TenantFixture, TenantFixture]:
    """A tenant whose log has an opened grant and 26 reads (two pages), and another."""
    t, other = make_tenant(), make_tenant()
    admin, _ = _console_admin()
    as_admin(grants.open_grant, 
        admin=admin, tenant_slug=t.slug, justification="security_investigation",
        ticket="SEC-7", hours=1,
    )  # fmt: skip
    for _ in range(26):
        as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug)
    return t, other


def test_the_access_log_keeps_its_kind_and_page(accessed) -> None:
    t, other = accessed
    st = state_for(AccessLogState, _token(t, "admin"), "/access-log", {"kind": "read", "page": "2"})
    events = call(st, AccessLogState.load)
    assert (st.kind, st.page, st.pages, st.total, st.error) == ("read", 2, 2, 26, "")
    assert [e["action"] for e in st.entries] == ["Read data"]
    assert "kind=read" in _address(events) and "page=2" in _address(events)
    events = call(st, AccessLogState.previous_page)
    assert st.page == 1 and len(st.entries) == 25 and "page=" not in _address(events)
    events = call(st, AccessLogState.filter_kind, "grant_opened")
    assert [e["ticket"] for e in st.entries] == ["SEC-7"]
    assert "kind=grant_opened" in _address(events)
    events = call(st, AccessLogState.filter_kind, "all")
    assert (st.total, st.pages) == (27, 2) and "kind=" not in _address(events)
    # a page past the end is the last one; a page that is no number is the first
    for page, shown in (("99999", 2), ("abc", 1), ("-1", 1), ("1e3", 1)):
        st = state_for(AccessLogState, _token(t, "admin"), "/access-log", {"page": page})
        call(st, AccessLogState.load)
        assert (st.page, st.error) == (shown, ""), page
    # an unknown kind is refused in words, with nothing shown
    for kind in ("console.read", "' OR 1=1", "auth.signin", "x" * 500):
        st = state_for(AccessLogState, _token(t, "admin"), "/access-log", {"kind": kind})
        call(st, AccessLogState.load)
        assert (st.error, st.entries, st.total) == ("That filter is not available.", [], 0)
    # another tenant's admin, with t's filters in the address, sees their own (empty) log
    st = state_for(AccessLogState, _token(other, "admin"), "/access-log", {"kind": "read"})
    call(st, AccessLogState.load)
    assert (st.entries, st.total, st.error) == ([], 0, "")
    # and nobody but an admin sees it, whatever the address says
    st = state_for(AccessLogState, _token(t, "manager"), "/access-log", {"kind": "read"})
    call(st, AccessLogState.load)
    assert st.entries == [] and st.error == "Only tenant admins can see the access log."


# ----------------------------------------------------------------------------- console


def test_the_console_reopens_its_lists_from_the_address_through_the_same_checks(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t, other = make_tenant(), make_tenant()
    add_goals(t, "emp1", 2)
    admin, token = _console_admin()
    as_admin(grants.open_grant, 
        admin=admin, tenant_slug=t.slug, justification="customer_support",
        ticket="SUP-1", hours=1,
    )  # fmt: skip
    asked = {"search": "1", "tenant": t.slug, "flagged": "all", "page": "1", "queue": "1",
             "queue_tenant": t.slug, "read": "goals", "read_tenant": t.slug}  # fmt: skip
    st = _console(token, asked)
    before = _log(t)
    events = call(st, ConsoleState.load)
    assert st.error == "" and st.searched and st.flagged_loaded
    assert (st.read_what, st.read_tenant, len(st.read_rows)) == ("goals", t.slug, 2)
    assert st.search_shown["tenant"] == t.slug and st.flagged_shown == t.slug
    # logged as the forms' reads are: the read and the search are in the tenant's own log
    after = _log(t)
    assert after[: len(after) - len(before)].count("Read data") == 1
    for part in (f"tenant={t.slug}", "search=1", "queue=1", "read=goals", f"read_tenant={t.slug}"):
        assert part in _address(events), part
    # the same address for an organisation without a grant: no rows, the refused read is
    # logged (flagged) in its trail like the form's, and the read leaves the address
    before = _log(other)
    st = _console(token, {"read": "reviews", "read_tenant": other.slug})
    events = call(st, ConsoleState.load)
    assert (st.read_rows, st.error) == ([], NO_GRANT) and "read=" not in _address(events)
    assert _log(other) == ["Read data", *before]
    # forged values: a clear message, nothing of any list shown, the address forgets them
    for forged, message in (
        (asked | {"since": "soon"}, "Since: give a date"),
        (asked | {"actor_id": "'; DROP TABLE audit_event; --"}, "Actor id"),
        (asked | {"read_tenant": "no-such-org"}, "No organisation"),
        (asked | {"queue_tenant": "Bad Slug!"}, "Organisation:"),
        ({"search": "1", "page": "0", "tenant": "x" * 300}, "Organisation"),
    ):
        st = _console(token, forged)
        events = call(st, ConsoleState.load)
        assert message in st.error, (forged, st.error)
        assert (st.search_rows, st.flagged_rows, st.read_rows) == ([], [], []), forged
        assert not (st.searched or st.flagged_loaded or st.read_what)
        assert "search=" not in _address(events) and "read=" not in _address(events)
    # a page past the end says so
    st = _console(token, {"search": "1", "tenant": t.slug, "page": "99999"})
    call(st, ConsoleState.load)
    assert st.search_rows == [] and st.notice.startswith("Page 99999 is past the end")
    # without a console session the address opens nothing
    for cookie in (None, _token(t, "admin"), "garbage"):
        st = state_for(ConsoleState, cookie, "/console", asked, cookie_name="pms_console")
        call(st, ConsoleState.load)
        assert (st.search_rows, st.flagged_rows, st.read_rows) == ([], [], [])
