"""Single sign-on with a tenant's own OpenID Connect provider.

The flow (authorization code with PKCE, state and nonce, Authlib's OAuth 2 client):

1. `start`: the sign-in page's "Continue with SSO" names an email (and, optionally, the
   organisation). The tenant is the one named, or the one whose enabled SSO accepts the
   email's domain. A one-use `SsoLogin` row keeps the state, nonce and PKCE verifier; the
   browser also gets the state in a short-lived HttpOnly cookie, so the callback can check
   that it returns to the browser that started.
2. `complete`: the provider sends the browser back to `/api/sso/<slug>/callback`. The state
   must match the cookie and an unused, fresh `SsoLogin` of *that* tenant (marked used at
   once, in its own transaction, so a replay is refused whatever happens next). The code is
   exchanged for tokens, and the ID token is checked: signature against the provider's JWKS
   (asymmetric algorithms only — never `none`, never a shared-secret HMAC), issuer exactly
   the configured one, audience our client id, expiry, and the nonce of this sign-in.
3. The person is looked up by email inside the tenant's session, so row-level security
   alone makes it impossible to sign in to another tenant, whatever the provider says; a
   provider that asserts another organisation is refused outright. The session is opened by
   `auth.service.open_session`, exactly as for a password sign-in.

Every refusal is an `auth.sso_failed` event in the tenant's audit trail (flagged when it
smells of tampering), with a message the person can act on.

Each step takes the transaction its entry point opened (`sso.routes`: the flow's database
steps each commit before the next call to the provider, never holding a transaction open
across the network); none opens or commits one.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from pydantic import ValidationError
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard import crypto
from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import User, normalize_email
from pms_dashboard.auth.service import SignedIn, find_user_by_email, open_session
from pms_dashboard.errors import validation_message
from pms_dashboard.organisation.service import require_settings_editor
from pms_dashboard.sso.models import SsoConfig, SsoLogin
from pms_dashboard.sso.schemas import DOMAIN_RE, SsoConfigInput, SsoConfigView, SsoError
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.registry import resolve_slug

SECRET_PURPOSE = "sso-client"  # noqa: S105 (a key-derivation label, not a secret)
LOGIN_TTL = timedelta(minutes=10)
PRUNE_AFTER = timedelta(days=1)
HTTP_TIMEOUT = 10.0
LEEWAY_SECONDS = 60
SCOPE = "openid email profile"
# Signatures we accept on ID tokens: public-key algorithms only (no "none", no HS256,
# whose "key" would be the client secret any tenant admin can type).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# Claims by which a provider may say which organisation a person belongs to.
TENANT_CLAIMS = ("tenant", "org", "organization")


# ------------------------------------------------------------------------- settings


def _admin_only(session: Session, actor: TenantContext) -> None:
    require_settings_editor(
        session=session, actor=actor, message="Only tenant admins can change single sign-on."
    )


def _config(session: Session) -> SsoConfig | None:
    return session.scalars(select(SsoConfig)).first()


def get_config(*, session: Session, actor: TenantContext, redirect_uri: str) -> SsoConfigView:
    """The tenant's SSO settings as the settings page shows them (never the secret)."""
    _admin_only(session, actor)
    found = _config(session)
    if found is None:
        return SsoConfigView("", "", False, "", "employee", False, False, redirect_uri)
    return SsoConfigView(
        issuer=found.issuer,
        client_id=found.client_id,
        has_secret=bool(found.client_secret),
        allowed_domains=", ".join(found.allowed_domains),
        default_role=found.default_role,
        provision_users=found.provision_users,
        enabled=found.enabled,
        redirect_uri=redirect_uri,
    )


