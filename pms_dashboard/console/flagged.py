"""The console's flagged queue: every tenant's flagged events (refusals, cross-tenant
attempts), merged across placements oldest first, and a super-admin's review note on one
(a platform record in the home database, never in the tenant's chain)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    Table,
    Uuid,
    all_,
    and_,
    any_,
    bindparam,
    exists,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from pms_dashboard.audit.chain import record_platform_event
from pms_dashboard.audit.models import PlatformEvent
from pms_dashboard.console import placements
from pms_dashboard.console.grants import audit_in_tenant
from pms_dashboard.console.placements import Database
from pms_dashboard.console.search import (
    _LABELS,
    CROSS_TENANT,
    MAX_NOTE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    _data_tables,
    _event_columns,
    _first_rows,
    _logged_page,
    _number,
    _one_tenant,
    _slug,
    _tables,
)
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError
from pms_dashboard.errors import validation_message
from pms_dashboard.paging import Page
from pms_dashboard.tenancy.placement import Placement


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


# ------------------------------------------------------------------ the flagged queue


def _reviewable(ae: Table) -> ColumnElement[bool]:
    """`flagged AND action NOT LIKE 'console.%'` with the pattern as a literal, exactly as
    the partial index says it (a bound parameter would keep the planner from matching)."""
    return and_(ae.c.flagged, ae.c.action.not_like(literal_column("'console.%'")))


def flagged_queue_statement(
    tenant: str | None = None, *, schema: str | None = None,
    tenants: list[Placement] | None = None, reviewed: list[uuid.UUID] | None = None,
) -> Select[Any]:  # fmt: skip
    """Flagged events of ordinary users not reviewed yet, oldest first (all tenants, or
    the one with slug `tenant`). `schema`, `tenants`, `reviewed`: those of these
    placements in that data schema (fenced), leaving out the `reviewed` event ids (the
    reviews are in the home database); without them, the search_path's tenants, reviews
    read from this database's `flag_review`."""
    ae, tn = _data_tables(schema)
    conditions = [_reviewable(ae)]
    if reviewed is None:
        _, _, fr = _tables()
        conditions.append(
            ~exists().where(fr.c.tenant_id == ae.c.tenant_id, fr.c.event_id == ae.c.id)
        )
    elif reviewed:
        conditions.append(ae.c.id != all_(bindparam(None, reviewed, type_=ARRAY(Uuid()))))
    if tenants is not None:
        conditions.append(placements.fence(ae.c.tenant_id, tn, tenants))
    if tenant is not None:
        conditions.append(_one_tenant(ae, tn, tenant))
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


def _reviewed(session: Session, tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The events of these tenants that super-admins have reviewed (home database), by
    tenant."""
    _, _, fr = _tables()
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for tenant_id, event_id in session.execute(
        select(fr.c.tenant_id, fr.c.event_id).where(
            fr.c.tenant_id == any_(bindparam(None, tenant_ids, type_=ARRAY(Uuid())))
        )
    ):
        out.setdefault(tenant_id, []).append(event_id)
    return out


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
    placed = placements.tenants(session, slug=q.tenant)
    reviewed = _reviewed(session, [p.tenant_id for p in placed])

    def read(there: Session, db: Database, first: int) -> tuple[int, list[Row[Any]]]:
        branches = [
            flagged_queue_statement(
                schema=schema, tenants=found,
                reviewed=[e for p in found for e in reviewed.get(p.tenant_id, [])],
            )
            for schema, found in db.schemas().items()
        ]  # fmt: skip
        return _first_rows(there, branches, first, newest_first=False)

    filters = {"queue": "flagged, not reviewed"} | ({"tenant": q.tenant} if q.tenant else {})
    total, found = _logged_page(
        session, admin, read, placed, page=q.page, page_size=q.page_size, newest_first=False,
        what="flagged events", action="console.flag_queue", filters=filters, ip=ip,
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


def _flagged_event(session: Session, target: uuid.UUID, placed: list[Placement]) -> Row[Any]:
    """The reviewable event with id `target` among these placements' events (read at each
    database; the tenant's primary key leads with tenant_id, so a probe per tenant)."""

    def find(there: Session, db: Database) -> list[Row[Any]]:
        branches = []
        for schema, found in db.schemas().items():
            ae, tn = _data_tables(schema)
            branches.append(
                select(ae.c.tenant_id, ae.c.id, ae.c.seq, ae.c.action, tn.c.slug)
                .select_from(ae.join(tn, tn.c.id == ae.c.tenant_id))
                .where(ae.c.id == target, _reviewable(ae),
                       placements.fence(ae.c.tenant_id, tn, found))
            )  # fmt: skip
        return list(there.execute(union_all(*branches)).all())

    for rows in placements.each_database(session, placements.by_database(placed), find):
        if rows:
            return rows[0]
    raise ConsoleError("No flagged event with that id.")


def review_flag(
    *, session: Session, admin: ConsoleAdmin, event_id: Any, note: Any, ip: str = "",
    tenant: str | None = None,
) -> None:  # fmt: skip
    """Mark one flagged event reviewed, with a short note (once per event, never edited).
    `tenant`: the slug of the organisation whose event it is, when the caller knows it
    (else every placement is asked)."""
    try:
        target = uuid.UUID(str(event_id))
    except ValueError:
        raise ConsoleError("No flagged event with that id.") from None
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise ConsoleError("Write a short note: what you checked and what you found.")
    if len(note) > MAX_NOTE:
        raise ConsoleError(f"Keep the note to {MAX_NOTE} characters.")
    try:
        slug = _slug(tenant)
    except ValueError:
        raise ConsoleError("No flagged event with that id.") from None
    event = _flagged_event(session, target, placements.tenants(session, slug=slug))
    _, _, fr = _tables()
    # the review first (home database): a second reviewer waits on it, then is refused
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
    placements.at(session)(
        event.tenant_id,
        lambda there: audit_in_tenant(
            there,
            admin,
            "console.flag_reviewed",
            {"event": event.id, "seq": event.seq, "action": event.action},
            tenant_id=event.tenant_id,
            entity_type="audit_event",
        ),
    )
    record_platform_event(
        session=session,
        admin_id=admin.admin_id,
        action="console.flag_review",
        detail={"tenant": event.slug, "event": event.id, "seq": event.seq,
                "action": shown, "note": note},
        ip=ip,
    )  # fmt: skip
