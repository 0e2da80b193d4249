"""Sign-in, per-request authentication and sign-out for local accounts (and, through
`open_session`, for single sign-on).

A principal is re-derived from the session cookie on every request and every Reflex event:
the token's signature and expiry are checked, then its session row must exist, be
unrevoked, within its absolute lifetime and not idle, and its user must still be active in
that tenant. The role used for permission checks is the one in the database now, not the
one in the token.

Session lifecycle (every step an audit event in the tenant's chain, which names sessions
by their `session_ref`, never by their id: see audit.sessions):
- opened by `open_session` (`auth.sign_in`); a sign-in from a browser that still carries a
  session cookie revokes that session in the same transaction (`auth.session_rotated`), so
  a session id planted in a browser before sign-in never becomes a signed-in session;
- idle: unused for `PMS_SESSION_IDLE_MINUTES` -> revoked at its next request
  (`auth.session_idle`); `last_seen_at` is refreshed at most once a minute per session;
- absolute: `PMS_SESSION_HOURS` after it was opened (`expires_at`, and `created_at` against
  the current setting), whatever the activity;
- ended by `sign_out` (`auth.sign_out`) or `sign_out_everywhere`
  (`auth.sign_out_everywhere`, every session of the user).

Password sign-in is throttled per account and address pair (growing delays), per address
and, with a high hard limit, per account (`auth.throttle`); a refused attempt never reaches
the password check and is audited as `auth.throttled` (flagged, and logged as a warning,
when an account's or an address's limit is reached).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.audit.sessions import SESSION_ENTITY, session_ref
from pms_dashboard.auth import throttle, tokens
from pms_dashboard.auth.models import AuthSession, RevokeReason, User, normalize_email
from pms_dashboard.auth.passwords import hash_password, needs_rehash, verify_password
from pms_dashboard.errors import UserError
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant, utcnow
from pms_dashboard.tenancy.registry import resolve_slug
from pms_dashboard.tenancy.session import contextless_session, tenant_session

logger = logging.getLogger(__name__)

# One message for every sign-in failure: it must not tell which part was wrong.
SIGN_IN_FAILED = "Sign-in failed. Check your organisation, email and password."
MAX_FIELD = 320
# `last_seen_at` is written at most this often per session (authenticate runs on every
# Reflex event); the idle timeout is therefore precise to about this much.
LAST_SEEN_EVERY = timedelta(minutes=1)

# The audit action of each way a session ends early.
REVOKE_ACTIONS = {
    RevokeReason.sign_out: "auth.sign_out",
    RevokeReason.sign_out_everywhere: "auth.sign_out_everywhere",
    RevokeReason.idle: "auth.session_idle",
    RevokeReason.rotated: "auth.session_rotated",
}


class SignInError(UserError):
    """Sign-in refused; `str(err)` is safe to show."""


class SignInThrottled(throttle.Throttled, SignInError):
    """Too many recent failures for this account, address or pair; the password was not
    checked."""


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


def find_user_by_email(*, session: Session, email: str) -> User | None:
    """The tenant's user with this email, active or not (RLS + ORM scope to the tenant)."""
    return session.scalars(select(User).where(col(User.email) == normalize_email(email))).first()


# --------------------------------------------------------------------------- sign-in


def sign_in(
    *,
    slug: str,
    email: str,
    password: str,
    ip: str = "",
    user_agent: str = "",
    replaces: str | None = None,
) -> SignedIn:
    """Check the credentials and open a server-side session; raise SignInError otherwise
    (SignInThrottled, before any password check, when the throttle refuses the attempt).

    `replaces`: the session token the browser still carries, if any; that session is
    revoked (rotated) in the transaction that opens the new one. `ip` "" (no network peer:
    CLI, tests) is not throttled per address."""
    well_formed = bool(slug and email and password) and (
        max(map(len, (slug, email, password))) <= MAX_FIELD
    )
    account = throttle.account_key(slug[:MAX_FIELD], email[:MAX_FIELD])
    with contextless_session() as s:
        tenant_id = resolve_slug(session=s, slug=slug) if well_formed else None
        attempt = throttle.begin(session=s, account=account, ip=ip)
    if attempt.throttled:
        _refuse_throttled(attempt, tenant_id=tenant_id, email=email, ip=ip)
    if tenant_id is None:
        verify_password(None, password[:MAX_FIELD])  # same cost as a real attempt
        with contextless_session() as s:
            throttle.end(session=s, attempt=attempt, success=False)
        raise SignInError(SIGN_IN_FAILED)

    with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
        user = find_user_by_email(session=s, email=email)
        usable = user is not None and user.is_active
        ok = verify_password(user.password_hash if user and usable else None, password)
        if not ok or user is None:
            audit.record(
                session=s,
                action="auth.sign_in_failed",
                actor_id=user.id if user else None,
                entity_type="app_user",
                entity_id=user.id if user else None,
                detail={"email": normalize_email(email)[:MAX_FIELD]},
                ip=ip,
            )
            failed = True
        else:
            failed = False
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            signed = open_session(
                session=s,
                user=user,
                method="password",
                ip=ip,
                user_agent=user_agent,
                replaces=replaces,
            )
        throttle.end(session=s, attempt=attempt, success=not failed)
    if failed:  # raised after the failure's audit event has been committed
        raise SignInError(SIGN_IN_FAILED)
    return signed