def save_config(*, session: Session, actor: TenantContext, data: SsoConfigInput) -> None:
    """Create or change the tenant's SSO settings (tenant admins), audited without the
    secret; a blank secret keeps the stored one, and a first save needs one."""
    _admin_only(session, actor)
    found = _config(session)
    if found is None and not data.client_secret:
        raise SsoError("config", "Enter the client secret your identity provider gave you.")
    before = _public(found) if found else {}
    row = found or SsoConfig(
        issuer=data.issuer, client_id=data.client_id, client_secret="", allowed_domains=[]
    )
    row.issuer, row.client_id = data.issuer, data.client_id
    row.allowed_domains = list(data.allowed_domains)
    row.default_role, row.provision_users = data.default_role, data.provision_users
    row.enabled = data.enabled
    row.updated_at = datetime.now(UTC)
    # a domain taken off the list loses its proof; the token stays (the DNS record too)
    row.verified_domains = [d for d in row.verified_domains if d in row.allowed_domains]
    row.verification_token = row.verification_token or secrets.token_urlsafe(24)
    if data.client_secret:
        row.client_secret = crypto.encrypt(SECRET_PURPOSE, data.client_secret)
    session.add(row)
    session.flush()
    after = _public(row)
    changes = {
        k: {"before": before.get(k), "after": v} for k, v in after.items() if before.get(k) != v
    }
    if data.client_secret:
        changes["client_secret"] = {"changed": True}
    audit.record(
        session=session,
        action="sso.config_updated" if found else "sso.config_created",
        actor_id=actor.user_id,
        entity_type="sso_config",
        entity_id=row.id,
        detail=changes,
    )


def _public(row: SsoConfig) -> dict[str, Any]:
    return {
        "issuer": row.issuer,
        "client_id": row.client_id,
        "allowed_domains": list(row.allowed_domains),
        "default_role": row.default_role,
        "provision_users": row.provision_users,
        "enabled": row.enabled,
    }


# ------------------------------------------------------------------------- provider


@dataclass(frozen=True, slots=True)
class Provider:
    """What discovery says about the tenant's provider (its issuer checked to be exact)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def discover(issuer: str) -> Provider:
    """The provider's metadata from its well-known address (OpenID Connect Discovery)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        doc = response.json()
    except (httpx.HTTPError, ValueError):
        raise SsoError("provider_unreachable") from None
    if not isinstance(doc, dict) or doc.get("issuer") != issuer:
        raise SsoError("wrong_issuer")
    try:
        return Provider(
            issuer=issuer,
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
        )
    except KeyError:
        raise SsoError("provider_error") from None


def provider_keys(provider: Provider) -> KeySet:
    try:
        response = httpx.get(provider.jwks_uri, timeout=HTTP_TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())
    except (httpx.HTTPError, ValueError, JoseError):
        raise SsoError("provider_unreachable") from None


def validate_id_token(
    id_token: str,
    *,
    keys: KeySet,
    issuer: str,
    client_id: str,
    nonce: str,
    now: int | None = None,
) -> dict[str, Any]:
    """The ID token's claims if it is signed by the provider's key with an accepted
    algorithm, issued by `issuer` for `client_id`, unexpired and bound to `nonce`."""
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except UnsupportedAlgorithmError:
        raise SsoError("alg_not_allowed") from None
    except BadSignatureError:
        raise SsoError("bad_signature") from None
    except (JoseError, ValueError):
        raise SsoError("bad_token") from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise SsoError("expired") from None
    except MissingClaimError as err:
        raise SsoError("nonce_missing" if "nonce" in str(err) else "bad_token") from None
    except InvalidClaimError as err:
        name = str(getattr(err, "claim", "")) or str(err)
        reason = {"iss": "wrong_issuer", "aud": "wrong_audience", "nonce": "nonce_mismatch"}
        raise SsoError(next((r for c, r in reason.items() if c in name), "bad_token")) from None
    except JoseError:
        raise SsoError("bad_token") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SsoError("wrong_audience")
    return claims


# ------------------------------------------------------------------------- sign-in


