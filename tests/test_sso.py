"""Single sign-on against a real OpenID Connect provider on loopback: the full code + PKCE
flow through our routes, every refusal (each with its message, nothing signed in, nothing
created), and the guarantee that a person found in one tenant never signs in to another."""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import func, select
from sqlmodel import col
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pms_dashboard import crypto
from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.audit.sessions import session_ref
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth import service as auth
from pms_dashboard.auth.cookies import SESSION_COOKIE
from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.sso import domains as sso_domains
from pms_dashboard.sso import service as sso
from pms_dashboard.sso.models import SsoConfig
from pms_dashboard.sso.routes import STATE_COOKIE, routes
from pms_dashboard.sso.schemas import MESSAGES, SsoError
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import catalog_session, owner_session, tenant_session
from tests.conftest import TenantFixture
from tests.oidc_provider import Provider, running_provider

ORIGIN = "http://localhost:3000"
CLIENT_ID = "pms-dashboard"
SECRET = "a client secret from the provider"
MINIMAL = {"client_id": "x", "allowed_domains": "a.test"}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as p:
        yield p


def _admin(t: TenantFixture) -> TenantContext:
    return TenantContext(tenant_id=t.id, user_id=t.user_id("admin"), role="tenant_admin")


def _configure(
    t: TenantFixture, provider: Provider, *domains: str, publish: bool = True, **extra
) -> None:
    """Save the settings with the domains verified (their DNS proof is test_sso_domains'
    subject), then publish them to the catalog as the settings page does."""
    data = sso.config_input(
        {"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": SECRET,
         "allowed_domains": ", ".join(domains or (f"{t.slug}.test",))} | extra
    )  # fmt: skip
    with tenant_session(_admin(t)) as s:
        sso.save_config(session=s, actor=_admin(t), data=data)
        sso_domains.mark_verified(session=s, actor=_admin(t), domains=list(data.allowed_domains))
        published = sso_domains.published_domains(session=s)
    if publish:
        with catalog_session(_admin(t)) as s:
            sso_domains.publish(session=s, domains=published)


@pytest.fixture
def acme(make_tenant: Callable[..., TenantFixture], provider: Provider) -> TenantFixture:
    t = make_tenant()
    _configure(t, provider)
    return t


def _client() -> TestClient:
    return TestClient(
        Starlette(routes=routes), base_url="http://testserver", follow_redirects=False
    )


def _start(client: TestClient, email: str, organisation: str = "") -> str:
    response = client.post(
        "/api/sso/start", data={"email": email, "organisation": organisation},
        headers={"origin": ORIGIN},
    )  # fmt: skip
    # a page that moves on by itself (CSP form-action would stop a redirect to the provider)
    assert response.status_code == 200, response.text
    target = re.search(r'url=([^"]+)"', response.text)
    assert target is not None and "no-store" in response.headers["cache-control"]
    return html.unescape(target.group(1))


def _callback_path(location: str) -> str:
    parts = urlsplit(location)
    assert parts.netloc == "testserver", location
    return f"{parts.path}?{parts.query}"


def _reason(response) -> str:
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["sso"]
    return query["reason"][0]


def _sign_in(provider: Provider, login: str, *, organisation: str = "", **claims):
    """The whole flow as a browser walks it: our start, the provider's form, our callback
    (`login` is what the person types; `claims` override what the provider asserts)."""
    client = _client()
    asserted = {"email": login, "email_verified": True, "name": "Ann Example"} | claims
    provider.set_user(login, **asserted)
    to_provider = _start(client, login, organisation)
    back = provider.authorize(to_provider, login)
    return client, back, client.get(_callback_path(back))


def _sessions(t: TenantFixture) -> int:
    with owner_session() as s:
        return s.scalar(select(func.count()).select_from(auth.AuthSession).where(
            col(auth.AuthSession.tenant_id) == t.id)) or 0  # fmt: skip


def _people(t: TenantFixture) -> set[str]:
    with owner_session() as s:
        return set(s.scalars(select(User.email).where(col(User.tenant_id) == t.id)))


def _failures(t: TenantFixture) -> list[tuple[str, bool]]:
    with tenant_session(_admin(t)) as s:
        return [
            (e.detail["reason"], e.flagged)
            for e in s.scalars(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "auth.sso_failed")
                .order_by(col(AuditEvent.seq))
            )
        ]


# ----------------------------------------------------------------------------- the flow


