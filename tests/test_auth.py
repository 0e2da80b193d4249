"""Sign-in, per-request authentication and sign-out (pms_dashboard.auth.service)."""

from __future__ import annotations

import base64
import json
import statistics
import time
import uuid
from collections.abc import Callable

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import text

from pms_dashboard import keyring, models
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth import service, tokens
from pms_dashboard.auth.models import User
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.auth.service import SIGN_IN_FAILED, SignInError
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.session import owner_session
from tests.conftest import TEST_PASSWORD, TenantFixture

MakeTenant = Callable[..., TenantFixture]
TENANT_TABLES = tuple(m.__tablename__ for m in models.TENANT_MODELS)


def _email(t: TenantFixture, key: str = "manager") -> str:
    return f"{key}@{t.slug}.test"


def _sign_in(t: TenantFixture, key: str = "manager", **kw: str) -> service.SignedIn:
    args = {"slug": t.slug, "email": _email(t, key), "password": TEST_PASSWORD} | kw
    return auth_routes.sign_in_with_password(**args)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _flip(part: str, index: int) -> str:
    """`part` with one base64url character changed (to one with different high bits)."""
    c = part[index]
    replacement = "A" if c not in "ABCDEFGHabcdefgh" else "z"
    return part[:index] + replacement + part[index + 1 :]


def _claims_payload(token: str) -> dict:
    return json.loads(_unb64(token.split(".")[1]))


def _owner(sql: str, **params: object) -> list:
    with owner_session() as s:
        return list(s.execute(text(sql), params).all())


def _counts(tenant_id: uuid.UUID) -> dict[str, int]:
    return {
        t: _owner(f"SELECT count(*) FROM {t} WHERE tenant_id = :t", t=tenant_id)[0][0]
        for t in TENANT_TABLES
    }


# ------------------------------------------------------------------------- success


def test_sign_in_returns_a_token_that_authenticates_to_the_right_tenant(
    make_tenant: MakeTenant,
) -> None:
    a, b = make_tenant(), make_tenant()
    signed = _sign_in(a, ip="10.0.0.1", user_agent="pytest")
    assert signed.token.count(".") == 2
    assert signed.max_age > 0
    claims = tokens.verify(signed.token)
    assert claims is not None
    assert (claims.tenant_id, claims.user_id) == (a.id, a.user_id("manager"))

    principal = auth_routes.authenticate(signed.token)
    assert principal is not None
    assert principal == signed.principal
    assert (principal.tenant_id, principal.tenant_slug) == (a.id, a.slug)
    assert (principal.user_id, principal.email, principal.role) == (
        a.user_id("manager"),
        _email(a),
        "manager",
    )
    assert principal.context.tenant_id == a.id

    sessions = _owner(
        "SELECT tenant_id, user_id, ip, user_agent, revoked_at FROM auth_session WHERE id = :id",
        id=principal.session_id,
    )
    assert [tuple(r) for r in sessions] == [
        (a.id, a.user_id("manager"), "10.0.0.1", "pytest", None)
    ]
    assert _counts(b.id)["auth_session"] == 0
    events = _owner(
        "SELECT action, actor_id FROM audit_event WHERE tenant_id = :t AND action LIKE 'auth.%'",
        t=a.id,
    )
    assert [tuple(r) for r in events] == [("auth.sign_in", a.user_id("manager"))]


def test_slug_and_email_are_matched_case_insensitively(make_tenant: MakeTenant) -> None:
    a = make_tenant()
    signed = auth_routes.sign_in_with_password(
        slug=f" {a.slug.upper()} ", email=f"  {_email(a).upper()} ", password=TEST_PASSWORD
    )
    assert signed.principal.user_id == a.user_id("manager")


@pytest.mark.parametrize("token", [None, "", "not-a-token", "a.b.c", "x" * 5000])
def test_garbage_tokens_authenticate_to_nobody(token: str | None) -> None:
    assert auth_routes.authenticate(token) is None


# ---------------------------------------------------------------- forged tokens


