"""Email domains an organisation signs in with single sign-on: each belongs to at most one
organisation (the catalog's primary key), and signs people in only once the organisation
proved it controls it, with a DNS TXT record `pms-domain-verification=<token>` at the
domain, looked up with dnspython (at PMS_DNS_RESOLVER when set).

Tenant steps (`verification`, `mark_verified`) take the tenant's transaction, catalog steps
(`require_unclaimed`, `publish`) the catalog's; the DNS look-up (`txt_proves`) runs with no
transaction open."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.resolver
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pms_dashboard.audit import service as audit
from pms_dashboard.settings import get_settings
from pms_dashboard.sso.schemas import SsoError
from pms_dashboard.sso.service import _admin_only, _config
from pms_dashboard.tenancy.context import TenantContext

TXT_PREFIX = "pms-domain-verification="
DNS_TIMEOUT = 3.0  # seconds for the whole look-up of one domain


def txt_record(token: str) -> str:
    """The TXT record's value an admin publishes at each domain."""
    return f"{TXT_PREFIX}{token}"


@dataclass(frozen=True, slots=True)
class Verification:
    """What the settings page shows: the record to add and the domains still to prove."""

    token: str
    pending: list[str]
    verified: list[str]

    @property
    def record(self) -> str:
        return txt_record(self.token) if self.token else ""


def verification(*, session: Session, actor: TenantContext) -> Verification:
    """The record to publish and which allowed domains are (not yet) verified."""
    _admin_only(session, actor)
    config = _config(session)
    if config is None:
        return Verification("", [], [])
    verified = [d for d in config.allowed_domains if d in config.verified_domains]
    pending = [d for d in config.allowed_domains if d not in config.verified_domains]
    return Verification(config.verification_token, pending, verified)


def published_domains(*, session: Session) -> list[str]:
    """The domains the catalog should route to this organisation: allowed and verified,
    while single sign-on is on."""
    config = _config(session)
    if config is None or not config.enabled:
        return []
    return [d for d in config.allowed_domains if d in config.verified_domains]


def _resolver() -> dns.resolver.Resolver:
    address = get_settings().dns_resolver.strip()
    if not address:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    resolver.nameservers = [host.strip("[]")]
    resolver.port = int(port) if port else 53
    return resolver


def txt_proves(domain: str, token: str) -> bool:
    """Whether `domain` publishes the TXT record with `token` (no transaction open: this
    waits on the network); SsoError("dns_unreachable") when DNS gives no answer at all."""
    wanted = txt_record(token).encode()
    try:
        answer = _resolver().resolve(domain, "TXT", lifetime=DNS_TIMEOUT)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False
    except (dns.exception.Timeout, dns.resolver.NoNameservers):
        raise SsoError("dns_unreachable") from None
    return any(b"".join(r.strings).strip() == wanted for r in answer)  # type: ignore[attr-defined]


def claimed_elsewhere(*, session: Session, domains: list[str]) -> list[str]:
    """Those of `domains` another organisation signs in with (a catalog session with the
    asking tenant's context)."""
    if not domains:
        return []
    found = session.scalars(
        text("SELECT app.sso_domains_claimed_elsewhere(:d)"), {"d": list(domains)}
    )
    return list(found.all())


def require_unclaimed(*, session: Session, domains: list[str]) -> None:
    """SsoError naming the first of `domains` another organisation already holds."""
    taken = claimed_elsewhere(session=session, domains=domains)
    if taken:
        raise SsoError("domain_claimed", claimed_message(taken[0]))


def claimed_message(domain: str) -> str:
    return (
        f"{domain} is already used for single sign-on by another organisation: each email "
        "domain can belong to one organisation only."
    )


def publish(*, session: Session, domains: list[str]) -> None:
    """Tell the catalog which domains route to this organisation (all of them replaced);
    a domain another organisation took meanwhile is refused by the catalog's key."""
    try:
        with session.begin_nested():
            session.execute(text("SELECT app.set_sso_domains(:d)"), {"d": list(domains)})
    except IntegrityError:
        taken = claimed_elsewhere(session=session, domains=domains)
        raise SsoError(
            "domain_claimed", claimed_message(taken[0] if taken else domains[0])
        ) from None


def mark_verified(*, session: Session, actor: TenantContext, domains: list[str]) -> list[str]:
    """Record `domains` (those still allowed) as proved; audited. Returns what was newly
    verified."""
    _admin_only(session, actor)
    config = _config(session)
    if config is None:
        return []
    new = [d for d in domains if d in config.allowed_domains and d not in config.verified_domains]
    if not new:
        return []
    config.verified_domains = [*config.verified_domains, *new]
    session.add(config)
    session.flush()
    audit.record(
        session=session,
        action="sso.domain_verified",
        actor_id=actor.user_id,
        entity_type="sso_config",
        entity_id=config.id,
        detail={"domains": new},
    )
    return new