def test_code_pkce_sign_in_lands_on_the_overview_of_the_right_tenant(acme, provider) -> None:
    client = _client()
    email = f"manager@{acme.slug}.test"
    provider.set_user(email, email=email, email_verified=True)
    to_provider = _start(client, email)  # no organisation: the email's domain finds it
    query = parse_qs(urlsplit(to_provider).query)
    assert to_provider.startswith(f"{provider.issuer}/oauth2/authorize?")
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["nonce"][0] and query["state"][0] == client.cookies.get(STATE_COOKIE)
    assert query["redirect_uri"] == [f"http://testserver/api/sso/{acme.slug}/callback"]
    done = client.get(_callback_path(provider.authorize(to_provider, email)))
    assert done.status_code == 303 and done.headers["location"].endswith("/overview")
    token = done.cookies.get(SESSION_COOKIE) or client.cookies.get(SESSION_COOKIE)
    who = auth_routes.authenticate(token)
    assert who is not None and who.tenant_slug == acme.slug and who.email == email
    assert "HttpOnly" in done.headers["set-cookie"]
    with tenant_session(_admin(acme)) as s:
        event = s.scalars(select(AuditEvent).where(col(AuditEvent.action) == "auth.sign_in")
                          .order_by(col(AuditEvent.seq).desc())).first()  # fmt: skip
    assert event is not None and event.entity_id is None  # never the session's id
    assert event.detail == {"method": "sso", "session_ref": session_ref(who.session_id)}


def test_a_replayed_callback_is_refused_and_flagged(acme, provider) -> None:
    client, back, first = _sign_in(provider, f"manager@{acme.slug}.test")
    assert first.headers["location"].endswith("/overview")
    sessions = _sessions(acme)
    assert _reason(client.get(_callback_path(back))) == "state_mismatch"  # its cookie is gone
    # even with the state cookie put back (a copied browser), the used state is refused
    client.cookies.set(STATE_COOKIE, parse_qs(urlsplit(back).query)["state"][0])
    again = client.get(_callback_path(back))
    assert _reason(again) == "state_replayed"
    assert _sessions(acme) == sessions
    assert ("state_replayed", True) in _failures(acme)


def test_a_callback_in_another_browser_is_refused(acme, provider) -> None:
    email = f"manager@{acme.slug}.test"
    provider.set_user(email, email=email)
    back = provider.authorize(_start(_client(), email), email)
    assert _reason(_client().get(_callback_path(back))) == "state_mismatch"  # no state cookie
    assert _sessions(acme) == 0


def test_domain_rules(acme, provider, make_tenant) -> None:
    client = _client()
    outsider = client.post("/api/sso/start", data={"email": "x@elsewhere.example"},
                           headers={"origin": ORIGIN})  # fmt: skip
    assert _reason(outsider) == "no_domain_match"
    named = client.post("/api/sso/start",
                        data={"email": "x@elsewhere.example", "organisation": acme.slug},
                        headers={"origin": ORIGIN})  # fmt: skip
    assert _reason(named) == "domain_not_allowed"
    twin = make_tenant()  # a second organisation cannot route Acme's domain to itself
    with pytest.raises(SsoError) as claimed:
        _configure(twin, provider, f"{acme.slug}.test")
    assert claimed.value.reason == "domain_claimed"
    assert _start(client, f"a@{acme.slug}.test").startswith(provider.issuer)  # still Acme's
    assert _start(client, f"a@{acme.slug}.test", organisation=twin.slug).startswith(provider.issuer)
    # the provider asserting an email outside the allowed domains is refused at the end too
    _, _, done = _sign_in(provider, f"manager@{acme.slug}.test", organisation=acme.slug,
                          email="mallory@elsewhere.example")  # fmt: skip
    assert _reason(done) == "domain_not_allowed" and _sessions(acme) == 0


def test_the_provider_cannot_move_a_person_to_another_tenant(acme, provider, make_tenant) -> None:
    globex = make_tenant()
    # Globex accepts Acme's domain too (its own settings say so; the catalog routes it to Acme)
    _configure(globex, provider, f"{acme.slug}.test", publish=False)
    email = f"manager@{acme.slug}.test"  # a person of Acme only
    _, _, done = _sign_in(provider, email, organisation=globex.slug)
    assert _reason(done) == "no_account"  # looked up in Globex's session: Acme's row is invisible
    assert email not in _people(globex) and _sessions(globex) == 0 and _sessions(acme) == 0
    _, _, claimed = _sign_in(provider, email, organisation=acme.slug, tenant=globex.slug)
    assert _reason(claimed) == "tenant_mismatch" and _sessions(acme) == 0
    assert ("tenant_mismatch", True) in _failures(acme)