@dataclass(frozen=True, slots=True)
class Started:
    authorization_url: str
    state: str
    slug: str


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in sent to the provider: what its callback must bring back or prove."""

    authorization_url: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


def email_domain(email: str) -> str:
    """The domain of the email a person typed, or SsoError("bad_email")."""
    local, _, domain = normalize_email(email).rpartition("@")
    if not local or not DOMAIN_RE.fullmatch(domain):
        raise SsoError("bad_email")
    return domain


def tenant_for(*, session: Session, slug: str, domain: str) -> tuple[uuid.UUID, str]:
    """The organisation (id, slug) named, or the one whose enabled SSO accepts `domain`
    (in a contextless transaction: slug and domain lookups are SECURITY DEFINER)."""
    if slug.strip():
        tenant_id = resolve_slug(session=session, slug=slug)
        if tenant_id is None:
            raise SsoError("no_sso")
        return tenant_id, slug.strip().lower()
    slugs = list(session.scalars(text("SELECT app.sso_slugs_for_domain(:d)"), {"d": domain}).all())
    if not slugs:
        raise SsoError("no_domain_match")
    if len(slugs) > 1:
        raise SsoError("ambiguous_domain")
    tenant_id = resolve_slug(session=session, slug=slugs[0])
    if tenant_id is None:
        raise SsoError("no_sso")
    return tenant_id, slugs[0]


def callback_uri(redirect_base: str, slug: str) -> str:
    """Where the provider sends the browser back for the organisation `slug`."""
    return f"{redirect_base.rstrip('/')}/api/sso/{slug}/callback"


def enabled_config(*, session: Session, domain: str | None = None) -> SsoConfig:
    """The tenant's SSO settings when enabled (and accepting `domain`, when given)."""
    config = _config(session)
    if config is None or not config.enabled:
        raise SsoError("no_sso")
    if domain is not None and domain not in config.allowed_domains:
        raise SsoError("domain_not_allowed")
    if domain is not None and domain not in config.verified_domains:
        raise SsoError("domain_not_verified")
    return config


