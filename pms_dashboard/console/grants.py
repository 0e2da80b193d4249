"""Break-glass access: a super-admin reads one tenant's data only under a justified,
time-boxed grant, and every such read is a flagged event in that tenant's own audit trail.

The database enforces it: `pms_auditor` sees a tenant's goals and reviews only through the
`grant_read` policies, which require an active, unrevoked grant held by the admin named in
the transaction (`app.current_admin_id`, set here from the authenticated console session,
never from anything the browser sends).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import chain
from pms_dashboard.audit.models import AccessGrant, AuditEvent
from pms_dashboard.auth.permissions import Action, Resource, require
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError, set_tenant
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.registry import resolve_slug

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


def _tenant_id(session: Session, slug: str) -> uuid.UUID:
    found = resolve_slug(session=session, slug=slug)
    if found is None:
        raise ConsoleError("No organisation with that slug.")
    return found


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
    tenant_id = _tenant_id(session, tenant_slug)
    set_tenant(session, tenant_id)
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
    session.add(grant)
    session.flush()
    audit_in_tenant(
        session,
        admin,
        "console.grant_opened",
        {"grant": grant.id, "justification": justification, "ticket": ticket,
         "expires_at": grant.expires_at.isoformat()},
    )  # fmt: skip
    return grant.id


def revoke_grant(*, session: Session, admin: ConsoleAdmin, grant_id: uuid.UUID) -> None:
    """End one of the admin's own grants now."""
    grant = session.scalars(select(AccessGrant).where(col(AccessGrant.id) == grant_id)).first()
    if grant is None or grant.revoked_at is not None:
        raise ConsoleError("No such open grant of yours.")
    assert grant.tenant_id is not None
    set_tenant(session, grant.tenant_id)
    session.execute(
        update(AccessGrant)
        .where(col(AccessGrant.id) == grant_id)
        .values(revoked_at=datetime.now(UTC))
    )
    audit_in_tenant(session, admin, "console.grant_revoked", {"grant": grant_id})


def my_grants(*, session: Session, admin: ConsoleAdmin) -> list[GrantRow]:
    """The admin's own grants, newest first (RLS shows no other admin's)."""
    now = datetime.now(UTC)
    grants = session.scalars(select(AccessGrant).order_by(col(AccessGrant.created_at).desc())).all()
    slugs = {
        r.tenant_id: r.slug
        for r in session.execute(text("SELECT tenant_id, slug FROM app.platform_overview()"))
    }
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
    tenant_id = _tenant_id(s, tenant_slug)
    set_tenant(s, tenant_id)
    grant = s.execute(
        select(col(AccessGrant.id), col(AccessGrant.justification), col(AccessGrant.ticket))
        .where(
            col(AccessGrant.tenant_id) == tenant_id,
            col(AccessGrant.revoked_at).is_(None),
            col(AccessGrant.expires_at) > datetime.now(UTC),
        )
        .limit(1)
    ).first()
    rows = list(s.execute(text(sql), {"t": tenant_id, "n": max(1, min(limit, 200))}).all())
    audit_in_tenant(
        s,
        admin,
        "console.read",
        {"what": what, "rows": len(rows), "grant": grant.id if grant else None,
         "justification": grant.justification if grant else None,
         "ticket": grant.ticket if grant else None},
    )  # fmt: skip
    return rows


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


def provider_access_log(
    *, session: Session, actor: TenantContext, limit: int = 200
) -> list[ProviderAccess]:
    """Every platform super-admin access to the tenant (grants opened and ended, every read
    under them, attempts without one), newest first; tenant admins only."""
    require(session=session, actor=actor, resource=Resource.audit_log, action=Action.view)
    events = session.scalars(
        select(AuditEvent)
        .where(col(AuditEvent.action).like("console.%"))
        .order_by(col(AuditEvent.seq).desc())
        .limit(min(max(limit, 1), 1000))
    ).all()
    out = []
    for e in events:
        d = e.detail or {}
        what = (
            f"{d.get('what')} ({d.get('rows', 0)} rows)"
            + ("" if d.get("grant") or e.action != "console.read" else " — refused: no grant")
            if e.action == "console.read"
            else ""
        )
        out.append(
            ProviderAccess(
                at=e.occurred_at,
                admin=str(d.get("admin", "")),
                action=CONSOLE_ACTIONS.get(e.action, e.action),
                justification=JUSTIFICATIONS.get(str(d.get("justification")), ""),
                ticket=str(d.get("ticket") or ""),
                what=what,
            )
        )
    return out
