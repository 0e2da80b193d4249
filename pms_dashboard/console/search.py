"""The console's cross-tenant audit search and its queue of flagged events to review.

What the console may read here is metadata only: `pms_auditor` has a SELECT policy on every
tenant's audit events but a column-level grant on who/what/when/where-from alone, so the
`detail` column (which may hold tenant data such as goal titles) and the hashes are refused
by PostgreSQL itself, whatever this module does.

Every search (and every look at the queue) is an event in the platform's trail, and, in
the same transaction, a flagged `console.audit_read` event in the chain of each tenant whose
events it showed, so that tenant sees it on its Provider access page. Reviewing a flagged
event is a platform event and a `console.flag_reviewed` event in that tenant's chain (never
with the note, which may speak of other tenants).

A refusal whose id belonged to another tenant is, in the tenant's own trail, only
`access.not_found` (the tenant may not learn that the id exists elsewhere); the platform's
trail holds the `access.cross_tenant` report that names it. The queue shows such an event
as the cross-tenant attempt it was, with the organisation the id belongs to.

`audit_search_statement` is a plain Core SELECT with stable, CSV-ready column labels, so
an export can stream exactly what the search shows (e.g. with COPY).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from sqlalchemy import ColumnElement, Select, Table, and_, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from pms_dashboard.audit.chain import record_platform_event
from pms_dashboard.audit.models import AuditEvent, FlagReview, PlatformEvent
from pms_dashboard.audit.sessions import shown_entity_id
from pms_dashboard.console.grants import audit_in_tenant
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError
from pms_dashboard.errors import validation_message
from pms_dashboard.paging import Page
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.registry import SLUG_RE

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
MAX_PAGE = 1_000_000
MAX_RANGE = timedelta(days=366)
MAX_NOTE = 500
CROSS_TENANT = "access.cross_tenant"  # how the queue shows a refusal the platform reports
# The search's columns, in order: also the header of an exported CSV.
SEARCH_COLUMNS = (
    "occurred_at", "tenant", "seq", "actor_id", "action", "entity_type", "entity_id",
    "flagged", "ip",
)  # fmt: skip
# An action name ("access.not_found") or a prefix of one ("access." or "access*").
_ACTION_RE = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*\.?\*?$")
_LABELS = {
    "tenant": "Organisation",
    "actor_id": "Actor id",
    "action": "Action",
    "flagged": "Flagged",
    "since": "Since",
    "until": "Until",
    "page": "Page",
    "page_size": "Page size",
}

Flagged = Literal["all", "only", "unflagged"]


def _tables() -> tuple[Table, Table, Table]:
    """The Core tables (this module selects columns, never ORM entities)."""
    return cast(
        tuple[Table, Table, Table],
        tuple(getattr(m, "__table__") for m in (AuditEvent, Tenant, FlagReview)),  # noqa: B009
    )


def _when(value: Any, field: str) -> datetime | None:
    """A bound of the time range, as an aware datetime (naive means UTC). A date alone
    means the start of that day for `since` and its last microsecond for `until`."""
    if value is None:
        return None
    if isinstance(value, str):
        text_value = value.strip()
        try:
            value = (
                date.fromisoformat(text_value)
                if len(text_value) == 10
                else datetime.fromisoformat(text_value)
            )
        except ValueError:
            raise ValueError(
                "give a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)"
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.max if field == "until" else time.min, tzinfo=UTC)
    raise ValueError("give a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)")


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _slug(value: Any) -> str | None:
    value = _blank_is_none(value)
    if value is None:
        return None
    slug = str(value).lower()
    if not SLUG_RE.fullmatch(slug):
        raise ValueError("give an organisation slug (lower-case letters, digits, hyphens)")
    return slug


def _number(value: Any, top: int) -> int:
    """A whole number from 1 to `top`, from an int or the text of one."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number from the browser's JavaScript
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"give a whole number from 1 to {top}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"give a whole number from 1 to {top}") from None
    if not 1 <= number <= top:
        raise ValueError(f"give a whole number from 1 to {top}")
    return number


