"""Tenant names: slug resolution through the placement catalog."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.orm import Session

from pms_dashboard.errors import UserError
from pms_dashboard.tenancy import placement as placements

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class TenantError(UserError):
    """A tenant operation was refused; the message is safe to show."""


def resolve_slug(*, session: Session, slug: str) -> uuid.UUID | None:
    """Tenant id for an organisation slug typed at sign-in (a session on the home database,
    with or without a tenant context: the catalog's look-up function)."""
    slug = slug.strip().lower()
    if not SLUG_RE.fullmatch(slug):
        return None
    found = placements.by_slug(slug, conn=session.connection())
    return found.tenant_id if found else None