def test_just_in_time_provisioning_creates_a_person_of_this_tenant_only(
    acme, provider, make_tenant
) -> None:
    _configure(acme, provider, provision_users=True, default_role="employee")
    email = f"newcomer@{acme.slug}.test"
    _, _, done = _sign_in(provider, email)
    assert done.headers["location"].endswith("/overview")
    with owner_session() as s:
        user = s.scalars(select(User).where(col(User.email) == email)).one()
    assert user.tenant_id == acme.id and user.role == "employee" and user.password_hash is None
    assert user.display_name == "Ann Example"


def test_unverified_email_inactive_person_and_provider_denial(acme, provider) -> None:
    email = f"emp1@{acme.slug}.test"
    _, _, done = _sign_in(provider, email, email_verified=False)
    assert _reason(done) == "email_unverified"
    with owner_session() as s:
        s.execute(
            User.__table__.update().where(User.__table__.c.email == email).values(is_active=False)
        )
    _, _, done = _sign_in(provider, email)
    assert _reason(done) == "inactive"
    client = _client()
    to_provider = _start(client, email)
    state = parse_qs(urlsplit(to_provider).query)["state"][0]
    denied = client.get(f"/api/sso/{acme.slug}/callback?error=access_denied&state={state}")
    assert _reason(denied) == "provider_error"
    assert _sessions(acme) == 0


def test_every_reason_has_a_clear_message() -> None:
    for reason, message in MESSAGES.items():
        assert message.endswith(".") and len(message) > 20, reason
    assert str(SsoError("nope")) == MESSAGES["failed"]


# ----------------------------------------------------------------- the ID token itself


@pytest.fixture
def check(provider: Provider):
    keys = sso.provider_keys(sso.discover(provider.issuer))

    def run(token: str, nonce: str = "n-123") -> dict:
        return sso.validate_id_token(token, keys=keys, issuer=provider.issuer,
                                     client_id=CLIENT_ID, nonce=nonce)  # fmt: skip

    return run


def _refused(check, token: str, reason: str) -> None:
    with pytest.raises(SsoError) as err:
        check(token)
    assert err.value.reason == reason
    assert str(err.value) == MESSAGES[reason]


def test_a_token_signed_by_the_provider_for_us_passes(check, provider) -> None:
    claims = check(provider.sign(provider.claims(aud=CLIENT_ID, nonce="n-123")))
    assert claims["iss"] == provider.issuer and claims["nonce"] == "n-123"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"iss": "http://localhost:1/evil"}, "wrong_issuer"),
        ({"aud": "another-app"}, "wrong_audience"),
        ({"aud": [CLIENT_ID, "another-app"], "azp": "another-app"}, "wrong_audience"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"nonce": "n-of-another-sign-in"}, "nonce_mismatch"),
    ],
)
def test_wrong_claims_are_refused(check, provider, change, reason) -> None:
    _refused(check, provider.sign(provider.claims(aud=CLIENT_ID, nonce="n-123") | change), reason)


def test_missing_nonce_bad_signature_alg_none_and_hmac_are_refused(check, provider) -> None:
    _refused(check, provider.sign(provider.claims(aud=CLIENT_ID, nonce=None)), "nonce_missing")
    good = provider.sign(provider.claims(aud=CLIENT_ID, nonce="n-123"))
    head, _, signature = good.split(".")
    forged_body = provider.sign(provider.claims(aud=CLIENT_ID, nonce="n-123", sub="admin"))
    _refused(check, f"{head}.{forged_body.split('.')[1]}.{signature}", "bad_signature")
    stranger = RSAKey.generate_key(2048, parameters={"kid": provider.signing_key().kid})
    _refused(check, provider.sign(provider.claims(aud=CLIENT_ID, nonce="n-123"), key=stranger),
             "bad_signature")  # fmt: skip
    import base64
    import json

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none'})}.{b64(provider.claims(aud=CLIENT_ID, nonce='n-123'))}."
    _refused(check, unsigned, "alg_not_allowed")
    from joserfc.jwk import OctKey

    hmac_token = provider.sign(provider.claims(aud=CLIENT_ID, nonce="n-123"), alg="HS256",
                               key=OctKey.import_key(SECRET.encode()))  # fmt: skip
    _refused(check, hmac_token, "alg_not_allowed")
    _refused(check, "not.a.token", "bad_token")


# --------------------------------------------------------------------------- settings


