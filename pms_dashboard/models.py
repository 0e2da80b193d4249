"""Every table, imported in one place so metadata is complete (Alembic, tests, seeding)."""

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth.models import AuthSession
from pms_dashboard.goals.models import Goal, GoalCheckIn, KeyResult
from pms_dashboard.people.models import User
from pms_dashboard.reviews.models import (
    CalibrationChange,
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewOutcome,
    ReviewRating,
    ReviewTemplate,
)
from pms_dashboard.tenancy.models import Tenant, TenantOwned

TENANT_MODELS: tuple[type[TenantOwned], ...] = (
    User,
    AuthSession,
    Goal,
    KeyResult,
    GoalCheckIn,
    ReviewTemplate,
    ReviewCriterion,
    ReviewCycle,
    Review,
    ReviewRating,
    ReviewOutcome,
    CalibrationChange,
    AuditEvent,
)

__all__ = ["TENANT_MODELS", "Tenant", "TenantOwned", *[m.__name__ for m in TENANT_MODELS]]
