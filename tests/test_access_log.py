"""The tenant's transparency page and its state: tenant admins see every provider access,
nobody else sees it, no cookie redirects."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pyotp
import pytest

from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.console import grants
from pms_dashboard.console import routes as console_routes
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.access_log import AccessLogState
from tests.conftest import TEST_PASSWORD, TenantFixture, as_admin, create_console_admin
from tests.ui_harness import call, redirects_to, state_for, token_for


@pytest.fixture
def accessed(make_tenant: Callable[..., TenantFixture]) -> tuple[TenantFixture, TenantFixture]:
    t, other = make_tenant(), make_tenant()
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example",
        display_name="Ops",
        password="a long console passphrase",
    )
    admin = console_routes.sign_in_with_code(
        email=new.email,
        password="a long console passphrase",
        code=pyotp.TOTP(new.totp_secret).at(time.time()),
    ).admin
    as_admin(grants.open_grant, 
        admin=admin, tenant_slug=t.slug, justification="security_investigation",
        ticket="SEC-42", hours=1,
    )  # fmt: skip
    as_admin(grants.read_goals, admin=admin, tenant_slug=t.slug)
    return t, other


def test_tenant_admin_sees_every_access_and_only_their_own(accessed) -> None:
    t, other = accessed
    admin = TenantContext(tenant_id=t.id, user_id=t.user_id("admin"), role="tenant_admin")
    with tenant_session(admin) as s:
        log = grants.provider_access_log(session=s, actor=admin)
    assert [e.action for e in log] == ["Read data", "Opened access"]
    assert log[1].justification == "Security investigation" and log[1].ticket == "SEC-42"
    other_admin = TenantContext(
        tenant_id=other.id, user_id=other.user_id("admin"), role="tenant_admin"
    )
    with tenant_session(other_admin) as s:
        assert grants.provider_access_log(session=s, actor=other_admin) == []


@pytest.mark.parametrize("who", ["manager", "emp1"])
def test_only_tenant_admins_see_the_log(accessed, who) -> None:
    t, _ = accessed
    actor = TenantContext(tenant_id=t.id, user_id=t.user_id(who), role="manager")
    with pytest.raises(PermissionDenied), tenant_session(actor) as s:
        grants.provider_access_log(session=s, actor=actor)
    st = state_for(AccessLogState, token_for(t.slug, f"{who}@{t.slug}.test", TEST_PASSWORD))
    call(st, AccessLogState.load)
    assert st.entries == [] and st.error


def test_state_shows_the_log_to_the_admin_and_redirects_without_cookie(accessed) -> None:
    t, _ = accessed
    st = state_for(AccessLogState, token_for(t.slug, f"admin@{t.slug}.test", TEST_PASSWORD))
    call(st, AccessLogState.load)
    assert [e["ticket"] for e in st.entries] == ["SEC-42", "SEC-42"]
    assert redirects_to(call(state_for(AccessLogState, None), AccessLogState.load)) == "/signin"
