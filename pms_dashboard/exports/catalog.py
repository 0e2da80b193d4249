"""Every CSV export a signed-in user can ask for: its name, the filters it takes (the same
model as the page it comes from) and the statement that produces its rows.

Column names are part of the product's interface (spreadsheets and scripts depend on
them): they are listed in README's "Exports" section, and a test keeps the two equal.
Each statement names `tenant_id` explicitly on every table it reads (the ORM's automatic
scoping does not reach a raw COPY); row-level security confines it again underneath.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import ColumnElement, Select, String, and_, func, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from pms_dashboard.auth.models import User
from pms_dashboard.auth.permissions import Action, Resource, require
from pms_dashboard.auth.resolve import RawId
from pms_dashboard.db.csvsafe import bool_text, iso_date, iso_utc, safe_text
from pms_dashboard.db.text import escape_like
from pms_dashboard.exports.sealed import SealedColumn
from pms_dashboard.goals.models import Goal, GoalCheckIn, GoalStatus, KeyResult
from pms_dashboard.goals.schemas import GoalListQuery
from pms_dashboard.goals.service import goal_list_conditions, stale_before, stale_condition
from pms_dashboard.people.schemas import PeopleQuery
from pms_dashboard.people.service import people_conditions
from pms_dashboard.reviews import reporting
from pms_dashboard.reviews.models import ReviewRating
from pms_dashboard.tenancy.context import TenantContext

Builder = Callable[[Session, TenantContext, Any], Select[Any]]
FrameBuilder = Callable[[Session, TenantContext, Any], pd.DataFrame]


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """One export: `params` validates the query string, `build` checks permission and
    returns the labelled select whose rows are the file (streamed by COPY) — or, for the
    small pandas summaries, `frame` returns the finished table instead."""

    name: str
    description: str
    params: type[BaseModel]
    build: Builder | None = None
    frame: FrameBuilder | None = None
    # The column holding encrypted free text (opened while streaming: `exports.sealed`).
    sealed: SealedColumn | None = None

    def columns(self, session: Session, actor: TenantContext, params: BaseModel) -> list[str]:
        assert self.build is not None, "a pandas summary's columns depend on the tenant"
        return [c.name for c in self.build(session, actor, params).selected_columns]


def _same_tenant(a: Any, b: Any) -> ColumnElement[bool]:
    return col(a.tenant_id) == b.tenant_id


class GoalExportQuery(GoalListQuery):
    """The goal list's filters and sort (paging is ignored: the file holds every page)."""