class AuditQuery(BaseModel):
    """What to search for; every filter is optional.

    tenant: an organisation slug. actor_id: a user's id. action: an exact action name
    ("access.not_found") or a prefix ending in "." or "*" ("access." or "access*").
    flagged: all, only or unflagged. since and until (both inclusive; a date alone means
    the whole of that day): a date or an ISO date-time (UTC unless it says otherwise);
    until may not be before since, nor more than 366 days after it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    flagged: Flagged = "all"
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    # One "before" validator per field, each taking a blank form field as "not given".
    @field_validator("tenant", mode="before")
    @classmethod
    def _tenant(cls, value: Any) -> Any:
        return _slug(value)

    @field_validator("actor_id", mode="before")
    @classmethod
    def _uuid(cls, value: Any) -> Any:
        value = _blank_is_none(value)
        if value is None or isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise ValueError("give a user id (a UUID such as 0b5e…-…)") from None

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> Any:
        value = _blank_is_none(value)
        if value is None:
            return None
        action = str(value).lower()
        if len(action) > 64 or not _ACTION_RE.fullmatch(action):
            raise ValueError(
                'give an action such as "access.not_found", or a prefix such as "access."'
            )
        return action

    @field_validator("flagged", mode="before")
    @classmethod
    def _flagged(cls, value: Any) -> Any:
        value = _blank_is_none(value)
        value = "all" if value is None else str(value).lower()
        if value not in ("all", "only", "unflagged"):
            raise ValueError("choose all, only or unflagged")
        return value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _bound(cls, value: Any, info: Any) -> Any:
        return _when(_blank_is_none(value), info.field_name)

    @field_validator("page", "page_size", mode="before")
    @classmethod
    def _paging(cls, value: Any, info: Any) -> Any:
        return _number(value, MAX_PAGE if info.field_name == "page" else MAX_PAGE_SIZE)

    @model_validator(mode="after")
    def _range(self) -> AuditQuery:
        if self.since is not None and self.until is not None:
            if self.until < self.since:
                raise ValueError("Until may not be before since.")
            if self.until - self.since > MAX_RANGE:
                raise ValueError("Search at most 366 days at a time.")
        return self

    @property
    def action_prefix(self) -> str | None:
        """The prefix to match, when `action` asks for one."""
        if self.action and self.action.endswith(("*", ".")):
            return self.action.rstrip("*")
        return None

    def filters(self) -> dict[str, Any]:
        """The filters given (for the trails): JSON-ready, without paging and defaults."""
        out = self.model_dump(mode="json", exclude={"page", "page_size"}, exclude_none=True)
        if out.get("flagged") == "all":
            del out["flagged"]
        return out

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> AuditQuery:
        """A query from a form or any other untrusted mapping; a bad one raises ConsoleError
        with a message that can be shown as it is."""
        if not isinstance(form, Mapping):
            raise ConsoleError("Give the search filters.")
        try:
            return cls.model_validate(dict(form))
        except ValidationError as err:
            raise ConsoleError(
                validation_message(err, _LABELS, limit=10, unknown="filter")
            ) from None


def _conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    ae, tn, _ = _tables()
    conditions: list[ColumnElement[bool]] = []
    if query.tenant is not None:
        # an InitPlan: the tenant's id once, then the tenant_id-leading index
        only = tn.alias("only_tenant")
        conditions.append(
            ae.c.tenant_id == select(only.c.id).where(only.c.slug == query.tenant).scalar_subquery()
        )
    if query.actor_id is not None:
        conditions.append(ae.c.actor_id == query.actor_id)
    prefix = query.action_prefix
    if prefix is not None:
        conditions.append(ae.c.action.startswith(prefix, autoescape=True))
    elif query.action is not None:
        conditions.append(ae.c.action == query.action)
    if query.flagged == "only":
        conditions.append(ae.c.flagged.is_(True))
    elif query.flagged == "unflagged":
        conditions.append(ae.c.flagged.is_(False))
    if query.since is not None:
        conditions.append(ae.c.occurred_at >= query.since)
    if query.until is not None:
        conditions.append(ae.c.occurred_at <= query.until)
    return conditions


def _event_columns(ae: Table, tn: Table) -> list[Any]:
    """when, tenant (slug), seq, actor, action, entity type: what an event row of the search
    and of the flagged queue starts with."""
    return [
        ae.c.occurred_at.label("occurred_at"),
        tn.c.slug.label("tenant"),
        ae.c.seq.label("seq"),
        ae.c.actor_id.label("actor_id"),
        ae.c.action.label("action"),
        ae.c.entity_type.label("entity_type"),
    ]


def audit_search_statement(query: AuditQuery) -> Select[Any]:
    """Every audit event matching `query`, newest first, unpaged, as a pure Core SELECT
    whose columns are labelled SEARCH_COLUMNS (tenant as its slug): run it as pms_auditor.

    The console's CSV export streams it through COPY (`exports/console.py`); paging is the
    caller's (`.limit()`/`.offset()`), as `search` does.
    """
    ae, tn, _ = _tables()
    return (
        select(
            *_event_columns(ae, tn),
            shown_entity_id(ae.c.entity_type, ae.c.entity_id).label("entity_id"),
            ae.c.flagged.label("flagged"),
            ae.c.ip.label("ip"),
        )
        .select_from(ae.join(tn, tn.c.id == ae.c.tenant_id))
        .where(*_conditions(query))
        .order_by(ae.c.occurred_at.desc(), ae.c.tenant_id.desc(), ae.c.seq.desc())
    )


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One event as the console's search shows it (metadata only)."""

    occurred_at: datetime
    tenant: str
    seq: int
    actor_id: str
    action: str
    entity_type: str
    entity_id: str
    flagged: bool
    ip: str


