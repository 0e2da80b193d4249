"""Break-glass access: a super-admin reads one tenant's data only under a justified,
time-boxed grant, and every such read is a flagged event in that tenant's own audit trail.

The database enforces it: `pms_auditor` sees a tenant's goals and reviews only through the
`grant_read` policies, which require an active, unrevoked grant held by the admin named in
the transaction (`app.current_admin_id`, set here from the authenticated console session,
never from anything the browser sends).

A grant is the tenant's data, so it lives at the tenant's placement with the rows it opens:
opening, using and ending one is a unit of work there (`console.placements.at`), and the
tenant's own session reads it there. The console's transaction (home database) only finds
the tenant in the catalog.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, Table, func, select, text, union_all, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import chain
from pms_dashboard.audit.models import AccessGrant, AuditEvent
from pms_dashboard.auth.permissions import Action, Resource, require
from pms_dashboard.console import placements
from pms_dashboard.console.placements import Database
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError, set_tenant
from pms_dashboard.errors import UserError
from pms_dashboard.paging import Page, page_count
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.placement import Placement

JUSTIFICATIONS = {
    "customer_support": "Customer-initiated support",
    "security_investigation": "Security investigation",
    "legal_request": "Legal request",
}
MAX_HOURS = 4


@dataclass(frozen=True, slots=True)
class GrantRow:
    id: str
    tenant_slug: str
    justification: str
    ticket: str
    expires_at: datetime
    active: bool


@dataclass(frozen=True, slots=True)
class GoalReadRow:
    title: str
    owner: str
    status: str
    progress: Decimal
    due_date: date


@dataclass(frozen=True, slots=True)
class ReviewReadRow:
    cycle: str
    reviewee: str
    reviewer: str
    kind: str
    status: str
    score: Decimal | None


def _placement(session: Session, slug: Any) -> Placement:
    """The catalog's placement of the organisation with `slug` (ConsoleError: none)."""
    slug = str(slug).strip().lower()[:63]
    if not slug:
        raise ConsoleError("No organisation with that slug.")
    return placements.tenants(session, slug=slug)[0]


def audit_in_tenant(
    session: Session,
    admin: ConsoleAdmin,
    action: str,
    detail: dict[str, Any],
    *,
    tenant_id: uuid.UUID | None = None,
    entity_type: str = "access_grant",
) -> None:
    """A flagged event naming the admin in a tenant's own chain (the tenant in context, or
    `tenant_id`, which then becomes the transaction's tenant), shown on its Provider
    access page."""
    if tenant_id is not None:
        set_tenant(session, tenant_id)
    session.execute(
        chain.APPEND,
        {
            "actor": admin.admin_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": None,
            "detail": json.dumps(
                {"admin": admin.email, "admin_name": admin.display_name, **detail}, default=str
            ),
            "flagged": True,
            "ip": "",
        },
    )