def test_tampered_signature_is_rejected(make_tenant: MakeTenant) -> None:
    token = _sign_in(make_tenant()).token
    header, payload, signature = token.split(".")
    tampered = [f"{header}.{payload}.{_flip(signature, i)}" for i in (0, len(signature) // 2)]
    assert auth_routes.authenticate(token) is not None  # the original still works
    assert [auth_routes.authenticate(t) for t in tampered] == [None, None]


def test_tampered_payload_is_rejected(make_tenant: MakeTenant) -> None:
    a, b = make_tenant(), make_tenant()
    token = _sign_in(a, "emp1").token
    header, payload, signature = token.split(".")
    flipped = f"{header}.{_flip(payload, len(payload) // 2)}.{signature}"
    claims = _claims_payload(token)
    forged = [
        f"{header}.{_b64(json.dumps(claims | change).encode())}.{signature}"
        for change in (
            {"role": "tenant_admin"},
            {"tid": str(b.id)},
            {"sub": str(a.user_id("admin"))},
            {"exp": claims["exp"] + 3600},
        )
    ]
    assert auth_routes.authenticate(token) is not None
    assert [auth_routes.authenticate(t) for t in (flipped, *forged)] == [None] * 5


def test_expired_token_is_rejected(make_tenant: MakeTenant) -> None:
    signed = _sign_in(make_tenant())
    p = signed.principal

    def token(expires_at: int) -> str:
        return tokens.issue(
            tokens.TokenClaims(
                user_id=p.user_id,
                tenant_id=p.tenant_id,
                role=p.role,
                session_id=p.session_id,
                expires_at=expires_at,
            )
        )

    now = int(time.time())
    assert auth_routes.authenticate(token(now + 600)) is not None  # same claims, not expired
    assert auth_routes.authenticate(token(now - 60)) is None
    assert auth_routes.authenticate(token(now - 24 * 3600)) is None


def test_expired_server_side_session_is_rejected(make_tenant: MakeTenant) -> None:
    signed = _sign_in(make_tenant())
    assert auth_routes.authenticate(signed.token) is not None
    with owner_session() as s:
        s.execute(
            text("UPDATE auth_session SET expires_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": signed.principal.session_id},
        )
    assert auth_routes.authenticate(signed.token) is None


def test_token_signed_with_another_key_is_rejected(make_tenant: MakeTenant) -> None:
    token = _sign_in(make_tenant()).token
    claims = _claims_payload(token)
    current = keyring.signing_keys()[-1]
    header = {"alg": "HS256", "typ": "JWT", "kid": current.kid}  # the right key id, too
    other = OctKey.import_key(b"someone-elses-secret-key-0123456789abcdef")
    forged = jwt.encode(header, claims, other, algorithms=["HS256"])
    real_key = OctKey.import_key(current.key.encode())
    other_alg = jwt.encode(header | {"alg": "HS512"}, claims, real_key, algorithms=["HS512"])
    assert forged != token
    assert auth_routes.authenticate(token) is not None
    assert auth_routes.authenticate(forged) is None
    assert auth_routes.authenticate(other_alg) is None


def test_alg_none_token_is_rejected(make_tenant: MakeTenant) -> None:
    token = _sign_in(make_tenant()).token
    _header, payload, signature = token.split(".")
    none = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    variants = [f"{none}.{payload}.", f"{none}.{payload}", f"{none}.{payload}.{signature}"]
    assert auth_routes.authenticate(token) is not None
    assert [auth_routes.authenticate(v) for v in variants] == [None] * 3


def test_valid_signature_with_a_foreign_tenant_claim_finds_no_session(
    make_tenant: MakeTenant,
) -> None:
    """Even a correctly signed token naming tenant B cannot use tenant A's session row."""
    a, b = make_tenant(), make_tenant()
    p = _sign_in(a).principal
    cross = tokens.issue(
        tokens.TokenClaims(
            user_id=p.user_id,
            tenant_id=b.id,
            role=p.role,
            session_id=p.session_id,
            expires_at=int(time.time()) + 600,
        )
    )
    assert tokens.verify(cross) is not None
    assert auth_routes.authenticate(cross) is None


# ---------------------------------------------------------------- server-side state


def test_token_of_a_signed_out_session_is_rejected(make_tenant: MakeTenant) -> None:
    signed = _sign_in(make_tenant())
    assert auth_routes.authenticate(signed.token) is not None
    assert auth_routes.sign_out(signed.token) is True
    assert auth_routes.authenticate(signed.token) is None
    assert auth_routes.sign_out(signed.token) is False  # already revoked
    revoked = _owner(
        "SELECT revoked_at IS NOT NULL FROM auth_session WHERE id = :id",
        id=signed.principal.session_id,
    )
    assert revoked == [(True,)]


def test_sign_out_revokes_only_that_session(make_tenant: MakeTenant) -> None:
    a = make_tenant()
    first, second = _sign_in(a), _sign_in(a)
    assert auth_routes.sign_out(first.token) is True
    assert auth_routes.authenticate(first.token) is None
    assert auth_routes.authenticate(second.token) is not None


def test_token_of_a_deactivated_user_is_rejected(make_tenant: MakeTenant) -> None:
    a = make_tenant()
    signed = _sign_in(a, "emp1")
    assert auth_routes.authenticate(signed.token) is not None
    with owner_session() as s:
        s.execute(
            text("UPDATE app_user SET is_active = false WHERE id = :id"),
            {"id": a.user_id("emp1")},
        )
    assert auth_routes.authenticate(signed.token) is None
    with pytest.raises(SignInError) as err:
        _sign_in(a, "emp1")
    assert str(err.value) == SIGN_IN_FAILED


def test_token_of_a_deleted_user_is_rejected(make_tenant: MakeTenant) -> None:
    a = make_tenant()
    signed = _sign_in(a, "emp2")
    assert auth_routes.authenticate(signed.token) is not None
    with owner_session() as s:
        deleted = s.execute(
            text("DELETE FROM app_user WHERE tenant_id = :t AND id = :id"),
            {"t": a.id, "id": a.user_id("emp2")},
        ).rowcount
    assert deleted == 1
    assert auth_routes.authenticate(signed.token) is None


def test_role_comes_from_the_database_not_the_token(make_tenant: MakeTenant) -> None:
    a = make_tenant()
    signed = _sign_in(a, "admin")
    assert signed.principal.role == "tenant_admin"
    with owner_session() as s:
        s.execute(
            text("UPDATE app_user SET role = 'employee' WHERE id = :id"),
            {"id": a.user_id("admin")},
        )
    claims = tokens.verify(signed.token)
    assert claims is not None and claims.role == "tenant_admin"
    principal = auth_routes.authenticate(signed.token)
    assert principal is not None
    assert principal.role == "employee"
    assert principal.context.role == "employee"


# ----------------------------------------------------------------- failed sign-in


def _sign_in_error(**kw: str) -> str:
    with pytest.raises(SignInError) as err:
        auth_routes.sign_in_with_password(**kw)
    return str(err.value)


def test_every_sign_in_failure_has_the_same_message(make_tenant: MakeTenant) -> None:
    a = make_tenant()
    messages = {
        "wrong password": _sign_in_error(slug=a.slug, email=_email(a), password="wrong"),
        "unknown email": _sign_in_error(
            slug=a.slug, email=f"nobody@{a.slug}.test", password=TEST_PASSWORD
        ),
        "unknown tenant": _sign_in_error(
            slug=f"no-such-{uuid.uuid4().hex[:8]}", email=_email(a), password=TEST_PASSWORD
        ),
        "invalid slug": _sign_in_error(slug="NOT A SLUG!", email=_email(a), password="x"),
        "empty password": _sign_in_error(slug=a.slug, email=_email(a), password=""),
        "too long": _sign_in_error(slug=a.slug, email="a" * 400, password=TEST_PASSWORD),
    }
    assert messages == dict.fromkeys(messages, SIGN_IN_FAILED)


def test_wrong_password_and_unknown_email_take_similar_time(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = make_tenant()
    # six failures for one account and address: keep the throttle (tested on its own) out of
    # the timing
    monkeypatch.setattr(get_settings(), "signin_max_account_failures", 0)
    monkeypatch.setattr(get_settings(), "signin_pair_free_failures", 0)

    def timed(email: str, password: str) -> float:
        started = time.perf_counter()
        with pytest.raises(SignInError):
            auth_routes.sign_in_with_password(slug=a.slug, email=email, password=password)
        return time.perf_counter() - started

    timed(_email(a), "warm-up")
    wrong_password, unknown_email = [], []
    for _ in range(5):  # interleaved, so load on the machine hits both alike
        wrong_password.append(timed(_email(a), "wrong password"))
        unknown_email.append(timed(f"nobody@{a.slug}.test", TEST_PASSWORD))
    wp, ue = statistics.median(wrong_password), statistics.median(unknown_email)
    print(f"median sign-in: wrong password {wp * 1000:.0f} ms, unknown email {ue * 1000:.0f} ms")
    assert max(wp, ue) / min(wp, ue) < 2, (wrong_password, unknown_email)


def test_failed_sign_in_records_an_audit_event_and_changes_nothing_else(
    make_tenant: MakeTenant,
) -> None:
    a = make_tenant()
    before = _counts(a.id)
    users_before = _owner("SELECT * FROM app_user WHERE tenant_id = :t ORDER BY id", t=a.id)

    with pytest.raises(SignInError):
        auth_routes.sign_in_with_password(
            slug=a.slug, email=_email(a), password="wrong", ip="192.0.2.7"
        )
    with pytest.raises(SignInError):
        auth_routes.sign_in_with_password(slug=a.slug, email=f" Nobody@{a.slug}.test", password="x")

    after = _counts(a.id)
    assert {t: after[t] - before[t] for t in TENANT_TABLES} == {
        t: (2 if t == "audit_event" else 0) for t in TENANT_TABLES
    }
    assert _owner("SELECT * FROM app_user WHERE tenant_id = :t ORDER BY id", t=a.id) == (
        users_before
    )
    events = _owner(
        "SELECT action, actor_id, entity_type, ip, detail FROM audit_event"
        " WHERE tenant_id = :t AND action LIKE 'auth.%' ORDER BY occurred_at",
        t=a.id,
    )
    assert [tuple(e) for e in events] == [
        (
            "auth.sign_in_failed",
            a.user_id("manager"),
            "app_user",
            "192.0.2.7",
            {"email": _email(a)},
        ),
        ("auth.sign_in_failed", None, "app_user", "", {"email": f"nobody@{a.slug}.test"}),
    ]


def test_unknown_tenant_sign_in_writes_nothing(make_tenant: MakeTenant) -> None:
    a = make_tenant()
    total = "SELECT (SELECT count(*) FROM audit_event), (SELECT count(*) FROM auth_session)"
    before = _owner(total)
    assert _sign_in_error(slug="zz-unknown-org", email=_email(a), password=TEST_PASSWORD) == (
        SIGN_IN_FAILED
    )
    assert _owner(total) == before


def test_right_credentials_with_another_tenants_slug_fail(make_tenant: MakeTenant) -> None:
    a, b = make_tenant(), make_tenant()
    # b has no such user
    assert _sign_in_error(slug=b.slug, email=_email(a), password=TEST_PASSWORD) == SIGN_IN_FAILED
    # b has a user with the same email and another password
    with owner_session() as s:
        s.add(
            User(
                tenant_id=b.id,
                email=_email(a),
                display_name="Namesake",
                password_hash=hash_password("a different password"),
            )
        )
    assert _sign_in_error(slug=b.slug, email=_email(a), password=TEST_PASSWORD) == SIGN_IN_FAILED
    assert _counts(b.id)["auth_session"] == 0
    # ...and the same credentials still work in their own tenant
    assert _sign_in(a).principal.tenant_id == a.id
    namesake = auth_routes.sign_in_with_password(
        slug=b.slug, email=_email(a), password="a different password"
    )
    assert (namesake.principal.tenant_id, namesake.principal.display_name) == (b.id, "Namesake")