@dataclass(frozen=True, slots=True)
class FlaggedRow:
    """One flagged event of an ordinary user that no super-admin has reviewed yet; for a
    cross-tenant attempt, `action` is "access.cross_tenant" and `other_tenant` the slug of
    the organisation the id belongs to (from the platform's trail)."""

    event_id: str
    occurred_at: datetime
    tenant: str
    seq: int
    actor_id: str
    action: str
    entity_type: str
    ip: str
    other_tenant: str = ""


def _tell_tenants(
    session: Session, admin: ConsoleAdmin, rows: list[Row[Any]], what: str,
    filters: dict[str, Any],
) -> None:  # fmt: skip
    """A flagged `console.audit_read` in the chain of each tenant whose events were shown.
    Tenants in a fixed order, so two concurrent searches never wait on each other's locks
    crosswise (deadlock); the platform event, with its one global lock, comes after."""
    per_tenant = Counter(r.tenant_id for r in rows)
    for tenant_id in sorted(per_tenant):
        audit_in_tenant(
            session,
            admin,
            "console.audit_read",
            {"what": what, "rows": per_tenant[tenant_id], "filters": filters},
            tenant_id=tenant_id,
            entity_type="audit_event",
        )


def _known_tenant(session: Session, slug: str | None) -> None:
    _, tn, _ = _tables()
    if (
        slug is not None
        and session.execute(select(tn.c.id).where(tn.c.slug == slug)).first() is None
    ):
        raise ConsoleError("No organisation with that slug.")


def _logged_page(
    s: Session, admin: ConsoleAdmin, statement: Select[Any], *, page: int, page_size: int,
    what: str, action: str, filters: dict[str, Any], ip: str,
) -> tuple[int, list[Row[Any]]]:  # fmt: skip
    """Total and one page of `statement` (whose rows carry tenant_id), told to every tenant
    shown and logged in the platform trail, in the caller's transaction."""
    total = s.execute(
        select(func.count()).select_from(statement.order_by(None).subquery())
    ).scalar_one()
    found = list(s.execute(statement.limit(page_size).offset((page - 1) * page_size)).all())
    _tell_tenants(s, admin, found, what, filters)
    record_platform_event(
        session=s,
        admin_id=admin.admin_id,
        action=action,
        detail={"filters": filters, "page": page, "rows": len(found), "total": total},
        ip=ip,
    )
    return total, found


