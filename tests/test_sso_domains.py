"""SSO email domains: one organisation per domain, and a domain signs people in only after a
DNS TXT proof, looked up with dnspython at a real DNS server on loopback (no mock of the
look-up). Every step runs as pms_app in the tenant's or the catalog's session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlmodel import col

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.settings import get_settings
from pms_dashboard.sso import domains
from pms_dashboard.sso import service as sso
from pms_dashboard.sso.schemas import SsoError
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import catalog_session, contextless_session, tenant_session
from tests.conftest import TenantFixture
from tests.dns_server import DnsServer, running_dns


@pytest.fixture
def dns_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[DnsServer]:
    with running_dns() as server:
        monkeypatch.setenv("PMS_DNS_RESOLVER", server.address)
        get_settings.cache_clear()
        yield server
    monkeypatch.delenv("PMS_DNS_RESOLVER")
    get_settings.cache_clear()


def _admin(t: TenantFixture) -> TenantContext:
    return TenantContext(tenant_id=t.id, user_id=t.user_id("admin"), role="tenant_admin")


def _save(t: TenantFixture, *names: str) -> None:
    """The settings page's save: refused when another organisation holds a domain, then
    saved, then the verified domains published."""
    data = sso.config_input(
        {"issuer": "https://idp.example", "client_id": "pms", "client_secret": "s",
         "allowed_domains": ", ".join(names)}
    )  # fmt: skip
    with catalog_session(_admin(t)) as s:
        domains.require_unclaimed(session=s, domains=list(data.allowed_domains))
    with tenant_session(_admin(t)) as s:
        sso.save_config(session=s, actor=_admin(t), data=data)
    _publish(t)


def _publish(t: TenantFixture) -> None:
    with tenant_session(_admin(t)) as s:
        names = domains.published_domains(session=s)
    with catalog_session(_admin(t)) as s:
        domains.publish(session=s, domains=names)


def _verify(t: TenantFixture) -> list[str]:
    """The settings page's Verify: the DNS look-ups, then the proved domains recorded."""
    with tenant_session(_admin(t)) as s:
        proof = domains.verification(session=s, actor=_admin(t))
    proved = [d for d in proof.pending if domains.txt_proves(d, proof.token)]
    with tenant_session(_admin(t)) as s:
        done = domains.mark_verified(session=s, actor=_admin(t), domains=proved)
    _publish(t)
    return done


def _routes_to(domain: str) -> list[str]:
    """The organisations the sign-in page's email look-up finds for `domain`."""
    with contextless_session() as s:
        try:
            return [sso.tenant_for(session=s, slug="", domain=domain)[1]]
        except SsoError as err:
            assert err.reason == "no_domain_match"
            return []


def test_a_domain_signs_in_only_after_its_txt_record_is_found(
    make_tenant: Callable[..., TenantFixture], dns_server: DnsServer
) -> None:
    acme = make_tenant()
    domain = f"{acme.slug}.example"
    _save(acme, domain)
    with tenant_session(_admin(acme)) as s:
        proof = domains.verification(session=s, actor=_admin(acme))
        assert proof.pending == [domain] and proof.verified == []
        assert proof.record.startswith("pms-domain-verification=") and len(proof.token) >= 24
        with pytest.raises(SsoError) as refused:
            sso.enabled_config(session=s, domain=domain)  # organisation named: still refused
        assert refused.value.reason == "domain_not_verified"
    assert _routes_to(domain) == []  # saved and enabled, yet not routed: not proved

    assert _verify(acme) == []  # no record at all (NXDOMAIN)
    dns_server.txt[domain] = ["pms-domain-verification=somebody-elses-token", "v=spf1 -all"]
    assert _verify(acme) == [] and _routes_to(domain) == []
    dns_server.txt[domain] = ["v=spf1 -all", proof.record]
    assert _verify(acme) == [domain]
    assert domain in dns_server.questions
    assert _routes_to(domain) == [acme.slug]
    with tenant_session(_admin(acme)) as s:
        assert sso.enabled_config(session=s, domain=domain).verified_domains == [domain]
        events = s.scalars(
            select(AuditEvent).where(col(AuditEvent.action) == "sso.domain_verified")
        ).all()
        assert [e.detail["domains"] for e in events] == [[domain]]

    # taking the domain off the list drops its proof and its route
    _save(acme, f"other-{acme.slug}.example")
    assert _routes_to(domain) == []
    with tenant_session(_admin(acme)) as s:
        assert domains.verification(session=s, actor=_admin(acme)).verified == []


def test_a_domain_another_organisation_holds_is_refused_with_a_clear_message(
    make_tenant: Callable[..., TenantFixture], dns_server: DnsServer
) -> None:
    globex, acme = make_tenant(), make_tenant()
    domain = f"{globex.slug}.example"
    _save(globex, domain)
    with tenant_session(_admin(globex)) as s:
        record = domains.verification(session=s, actor=_admin(globex)).record
    dns_server.txt[domain] = [record]
    assert _verify(globex) == [domain]

    with pytest.raises(SsoError) as refused:
        _save(acme, f"{acme.slug}.example", domain)
    assert refused.value.reason == "domain_claimed"
    assert f"{domain} is already used for single sign-on by another organisation" in str(
        refused.value
    )
    with tenant_session(_admin(acme)) as s:  # nothing saved
        assert domains.verification(session=s, actor=_admin(acme)).record == ""
    # even straight at the catalog (a race past the check): its key refuses a second owner
    with catalog_session(_admin(acme)) as s, pytest.raises(SsoError) as raced:
        domains.publish(session=s, domains=[domain])
    assert raced.value.reason == "domain_claimed"
    assert _routes_to(domain) == [globex.slug]


def test_dns_that_does_not_answer_is_said_so(
    make_tenant: Callable[..., TenantFixture], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_dns() as server:
        silent = server.address
    monkeypatch.setenv("PMS_DNS_RESOLVER", silent)  # nothing listens there any more
    get_settings.cache_clear()
    try:
        with pytest.raises(SsoError) as refused:
            domains.txt_proves("acme.example", "token")
        assert refused.value.reason == "dns_unreachable"
    finally:
        monkeypatch.delenv("PMS_DNS_RESOLVER")
        get_settings.cache_clear()
