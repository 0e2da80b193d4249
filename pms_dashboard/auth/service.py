"""Sign-in, per-request authentication and sign-out for local accounts.

A principal is re-derived from the session cookie on every request and every Reflex event:
the token's signature and expiry are checked, then its session row must exist, be
unrevoked and unexpired, and its user must still be active in that tenant. The role used for
permission checks is the one in the database now, not the one in the token.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.auth import tokens
from pms_dashboard.auth.models import AuthSession
from pms_dashboard.auth.passwords import hash_password, needs_rehash, verify_password
from pms_dashboard.people import service as people
from pms_dashboard.people.models import User
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant, utcnow
from pms_dashboard.tenancy.registry import resolve_slug
from pms_dashboard.tenancy.session import contextless_session, tenant_session

# One message for every sign-in failure: it must not tell which part was wrong.
SIGN_IN_FAILED = "Sign-in failed. Check your organisation, email and password."
MAX_FIELD = 320


class SignInError(Exception):
    """Sign-in refused; `str(err)` is safe to show."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user of one request."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    email: str
    display_name: str
    tenant_name: str
    tenant_slug: str

    @property
    def context(self) -> TenantContext:
        return TenantContext(tenant_id=self.tenant_id, user_id=self.user_id, role=self.role)


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    max_age: int
    principal: Principal


def sign_in(
    *, slug: str, email: str, password: str, ip: str = "", user_agent: str = ""
) -> SignedIn:
    """Check the credentials and open a server-side session; raise SignInError otherwise."""
    if not slug or not email or not password or max(map(len, (slug, email, password))) > MAX_FIELD:
        verify_password(None, password[:MAX_FIELD])  # same cost as a real attempt
        raise SignInError(SIGN_IN_FAILED)
    with contextless_session() as s:
        tenant_id = resolve_slug(session=s, slug=slug)
    if tenant_id is None:
        verify_password(None, password)
        raise SignInError(SIGN_IN_FAILED)

    with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
        user = people.find_user_by_email(session=s, email=email)
        usable = user is not None and user.is_active
        ok = verify_password(user.password_hash if user and usable else None, password)
        if not ok or user is None:
            audit.record(
                session=s,
                action="auth.sign_in_failed",
                actor_id=user.id if user else None,
                entity_type="app_user",
                entity_id=user.id if user else None,
                detail={"email": people.normalize_email(email)[:MAX_FIELD]},
                ip=ip,
            )
            failed = True
        else:
            failed = False
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            signed = open_session(
                session=s, user=user, method="password", ip=ip, user_agent=user_agent
            )
    if failed:  # raised after the failure's audit event has been committed
        raise SignInError(SIGN_IN_FAILED)
    return signed


def open_session(
    *, session: Session, user: User, method: str, ip: str = "", user_agent: str = ""
) -> SignedIn:
    """A new server-side session and its token for a user whose identity has been proven
    (password, or single sign-on), with its `auth.sign_in` audit event, in the caller's
    tenant transaction."""
    hours = get_settings().session_hours
    auth_session = AuthSession(
        user_id=user.id,
        expires_at=utcnow() + timedelta(hours=hours),
        user_agent=user_agent[:300],
        ip=ip[:64],
    )
    session.add(auth_session)
    session.flush()
    audit.record(
        session=session,
        action="auth.sign_in",
        actor_id=user.id,
        entity_type="auth_session",
        entity_id=auth_session.id,
        detail={"method": method},
        ip=ip,
    )
    assert user.tenant_id is not None
    tenant = session.get_one(Tenant, user.tenant_id)
    principal = Principal(
        tenant_id=user.tenant_id,
        user_id=user.id,
        session_id=auth_session.id,
        role=user.role,
        email=user.email,
        display_name=user.display_name,
        tenant_name=tenant.name,
        tenant_slug=tenant.slug,
    )
    max_age = int(hours * 3600)
    token = tokens.issue(
        tokens.TokenClaims(
            user_id=principal.user_id,
            tenant_id=principal.tenant_id,
            role=principal.role,
            session_id=principal.session_id,
            expires_at=int(time.time()) + max_age,
        )
    )
    return SignedIn(token=token, max_age=max_age, principal=principal)


def authenticate(token: str | None) -> Principal | None:
    """The principal of a session token, or None if it is invalid, expired or revoked."""
    claims = tokens.verify(token or "")
    if claims is None:
        return None
    ctx = TenantContext(tenant_id=claims.tenant_id, user_id=claims.user_id)
    with tenant_session(ctx) as s:
        row = s.execute(
            select(User, col(Tenant.name), col(Tenant.slug))
            .join(AuthSession, col(AuthSession.user_id) == User.id)
            .join(Tenant, col(Tenant.id) == User.tenant_id)
            .where(
                col(AuthSession.id) == claims.session_id,
                col(AuthSession.user_id) == claims.user_id,
                col(AuthSession.revoked_at).is_(None),
                col(AuthSession.expires_at) > func.now(),
                col(User.is_active).is_(True),
            )
        ).first()
    if row is None:
        return None
    user, tenant_name, tenant_slug = row
    return Principal(
        tenant_id=claims.tenant_id,
        user_id=user.id,
        session_id=claims.session_id,
        role=user.role,
        email=user.email,
        display_name=user.display_name,
        tenant_name=tenant_name,
        tenant_slug=tenant_slug,
    )


def sign_out(token: str | None, *, ip: str = "") -> bool:
    """Revoke the token's session server-side; True if a live session was revoked."""
    claims = tokens.verify(token or "")
    if claims is None:
        return False
    ctx = TenantContext(tenant_id=claims.tenant_id, user_id=claims.user_id)
    with tenant_session(ctx) as s:
        result = s.execute(
            update(AuthSession)
            .where(
                col(AuthSession.id) == claims.session_id,
                col(AuthSession.user_id) == claims.user_id,
                col(AuthSession.revoked_at).is_(None),
            )
            .values(revoked_at=func.now())
        )
        assert isinstance(result, CursorResult)
        revoked = result.rowcount
        if revoked:
            audit.record(
                session=s,
                action="auth.sign_out",
                actor_id=claims.user_id,
                entity_type="auth_session",
                entity_id=claims.session_id,
                ip=ip,
            )
    return bool(revoked)