def open_grant(
    *, session: Session, admin: ConsoleAdmin, tenant_slug: str, justification: str,
    ticket: str, hours: float,
) -> uuid.UUID:  # fmt: skip
    """Open a grant: a reason from the fixed list, a ticket, at most four hours."""
    if justification not in JUSTIFICATIONS:
        raise ConsoleError("Choose a justification from the list.")
    ticket = ticket.strip()
    if not 3 <= len(ticket) <= 100:
        raise ConsoleError("Give the ticket reference (3-100 characters).")
    if not 0 < hours <= MAX_HOURS:
        raise ConsoleError(f"A grant lasts at most {MAX_HOURS} hours.")
    tenant_id = _placement(session, tenant_slug).tenant_id

    def open_there(there: Session) -> uuid.UUID:
        set_tenant(there, tenant_id)
        now = datetime.now(UTC)
        grant = AccessGrant(
            tenant_id=tenant_id,
            admin_id=admin.admin_id,
            admin_name=admin.display_name,
            justification=justification,
            ticket=ticket,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        there.add(grant)
        there.flush()
        audit_in_tenant(
            there,
            admin,
            "console.grant_opened",
            {"grant": grant.id, "justification": justification, "ticket": ticket,
             "expires_at": grant.expires_at.isoformat()},
        )  # fmt: skip
        return grant.id

    return placements.at(session)(tenant_id, open_there)


def _grant_table(schema: str) -> Table:
    return placements.in_schema(cast(Table, getattr(AccessGrant, "__table__")), schema)  # noqa: B009


def _grants_at(there: Session, db: Database, grant_id: uuid.UUID | None = None) -> list[Any]:
    """The admin's own grants (RLS shows no other admin's) in every schema of one database,
    or the open one with `grant_id`: one statement, a branch per schema."""
    branches = []
    for schema, found in db.schemas().items():
        ag = _grant_table(schema)
        q = select(
            ag.c.id, ag.c.tenant_id, ag.c.justification, ag.c.ticket, ag.c.created_at,
            ag.c.expires_at, ag.c.revoked_at,
        ).where(placements.among(ag.c.tenant_id, found))  # fmt: skip
        if grant_id is not None:
            q = q.where(ag.c.id == grant_id, ag.c.revoked_at.is_(None))
        branches.append(q)
    return list(there.execute(union_all(*branches)).all())


def revoke_grant(
    *, session: Session, admin: ConsoleAdmin, grant_id: uuid.UUID, tenant_slug: str | None = None
) -> None:
    """End one of the admin's own grants now (at its tenant's placement: the one of
    `tenant_slug` when the caller knows it, else found among every placement)."""
    placed = [_placement(session, tenant_slug)] if tenant_slug else placements.tenants(session)
    found = [
        row.tenant_id
        for rows in placements.each_database(
            session, placements.by_database(placed), lambda s, db: _grants_at(s, db, grant_id)
        )
        for row in rows
    ]
    if not found:
        raise ConsoleError("No such open grant of yours.")

    def revoke_there(there: Session) -> None:
        set_tenant(there, found[0])
        ended = there.execute(
            update(AccessGrant)
            .where(col(AccessGrant.id) == grant_id, col(AccessGrant.revoked_at).is_(None))
            .values(revoked_at=datetime.now(UTC))
            .returning(col(AccessGrant.id))
        ).first()
        if ended is None:  # ended a moment ago
            raise ConsoleError("No such open grant of yours.")
        audit_in_tenant(there, admin, "console.grant_revoked", {"grant": grant_id})

    placements.at(session)(found[0], revoke_there)


def my_grants(*, session: Session, admin: ConsoleAdmin) -> list[GrantRow]:
    """The admin's own grants in every organisation, newest first."""
    if not isinstance(admin, ConsoleAdmin):
        raise ConsoleError("Sign in to the console first.")
    now = datetime.now(UTC)
    placed = placements.tenants(session)
    slugs = {p.tenant_id: p.slug for p in placed}
    grants = [
        g
        for rows in placements.each_database(session, placements.by_database(placed), _grants_at)
        for g in rows
    ]
    grants.sort(key=lambda g: (g.created_at, g.id), reverse=True)
    return [
        GrantRow(
            id=str(g.id),
            tenant_slug=slugs.get(g.tenant_id, "?"),
            justification=JUSTIFICATIONS.get(g.justification, g.justification),
            ticket=g.ticket,
            expires_at=g.expires_at,
            active=g.revoked_at is None and g.expires_at > now,
        )
        for g in grants
    ]


def read_goals(
    *, session: Session, admin: ConsoleAdmin, tenant_slug: str, limit: int = 50
) -> list[GoalReadRow]:
    """A tenant's goals as the admin's active grant allows (none without one), and a flagged
    event in that tenant's trail saying who read what, under which grant."""
    rows = _read_under_grant(
        session,
        admin,
        tenant_slug,
        "goals",
        "SELECT g.title, u.display_name AS owner, g.status, g.progress, g.due_date"
        " FROM goal g JOIN app_user u ON u.tenant_id = g.tenant_id AND u.id = g.owner_id"
        " WHERE g.tenant_id = :t ORDER BY g.due_date, g.title LIMIT :n",
        limit,
    )
    return [GoalReadRow(r.title, r.owner, r.status, r.progress, r.due_date) for r in rows]


def read_reviews(
    *, session: Session, admin: ConsoleAdmin, tenant_slug: str, limit: int = 50
) -> list[ReviewReadRow]:
    """A tenant's reviews (who reviewed whom in which cycle, status and score; never the
    written summary) as the admin's active grant allows, logged like `read_goals`."""
    rows = _read_under_grant(
        session,
        admin,
        tenant_slug,
        "reviews",
        "SELECT c.name AS cycle, ee.display_name AS reviewee, er.display_name AS reviewer,"
        "       r.kind, r.status, r.score"
        " FROM review r"
        " JOIN review_cycle c ON c.tenant_id = r.tenant_id AND c.id = r.cycle_id"
        " JOIN app_user ee ON ee.tenant_id = r.tenant_id AND ee.id = r.reviewee_id"
        " JOIN app_user er ON er.tenant_id = r.tenant_id AND er.id = r.reviewer_id"
        " WHERE r.tenant_id = :t"
        " ORDER BY c.period_end DESC, c.name, ee.display_name, r.kind, er.display_name"
        " LIMIT :n",
        limit,
    )
    return [ReviewReadRow(r.cycle, r.reviewee, r.reviewer, r.kind, r.status, r.score) for r in rows]


def _read_under_grant(
    s: Session, admin: ConsoleAdmin, tenant_slug: str, what: str, sql: str, limit: int
) -> list[Row[Any]]:
    """Run one read of a tenant's data as the admin (the grant_read policies show rows only
    under an active grant of theirs) and log the attempt, rows or none, in the tenant's
    chain, with the grant it ran under."""
    tenant_id = _placement(s, tenant_slug).tenant_id

    def read_there(there: Session) -> list[Row[Any]]:
        set_tenant(there, tenant_id)
        grant = there.execute(
            select(col(AccessGrant.id), col(AccessGrant.justification), col(AccessGrant.ticket))
            .where(
                col(AccessGrant.tenant_id) == tenant_id,
                col(AccessGrant.revoked_at).is_(None),
                col(AccessGrant.expires_at) > datetime.now(UTC),
            )
            .limit(1)
        ).first()
        rows = list(there.execute(text(sql), {"t": tenant_id, "n": max(1, min(limit, 200))}).all())
        audit_in_tenant(
            there,
            admin,
            "console.read",
            {"what": what, "rows": len(rows), "grant": grant.id if grant else None,
             "justification": grant.justification if grant else None,
             "ticket": grant.ticket if grant else None},
        )  # fmt: skip
        return rows

    return placements.at(s)(tenant_id, read_there)


# ------------------------------------------------- what the tenant sees of it


@dataclass(frozen=True, slots=True)
class ProviderAccess:
    """One super-admin action on this tenant, as its transparency page shows it."""

    at: datetime
    admin: str
    action: str
    justification: str
    ticket: str
    what: str


CONSOLE_ACTIONS = {
    "console.grant_opened": "Opened access",
    "console.read": "Read data",
    "console.grant_revoked": "Ended access",
    "console.audit_read": "Searched your audit trail (who, what, when; no content)",
    "console.flag_reviewed": "Reviewed a flagged event",
}


ACCESS_LOG_PAGE_SIZE = 25
# The kinds of access the log can be narrowed to (what the address and the menu say).
ACCESS_KINDS = {action.removeprefix("console."): label for action, label in CONSOLE_ACTIONS.items()}
NO_SUCH_KIND = "That filter is not available."


def provider_access_page(
    *, session: Session, actor: TenantContext, kind: str = "", page: int = 1,
    page_size: int = ACCESS_LOG_PAGE_SIZE,
) -> Page:  # fmt: skip
    """One page of every platform super-admin access to the tenant (grants opened and
    ended, every read under them, attempts without one), newest first, of one `kind` of
    ACCESS_KINDS or all (""); a page past the end is the last. Tenant admins only."""
    require(session=session, actor=actor, resource=Resource.audit_log, action=Action.view)
    if kind and kind not in ACCESS_KINDS:
        raise UserError(NO_SUCH_KIND)
    action = col(AuditEvent.action)
    wanted = [
        col(AuditEvent.tenant_id) == actor.tenant_id,
        action == f"console.{kind}" if kind else action.like("console.%"),
    ]
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*wanted)) or 0
    page_size = min(max(page_size, 1), 1000)
    page = min(max(page, 1), page_count(total, page_size))
    events = session.scalars(
        select(AuditEvent)
        .where(*wanted)
        .order_by(col(AuditEvent.seq).desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return Page(
        rows=[_provider_access(e) for e in events], total=total, page=page, page_size=page_size
    )


def provider_access_log(
    *, session: Session, actor: TenantContext, limit: int = 200
) -> list[ProviderAccess]:
    """The newest `limit` platform super-admin accesses to the tenant (see
    `provider_access_page`); tenant admins only."""
    return provider_access_page(session=session, actor=actor, page_size=limit).rows


def _provider_access(e: AuditEvent) -> ProviderAccess:
    """One audit event of the console as the tenant's transparency page shows it."""
    d = e.detail or {}
    what = (
        f"{d.get('what')} ({d.get('rows', 0)} rows)"
        + ("" if d.get("grant") or e.action != "console.read" else " — refused: no grant")
        if e.action == "console.read"
        else ""
    )
    return ProviderAccess(
        at=e.occurred_at,
        admin=str(d.get("admin", "")),
        action=CONSOLE_ACTIONS.get(e.action, e.action),
        justification=JUSTIFICATIONS.get(str(d.get("justification")), ""),
        ticket=str(d.get("ticket") or ""),
        what=what,
    )
