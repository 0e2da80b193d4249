"""Reading both audit trails in tests: a tenant's own (as the tenant's pms_app session reads
it, so as its admin's audit export would) and the platform's (as the console's role)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text

from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import auditor_session, tenant_session


def tenant_head(tenant_id: uuid.UUID) -> int:
    """The last seq of a tenant's trail."""
    with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
        return int(s.execute(text("SELECT coalesce(max(seq), 0) FROM audit_event")).scalar_one())


def tenant_since(tenant_id: uuid.UUID, seq: int = 0) -> list[Any]:
    """A tenant's events after `seq`: seq, action, entity_type, entity_id, flagged, detail."""
    with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
        return list(
            s.execute(
                text("SELECT seq, action, entity_type, entity_id, flagged, detail"
                     " FROM audit_event WHERE seq > :n ORDER BY seq"), {"n": seq},
            ).all()
        )  # fmt: skip


def platform_head() -> int:
    """The last seq of the platform's trail."""
    with auditor_session() as s:
        return int(s.execute(text("SELECT coalesce(max(seq), 0) FROM platform_event")).scalar_one())


def cross_tenant_since(seq: int) -> list[dict[str, Any]]:
    """The details of the platform's `access.cross_tenant` events after `seq`."""
    with auditor_session() as s:
        return [
            dict(d)
            for d in s.execute(
                text("SELECT detail FROM platform_event WHERE seq > :n"
                     " AND action = 'access.cross_tenant' ORDER BY seq"), {"n": seq},
            ).scalars()
        ]  # fmt: skip


def mentions(rows: list[Any], value: object) -> bool:
    """Whether any of these rows holds `value` anywhere (an id, a word)."""
    return str(value) in json.dumps([list(r) for r in rows], default=str)
