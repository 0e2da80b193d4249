"""A signed-in person's own account: changing their password (the current one required;
every other session of theirs ends, so a stolen session does not outlive the change), the
name others see and the time zone they read dates and times in.

A wrong current password counts as a failed sign-in of the account from that address (the
sign-in throttle, `auth.throttle`), so a stolen session cannot be used to guess the
password any faster than the sign-in form allows, and each one is audited (flagged) in the
person's organisation, although the refused change itself is rolled back."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import service as audit
from pms_dashboard.audit.sessions import session_ref
from pms_dashboard.auth.models import AuthSession, RevokeReason, User
from pms_dashboard.auth.passwords import MAX_PASSWORD, MIN_PASSWORD, hash_password, verify_password
from pms_dashboard.auth.zones import known_zone
from pms_dashboard.errors import UserError
from pms_dashboard.tenancy.context import AuditedRefusal, TenantContext


class PasswordChangeError(UserError):
    """A change of one's own account refused; `field` names the input the words are about."""


class WrongCurrentPassword(PasswordChangeError, AuditedRefusal):
    """The current password given was wrong: refused, and recorded (flagged) in a
    transaction of its own."""

    def __init__(self, user_id: uuid.UUID, ip: str) -> None:
        super().__init__("That is not your current password.", field="current_password")
        self.user_id, self.ip = user_id, ip

    def audit_refusal(self, session: Any) -> None:
        audit.record(
            session=session,
            action="auth.password_change_refused",
            actor_id=self.user_id,
            entity_type="app_user",
            entity_id=self.user_id,
            detail={"reason": "wrong current password"},
            flagged=True,
            ip=self.ip,
        )


def change_password(
    *,
    session: Session,
    actor: TenantContext,
    session_id: uuid.UUID,
    current: str,
    new: str,
    confirm: str,
    ip: str = "",
) -> int:
    """Set the actor's new password (Argon2id) once the current one is given, end their
    other sessions (this one stays) and audit it; how many sessions ended."""
    user = session.scalars(select(User).where(col(User.id) == actor.user_id)).one_or_none()
    if user is None or not user.is_active:
        raise PasswordChangeError("Your account cannot change its password.")
    if user.password_hash is None:
        raise PasswordChangeError(
            "You sign in with single sign-on: your password is kept by your identity provider.",
            field="current_password",
        )
    if not verify_password(user.password_hash, current):
        raise WrongCurrentPassword(user.id, ip)
    if len(new) < MIN_PASSWORD:
        raise PasswordChangeError(
            f"The new password needs at least {MIN_PASSWORD} characters.", field="new_password"
        )
    if len(new) > MAX_PASSWORD:
        raise PasswordChangeError(
            f"The new password can have at most {MAX_PASSWORD} characters.", field="new_password"
        )
    if new == current:
        raise PasswordChangeError(
            "Choose a new password, not the current one again.", field="new_password"
        )
    if new != confirm:
        raise PasswordChangeError(
            "The two new passwords are not the same.", field="confirm_password"
        )
    user.password_hash = hash_password(new)
    session.add(user)
    ended = list(
        session.scalars(
            update(AuthSession)
            .where(
                col(AuthSession.user_id) == user.id,
                col(AuthSession.id) != session_id,
                col(AuthSession.revoked_at).is_(None),
            )
            .values(revoked_at=func.now(), revoked_reason=RevokeReason.password_changed.value)
            .returning(col(AuthSession.id))
        )
    )
    audit.record(
        session=session,
        action="auth.password_changed",
        actor_id=user.id,
        entity_type="app_user",
        entity_id=user.id,
        detail={
            "sessions_ended": sorted(session_ref(i) for i in ended),
            "from_session": session_ref(session_id),
        },
        ip=ip,
    )
    return len(ended)


MAX_NAME = 200


def change_display_name(*, session: Session, actor: TenantContext, display_name: Any) -> str:
    """The actor's own name as others see it (lists, goals, reviews), trimmed; audited
    with before and after. Returns the name saved."""
    if not isinstance(display_name, str):
        raise PasswordChangeError("Your name must be text.", field="display_name")
    name = " ".join(display_name.split())  # no line breaks or runs of spaces
    if not name:
        raise PasswordChangeError("Your name cannot be empty.", field="display_name")
    if len(name) > MAX_NAME:
        raise PasswordChangeError(
            f"Your name can have at most {MAX_NAME} characters.", field="display_name"
        )
    _update_profile(session=session, actor=actor, field="display_name", value=name)
    return name


def change_time_zone(*, session: Session, actor: TenantContext, time_zone: Any) -> str | None:
    """The zone the actor reads dates and times in (an IANA name such as Europe/Paris; empty
    for their organisation's, else UTC); audited with before and after. Returns the zone
    saved (None for none)."""
    if not isinstance(time_zone, str):
        raise PasswordChangeError("Choose a time zone from the list.", field="time_zone")
    zone = time_zone.strip() or None
    if zone is not None and not known_zone(zone):
        shown = zone if len(zone) <= 60 else zone[:60] + "…"
        raise PasswordChangeError(
            f"“{shown}” is not a time zone we know: choose one from the list, such as "
            "Europe/Paris or America/New_York.",
            field="time_zone",
        )
    _update_profile(session=session, actor=actor, field="time_zone", value=zone)
    return zone


def _update_profile(
    *, session: Session, actor: TenantContext, field: str, value: str | None
) -> None:
    """Set one field of the actor's own person row, audited as `auth.profile_updated` with
    before and after."""
    user = session.scalars(select(User).where(col(User.id) == actor.user_id)).one_or_none()
    if user is None or not user.is_active:
        raise PasswordChangeError("Your account cannot be changed.")
    before = getattr(user, field)
    setattr(user, field, value)
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        action="auth.profile_updated",
        actor_id=user.id,
        entity_type="app_user",
        entity_id=user.id,
        detail={"before": {field: before}, "after": {field: value}},
    )
