"""People of a tenant: users, their role and who they report to."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field

from pms_dashboard.tenancy.models import (
    TenantOwned,
    check_in,
    created_at_field,
    tenant_fk,
)


class Role(StrEnum):
    employee = "employee"
    manager = "manager"
    hr_admin = "hr_admin"
    tenant_admin = "tenant_admin"


class User(TenantOwned, table=True):
    """A person in one tenant. The same email may exist in several tenants."""

    __tablename__ = "app_user"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        tenant_fk("manager_id", "app_user"),
        Index(None, "tenant_id", "manager_id"),
        Index(None, "tenant_id", "department", "team"),
        Index(None, "tenant_id", "display_name", "id"),  # goal lists sorted by owner
        check_in("role", Role),
        CheckConstraint("email = lower(email) AND position('@' in email) > 1", name="email_format"),
        CheckConstraint("manager_id IS NULL OR manager_id <> id", name="not_own_manager"),
    )

    email: str = Field(max_length=320)
    display_name: str = Field(max_length=200)
    role: str = Field(default=Role.employee.value, max_length=20)
    manager_id: uuid.UUID | None = None
    department: str | None = Field(default=None, max_length=100)
    team: str | None = Field(default=None, max_length=100)
    job_title: str | None = Field(default=None, max_length=200)
    password_hash: str | None = Field(default=None, max_length=500)
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    created_at: datetime = created_at_field()
