"""Review templates with weighted criteria, cycles, reviews and their ratings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    Numeric,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

import pms_dashboard.keys.fields  # noqa: F401  (the free text here is sealed/opened by its hooks)
from pms_dashboard.tenancy.models import (
    TenantOwned,
    check_in,
    created_at_field,
    tenant_fk,
)


class CycleStatus(StrEnum):
    draft = "draft"
    active = "active"
    calibration = "calibration"
    closed = "closed"


class ReviewKind(StrEnum):
    self_review = "self"
    manager = "manager"
    peer = "peer"


class ReviewStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    submitted = "submitted"


class OutcomeStatus(StrEnum):
    """Where one reviewee stands in a cycle, in order."""

    not_started = "not_started"
    self_done = "self_done"
    manager_done = "manager_done"
    calibrated = "calibrated"
    shared = "shared"


class ReviewTemplate(TenantOwned, table=True):
    __tablename__ = "review_template"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)  # type: ignore[call-overload]
    created_at: datetime = created_at_field()


class ReviewCriterion(TenantOwned, table=True):
    """One weighted question of a template."""

    __tablename__ = "review_criterion"
    __table_args__ = (
        tenant_fk("template_id", "review_template", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "template_id", "name"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    template_id: uuid.UUID
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)  # type: ignore[call-overload]
    weight: Decimal = Field(default=Decimal(1), sa_type=Numeric(6, 2))  # type: ignore[call-overload]
    position: int = 0


class ReviewCycle(TenantOwned, table=True):
    __tablename__ = "review_cycle"
    __table_args__ = (
        tenant_fk("template_id", "review_template"),
        UniqueConstraint("tenant_id", "name"),
        Index(None, "tenant_id", "template_id"),
        check_in("status", CycleStatus),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
    )

    name: str = Field(max_length=200)
    template_id: uuid.UUID
    period_start: date
    period_end: date
    self_review_due: date | None = None
    manager_review_due: date | None = None
    status: str = Field(default=CycleStatus.draft.value, max_length=16)
    launched_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    # Who takes part, as chosen at creation: {"departments": [...], "teams": [...],
    # "managers": [user ids whose whole subtree is in]}; empty means everyone active.
    participants: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONB,  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": text("'{}'::jsonb"), "nullable": False},
    )
    # The rating scale the cycle launched with (as `RatingScale` serialises), so its ratings
    # keep their meaning when the organisation's scale changes later; NULL while a draft.
    rating_scale: dict[str, Any] | None = Field(
        default=None,
        sa_type=JSONB,  # type: ignore[call-overload]
        sa_column_kwargs={"nullable": True},
    )
    created_at: datetime = created_at_field()


class Review(TenantOwned, table=True):
    """One reviewer's review of one reviewee in a cycle."""

    __tablename__ = "review"
    __table_args__ = (
        tenant_fk("cycle_id", "review_cycle", ondelete="CASCADE"),
        tenant_fk("reviewee_id", "app_user"),
        tenant_fk("reviewer_id", "app_user"),
        UniqueConstraint("tenant_id", "cycle_id", "reviewee_id", "reviewer_id", "kind"),
        Index(None, "tenant_id", "reviewer_id", "status"),
        Index(None, "tenant_id", "reviewee_id"),
        check_in("kind", ReviewKind),
        check_in("status", ReviewStatus),
    )

    cycle_id: uuid.UUID
    reviewee_id: uuid.UUID
    reviewer_id: uuid.UUID
    kind: str = Field(max_length=16)
    status: str = Field(default=ReviewStatus.not_started.value, max_length=16)
    submitted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    summary: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})  # type: ignore[call-overload]
    # Weighted mean of this review's scores, set when it is submitted.
    score: Decimal | None = Field(default=None, sa_type=Numeric(4, 2))  # type: ignore[call-overload]
    created_at: datetime = created_at_field()


class ReviewRating(TenantOwned, table=True):
    """A score (on the tenant's scale) and comment for one criterion of one review."""

    __tablename__ = "review_rating"
    __table_args__ = (
        tenant_fk("review_id", "review", ondelete="CASCADE"),
        tenant_fk("criterion_id", "review_criterion"),
        UniqueConstraint("tenant_id", "review_id", "criterion_id"),
        Index(None, "tenant_id", "criterion_id"),
    )

    review_id: uuid.UUID
    criterion_id: uuid.UUID
    score: Decimal | None = Field(default=None, sa_type=Numeric(4, 2))  # type: ignore[call-overload]
    comment: str = Field(default="", sa_type=Text)  # type: ignore[call-overload]


class ReviewOutcome(TenantOwned, table=True):
    """One reviewee's result in a cycle: computed score, calibrated rating, potential, status."""

    __tablename__ = "review_outcome"
    __table_args__ = (
        tenant_fk("cycle_id", "review_cycle", ondelete="CASCADE"),
        tenant_fk("reviewee_id", "app_user"),
        tenant_fk("manager_id", "app_user"),
        UniqueConstraint("tenant_id", "cycle_id", "reviewee_id"),
        Index(None, "tenant_id", "cycle_id", "status"),
        Index(None, "tenant_id", "reviewee_id"),
        check_in("status", OutcomeStatus),
        CheckConstraint("potential IS NULL OR potential BETWEEN 1 AND 3", name="potential_range"),
    )

    cycle_id: uuid.UUID
    reviewee_id: uuid.UUID
    # The reviewee's manager when the cycle was launched (writes the manager review).
    manager_id: uuid.UUID | None = None
    computed_score: Decimal | None = Field(default=None, sa_type=Numeric(4, 2))  # type: ignore[call-overload]
    final_rating: Decimal | None = Field(default=None, sa_type=Numeric(4, 2))  # type: ignore[call-overload]
    potential: int | None = Field(default=None, sa_type=SmallInteger)  # type: ignore[call-overload]
    status: str = Field(default=OutcomeStatus.not_started.value, max_length=16)
    shared_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class CalibrationChange(TenantOwned, table=True):
    """History of calibration: who moved a rating or potential, from what to what, and why."""

    __tablename__ = "calibration_change"
    __table_args__ = (
        tenant_fk("outcome_id", "review_outcome", ondelete="CASCADE"),
        tenant_fk("actor_id", "app_user"),
        Index(None, "tenant_id", "outcome_id", "created_at"),
        Index(None, "tenant_id", "actor_id"),
        CheckConstraint("length(btrim(reason)) >= 3", name="reason_given"),
    )

    outcome_id: uuid.UUID
    actor_id: uuid.UUID
    old_rating: Decimal | None = Field(default=None, sa_type=Numeric(4, 2))  # type: ignore[call-overload]
    new_rating: Decimal | None = Field(default=None, sa_type=Numeric(4, 2))  # type: ignore[call-overload]
    old_potential: int | None = Field(default=None, sa_type=SmallInteger)  # type: ignore[call-overload]
    new_potential: int | None = Field(default=None, sa_type=SmallInteger)  # type: ignore[call-overload]
    reason: str = Field(sa_type=Text)  # type: ignore[call-overload]
    created_at: datetime = created_at_field()
