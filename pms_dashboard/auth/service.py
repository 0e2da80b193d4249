"""Sign-in, per-request authentication and sign-out for local accounts (and, through
`open_session`, for single sign-on).

Like every service, these take the caller's `session` and never open or commit one: the
entry points do (`auth.routes` for the HTTP routes and the sign-in flow, the Reflex states'
one helper in `ui.states.session`). A principal is re-derived from the session cookie on
every request and every Reflex event, inside the request's own tenant transaction: the
token's signature and expiry are checked (`tokens.verify`, which names the tenant whose
transaction to open), then `authenticate_in` requires its session row to exist, be
unrevoked, within its absolute lifetime and not idle, and its user to be still active in
that tenant. The role used for permission checks is the one in the database now, not the
one in the token.

Session lifecycle (every step an audit event in the tenant's chain, which names sessions
by their `session_ref`, never by their id: see audit.sessions):
- opened by `open_session` (`auth.sign_in`); a sign-in from a browser that still carries a
  session cookie revokes that session (`auth.session_rotated`): in the same transaction,
  or for another organisation's session in that organisation's transaction right after
  this one committed; so a session id planted in a browser before sign-in never becomes a
  signed-in session;
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
from pms_dashboard.auth.zones import zone_in_force
from pms_dashboard.errors import UserError
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant, utcnow
from pms_dashboard.tenancy.registry import resolve_slug

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
    own_time_zone: str | None = None  # the zone they chose, if any
    organisation_time_zone: Any = None  # their organisation's setting, if any

    @property
    def time_zone(self) -> str:
        """The zone their dates and times are shown in (`auth.zones`)."""
        return zone_in_force(self.own_time_zone, self.organisation_time_zone)

    @property
    def context(self) -> TenantContext:
        return TenantContext(tenant_id=self.tenant_id, user_id=self.user_id, role=self.role)


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    max_age: int
    principal: Principal
    # The session of another organisation the browser held, to end there once this sign-in
    # has committed (`revoke_rotated`); None when there was none, or it was this tenant's.
    rotate_elsewhere: tokens.TokenClaims | None = None


def find_user_by_email(*, session: Session, email: str) -> User | None:
    """The tenant's user with this email, active or not (RLS + ORM scope to the tenant)."""
    return session.scalars(select(User).where(col(User.email) == normalize_email(email))).first()


# --------------------------------------------------------------------------- sign-in
# A password sign-in is three steps, each in the transaction its entry point opens
# (`auth.routes.sign_in_with_password`): `begin_sign_in` (committed at once: the throttle
# queues attempts until it ends), `check_password` in the organisation's transaction, and,
# for a browser that was signed in to another organisation, `revoke_rotated` there once
# the new session is committed.


@dataclass(frozen=True, slots=True)
class SignInStart:
    """The organisation a sign-in names (None: no such slug) and the throttle's answer."""

    tenant_id: uuid.UUID | None
    attempt: throttle.Attempt


def begin_sign_in(
    *, session: Session, slug: str, email: str, password: str, ip: str = ""
) -> SignInStart:
    """Resolve the organisation and reserve the attempt (in a contextless transaction, to
    commit at once). `ip` "" (no network peer: CLI, tests) is not throttled per address."""
    well_formed = bool(slug and email and password) and (
        max(map(len, (slug, email, password))) <= MAX_FIELD
    )
    account = throttle.account_key(slug[:MAX_FIELD], email[:MAX_FIELD])
    tenant_id = resolve_slug(session=session, slug=slug) if well_formed else None
    return SignInStart(tenant_id, throttle.begin(session=session, account=account, ip=ip))


def fail_unknown_organisation(
    *, session: Session, attempt: throttle.Attempt, password: str
) -> None:
    """A sign-in naming no organisation: the same password work as a real attempt (no
    timing tells the slug was wrong), and the attempt settled as a failure."""
    verify_password(None, password[:MAX_FIELD])
    throttle.end(session=session, attempt=attempt, success=False)