def _client(config: SsoConfig, *, redirect_uri: str) -> OAuth2Client:
    secret = crypto.decrypt(SECRET_PURPOSE, config.client_secret) or ""
    return OAuth2Client(
        client_id=config.client_id,
        client_secret=secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


def authorization(
    config: SsoConfig, provider: Provider, *, redirect_uri: str, email: str
) -> Pending:
    """The provider's authorization URL for a new sign-in, with a fresh state, nonce and
    PKCE verifier (no database: `begin_login` keeps them)."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    url, _ = _client(config, redirect_uri=redirect_uri).create_authorization_url(
        provider.authorization_endpoint,
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        login_hint=normalize_email(email),
    )
    return Pending(url, state, nonce, verifier, redirect_uri)


def begin_login(*, session: Session, pending: Pending, ip: str = "") -> None:
    """Keep a sign-in sent to the provider (one use, for `LOGIN_TTL`), in its tenant's
    transaction."""
    # sign-ins older than a day can never complete: keep the table small
    session.execute(delete(SsoLogin).where(col(SsoLogin.created_at) < func.now() - PRUNE_AFTER))
    session.add(
        SsoLogin(
            state=pending.state,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            redirect_uri=pending.redirect_uri,
            ip=ip[:64],
        )
    )


def claim_login(*, session: Session, state: str, cookie_state: str | None) -> SsoLogin:
    """The sign-in this callback continues, marked used (commit it at once, so a replay is
    refused whatever happens next); check it with `require_fresh` after the commit."""
    if not state or len(state) > 64:
        raise SsoError("state_unknown")
    if not cookie_state or not hmac.compare_digest(cookie_state.encode(), state.encode()):
        raise SsoError("state_mismatch")
    login = session.scalars(
        select(SsoLogin).where(col(SsoLogin.state) == state).with_for_update()
    ).first()
    if login is None:
        raise SsoError("state_unknown", flagged=True)
    if login.used_at is not None:
        raise SsoError("state_replayed")
    login.used_at = datetime.now(UTC)
    return login


def require_fresh(login: SsoLogin) -> None:
    """SsoError("state_expired") for a sign-in started more than `LOGIN_TTL` ago."""
    assert login.used_at is not None
    if login.created_at < login.used_at - LOGIN_TTL:
        raise SsoError("state_expired")


def verified_claims(config: SsoConfig, login: SsoLogin, code: str) -> dict[str, Any]:
    """Exchange the code at the provider (no transaction is open meanwhile) and return the
    ID token's claims once its signature, issuer, audience, expiry and nonce are checked."""
    provider = discover(config.issuer)
    try:
        tokens = _client(config, redirect_uri=login.redirect_uri).fetch_token(
            provider.token_endpoint,
            grant_type="authorization_code",
            code=code[:2000],
            code_verifier=login.code_verifier,
        )
    except Exception:  # the provider refused the code (Authlib raises OAuthError et al.)
        raise SsoError("provider_error") from None
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise SsoError("bad_token")
    return validate_id_token(
        id_token,
        keys=provider_keys(provider),
        issuer=config.issuer,
        client_id=config.client_id,
        nonce=login.nonce,
    )


def sign_in_user(
    *,
    session: Session,
    slug: str,
    config: SsoConfig,
    claims: dict[str, Any],
    ip: str = "",
    user_agent: str = "",
    replaces: str | None = None,
) -> SignedIn:
    """Open the session of the person the ID token names, in the organisation's own
    transaction (RLS shows no other tenant's people, whatever the provider says); a
    provider asserting another organisation is refused outright."""
    asserted = [str(claims[c]).lower() for c in TENANT_CLAIMS if claims.get(c)]
    if any(value != slug.lower() for value in asserted):
        raise SsoError("tenant_mismatch")
    email = normalize_email(str(claims.get("email") or ""))
    if not email:
        raise SsoError("email_missing")
    if claims.get("email_verified") is False:
        raise SsoError("email_unverified")
    domain = email.rpartition("@")[2]
    if domain not in config.allowed_domains:
        raise SsoError("domain_not_allowed")
    if domain not in config.verified_domains:
        raise SsoError("domain_not_verified")
    user = find_user_by_email(session=session, email=email)
    if user is None:
        if not config.provision_users:
            raise SsoError("no_account")
        user = _provision(session, config, email=email, claims=claims)
    if not user.is_active:
        raise SsoError("inactive")
    return open_session(
        session=session, user=user, method="sso", ip=ip, user_agent=user_agent, replaces=replaces
    )


def _provision(s: Session, config: SsoConfig, *, email: str, claims: dict[str, Any]) -> User:
    """Just-in-time: the person's first sign-in creates them with the default role."""
    name = str(claims.get("name") or email.partition("@")[0])[:200].strip() or email
    user = User(email=email, display_name=name, role=config.default_role, password_hash=None)
    s.add(user)
    s.flush()
    audit.record(
        session=s,
        action="person.provisioned",
        actor_id=user.id,
        entity_type="app_user",
        entity_id=user.id,
        detail={"email": email, "role": user.role, "via": "sso"},
    )
    return user


def record_failure(*, session: Session, err: SsoError, ip: str = "") -> None:
    """A refused sign-in's `auth.sso_failed` event (flagged when it smells of tampering), in
    the organisation's transaction of its own (the refused steps were rolled back)."""
    audit.record(
        session=session,
        action="auth.sso_failed",
        entity_type="sso_login",
        detail={"reason": err.reason},
        flagged=err.flagged,
        ip=ip,
    )


def config_input(form: dict[str, Any]) -> SsoConfigInput:
    """The settings form as validated input; SsoError with the first problem otherwise."""
    try:
        return SsoConfigInput.model_validate(form)
    except ValidationError as err:
        raise SsoError("config", validation_message(err, limit=1)) from None
