"""Platform super-admins: creation (CLI), sign-in with password and TOTP, console sessions,
and the cross-tenant overview (counts only).

Super-admins are members of no tenant. The console runs as `pms_auditor`, which has no
row-level-security policy on tenant tables and so reads no tenant row by itself; what it may
see across tenants comes through SECURITY DEFINER functions that return counts only
(`console.organisations`).

Every sign-in, failed sign-in and sign-out is an event in the platform's own trail
(`platform_event`), never with the password or the code typed.

Like every service these take the caller's `session` (as `pms_auditor`; the owner's for
`create_admin`) and never open or commit one: the console's entry points do
(`console.routes`, the console's Reflex state, the command line).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit.chain import record_platform_event
from pms_dashboard.audit.sessions import session_ref
from pms_dashboard.auth import throttle, tokens
from pms_dashboard.auth.passwords import MIN_PASSWORD, hash_password, verify_password
from pms_dashboard.console import totp
from pms_dashboard.console.models import ConsoleSession, PlatformAdmin
from pms_dashboard.errors import UserError
from pms_dashboard.tenancy.rls import TENANT_SETTING

SIGN_IN_FAILED = "Sign-in failed. Check your email, password and authenticator code."
CONSOLE_SESSION_HOURS = tokens.CONSOLE_SESSION_HOURS
MAX_FIELD = 320


class ConsoleError(UserError):
    """A console request was refused; the message is safe to show."""


class ConsoleThrottled(throttle.Throttled, ConsoleError):
    """Too many failed sign-ins from this address; the credentials were not checked."""


@dataclass(frozen=True, slots=True)
class NewAdmin:
    id: uuid.UUID
    email: str
    totp_secret: str  # shown once, to enrol an authenticator app
    provisioning_uri: str


@dataclass(frozen=True, slots=True)
class ConsoleAdmin:
    """The signed-in super-admin of one console request."""

    admin_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    display_name: str


@dataclass(frozen=True, slots=True)
class ConsoleSignedIn:
    token: str
    max_age: int
    admin: ConsoleAdmin


@dataclass(frozen=True, slots=True)
class TenantOverview:
    tenant_id: str
    slug: str
    name: str
    isolation_tier: str
    region: str
    users: int
    goals: int
    last_activity: datetime | None


def create_admin(*, session: Session, email: str, display_name: str, password: str) -> NewAdmin:
    """Register a super-admin (platform operators only: in the owner's session, from the
    CLI)."""
    email = email.strip().lower()
    if "@" not in email[1:] or len(email) > MAX_FIELD:
        raise ConsoleError("Give a valid email address.")
    if not display_name.strip():
        raise ConsoleError("Give a display name.")
    if len(password) < MIN_PASSWORD:
        raise ConsoleError(f"The password needs at least {MIN_PASSWORD} characters.")
    secret = totp.new_secret()
    if session.scalar(select(col(PlatformAdmin.id)).where(col(PlatformAdmin.email) == email)):
        raise ConsoleError(f"A super-admin with email {email} already exists.")
    admin = PlatformAdmin(
        email=email,
        display_name=display_name.strip()[:200],
        password_hash=hash_password(password),
        totp_secret=totp.encrypt(secret),
    )
    session.add(admin)
    session.flush()
    return NewAdmin(admin.id, email, secret, totp.provisioning_uri(secret, email))


def reserve_attempt(*, session: Session, ip: str) -> throttle.Attempt:
    """Per-address throttling, shared with tenant sign-in (failures from one address count
    together, whatever they tried), in a transaction of its own to commit at once: a
    refused attempt (`throttled`) gets a `console.sign_in_throttled` platform event (the
    first refusal within a minute) and its caller refuses it before any credential is
    checked (`ConsoleThrottled`)."""
    attempt = throttle.begin(session=session, account=None, ip=ip)
    if attempt.throttled and attempt.first_refusal:
        record_platform_event(
            session=session,
            admin_id=None,
            action="console.sign_in_throttled",
            detail={"retry_after_minutes": attempt.retry_minutes},
            ip=ip,
        )
    return attempt


def sign_in(
    *, session: Session, attempt: throttle.Attempt, email: str, password: str, code: str,
    ip: str = "",
) -> ConsoleSignedIn | None:  # fmt: skip
    """Password and a fresh TOTP code; the same work done whatever fails, and None for
    every failure (the caller commits, then refuses with one message).

    A failure is recorded as a `console.sign_in_failed` platform event with the reason
    (unknown_email, inactive, wrong_password, wrong_code, replayed_code) and the admin it
    named, if any; the email typed is kept only when it names an admin (an unknown one may
    be a password typed into the wrong field, and the trail can never be edited). The
    attempt reserved by `reserve_attempt` is settled either way."""
    email = email.strip().lower()[:MAX_FIELD]
    password = password[:1024]
    expires = datetime.now(UTC) + timedelta(hours=CONSOLE_SESSION_HOURS)
    admin = session.scalars(
        select(PlatformAdmin).where(col(PlatformAdmin.email) == email).with_for_update()
    ).first()
    usable = admin is not None and admin.is_active
    password_ok = verify_password(admin.password_hash if admin and usable else None, password)
    secret = totp.decrypt(admin.totp_secret) if admin and usable else None
    step = (
        totp.accepted_step(secret, code, last_step=admin.totp_last_step)
        if admin is not None and secret is not None and password_ok
        else None
    )
    throttle.end(session=session, attempt=attempt, success=admin is not None and step is not None)
    if admin is None or not password_ok or step is None:
        reason = _failure_reason(admin, usable, password_ok, secret, code)
        record_platform_event(
            session=session,
            admin_id=admin.id if admin else None,
            action="console.sign_in_failed",
            detail={"reason": reason} | ({"email": admin.email} if admin else {}),
            ip=ip,
        )
        return None
    session.execute(
        update(PlatformAdmin).where(col(PlatformAdmin.id) == admin.id).values(totp_last_step=step)
    )
    session_row = ConsoleSession(admin_id=admin.id, expires_at=expires, ip=ip[:64])
    session.add(session_row)
    session.flush()
    signed = ConsoleAdmin(admin.id, session_row.id, admin.email, admin.display_name)
    record_platform_event(
        session=session,
        admin_id=admin.id,
        action="console.sign_in",
        detail={"session_ref": session_ref(session_row.id), "email": admin.email},
        ip=ip,
    )
    token = tokens.issue_console(
        tokens.ConsoleClaims(
            admin_id=signed.admin_id,
            session_id=signed.session_id,
            expires_at=int(expires.timestamp()),
        )
    )
    return ConsoleSignedIn(token, CONSOLE_SESSION_HOURS * 3600, signed)


def _failure_reason(
    admin: PlatformAdmin | None, usable: bool, password_ok: bool, secret: str | None, code: str
) -> str:
    """Why a sign-in failed, for the platform trail only (the person sees one message)."""
    if admin is None:
        return "unknown_email"
    if not usable:
        return "inactive"
    if not password_ok:
        return "wrong_password"
    if secret is not None and totp.accepted_step(secret, code, last_step=-1) is not None:
        return "replayed_code"  # right code, but already used
    return "wrong_code"


def authenticate_in(*, session: Session, claims: tokens.ConsoleClaims) -> ConsoleAdmin | None:
    """The super-admin behind a verified console token (`tokens.verify_console`, which no
    tenant token passes): unexpired, unrevoked session, active admin."""
    row = session.execute(
        select(PlatformAdmin, ConsoleSession)
        .join(ConsoleSession, col(ConsoleSession.admin_id) == PlatformAdmin.id)
        .where(
            col(ConsoleSession.id) == claims.session_id,
            col(PlatformAdmin.id) == claims.admin_id,
            col(ConsoleSession.revoked_at).is_(None),
            col(ConsoleSession.expires_at) > datetime.now(UTC),
            col(PlatformAdmin.is_active).is_(True),
        )
    ).first()
    if row is None:
        return None
    admin, session_row = row
    return ConsoleAdmin(admin.id, session_row.id, admin.email, admin.display_name)


def sign_out(*, session: Session, claims: tokens.ConsoleClaims, ip: str = "") -> None:
    """End the console session of the token's claims (a `console.sign_out` platform event
    when a live session ended; an unknown or already ended session changes nothing)."""
    ended = session.execute(
        update(ConsoleSession)
        .where(
            col(ConsoleSession.id) == claims.session_id,
            col(ConsoleSession.admin_id) == claims.admin_id,
            col(ConsoleSession.revoked_at).is_(None),
        )
        .values(revoked_at=datetime.now(UTC))
        .returning(col(ConsoleSession.id))
    ).first()
    if ended is not None:
        record_platform_event(
            session=session,
            admin_id=claims.admin_id,
            action="console.sign_out",
            detail={"session_ref": session_ref(claims.session_id)},
            ip=ip,
        )


def act_as(*, session: Session, admin: ConsoleAdmin) -> None:
    """Name the signed-in admin in the console transaction (for the grant_read policies,
    which show a tenant's rows only under that admin's active grant); refuses anything but
    a signed-in admin."""
    if not isinstance(admin, ConsoleAdmin):
        raise ConsoleError("Sign in to the console first.")
    session.execute(
        text("SELECT set_config('app.current_admin_id', :a, true)"), {"a": str(admin.admin_id)}
    )


def set_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Point the transaction at one tenant (whose chain the next audit event goes into)."""
    session.execute(
        text("SELECT set_config(:setting, :t, true)"),
        {"setting": TENANT_SETTING, "t": str(tenant_id)},
    )
