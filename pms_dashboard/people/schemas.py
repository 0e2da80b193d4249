"""Validated inputs and plain outputs of the people services (what the UI may send and see)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pms_dashboard.auth.models import Role, User
from pms_dashboard.auth.resolve import RawId
from pms_dashboard.errors import UserError, validation_message

M = TypeVar("M", bound=BaseModel)

ActiveFilter = Literal["all", "active", "inactive"]
ROLES = tuple(r.value for r in Role)
# Deliberately simple: one "@", no spaces, a dot in the domain. Deliverability is proven by
# the person signing in, not by a regular expression; this only catches typos.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


class PeopleError(UserError):
    """A people change refused for a reason the admin can fix; `str(err)` is safe to show."""


def clean_email(value: str) -> str:
    """Trimmed, lower-case and plausibly an email address, or PeopleError."""
    email = value.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise PeopleError(f"{value.strip()[:80]!r} is not a valid email address.")
    return email


def _optional_text(value: str | None) -> str | None:
    """Blank means "not set"."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


class PeopleQuery(BaseModel):
    """Paging, search and filters of the people list; rejects anything else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=20, ge=1, le=100)
    search: str = Field(default="", max_length=100)
    department: str = Field(default="", max_length=100)
    team: str = Field(default="", max_length=100)
    role: str = ""
    active: ActiveFilter = "active"

    @field_validator("search", "department", "team")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value in ("", "all"):
            return ""
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}")
        return value


class ProfileInput(BaseModel):
    """Where a person sits: department, team and job title (blank clears a field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    department: str | None = Field(default=None, max_length=100)
    team: str | None = Field(default=None, max_length=100)
    job_title: str | None = Field(default=None, max_length=200)

    @field_validator("department", "team", "job_title", mode="before")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return _optional_text(value)


class InviteInput(ProfileInput):
    """A new person of the tenant, as a tenant admin enters them."""

    email: str = Field(max_length=320)
    display_name: str = Field(min_length=1, max_length=200)
    role: Role = Role.employee
    manager_id: RawId | None = None  # resolved (or refused as not found) by the service

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return clean_email(value)

    @field_validator("display_name", mode="before")
    @classmethod
    def _name(cls, value: str) -> str:
        return " ".join(str(value).split())

    @field_validator("manager_id", mode="before")
    @classmethod
    def _blank_manager(cls, value: object) -> object:
        return None if value in ("", "none") else value


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person as the directory lists them (ids as strings: they go to the browser)."""

    id: str
    email: str
    display_name: str
    role: str
    department: str
    team: str
    job_title: str
    manager_id: str
    manager_name: str
    is_active: bool
    direct_reports: int

    @classmethod
    def from_user(cls, user: User, *, manager_name: str | None, direct_reports: int) -> PersonRow:
        return cls(
            id=str(user.id),
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            department=user.department or "",
            team=user.team or "",
            job_title=user.job_title or "",
            manager_id=str(user.manager_id) if user.manager_id else "",
            manager_name=manager_name or "",
            is_active=bool(user.is_active),
            direct_reports=int(direct_reports),
        )


@dataclass(frozen=True, slots=True)
class PersonRef:
    """Just enough to name and link a person."""

    id: str
    display_name: str
    job_title: str = ""


@dataclass(frozen=True, slots=True)
class PersonDetail:
    """One person's directory entry with their visible reports and management chain."""

    person: PersonRow
    reports: list[PersonRef] = field(default_factory=list)
    chain: list[PersonRef] = field(default_factory=list)  # nearest manager first
    can_manage: bool = False


@dataclass(slots=True)
class TreeNode:
    """A node of the reports-to tree; counts are of the people shown, never of hidden ones."""

    id: str
    name: str
    title: str
    role: str
    is_active: bool
    children: list[TreeNode] = field(default_factory=list)
    direct_reports: int = 0
    total_reports: int = 0


@dataclass(frozen=True, slots=True)
class TreeLine:
    """A tree node flattened for an indented list (what a Reflex foreach can render)."""

    id: str
    name: str
    title: str
    role: str
    is_active: bool
    depth: int
    direct_reports: int
    total_reports: int


@dataclass(frozen=True)
class TenantSummary:
    """An organisation and how many people it has (platform administration)."""

    id: uuid.UUID
    slug: str
    name: str
    isolation_tier: str
    region: str
    users: int


@dataclass(frozen=True, slots=True)
class Invited:
    """The new person and the temporary password to hand over (shown once, stored hashed)."""

    person: PersonRow
    temporary_password: str


def parse_input(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate browser or caller input into `model`, or PeopleError with a clear message."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise PeopleError(validation_message(err, FIELD_LABELS)) from None


FIELD_LABELS = {
    "email": "Email",
    "display_name": "Name",
    "role": "Role",
    "manager_id": "Manager",
    "department": "Department",
    "team": "Team",
    "job_title": "Job title",
}