def check_password(
    *,
    session: Session,
    attempt: throttle.Attempt,
    email: str,
    password: str,
    ip: str = "",
    user_agent: str = "",
    replaces: str | None = None,
) -> SignedIn | None:
    """In the organisation's transaction: the new session if the email names an active
    person with this password (`open_session`), else None with an `auth.sign_in_failed`
    event. The caller commits, then settles the attempt in the catalog (the throttle lives
    there, the person's rows at the organisation's placement), then refuses or signs in."""
    user = find_user_by_email(session=session, email=email)
    usable = user is not None and user.is_active
    ok = verify_password(user.password_hash if user and usable else None, password)
    signed = None
    if not ok or user is None:
        audit.record(
            session=session,
            action="auth.sign_in_failed",
            actor_id=user.id if user else None,
            entity_type="app_user",
            entity_id=user.id if user else None,
            detail={"email": normalize_email(email)[:MAX_FIELD]},
            ip=ip,
        )
    else:
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        signed = open_session(
            session=session,
            user=user,
            method="password",
            ip=ip,
            user_agent=user_agent,
            replaces=replaces,
        )
    return signed


def record_throttled(
    *, session: Session, attempt: throttle.Attempt, email: str, ip: str
) -> uuid.UUID | None:
    """A refused attempt's `auth.throttled` event in the organisation's chain (flagged
    unless only the pair is slowed down: an attacker's pace, or an owner's typos, whose
    failures are audited); the id of the person the email names, if any. For the first
    refusal within a minute per limit only (`attempt.first_refusal`), so a flood of refused
    requests cannot flood the trail."""
    user = find_user_by_email(session=session, email=email[:MAX_FIELD]) if email else None
    user_id = user.id if user else None
    audit.record(
        session=session,
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
        flagged=set(attempt.scope.split(",")) != {"pair"},
        ip=ip,
    )
    return user_id


