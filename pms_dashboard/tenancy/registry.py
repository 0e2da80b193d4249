"""The tenant registry: platform-level operations (owner role) and slug resolution."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.errors import UserError
from pms_dashboard.tenancy.models import Tenant

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class TenantError(UserError):
    """A tenant operation was refused; the message is safe to show."""


def resolve_slug(*, session: Session, slug: str) -> uuid.UUID | None:
    """Tenant id for an organisation slug typed at sign-in (works without a tenant context)."""
    slug = slug.strip().lower()
    if not SLUG_RE.fullmatch(slug):
        return None
    return session.execute(
        text("SELECT app.tenant_id_for_slug(:slug)"), {"slug": slug}
    ).scalar_one_or_none()


def create_tenant(*, session: Session, slug: str, name: str, region: str = "eu-central") -> Tenant:
    """Register a new organisation (owner session only)."""
    slug = slug.strip().lower()
    name = name.strip()
    if not SLUG_RE.fullmatch(slug):
        raise TenantError("slug must be 2-63 characters: lower-case letters, digits and hyphens")
    if not name:
        raise TenantError("name must not be empty")
    if session.scalars(select(Tenant).where(col(Tenant.slug) == slug)).first():
        raise TenantError(f"a tenant with slug {slug!r} already exists")
    tenant = Tenant(slug=slug, name=name[:200], region=region)
    session.add(tenant)
    session.flush()
    return tenant
