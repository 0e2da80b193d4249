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

import heapq
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    func,
    select,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from pms_dashboard.audit.chain import record_platform_event
from pms_dashboard.audit.models import AuditEvent, FlagReview
from pms_dashboard.audit.sessions import shown_entity_id
from pms_dashboard.console import placements
from pms_dashboard.console.grants import audit_in_tenant
from pms_dashboard.console.placements import Database
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError
from pms_dashboard.errors import validation_message
from pms_dashboard.paging import Page
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.placement import Placement
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


def _data_tables(schema: str | None) -> tuple[Table, Table]:
    """The audit events and tenants of a data schema (named: a statement at a database
    reads all its schemas), or as the search_path finds them (None)."""
    ae, tn, _ = _tables()
    if schema is None:
        return ae, tn
    return placements.in_schema(ae, schema), placements.in_schema(tn, schema)


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


def _conditions(
    query: AuditQuery, ae: Table, tn: Table, tenants: list[Placement] | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if tenants is not None:
        conditions.append(placements.fence(ae.c.tenant_id, tn, tenants))
    if query.tenant is not None:
        conditions.append(_one_tenant(ae, tn, query.tenant))
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


def _one_tenant(ae: Table, tn: Table, slug: str) -> ColumnElement[bool]:
    """The events of the tenant with `slug`: an InitPlan (the tenant's id once), then the
    tenant_id-leading index."""
    only = tn.alias("only_tenant")
    return ae.c.tenant_id == select(only.c.id).where(only.c.slug == slug).scalar_subquery()


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


def audit_search_statement(
    query: AuditQuery, *, schema: str | None = None, tenants: list[Placement] | None = None
) -> Select[Any]:
    """Every audit event matching `query`, newest first, unpaged, as a pure Core SELECT
    whose columns are labelled SEARCH_COLUMNS (tenant as its slug): run it as pms_auditor.
    `schema` and `tenants`: the events of these placements in that data schema (fenced),
    as the search reads each database; without them, every tenant the search_path sees.

    The console's CSV export streams it through COPY (`exports/console.py`); paging is the
    caller's (`.limit()`/`.offset()`), as `search` does.
    """
    ae, tn = _data_tables(schema)
    return (
        select(
            *_event_columns(ae, tn),
            shown_entity_id(ae.c.entity_type, ae.c.entity_id).label("entity_id"),
            ae.c.flagged.label("flagged"),
            ae.c.ip.label("ip"),
        )
        .select_from(ae.join(tn, tn.c.id == ae.c.tenant_id))
        .where(*_conditions(query, ae, tn, tenants))
        .order_by(ae.c.occurred_at.desc(), ae.c.tenant_id.desc(), ae.c.seq.desc())
    )


def search_branches(query: AuditQuery, db: Database) -> list[Select[Any]]:
    """The search at one database: a statement per data schema, each with `tenant_id`."""
    branches = []
    for schema, found in db.schemas().items():
        ae, _ = _data_tables(schema)
        statement = audit_search_statement(query, schema=schema, tenants=found)
        branches.append(statement.add_columns(ae.c.tenant_id.label("tenant_id")))
    return branches


def _first_rows(
    there: Session, branches: list[Select[Any]], first: int, *, newest_first: bool
) -> tuple[int, list[Row[Any]]]:
    """Of one database: how many rows its branches (one per data schema, each with
    `tenant_id`) match, and the first `first` of them in the page order (each branch cut
    at `first` too, so every schema reads only what a page can need)."""
    found = union_all(*(b.limit(first) for b in branches)).subquery()
    keys = (found.c.occurred_at, found.c.tenant_id, found.c.seq)
    rows = there.execute(
        select(found).order_by(*(k.desc() if newest_first else k for k in keys)).limit(first)
    ).all()
    counted = union_all(*(b.order_by(None) for b in branches)).subquery()
    total = there.execute(select(func.count()).select_from(counted)).scalar_one()
    return int(total), list(rows)


def _merged_page(
    parts: list[tuple[int, list[Row[Any]]]], page: int, page_size: int, *, newest_first: bool
) -> tuple[int, list[Row[Any]]]:
    """The total and one page of every database's first rows, merged in the page order
    (time, tenant, seq: a total order) and cut."""

    def key(r: Row[Any]) -> tuple[Any, ...]:
        return (r.occurred_at, r.tenant_id, r.seq)

    merged = heapq.merge(*(rows for _, rows in parts), key=key, reverse=newest_first)
    start = (page - 1) * page_size
    return sum(total for total, _ in parts), list(islice(merged, start, start + page_size))


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


def tell_tenants(
    session: Session, admin: ConsoleAdmin, per_tenant: Mapping[uuid.UUID, int], what: str,
    filters: dict[str, Any],
) -> None:  # fmt: skip
    """A flagged `console.audit_read` (with its row count) in the chain of each tenant
    whose events were shown, each at its placement, in a fixed order (two concurrent
    searches never wait on each other's locks crosswise); the caller's platform event
    comes after."""
    run = placements.at(session)

    def tell(tenant_id: uuid.UUID) -> Callable[[Session], None]:
        def inner(there: Session) -> None:
            audit_in_tenant(
                there,
                admin,
                "console.audit_read",
                {"what": what, "rows": per_tenant[tenant_id], "filters": filters},
                tenant_id=tenant_id,
                entity_type="audit_event",
            )

        return inner

    for tenant_id in sorted(per_tenant):
        run(tenant_id, tell(tenant_id))


def _logged_page(
    s: Session, admin: ConsoleAdmin, read: Callable[[Session, Database, int], Any],
    placed: list[Placement], *, page: int, page_size: int, newest_first: bool, what: str,
    action: str, filters: dict[str, Any], ip: str,
) -> tuple[int, list[Row[Any]]]:  # fmt: skip
    """Total and one page of what `read(session, database, first)` finds at each database
    holding `placed` (rows with tenant_id), merged in page order, told to every tenant
    shown and logged in the platform trail (the caller's transaction, last)."""
    first = page * page_size
    parts = placements.each_database(
        s, placements.by_database(placed), lambda there, db: read(there, db, first)
    )
    total, found = _merged_page(parts, page, page_size, newest_first=newest_first)
    tell_tenants(s, admin, Counter(r.tenant_id for r in found), what, filters)
    record_platform_event(
        session=s,
        admin_id=admin.admin_id,
        action=action,
        detail={"filters": filters, "page": page, "rows": len(found), "total": total},
        ip=ip,
    )
    return total, found


def search(*, session: Session, admin: ConsoleAdmin, query: AuditQuery, ip: str = "") -> Page:
    """One page of audit events across tenants (metadata only), newest first, from every
    placement; logged in the platform trail and in the trail of every tenant shown."""
    if not isinstance(query, AuditQuery):
        raise ConsoleError("Give the search filters.")
    placed = placements.tenants(session, slug=query.tenant)

    def read(there: Session, db: Database, first: int) -> tuple[int, list[Row[Any]]]:
        return _first_rows(there, search_branches(query, db), first, newest_first=True)

    total, found = _logged_page(
        session, admin, read, placed, page=query.page, page_size=query.page_size,
        newest_first=True, what="audit events", action="console.audit_search",
        filters=query.filters(), ip=ip,
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


def record_tenant_reads(
    *, session: Session, admin: ConsoleAdmin, query: AuditQuery, what: str = "audit export"
) -> int:
    """For an export of the search `query` (every placement): a flagged
    `console.audit_read` in the chain of every tenant with matching events (with its row
    count), as `search` does for a page; returns the total. Call it in the export's
    transaction, before `record_platform_event` (lock order: tenants first, the platform
    trail last)."""

    def count(there: Session, db: Database) -> list[Row[Any]]:
        found = union_all(*(b.order_by(None) for b in search_branches(query, db))).subquery()
        return list(
            there.execute(
                select(found.c.tenant_id, func.count().label("n")).group_by(found.c.tenant_id)
            ).all()
        )

    placed = placements.tenants(session, slug=query.tenant)
    per_tenant = {
        r.tenant_id: int(r.n)
        for found in placements.each_database(session, placements.by_database(placed), count)
        for r in found
    }
    tell_tenants(session, admin, per_tenant, what, query.filters())
    return sum(per_tenant.values())