def _goal_rows(
    session: Session, actor: TenantContext, query: GoalListQuery
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The owner alias and WHERE shared by the three goal files, pinned to the tenant."""
    owner = aliased(User)
    conditions = goal_list_conditions(session=session, actor=actor, query=query, owner=owner)
    conditions += [col(Goal.tenant_id) == actor.tenant_id, col(owner.tenant_id) == actor.tenant_id]
    return owner, conditions


def _goal_order(query: GoalListQuery, owner: Any) -> list[Any]:
    column = col(owner.display_name) if query.sort == "owner" else col(getattr(Goal, query.sort))
    return [column.desc() if query.descending else column.asc(), col(Goal.id)]


def goals_statement(session: Session, actor: TenantContext, query: GoalListQuery) -> Select:  # type: ignore[type-arg]
    owner, conditions = _goal_rows(session, actor, query)
    parent = aliased(Goal)
    today = date.today()
    active = col(Goal.status) == GoalStatus.active.value
    return (
        select(
            col(Goal.id).label("goal_id"),
            safe_text(Goal.title).label("title"),
            safe_text(Goal.description).label("description"),
            safe_text(owner.display_name).label("owner"),
            safe_text(owner.email).label("owner_email"),
            safe_text(func.coalesce(owner.department, "")).label("department"),
            safe_text(func.coalesce(owner.team, "")).label("team"),
            safe_text(Goal.period).label("period"),
            col(Goal.status).label("status"),
            func.coalesce(col(Goal.confidence), "").label("confidence"),
            col(Goal.progress).label("progress_pct"),
            col(Goal.weight).label("weight"),
            iso_date(Goal.start_date).label("start_date"),
            iso_date(Goal.due_date).label("due_date"),
            iso_utc(Goal.last_check_in_at).label("last_check_in_at"),
            bool_text(stale_condition(stale_before(session))).label("stale"),
            bool_text(and_(active, col(Goal.due_date) < today)).label("overdue"),
            col(Goal.parent_id).label("parent_goal_id"),
            safe_text(func.coalesce(parent.title, "")).label("parent_title"),
            iso_utc(Goal.created_at).label("created_at"),
            iso_utc(Goal.updated_at).label("updated_at"),
        )
        .join(owner, and_(col(owner.id) == Goal.owner_id, _same_tenant(owner, Goal)))
        .outerjoin(parent, and_(col(parent.id) == Goal.parent_id, _same_tenant(parent, Goal)))
        .where(*conditions)
        .order_by(*_goal_order(query, owner))
    )


def key_results_statement(session: Session, actor: TenantContext, query: GoalListQuery) -> Select:  # type: ignore[type-arg]
    owner, conditions = _goal_rows(session, actor, query)
    span = col(KeyResult.target_value) - col(KeyResult.start_value)
    progress = func.round(
        func.greatest(
            0, func.least(1, (col(KeyResult.current_value) - KeyResult.start_value) / span)
        )
        * 100,
        2,
    )
    return (
        select(
            col(Goal.id).label("goal_id"),
            safe_text(Goal.title).label("goal_title"),
            safe_text(owner.display_name).label("owner"),
            col(KeyResult.id).label("key_result_id"),
            safe_text(KeyResult.title).label("title"),
            safe_text(KeyResult.unit).label("unit"),
            col(KeyResult.start_value).label("start_value"),
            col(KeyResult.target_value).label("target_value"),
            col(KeyResult.current_value).label("current_value"),
            col(KeyResult.weight).label("weight"),
            progress.label("progress_pct"),
            iso_utc(KeyResult.created_at).label("created_at"),
        )
        .select_from(KeyResult)
        .join(Goal, and_(col(Goal.id) == KeyResult.goal_id, _same_tenant(Goal, KeyResult)))
        .join(owner, and_(col(owner.id) == Goal.owner_id, _same_tenant(owner, Goal)))
        .where(col(KeyResult.tenant_id) == actor.tenant_id, *conditions)
        .order_by(*_goal_order(query, owner), col(KeyResult.created_at), col(KeyResult.id))
    )


def check_ins_statement(session: Session, actor: TenantContext, query: GoalListQuery) -> Select:  # type: ignore[type-arg]
    owner, conditions = _goal_rows(session, actor, query)
    author = aliased(User)
    return (
        select(
            col(Goal.id).label("goal_id"),
            safe_text(Goal.title).label("goal_title"),
            safe_text(owner.display_name).label("owner"),
            col(GoalCheckIn.id).label("check_in_id"),
            iso_utc(GoalCheckIn.created_at).label("checked_in_at"),
            safe_text(author.display_name).label("author"),
            col(GoalCheckIn.progress).label("progress_pct"),
            col(GoalCheckIn.confidence).label("confidence"),
            safe_text(GoalCheckIn.note).label("note"),
        )
        .select_from(GoalCheckIn)
        .join(Goal, and_(col(Goal.id) == GoalCheckIn.goal_id, _same_tenant(Goal, GoalCheckIn)))
        .join(owner, and_(col(owner.id) == Goal.owner_id, _same_tenant(owner, Goal)))
        .join(
            author, and_(col(author.id) == GoalCheckIn.author_id, _same_tenant(author, GoalCheckIn))
        )
        .where(col(GoalCheckIn.tenant_id) == actor.tenant_id, *conditions)
        .order_by(*_goal_order(query, owner), col(GoalCheckIn.created_at), col(GoalCheckIn.id))
    )


class PeopleExportQuery(PeopleQuery):
    """The people list's search and filters (paging is ignored)."""


def people_statement(session: Session, actor: TenantContext, query: PeopleQuery) -> Select:  # type: ignore[type-arg]
    manager = aliased(User)
    return (
        select(
            col(User.id).label("person_id"),
            safe_text(User.display_name).label("name"),
            safe_text(User.email).label("email"),
            col(User.role).label("role"),
            safe_text(func.coalesce(User.job_title, "")).label("job_title"),
            safe_text(func.coalesce(User.department, "")).label("department"),
            safe_text(func.coalesce(User.team, "")).label("team"),
            safe_text(func.coalesce(manager.display_name, "")).label("manager"),
            safe_text(func.coalesce(manager.email, "")).label("manager_email"),
            bool_text(col(User.is_active).is_(True)).label("active"),
            iso_utc(User.created_at).label("created_at"),
        )
        .outerjoin(manager, and_(col(manager.id) == User.manager_id, _same_tenant(manager, User)))
        .where(
            col(User.tenant_id) == actor.tenant_id,
            *people_conditions(session=session, actor=actor, query=query),
        )
        .order_by(func.lower(col(User.display_name)), col(User.id))
    )


class AuditExportQuery(BaseModel):
    """Filters of a tenant's own audit trail export (tenant admins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(default="", max_length=64)
    flagged: bool = False
    since: date | None = None
    until: date | None = None

    @field_validator("action")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _ordered(self) -> AuditExportQuery:
        if self.since and self.until and self.until < self.since:
            raise ValueError("'until' is before 'since'")
        return self


def _utc_midnight(day: date, *, plus_days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus_days), time.min, tzinfo=UTC)


def audit_statement(session: Session, actor: TenantContext, query: AuditExportQuery) -> Select:  # type: ignore[type-arg]
    from pms_dashboard.audit.models import AuditEvent
    from pms_dashboard.audit.sessions import shown_detail, shown_entity_id

    require(session=session, actor=actor, resource=Resource.audit_log, action=Action.view)
    who = aliased(User)
    conditions: list[ColumnElement[bool]] = [col(AuditEvent.tenant_id) == actor.tenant_id]
    if query.action:
        conditions.append(col(AuditEvent.action).like(f"{escape_like(query.action)}%", escape="\\"))
    if query.flagged:
        conditions.append(col(AuditEvent.flagged).is_(True))
    if query.since:
        conditions.append(col(AuditEvent.occurred_at) >= _utc_midnight(query.since))
    if query.until:  # inclusive: the whole of that day
        conditions.append(col(AuditEvent.occurred_at) < _utc_midnight(query.until, plus_days=1))
    return (
        select(
            col(AuditEvent.seq).label("seq"),
            iso_utc(AuditEvent.occurred_at).label("occurred_at"),
            col(AuditEvent.actor_id).label("actor_id"),
            safe_text(func.coalesce(who.display_name, "")).label("actor"),
            col(AuditEvent.action).label("action"),
            col(AuditEvent.entity_type).label("entity_type"),
            # sessions by their reference, never their id (also in events written before)
            shown_entity_id(
                col(AuditEvent.entity_type), col(AuditEvent.entity_id), col(AuditEvent.detail)
            ).label("entity_id"),
            bool_text(col(AuditEvent.flagged).is_(True)).label("flagged"),
            safe_text(AuditEvent.ip).label("ip"),
            safe_text(
                func.cast(shown_detail(col(AuditEvent.action), col(AuditEvent.detail)), String)
            ).label("detail"),
            col(AuditEvent.hash).label("hash"),
        )
        .outerjoin(who, and_(col(who.id) == AuditEvent.actor_id, _same_tenant(who, AuditEvent)))
        .where(*conditions)
        .order_by(col(AuditEvent.seq))
    )


class CycleExportQuery(BaseModel):
    """Which review cycle (its status page's exports)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cycle_id: RawId  # resolved (or refused as not found) like the status page's


class CycleSummaryQuery(CycleExportQuery):
    by: Literal["department", "manager"] = "department"


def reviews_statement(session: Session, actor: TenantContext, query: CycleExportQuery) -> Select:  # type: ignore[type-arg]
    return reporting.reviews_export_statement(session=session, actor=actor, cycle_id=query.cycle_id)


def cycle_summary(session: Session, actor: TenantContext, query: CycleSummaryQuery) -> pd.DataFrame:
    return reporting.cycle_summary_frame(
        session=session, actor=actor, cycle_id=query.cycle_id, by=query.by
    )


EXPORTS: dict[str, ExportSpec] = {
    spec.name: spec
    for spec in (
        ExportSpec(
            "goals",
            "Goals of the goal list, with its filters",
            GoalExportQuery,
            goals_statement,
            sealed=SealedColumn("description", "goal", "description", Goal.description, Goal.id),
        ),
        ExportSpec(
            "key-results", "Key results of those goals", GoalExportQuery, key_results_statement
        ),
        ExportSpec(
            "check-ins",
            "Check-ins of those goals",
            GoalExportQuery,
            check_ins_statement,
            sealed=SealedColumn("note", "goal_check_in", "note", GoalCheckIn.note, GoalCheckIn.id),
        ),
        ExportSpec(
            "people", "The people directory, with its filters", PeopleExportQuery, people_statement
        ),
        ExportSpec(
            "audit",
            "The organisation's audit trail (tenant admins)",
            AuditExportQuery,
            audit_statement,
        ),
        ExportSpec(
            "reviews",
            "A cycle's reviews with their ratings (peer reviewers anonymous)",
            CycleExportQuery,
            build=reviews_statement,
            sealed=SealedColumn(
                "comment", "review_rating", "comment", ReviewRating.comment, ReviewRating.id
            ),
        ),
        ExportSpec(
            "cycle-summary",
            "A cycle's completion and rating distribution per department or manager",
            CycleSummaryQuery,
            frame=cycle_summary,
        ),
    )
}


def parse_params(spec: ExportSpec, raw: dict[str, str]) -> BaseModel:
    """The export's filters from a query string (unknown names and bad values refused)."""
    cleaned = {k: v for k, v in raw.items() if k not in ("page", "page_size", "bom")}
    return spec.params.model_validate(cleaned)
