"""What a tenant admin may set for single sign-on, what the settings page shows back, and
the messages a refused sign-in gets (one per reason, each safe to show)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pms_dashboard.errors import UserError

DOMAIN_RE = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
MAX_DOMAINS = 20


class SsoError(UserError):
    """A refused single sign-on step: `reason` for the audit trail, message for the person."""

    def __init__(self, reason: str, message: str | None = None, *, flagged: bool = False):
        super().__init__(message or MESSAGES.get(reason, MESSAGES["failed"]))
        self.reason = reason
        self.message = str(self)
        self.flagged = flagged or reason in SUSPICIOUS


# Reasons that point at tampering or a confused provider rather than a person's mistake.
SUSPICIOUS = frozenset(
    {
        "bad_signature", "alg_not_allowed", "wrong_issuer", "wrong_audience", "nonce_missing",
        "nonce_mismatch", "state_replayed", "state_mismatch", "tenant_mismatch", "bad_token",
    }
)  # fmt: skip

MESSAGES: dict[str, str] = {
    "failed": "Single sign-on did not complete. Try again, or sign in with your password.",
    "no_sso": "That organisation does not use single sign-on.",
    "no_domain_match": "No organisation signs in people of that email domain with single sign-on.",
    "ambiguous_domain": "Several organisations use that email domain: enter your organisation too.",
    "bad_email": "Enter your work email address.",
    "domain_not_allowed": "This organisation's single sign-on does not accept that email domain.",
    "domain_not_verified": "This organisation has not yet proved it owns that email domain: "
    "sign in with your password, or ask your administrator to verify the domain.",
    "domain_claimed": "That email domain is already used for single sign-on by another "
    "organisation.",
    "dns_unreachable": "DNS could not be asked about the domain just now. Try again shortly.",
    "provider_unreachable": "The identity provider could not be reached. Try again shortly.",
    "provider_error": "The identity provider refused the sign-in.",
    "state_unknown": "This sign-in link is not valid. Start again from the sign-in page.",
    "state_mismatch": "This sign-in was not started in this browser. Start again.",
    "state_replayed": "This sign-in link has already been used. Start again.",
    "state_expired": "This sign-in took too long. Start again.",
    "bad_token": "The identity provider's answer was not valid.",
    "bad_signature": "The identity provider's answer was not signed by its key.",
    "alg_not_allowed": "The identity provider's answer was not signed in an accepted way.",
    "wrong_issuer": "The answer came from another identity provider than this organisation's.",
    "wrong_audience": "The identity provider's answer was meant for another application.",
    "expired": "The identity provider's answer has expired. Start again.",
    "nonce_missing": "The identity provider's answer was not tied to this sign-in.",
    "nonce_mismatch": "The identity provider's answer belongs to another sign-in.",
    "email_missing": "The identity provider did not tell us your email address.",
    "email_unverified": "Your email address is not verified at the identity provider.",
    "tenant_mismatch": "The identity provider says you belong to another organisation.",
    "no_account": "There is no account for you in this organisation. Ask your administrator.",
    "inactive": "Your account is deactivated. Ask your administrator.",
}


def _domains(value: Any) -> list[str]:
    items = re.split(r"[\s,;]+", value) if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for item in items:
        domain = str(item).strip().lower().lstrip("@")
        if not domain:
            continue
        if not DOMAIN_RE.fullmatch(domain):
            raise ValueError(f"{domain!r} is not an email domain (like example.com)")
        if domain not in out:
            out.append(domain)
    if not out:
        raise ValueError("give at least one email domain")
    if len(out) > MAX_DOMAINS:
        raise ValueError(f"at most {MAX_DOMAINS} domains")
    return out


class SsoConfigInput(BaseModel):
    """A tenant admin's single sign-on settings; a blank secret keeps the stored one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=8, max_length=300)
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(default="", max_length=500)
    allowed_domains: list[str]
    default_role: Literal["employee", "manager"] = "employee"
    provision_users: bool = False
    enabled: bool = True

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in LOOPBACK
        if not (parts.scheme == "https" or loopback) or not parts.hostname:
            raise ValueError("the issuer must be an https:// address")
        if parts.query or parts.fragment:
            raise ValueError("the issuer has no query or fragment")
        return value

    @field_validator("client_id", "client_secret")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("allowed_domains", mode="before")
    @classmethod
    def _parse_domains(cls, value: Any) -> list[str]:
        return _domains(value)


@dataclass(frozen=True, slots=True)
class SsoConfigView:
    """The settings page's view: the secret never comes back, only whether one is set."""

    issuer: str
    client_id: str
    has_secret: bool
    allowed_domains: str
    default_role: str
    provision_users: bool
    enabled: bool
    redirect_uri: str