def throttled(
    attempt: throttle.Attempt,
    *,
    tenant_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    ip: str,
) -> SignInThrottled:
    """The refusal to raise for a throttled attempt, logged as a warning when an account's
    hard limit or an address's limit was reached (the first refusal within a minute)."""
    if attempt.first_refusal and set(attempt.scope.split(",")) & {"account", "address"}:
        logger.warning(
            "sign-in throttled by the %s limit: tenant %s, user %s, address %s; retry in %d s",
            attempt.scope,
            tenant_id or "unknown",
            user_id or "unknown",
            ip or "none",
            attempt.retry_after,
        )
    return SignInThrottled(attempt.retry_after)


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
    transaction when it is in this tenant. A session of another tenant cannot be touched
    here (another tenant's transaction would commit whether this one does or not): it is
    named in `SignedIn.rotate_elsewhere`, and the entry point revokes it there
    (`revoke_rotated`) once this transaction has committed. The caller then sets the new
    token as the cookie (`auth.http.set_session_cookie`)."""
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
    old = tokens.verify(replaces or "")
    elsewhere = old if old is not None and old.tenant_id != user.tenant_id else None
    rotated = None
    if old is not None and elsewhere is None:
        revoked = revoke_rotated(session=session, claims=old, replaced_by=auth_session.id, ip=ip)
        rotated = old.session_id if revoked else None
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
        own_time_zone=user.time_zone,
        organisation_time_zone=(tenant.settings or {}).get("time_zone"),
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
    return SignedIn(token=token, max_age=max_age, principal=principal, rotate_elsewhere=elsewhere)


def revoke_rotated(
    *, session: Session, claims: tokens.TokenClaims, replaced_by: uuid.UUID, ip: str = ""
) -> bool:
    """End the session a browser carried into a new sign-in (`replaced_by`), in a
    transaction of the old session's own tenant; True if it was live."""
    detail = {"replaced_by": session_ref(replaced_by)}
    return _revoke(session, claims, RevokeReason.rotated, ip=ip, detail=detail)


# ------------------------------------------------------------------ each request


def request_context(claims: tokens.TokenClaims) -> TenantContext:
    """The tenant transaction a request with these (verified) claims runs in; the role is
    known, and put into the session's context, once `authenticate_in` has read it."""
    return TenantContext(tenant_id=claims.tenant_id, user_id=claims.user_id)


# The session check, in plain SQL so the door can send it with its set-up in one round
# trip (`tenancy.session.tenant_session(first=...)`); RLS and the explicit tenant keep it to
# the token's tenant. The tenant's settings come with it (its look, its stale threshold).
_SESSION_CHECK = """
SELECT u.id, u.role, u.email, u.display_name, u.time_zone, t.name, t.slug, t.settings,
       s.last_seen_at < now() - %(idle)s AS idle,
       s.last_seen_at < now() - %(every)s AS stale
  FROM auth_session AS s
  JOIN app_user AS u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
  JOIN tenant AS t ON t.id = u.tenant_id
 WHERE s.id = %(session)s AND s.user_id = %(user)s AND s.tenant_id = %(tenant)s
   AND s.revoked_at IS NULL AND s.expires_at > now()
   AND s.created_at > now() - %(lifetime)s AND u.is_active
"""


def session_check(claims: tokens.TokenClaims) -> tuple[str, dict[str, Any]]:
    """The statement `authenticate_in` judges a token's session by: for the door to send
    first (`tenant_session(first=[session_check(claims)])`)."""
    settings = get_settings()
    return _SESSION_CHECK, {
        "idle": timedelta(minutes=settings.session_idle_minutes),
        "every": LAST_SEEN_EVERY,
        "lifetime": timedelta(hours=settings.session_hours),
        "session": claims.session_id,
        "user": claims.user_id,
        "tenant": claims.tenant_id,
    }


def authenticate_in(
    *, session: Session, claims: tokens.TokenClaims, ip: str = "", checked: Any = None
) -> Principal | None:
    """The principal of a verified token's claims, in the token's own tenant transaction
    (`request_context`), or None if its session is unknown, expired, idle (then it is
    revoked) or revoked, or its user inactive. Refreshes the session's `last_seen_at` at
    most once a minute. On success the session's context becomes the principal's (with
    the role from the database), so a refusal later in the transaction is audited as
    theirs, and the tenant's settings are kept for the transaction (`get_customization`).

    `checked`: the rows of `session_check(claims)` when the door already sent it (in its
    set-up's round trip); otherwise it is run here."""
    if session.info.get("tenant_id") != claims.tenant_id:
        raise RuntimeError("authenticate a token in its own tenant's transaction")
    if checked is None:
        sql, params = session_check(claims)
        checked = session.connection().exec_driver_sql(sql, params).all()
    if not checked:
        return None
    row = checked[0]
    user_id, role, email, display_name, own_zone, tenant_name, tenant_slug, settings = row[:8]
    idle, stale = row[8:]
    if idle:
        minutes = get_settings().session_idle_minutes
        _revoke(
            session,
            claims,
            RevokeReason.idle,
            ip=ip,
            detail={"idle_minutes": minutes},
            where=(col(AuthSession.last_seen_at) < func.now() - timedelta(minutes=minutes),),
        )
        return None
    if stale and not session.info.get("read_only"):  # no-op when another request was first
        session.execute(
            update(AuthSession)
            .where(
                col(AuthSession.id) == claims.session_id,
                col(AuthSession.last_seen_at) < func.now() - LAST_SEEN_EVERY,
            )
            .values(last_seen_at=func.now())
        )
    session.info["tenant_settings"] = settings
    principal = Principal(
        tenant_id=claims.tenant_id,
        user_id=user_id,
        session_id=claims.session_id,
        role=role,
        email=email,
        display_name=display_name,
        tenant_name=tenant_name,
        tenant_slug=tenant_slug,
        own_time_zone=own_zone,
        organisation_time_zone=(settings or {}).get("time_zone"),
    )
    session.info["ctx"] = principal.context
    return principal


# ------------------------------------------------------------------------ sign-out


def sign_out(*, session: Session, claims: tokens.TokenClaims, ip: str = "") -> bool:
    """Revoke the token's session server-side (in its tenant's transaction); True if a
    live session was revoked."""
    return _revoke(session, claims, RevokeReason.sign_out, ip=ip)


def sign_out_everywhere(*, session: Session, claims: tokens.TokenClaims, ip: str = "") -> int:
    """Revoke every session of the token's user (other browsers and devices included), if
    the token's own session is still live; how many were revoked."""
    live = session.scalar(
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
        session.scalars(
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
        session=session,
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
    claims: tokens.TokenClaims,
    reason: RevokeReason,
    *,
    ip: str,
    detail: dict[str, Any] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> bool:
    """Revoke the live session a token's claims name, with its reason and audit event (in
    the caller's transaction of that tenant); False if it was not live."""
    session_id, user_id = claims.session_id, claims.user_id
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
