"""The tenant registry table and the base every tenant-owned table inherits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import AutoString, Field, SQLModel

import pms_dashboard.db.metadata  # noqa: F401  (naming convention before any table)


def utcnow() -> datetime:
    """Timezone-aware now, for Python-side defaults."""
    return datetime.now(UTC)


def created_at_field() -> Any:
    """A `created_at timestamptz NOT NULL DEFAULT now()` column."""
    return Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": func.now(), "nullable": False},
    )


def check_in(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that a text column holds one of an enum's values (text + CHECK migrates easier
    than a PostgreSQL enum type)."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or f"{column}_valid")


class IsolationTier(StrEnum):
    pool = "pool"
    schema = "schema"
    database = "database"


class Tenant(SQLModel, table=True):
    """An organisation. `pms_app` sees only the row of the tenant in context."""

    __tablename__ = "tenant"
    __table_args__ = (
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="slug_format"),
        check_in("isolation_tier", IsolationTier),
        CheckConstraint(
            "placement_state IN ('active', 'read_only', 'moved')", name="placement_state_valid"
        ),
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    slug: str = Field(unique=True, max_length=63)
    name: str = Field(max_length=200)
    isolation_tier: str = Field(
        default=IsolationTier.pool.value,
        max_length=16,
        sa_column_kwargs={"server_default": IsolationTier.pool.value},
    )
    region: str = Field(
        default="eu-central", max_length=32, sa_column_kwargs={"server_default": "eu-central"}
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONB,  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": text("'{}'::jsonb"), "nullable": False},
    )
    created_at: datetime = created_at_field()
    # The placement fence (see tenancy.placement): the catalog's version of this tenant's
    # placement, and whether this copy is active, frozen for a move, or moved away.
    placement_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    placement_state: str = Field(
        default="active", max_length=16, sa_column_kwargs={"server_default": "active"}
    )
    # While a move freezes writes: `read_only` holds until then, not after (pms_dashboard.moves).
    placement_frozen_until: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),  # type: ignore[call-overload]
    )


class TenantPlacement(SQLModel, table=True):
    """The catalog (home database): where a tenant lives, and nothing personal. Read by the
    runtime roles only through `app.placement_of` / `app.placement_for_slug`."""

    __tablename__ = "tenant_placement"
    __table_args__ = (
        CheckConstraint("tier IN ('pool', 'schema', 'database')", name="tier_valid"),
        CheckConstraint("state IN ('active', 'read_only', 'moving')", name="state_valid"),
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="slug_format"),
        CheckConstraint(
            "(tier = 'pool') = (database IS NULL AND schema IS NULL)", name="pool_has_no_target"
        ),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    slug: str = Field(max_length=63, unique=True)
    tier: str = Field(max_length=16)
    region: str = Field(max_length=32)
    cluster: str = Field(max_length=64)
    host: str | None = Field(default=None, max_length=255)
    port: int | None = None
    database: str | None = Field(default=None, max_length=63)
    # "schema" would shadow pydantic's BaseModel.schema: the column is mapped by name
    schema_name: str | None = Field(
        default=None, sa_column=Column("schema", AutoString(length=63), nullable=True)
    )
    # A dedicated cluster's owner URL, encrypted (purpose "dedicated-cluster-url").
    owner_url_enc: str | None = Field(default=None, sa_type=Text)  # type: ignore[call-overload]
    state: str = Field(
        default="active", max_length=16, sa_column_kwargs={"server_default": "active"}
    )
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    revision: str | None = Field(default=None, max_length=32)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class TenantMove(SQLModel, table=True):
    """The catalog: one online move of a tenant and its state machine (pms_dashboard.moves)."""

    __tablename__ = "tenant_move"
    __table_args__ = (
        CheckConstraint(
            "state IN ('copying', 'frozen', 'fenced', 'flipped', 'done', 'rolled_back')",
            name="state_valid",
        ),
        Index(None, "tenant_id", "started_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: uuid.UUID
    slug: str = Field(max_length=63)
    reason: str = Field(max_length=500)
    admin_id: uuid.UUID | None = None
    from_placement: dict[str, Any] = Field(sa_type=JSONB)  # type: ignore[call-overload]
    to_tier: str = Field(max_length=16)
    to_region: str = Field(max_length=32)
    to_schema: str | None = Field(default=None, max_length=63)
    to_database: str | None = Field(default=None, max_length=63)
    to_url_enc: str | None = Field(default=None, sa_type=Text)  # type: ignore[call-overload]
    to_dedicated: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    state: str = Field(max_length=16)
    error: str | None = Field(default=None, max_length=500)
    detail: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSONB,  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": text("'{}'::jsonb"), "nullable": False},
    )
    started_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class TenantSsoDomain(SQLModel, table=True):
    """The catalog: an email domain whose sign-in continues with a tenant's single sign-on
    (an organisation's domain, not a person's; proved by DNS, held by one organisation)."""

    __tablename__ = "tenant_sso_domain"

    domain: str = Field(primary_key=True, max_length=255)
    tenant_id: uuid.UUID = Field(
        index=True, foreign_key="tenant_placement.tenant_id", ondelete="CASCADE"
    )


class TenantOwned(SQLModel):
    """Base of every tenant-owned table: primary key (tenant_id, id), tenant_id -> tenant.

    Subclasses declare foreign keys with `tenant_fk`, so a row can never point into another
    tenant, and lead every index and unique constraint with tenant_id.
    """

    # Optional in Python only: the tenant session stamps it at flush; NOT NULL as a key column.
    tenant_id: uuid.UUID | None = Field(
        default=None, primary_key=True, foreign_key="tenant.id", ondelete="CASCADE"
    )
    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )


def tenant_fk(column: str, table: str, *, ondelete: str | None = None) -> ForeignKeyConstraint:
    """Composite FK `(tenant_id, column) -> table (tenant_id, id)`."""
    return ForeignKeyConstraint(
        ["tenant_id", column], [f"{table}.tenant_id", f"{table}.id"], ondelete=ondelete
    )


def tenant_models() -> tuple[type[TenantOwned], ...]:
    """Every tenant-owned table class defined so far (scoping criteria must name mapped
    classes, not the base), read from the class tree, so this room imports no domain: a
    table whose module was never imported cannot be queried either."""
    found: list[type[TenantOwned]] = []
    todo = list(TenantOwned.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo.extend(cls.__subclasses__())
        if getattr(cls, "__table__", None) is not None:
            found.append(cls)
    return tuple(found)