def reserve_attempt(
    *, ip: str, tenant_id: uuid.UUID | None = None, slug: str = "", email: str = ""
) -> throttle.Attempt:
    """For sign-in paths other than the password form (single sign-on): check the throttle
    for the address (and the account, when `slug` and `email` are given) and reserve the
    attempt, or raise SignInThrottled (audited in `tenant_id`'s chain when given). Settle it
    with `throttle.end(session=..., attempt=..., success=...)` in the transaction that
    opens the session (or records the failure)."""
    account = throttle.account_key(slug, email) if slug and email else None
    with contextless_session() as s:
        attempt = throttle.begin(session=s, account=account, ip=ip)
    if attempt.throttled:
        _refuse_throttled(attempt, tenant_id=tenant_id, email=email, ip=ip)
    return attempt


def _refuse_throttled(
    attempt: throttle.Attempt, *, tenant_id: uuid.UUID | None, email: str, ip: str
) -> None:
    """Audit the refusal in the tenant's chain (the first refusal within a minute per limit,
    so a flood of refused requests cannot flood the trail), log a warning when an account's
    hard limit or an address's limit was reached, and raise. Flagged unless only the pair
    is slowed down (an attacker's pace, or an owner's typos: the failures are audited)."""
    if not attempt.first_refusal:
        raise SignInThrottled(attempt.retry_after)
    limits = set(attempt.scope.split(","))
    user_id: uuid.UUID | None = None
    if tenant_id is not None:
        with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
            user = find_user_by_email(session=s, email=email[:MAX_FIELD]) if email else None
            user_id = user.id if user else None
            audit.record(
                session=s,
                action="auth.throttled",
                actor_id=user_id,
                entity_type="app_user",
                entity_id=user_id,
                detail={
                    "email": normalize_email(email)[:MAX_FIELD],
                    "scope": attempt.scope,
                    "retry_after_minutes": attempt.retry_minutes,
                    "retry_after_seconds": attempt.retry_after,
                },
                flagged=limits != {"pair"},
                ip=ip,
            )
    if limits & {"account", "address"}:
        logger.warning(
            "sign-in throttled by the %s limit: tenant %s, user %s, address %s; retry in %d s",
            attempt.scope,
            tenant_id or "unknown",
            user_id or "unknown",
            ip or "none",
            attempt.retry_after,
        )
    raise SignInThrottled(attempt.retry_after)


def open_session(
    *,
    session: Session,
    user: User,
    method: str,
    ip: str = "",
    user_agent: str = "",
    replaces: str | None = None,
) -> SignedIn:
    """A new server-side session and its token for a user whose identity has been proven
    (password, or single sign-on), with its `auth.sign_in` audit event, in the caller's
    tenant transaction.

    `replaces` is the session token the browser presented with the sign-in request (its
    current cookie), if any: that session is revoked (reason "rotated") in this same
    transaction when it is in this tenant, or in its own tenant's transaction otherwise.
    The caller then sets the new token as the cookie (`auth.http.set_session_cookie`)."""
    hours = get_settings().session_hours
    auth_session = AuthSession(
        user_id=user.id,
        expires_at=utcnow() + timedelta(hours=hours),
        user_agent=user_agent[:300],
        ip=ip[:64],
    )
    session.add(auth_session)
    session.flush()
    assert user.tenant_id is not None
    rotated = _rotate(
        session=session,
        old_token=replaces,
        tenant_id=user.tenant_id,
        new_session_id=auth_session.id,
        ip=ip,
    )
    audit.record(
        session=session,
        action="auth.sign_in",
        actor_id=user.id,
        entity_type=SESSION_ENTITY,
        detail={"method": method, "session_ref": session_ref(auth_session.id)}
        | ({"replaces": session_ref(rotated)} if rotated else {}),
        ip=ip,
    )
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


def _rotate(
    *,
    session: Session,
    old_token: str | None,
    tenant_id: uuid.UUID,
    new_session_id: uuid.UUID,
    ip: str,
) -> uuid.UUID | None:
    """Revoke the session of the token a browser carried into a new sign-in; its id if a
    live session was revoked."""
    claims = tokens.verify(old_token or "")
    if claims is None:
        return None
    detail = {"replaced_by": session_ref(new_session_id)}
    if claims.tenant_id == tenant_id:
        revoked = _revoke(
            session,
            session_id=claims.session_id,
            user_id=claims.user_id,
            reason=RevokeReason.rotated,
            ip=ip,
            detail=detail,
        )
    else:  # the browser was signed in to another organisation: end that session there
        ctx = TenantContext(tenant_id=claims.tenant_id, user_id=claims.user_id)
        with tenant_session(ctx) as other:
            revoked = _revoke(
                other,
                session_id=claims.session_id,
                user_id=claims.user_id,
                reason=RevokeReason.rotated,
                ip=ip,
                detail=detail,
            )
    return claims.session_id if revoked else None


