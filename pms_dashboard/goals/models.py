"""Goals (OKR-style objectives), their key results and check-ins."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Index, Numeric, Text
from sqlmodel import Field

import pms_dashboard.keys.fields  # noqa: F401  (the free text here is sealed/opened by its hooks)
from pms_dashboard.tenancy.models import (
    TenantOwned,
    check_in,
    created_at_field,
    tenant_fk,
)


class GoalStatus(StrEnum):
    draft = "draft"
    active = "active"
    completed = "completed"
    archived = "archived"


class Confidence(StrEnum):
    on_track = "on_track"
    at_risk = "at_risk"
    off_track = "off_track"


class Goal(TenantOwned, table=True):
    """An objective owned by one person, optionally aligned to a parent goal."""

    __tablename__ = "goal"
    __table_args__ = (
        tenant_fk("owner_id", "app_user"),
        tenant_fk("parent_id", "goal"),
        Index(None, "tenant_id", "owner_id", "due_date"),
        Index(None, "tenant_id", "parent_id"),
        Index(None, "tenant_id", "status", "due_date"),
        Index(None, "tenant_id", "due_date"),
        Index(None, "tenant_id", "period"),
        check_in("status", GoalStatus),
        CheckConstraint(
            "confidence IS NULL OR confidence IN ('on_track', 'at_risk', 'off_track')",
            name="confidence_valid",
        ),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("due_date >= start_date", name="dates_ordered"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    owner_id: uuid.UUID
    parent_id: uuid.UUID | None = None
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})  # type: ignore[call-overload]
    period: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    start_date: date
    due_date: date
    status: str = Field(default=GoalStatus.active.value, max_length=16)
    progress: Decimal = Field(
        default=Decimal(0),
        sa_type=Numeric(5, 2),  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": "0"},
    )
    weight: Decimal = Field(
        default=Decimal(1),
        sa_type=Numeric(6, 2),  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": "1"},
    )
    # The latest check-in, kept on the goal by the check-in service (same transaction), so
    # lists, the stale filter and the overview read one row per goal instead of searching
    # the check-in history of every goal.
    confidence: str | None = Field(default=None, max_length=16)
    last_check_in_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


# Recomputes goal.confidence / goal.last_check_in_at from the history, for the goals of the
# tenants in :tenant_ids (used after bulk loads, and by the migration that added them).
REFRESH_LATEST_CHECK_IN = """
UPDATE goal AS g
   SET confidence = c.confidence, last_check_in_at = c.created_at
  FROM (SELECT DISTINCT ON (tenant_id, goal_id) tenant_id, goal_id, confidence, created_at
          FROM goal_check_in
         WHERE tenant_id = ANY(CAST(:tenant_ids AS uuid[]))
         ORDER BY tenant_id, goal_id, created_at DESC) AS c
 WHERE g.tenant_id = c.tenant_id AND g.id = c.goal_id
"""


class KeyResult(TenantOwned, table=True):
    """A measurable result of a goal: progress is (current - start) / (target - start)."""

    __tablename__ = "key_result"
    __table_args__ = (
        tenant_fk("goal_id", "goal", ondelete="CASCADE"),
        Index(None, "tenant_id", "goal_id"),
        CheckConstraint("target_value <> start_value", name="target_differs"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    goal_id: uuid.UUID
    title: str = Field(max_length=200)
    start_value: Decimal = Field(default=Decimal(0), sa_type=Numeric(14, 2))  # type: ignore[call-overload]
    target_value: Decimal = Field(sa_type=Numeric(14, 2))  # type: ignore[call-overload]
    current_value: Decimal = Field(default=Decimal(0), sa_type=Numeric(14, 2))  # type: ignore[call-overload]
    unit: str = Field(default="", max_length=32)
    weight: Decimal = Field(default=Decimal(1), sa_type=Numeric(6, 2))  # type: ignore[call-overload]
    created_at: datetime = created_at_field()


class GoalCheckIn(TenantOwned, table=True):
    """A dated progress update on a goal, with the author's confidence."""

    __tablename__ = "goal_check_in"
    __table_args__ = (
        tenant_fk("goal_id", "goal", ondelete="CASCADE"),
        tenant_fk("author_id", "app_user"),
        Index(None, "tenant_id", "goal_id", "created_at"),
        Index(None, "tenant_id", "author_id"),
        check_in("confidence", Confidence),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
    )

    goal_id: uuid.UUID
    author_id: uuid.UUID
    progress: Decimal = Field(sa_type=Numeric(5, 2))  # type: ignore[call-overload]
    confidence: str = Field(default=Confidence.on_track.value, max_length=16)
    note: str = Field(default="", sa_type=Text)  # type: ignore[call-overload]
    created_at: datetime = created_at_field()
