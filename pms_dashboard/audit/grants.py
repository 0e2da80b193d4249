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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.audit import chain
from pms_dashboard.audit.models import AccessGrant
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError
from pms_dashboard.tenancy.registry import resolve_slug
from pms_dashboard.tenancy.session import auditor_session

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
    expires_at: str
    active: bool


@dataclass(frozen=True, slots=True)
class GoalReadRow:
    title: str
    owner: str
    status: str
    progress: int
    due_date: str


@contextmanager
def _as_admin(admin: ConsoleAdmin, tenant_id: uuid.UUID | None = None) -> Iterator[Session]:
    """A console unit of work naming the admin (and, to audit into it, the tenant)."""
    if not isinstance(admin, ConsoleAdmin):
        raise ConsoleError("Sign in to the console first.")
    with auditor_session() as s:
        s.execute(
            text("SELECT set_config('app.current_admin_id', :a, true)"), {"a": str(admin.admin_id)}
        )
        if tenant_id is not None:
            s.execute(
                text("SELECT set_config('app.current_tenant_id', :t, true)"), {"t": str(tenant_id)}
            )
        yield s


def _tenant_id(slug: str) -> uuid.UUID:
    with auditor_session() as s:
        found = resolve_slug(session=s, slug=slug)
    if found is None:
        raise ConsoleError("No organisation with that slug.")
    return found


def _audit(s: Session, admin: ConsoleAdmin, action: str, detail: dict) -> None:
    s.execute(
        chain.APPEND,
        {
            "actor": admin.admin_id,
            "action": action,
            "entity_type": "access_grant",
            "entity_id": None,
            "detail": json.dumps({"admin": admin.email, **detail}, default=str),
            "flagged": True,
            "ip": "",
        },
    )


def open_grant(
    *, admin: ConsoleAdmin, tenant_slug: str, justification: str, ticket: str, hours: float
) -> uuid.UUID:
    """Open a grant: a reason from the fixed list, a ticket, at most four hours."""
    if justification not in JUSTIFICATIONS:
        raise ConsoleError("Choose a justification from the list.")
    ticket = ticket.strip()
    if not 3 <= len(ticket) <= 100:
        raise ConsoleError("Give the ticket reference (3-100 characters).")
    if not 0 < hours <= MAX_HOURS:
        raise ConsoleError(f"A grant lasts at most {MAX_HOURS} hours.")
    tenant_id = _tenant_id(tenant_slug)
    now = datetime.now(UTC)
    with _as_admin(admin, tenant_id) as s:
        grant = AccessGrant(
            tenant_id=tenant_id,
            admin_id=admin.admin_id,
            admin_name=admin.display_name,
            justification=justification,
            ticket=ticket,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        s.add(grant)
        s.flush()
        _audit(
            s,
            admin,
            "console.grant_opened",
            {"grant": grant.id, "justification": justification, "ticket": ticket,
             "expires_at": grant.expires_at.isoformat()},
        )  # fmt: skip
        return grant.id


def revoke_grant(*, admin: ConsoleAdmin, grant_id: uuid.UUID) -> None:
    """End one of the admin's own grants now."""
    with _as_admin(admin) as s:
        grant = s.scalars(select(AccessGrant).where(col(AccessGrant.id) == grant_id)).first()
        if grant is None or grant.revoked_at is not None:
            raise ConsoleError("No such open grant of yours.")
        tenant_id = grant.tenant_id
    with _as_admin(admin, tenant_id) as s:
        s.execute(
            update(AccessGrant)
            .where(col(AccessGrant.id) == grant_id)
            .values(revoked_at=datetime.now(UTC))
        )
        _audit(s, admin, "console.grant_revoked", {"grant": grant_id})


def my_grants(*, admin: ConsoleAdmin) -> list[GrantRow]:
    """The admin's own grants, newest first (RLS shows no other admin's)."""
    now = datetime.now(UTC)
    with _as_admin(admin) as s:
        grants = s.scalars(select(AccessGrant).order_by(col(AccessGrant.created_at).desc())).all()
        slugs = {
            r.tenant_id: r.slug
            for r in s.execute(text("SELECT tenant_id, slug FROM app.platform_overview()"))
        }
    return [
        GrantRow(
            id=str(g.id),
            tenant_slug=slugs.get(g.tenant_id, "?"),
            justification=JUSTIFICATIONS.get(g.justification, g.justification),
            ticket=g.ticket,
            expires_at=g.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            active=g.revoked_at is None and g.expires_at > now,
        )
        for g in grants
    ]


def read_goals(*, admin: ConsoleAdmin, tenant_slug: str, limit: int = 50) -> list[GoalReadRow]:
    """A tenant's goals as the admin's active grant allows (none without one), and a flagged
    event in that tenant's trail saying who read what, under which grant."""
    tenant_id = _tenant_id(tenant_slug)
    with _as_admin(admin, tenant_id) as s:
        grant = s.execute(
            select(col(AccessGrant.id), col(AccessGrant.justification), col(AccessGrant.ticket))
            .where(
                col(AccessGrant.tenant_id) == tenant_id,
                col(AccessGrant.revoked_at).is_(None),
                col(AccessGrant.expires_at) > datetime.now(UTC),
            )
            .limit(1)
        ).first()
        rows = s.execute(
            text(
                "SELECT g.title, u.display_name AS owner, g.status, g.progress, g.due_date"
                " FROM goal g JOIN app_user u ON u.tenant_id = g.tenant_id AND u.id = g.owner_id"
                " WHERE g.tenant_id = :t ORDER BY g.due_date, g.title LIMIT :n"
            ),
            {"t": tenant_id, "n": max(1, min(limit, 200))},
        ).all()
        _audit(
            s,
            admin,
            "console.read",
            {"what": "goals", "rows": len(rows), "grant": grant.id if grant else None,
             "justification": grant.justification if grant else None,
             "ticket": grant.ticket if grant else None},
        )  # fmt: skip
    return [
        GoalReadRow(r.title, r.owner, r.status, round(float(r.progress)), r.due_date.isoformat())
        for r in rows
    ]