def test_settings_are_for_tenant_admins_and_the_secret_never_comes_back(acme, provider) -> None:
    view_ctx = _admin(acme)
    with tenant_session(view_ctx) as s:
        view = sso.get_config(session=s, actor=view_ctx, redirect_uri="http://x/cb")
    assert view.has_secret and view.client_id == CLIENT_ID and SECRET not in repr(view)
    with owner_session() as s:
        stored = s.scalars(select(SsoConfig).where(col(SsoConfig.tenant_id) == acme.id)).one()
    assert SECRET not in stored.client_secret
    assert crypto.decrypt(sso.SECRET_PURPOSE, stored.client_secret) == SECRET
    # a blank secret keeps the stored one
    _configure(acme, provider, client_secret="")
    with owner_session() as s:
        again = s.scalars(select(SsoConfig).where(col(SsoConfig.tenant_id) == acme.id)).one()
    assert crypto.decrypt(sso.SECRET_PURPOSE, again.client_secret) == SECRET
    manager = TenantContext(tenant_id=acme.id, user_id=acme.user_id("manager"), role="manager")
    with pytest.raises(PermissionDenied), tenant_session(manager) as s:
        sso.save_config(session=s, actor=manager, data=sso.config_input(MINIMAL | {
            "issuer": provider.issuer}))  # fmt: skip
    with tenant_session(_admin(acme)) as s:
        events = [e.detail for e in s.scalars(
            select(AuditEvent).where(col(AuditEvent.action).like("sso.config_%")))]  # fmt: skip
    assert events and all(SECRET not in str(d) for d in events)


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"issuer": "ftp://idp.example"}, "https"),
        ({"issuer": "http://idp.example"}, "https"),
        ({"allowed_domains": "not a domain!"}, "email domain"),
        ({"allowed_domains": ""}, "at least one"),
        ({"default_role": "tenant_admin"}, "default role"),
        ({"client_id": ""}, "client id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_settings_get_a_clear_message_and_change_nothing(acme, provider, form, words) -> None:
    base = {"issuer": provider.issuer, "client_id": "new-id", "allowed_domains": "b.test"}
    with pytest.raises(SsoError) as err:
        sso.config_input(base | form)
    assert words.lower() in str(err.value).lower()
    with owner_session() as s:
        stored = s.scalars(select(SsoConfig).where(col(SsoConfig.tenant_id) == acme.id)).one()
    assert stored.client_id == CLIENT_ID


def test_a_first_configuration_needs_a_secret(make_tenant, provider) -> None:
    t = make_tenant()
    with pytest.raises(SsoError, match="client secret"), tenant_session(_admin(t)) as s:
        sso.save_config(session=s, actor=_admin(t), data=sso.config_input(MINIMAL | {
            "issuer": provider.issuer}))  # fmt: skip


def test_the_app_role_reads_only_its_own_tenants_configuration(acme, make_tenant) -> None:
    other = make_tenant()
    with tenant_session(TenantContext(tenant_id=other.id)) as s:
        assert s.scalars(select(SsoConfig)).all() == []
    assert uuid.UUID(str(acme.id))


def test_sign_ins_older_than_a_day_are_pruned_and_late_callbacks_refused(acme, provider) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from pms_dashboard.sso.models import SsoLogin

    client = _client()
    email = f"manager@{acme.slug}.test"
    provider.set_user(email, email=email)
    to_provider = _start(client, email)
    back = provider.authorize(to_provider, email)
    with owner_session() as s:  # the person took 11 minutes at the provider
        s.execute(update(SsoLogin).where(col(SsoLogin.tenant_id) == acme.id)
                  .values(created_at=datetime.now(UTC) - timedelta(minutes=11)))  # fmt: skip
    assert _reason(client.get(_callback_path(back))) == "state_expired"
    with owner_session() as s:
        s.execute(update(SsoLogin).where(col(SsoLogin.tenant_id) == acme.id)
                  .values(created_at=datetime.now(UTC) - timedelta(days=2)))  # fmt: skip
    _start(_client(), email)
    with owner_session() as s:
        ages = list(
            s.scalars(select(SsoLogin.created_at).where(col(SsoLogin.tenant_id) == acme.id))
        )
    assert len(ages) == 1 and ages[0] > datetime.now(UTC) - timedelta(minutes=1)


def test_an_sso_sign_in_rotates_the_session_the_browser_held(acme, provider) -> None:
    client = _client()
    email = f"manager@{acme.slug}.test"
    old = auth_routes.sign_in_with_password(
        slug=acme.slug, email=email, password="correct horse battery staple"
    )
    client.cookies.set(SESSION_COOKIE, old.token)
    provider.set_user(email, email=email)
    back = provider.authorize(_start(client, email), email)
    done = client.get(_callback_path(back))
    assert done.headers["location"].endswith("/overview")
    assert auth_routes.authenticate(old.token) is None  # the old session ended as the new one began
    assert auth_routes.authenticate(done.cookies.get(SESSION_COOKIE)) is not None