def search(*, session: Session, admin: ConsoleAdmin, query: AuditQuery, ip: str = "") -> Page:
    """One page of audit events across tenants (metadata only), newest first; logged in
    the platform trail and in the trail of every tenant shown."""
    if not isinstance(query, AuditQuery):
        raise ConsoleError("Give the search filters.")
    ae, _, _ = _tables()
    statement = audit_search_statement(query)
    _known_tenant(session, query.tenant)
    total, found = _logged_page(
        session, admin, statement.add_columns(ae.c.tenant_id.label("tenant_id")),
        page=query.page, page_size=query.page_size, what="audit events",
        action="console.audit_search", filters=query.filters(), ip=ip,
    )  # fmt: skip
    rows = [
        AuditRow(
            occurred_at=r.occurred_at,
            tenant=r.tenant,
            seq=int(r.seq),
            actor_id=str(r.actor_id or ""),
            action=r.action,
            entity_type=r.entity_type,
            entity_id=str(r.entity_id or ""),
            flagged=bool(r.flagged),
            ip=r.ip,
        )
        for r in found
    ]
    return Page(rows=rows, total=int(total), page=query.page, page_size=query.page_size)


# ------------------------------------------------------------------ the flagged queue


def _reviewable() -> ColumnElement[bool]:
    """`flagged AND action NOT LIKE 'console.%'` with the pattern as a literal, exactly as
    the partial index says it (a bound parameter would keep the planner from matching)."""
    ae, _, _ = _tables()
    return and_(ae.c.flagged, ae.c.action.not_like(literal_column("'console.%'")))


def flagged_queue_statement(tenant: str | None = None) -> Select[Any]:
    """Flagged events of ordinary users not reviewed yet, oldest first (all tenants, or
    the one with slug `tenant`)."""
    ae, tn, fr = _tables()
    reviewed = exists().where(fr.c.tenant_id == ae.c.tenant_id, fr.c.event_id == ae.c.id)
    conditions = [_reviewable(), ~reviewed]
    if tenant is not None:
        only = tn.alias("only_tenant")
        conditions.append(
            ae.c.tenant_id == select(only.c.id).where(only.c.slug == tenant).scalar_subquery()
        )
    return (
        select(
            ae.c.id.label("event_id"),
            *_event_columns(ae, tn),
            ae.c.ip.label("ip"),
            ae.c.tenant_id.label("tenant_id"),
        )
        .select_from(ae.join(tn, tn.c.id == ae.c.tenant_id))
        .where(*conditions)
        .order_by(ae.c.occurred_at, ae.c.tenant_id, ae.c.seq)
    )


def _cross_tenant_reports(session: Session, event_ids: list[uuid.UUID]) -> dict[str, str]:
    """Of these tenant events (refusals), those the platform's trail reports as cross-tenant
    attempts: event id -> the slug of the organisation whose id was asked for. The action
    as a literal and the key as an expression, as the partial index says them."""
    if not event_ids:
        return {}
    pe = cast(Table, getattr(PlatformEvent, "__table__"))  # noqa: B009 (a Core table)
    key = pe.c.detail["tenant_event_id"].astext
    rows = session.execute(
        select(key, pe.c.detail["owner_tenant"].astext).where(
            pe.c.action == literal_column("'access.cross_tenant'"),
            key.in_([str(i) for i in event_ids]),
        )
    ).all()
    return {str(event): str(owner or "") for event, owner in rows}


class _QueueQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str | None = None
    page: int = 1
    page_size: int = 20

    @field_validator("tenant", mode="before")
    @classmethod
    def _tenant(cls, value: Any) -> Any:
        return _slug(value)

    @field_validator("page", "page_size", mode="before")
    @classmethod
    def _paging(cls, value: Any, info: Any) -> Any:
        return _number(value, MAX_PAGE if info.field_name == "page" else MAX_PAGE_SIZE)


