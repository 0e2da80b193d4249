"""Queries on people. Services take the caller's session and never commit."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session
from sqlmodel import col, select

from pms_dashboard.people.models import User


def normalize_email(email: str) -> str:
    """Emails are stored and compared trimmed and lower-case."""
    return email.strip().lower()


def find_user_by_email(*, session: Session, email: str) -> User | None:
    """The tenant's user with this email, active or not (RLS + ORM scope to the tenant)."""
    return session.scalars(select(User).where(col(User.email) == normalize_email(email))).first()


def get_user(*, session: Session, user_id: uuid.UUID) -> User | None:
    """One user of the tenant in context, by id."""
    return session.scalars(select(User).where(col(User.id) == user_id)).first()
