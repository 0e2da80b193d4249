"""Single sign-on in a real browser against a real OpenID Connect provider on loopback: the
tenant admin connects the provider on the settings page, then a manager signs in with only
her email (its domain finds Acme), authorizes at the provider, and lands on Acme's overview."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from pms_dashboard.seed import seed_demo
from pms_dashboard.sso.models import SsoConfig
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import owner_session
from tests.e2e.helpers import shoot, sign_in
from tests.oidc_provider import running_provider

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def provider():
    seed_demo()
    with running_provider() as p:
        yield p


def test_admin_connects_the_provider_and_a_manager_signs_in_with_sso(
    page, app_url, provider, dns_server
) -> None:
    sign_in(page, app_url, "acme", "ada.admin@acme.example")
    page.goto(f"{app_url}/settings")
    page.wait_for_selector("#sso-card #sso-issuer")
    assert page.inner_text("#sso-callback-url").endswith("/api/sso/acme/callback")
    page.fill("#sso-issuer", provider.issuer)
    page.fill("#sso-client-id", "pms-e2e")
    page.fill("#sso-client-secret", "e2e client secret")
    page.fill("#sso-domains", "acme.example")
    page.click("#sso-enabled")
    page.click("#sso-save")
    page.wait_for_selector("#sso-success")
    # the domain signs people in once its DNS record proves it is Acme's
    page.wait_for_selector(".sso-domain-pending")
    dns_server.txt["acme.example"] = [page.inner_text("#sso-dns-record")]
    page.click("#sso-verify")
    page.wait_for_selector(".sso-domain-verified")
    assert "Verified: acme.example." in page.inner_text("#sso-success")
    shoot(page, "settings-sso", "#sso-card")
    with owner_session() as s:
        config = s.scalars(
            select(SsoConfig).join(Tenant, col(Tenant.id) == SsoConfig.tenant_id)
            .where(Tenant.slug == "acme")
        ).one()  # fmt: skip
    assert config.enabled and config.allowed_domains == ["acme.example"]
    assert "e2e client secret" not in config.client_secret and "e2e client secret" not in (
        page.content()
    )

    page.context.clear_cookies()
    page.goto(f"{app_url}/signin")
    page.fill("#sso-email", "maria.manager@acme.example")
    page.click("#sso-continue")
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize**")
    assert "code_challenge=" in page.url and "nonce=" in page.url
    page.fill("input[name=sub]", "maria.manager@acme.example")
    page.click("button[type=submit]:has-text('Authorize')")
    page.wait_for_url("**/overview**")
    page.wait_for_selector("text=Acme Corp")
    me = page.request.get(f"{app_url}/api/auth/me").json()
    assert me["tenant"] == "acme" and me["email"] == "maria.manager@acme.example"

    # a Globex address is not Acme's: refused with the reason on the sign-in page
    page.context.clear_cookies()
    page.goto(f"{app_url}/signin")
    page.fill("#sso-email", "gus.manager@globex.example")
    page.click("#sso-continue")
    page.wait_for_selector("#signin-error")
    assert "No organisation signs in people of that email domain" in page.inner_text(
        "#signin-error"
    )