def flagged_queue(
    *, session: Session, admin: ConsoleAdmin, tenant: str | None = None, page: Any = 1,
    page_size: Any = 20, ip: str = "",
) -> Page:  # fmt: skip
    """One page of the review queue, oldest first; looking is logged like a search."""
    try:
        q = _QueueQuery(tenant=tenant, page=page, page_size=page_size)
    except ValidationError as err:
        raise ConsoleError(validation_message(err, _LABELS, limit=10, unknown="filter")) from None
    statement = flagged_queue_statement(q.tenant)
    _known_tenant(session, q.tenant)
    filters = {"queue": "flagged, not reviewed"} | ({"tenant": q.tenant} if q.tenant else {})
    total, found = _logged_page(
        session, admin, statement, page=q.page, page_size=q.page_size, what="flagged events",
        action="console.flag_queue", filters=filters, ip=ip,
    )  # fmt: skip
    reports = _cross_tenant_reports(session, [r.event_id for r in found])
    rows = [
        FlaggedRow(
            event_id=str(r.event_id),
            occurred_at=r.occurred_at,
            tenant=r.tenant,
            seq=int(r.seq),
            actor_id=str(r.actor_id or ""),
            action=CROSS_TENANT if str(r.event_id) in reports else r.action,
            entity_type=r.entity_type,
            ip=r.ip,
            other_tenant=reports.get(str(r.event_id), ""),
        )
        for r in found
    ]
    return Page(rows=rows, total=int(total), page=q.page, page_size=q.page_size)


def review_flag(
    *, session: Session, admin: ConsoleAdmin, event_id: Any, note: Any, ip: str = ""
) -> None:
    """Mark one flagged event reviewed, with a short note (once per event, never edited)."""
    try:
        target = uuid.UUID(str(event_id))
    except ValueError:
        raise ConsoleError("No flagged event with that id.") from None
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise ConsoleError("Write a short note: what you checked and what you found.")
    if len(note) > MAX_NOTE:
        raise ConsoleError(f"Keep the note to {MAX_NOTE} characters.")
    ae, tn, fr = _tables()
    event = session.execute(
        select(ae.c.tenant_id, ae.c.id, ae.c.seq, ae.c.action, tn.c.slug)
        .select_from(ae.join(tn, tn.c.id == ae.c.tenant_id))
        .where(ae.c.id == target, _reviewable())
    ).first()
    if event is None:
        raise ConsoleError("No flagged event with that id.")
    added = session.execute(
        insert(fr)
        .values(tenant_id=event.tenant_id, event_id=event.id, admin_id=admin.admin_id,
                note=note)
        .on_conflict_do_nothing()
        .returning(fr.c.event_id)
    ).first()  # fmt: skip
    if added is None:  # reviewed already (perhaps a moment ago, by someone else)
        raise ConsoleError("That event has already been reviewed.")
    # the action as the queue showed it (a refusal reported as a cross-tenant attempt)
    shown = CROSS_TENANT if _cross_tenant_reports(session, [event.id]) else event.action
    audit_in_tenant(
        session,
        admin,
        "console.flag_reviewed",
        {"event": event.id, "seq": event.seq, "action": event.action},
        tenant_id=event.tenant_id,
        entity_type="audit_event",
    )
    record_platform_event(
        session=session,
        admin_id=admin.admin_id,
        action="console.flag_review",
        detail={"tenant": event.slug, "event": event.id, "seq": event.seq,
                "action": shown, "note": note},
        ip=ip,
    )  # fmt: skip


def record_tenant_reads(
    *, session: Session, admin: ConsoleAdmin, query: AuditQuery, what: str = "audit export"
) -> int:
    """For an export of `audit_search_statement(query)`: a flagged `console.audit_read` in
    the chain of every tenant with matching events (with its row count), as `search` does
    for a page; returns the total. Call it in the export's transaction, before
    `record_platform_event` (lock order: tenants first, the platform trail last)."""
    ae, _, _ = _tables()
    counted = (
        audit_search_statement(query).order_by(None).add_columns(ae.c.tenant_id.label("tenant_id"))
    ).subquery()
    per_tenant = session.execute(
        select(counted.c.tenant_id, func.count()).group_by(counted.c.tenant_id)
    ).all()
    filters = query.filters()
    for tenant_id, rows in sorted(per_tenant):
        audit_in_tenant(
            session,
            admin,
            "console.audit_read",
            {"what": what, "rows": int(rows), "filters": filters},
            tenant_id=tenant_id,
            entity_type="audit_event",
        )
    return sum(int(rows) for _, rows in per_tenant)
