"""Every table, imported in one place so metadata is complete (Alembic, tests, seeding)."""

from sqlmodel import SQLModel

from pms_dashboard.audit.models import AccessGrant, AuditEvent, FlagReview, PlatformEvent
from pms_dashboard.auth.models import AuthSession, SignInAttempt, User
from pms_dashboard.console.models import ConsoleSession, PlatformAdmin
from pms_dashboard.goals.models import Goal, GoalCheckIn, KeyResult
from pms_dashboard.keys.models import TenantDataKey, TenantKeyConfig
from pms_dashboard.organisation.models import TenantLogo
from pms_dashboard.reviews.models import (
    CalibrationChange,
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewOutcome,
    ReviewRating,
    ReviewTemplate,
)
from pms_dashboard.sso.models import SsoConfig, SsoLogin
from pms_dashboard.tenancy.models import (
    Tenant,
    TenantMove,
    TenantOwned,
    TenantPlacement,
    TenantSsoDomain,
)

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
    AccessGrant,
    SsoConfig,
    SsoLogin,
    TenantKeyConfig,
    TenantDataKey,
    TenantLogo,
)

# Platform tables: no tenant_id, unreadable by the app role.
PLATFORM_MODELS: tuple[type[SQLModel], ...] = (
    PlatformAdmin,
    ConsoleSession,
    PlatformEvent,
    FlagReview,
    SignInAttempt,
    TenantPlacement,
    TenantSsoDomain,
    TenantMove,
)

__all__ = [
    "PLATFORM_MODELS",
    "TENANT_MODELS",
    "Tenant",
    "TenantOwned",
    *[m.__name__ for m in (*TENANT_MODELS, *PLATFORM_MODELS)],
]