# ------------------------------------------------------------------ each request


def authenticate(token: str | None, *, ip: str = "") -> Principal | None:
    """The principal of a session token, or None if it is invalid, expired, idle (then the
    session is revoked) or revoked. Refreshes the session's `last_seen_at` at most once a
    minute."""
    claims = tokens.verify(token or "")
    if claims is None:
        return None
    settings = get_settings()
    idle_since = func.now() - timedelta(minutes=settings.session_idle_minutes)
    ctx = TenantContext(tenant_id=claims.tenant_id, user_id=claims.user_id)
    with tenant_session(ctx) as s:
        row = s.execute(
            select(
                User,
                col(Tenant.name),
                col(Tenant.slug),
                (col(AuthSession.last_seen_at) < idle_since).label("idle"),
                (col(AuthSession.last_seen_at) < func.now() - LAST_SEEN_EVERY).label("stale"),
            )
            .join(AuthSession, col(AuthSession.user_id) == User.id)
            .join(Tenant, col(Tenant.id) == User.tenant_id)
            .where(
                col(AuthSession.id) == claims.session_id,
                col(AuthSession.user_id) == claims.user_id,
                col(AuthSession.revoked_at).is_(None),
                col(AuthSession.expires_at) > func.now(),
                col(AuthSession.created_at) > func.now() - timedelta(hours=settings.session_hours),
                col(User.is_active).is_(True),
            )
        ).first()
        if row is None:
            return None
        user, tenant_name, tenant_slug, idle, stale = row
        if idle:
            _revoke(
                s,
                session_id=claims.session_id,
                user_id=claims.user_id,
                reason=RevokeReason.idle,
                ip=ip,
                detail={"idle_minutes": settings.session_idle_minutes},
                where=(col(AuthSession.last_seen_at) < idle_since,),
            )
            return None
        if stale:  # a no-op when another request of this session got there first
            s.execute(
                update(AuthSession)
                .where(
                    col(AuthSession.id) == claims.session_id,
                    col(AuthSession.last_seen_at) < func.now() - LAST_SEEN_EVERY,
                )
                .values(last_seen_at=func.now())
            )
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


# ------------------------------------------------------------------------ sign-out


def sign_out(token: str | None, *, ip: str = "") -> bool:
    """Revoke the token's session server-side; True if a live session was revoked."""
    claims = tokens.verify(token or "")
    if claims is None:
        return False
    ctx = TenantContext(tenant_id=claims.tenant_id, user_id=claims.user_id)
    with tenant_session(ctx) as s:
        return _revoke(
            s,
            session_id=claims.session_id,
            user_id=claims.user_id,
            reason=RevokeReason.sign_out,
            ip=ip,
        )


def sign_out_everywhere(token: str | None, *, ip: str = "") -> int:
    """Revoke every session of the token's user (other browsers and devices included), if
    the token's own session is still live; how many were revoked."""
    claims = tokens.verify(token or "")
    if claims is None:
        return 0
    ctx = TenantContext(tenant_id=claims.tenant_id, user_id=claims.user_id)
    with tenant_session(ctx) as s:
        live = s.scalar(
            select(col(AuthSession.id)).where(
                col(AuthSession.id) == claims.session_id,
                col(AuthSession.user_id) == claims.user_id,
                col(AuthSession.revoked_at).is_(None),
                col(AuthSession.expires_at) > func.now(),
            )
        )
        if live is None:
            return 0
        ended = list(
            s.scalars(
                update(AuthSession)
                .where(
                    col(AuthSession.user_id) == claims.user_id,
                    col(AuthSession.revoked_at).is_(None),
                )
                .values(
                    revoked_at=func.now(),
                    revoked_reason=RevokeReason.sign_out_everywhere.value,
                )
                .returning(col(AuthSession.id))
            )
        )
        audit.record(
            session=s,
            action=REVOKE_ACTIONS[RevokeReason.sign_out_everywhere],
            actor_id=claims.user_id,
            entity_type="app_user",
            entity_id=claims.user_id,
            detail={
                "reason": RevokeReason.sign_out_everywhere.value,
                "sessions": sorted(session_ref(i) for i in ended),
                "from_session": session_ref(claims.session_id),
            },
            ip=ip,
        )
    return len(ended)


def _revoke(
    session: Session,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    reason: RevokeReason,
    ip: str,
    detail: dict[str, Any] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> bool:
    """Revoke one live session with its reason and audit event (in the caller's tenant
    transaction); False if it was not live."""
    result = session.execute(
        update(AuthSession)
        .where(
            col(AuthSession.id) == session_id,
            col(AuthSession.user_id) == user_id,
            col(AuthSession.revoked_at).is_(None),
            *where,
        )
        .values(revoked_at=func.now(), revoked_reason=reason.value)
    )
    assert isinstance(result, CursorResult)
    if not result.rowcount:
        return False
    audit.record(
        session=session,
        action=REVOKE_ACTIONS[reason],
        actor_id=user_id,
        entity_type=SESSION_ENTITY,
        detail={"reason": reason.value, "session_ref": session_ref(session_id)} | (detail or {}),
        ip=ip,
    )
    return True
