"""The console's organisations: every tenant with its tier and region (the catalog) and its
counts (at its placement), and a new organisation made from the console.

Counts only, never a tenant's row: `app.tenant_counts` is a SECURITY DEFINER function of
each database that counts the given tenants of one data schema. Each database is read
once, all its schemas in one UNION ALL (`console.placements`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from pms_dashboard.console import placements
from pms_dashboard.console.placements import Database
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError, TenantOverview
from pms_dashboard.db import clusters
from pms_dashboard.tenancy import provision
from pms_dashboard.tenancy.placement import TIER_WORDS, Tier

MIN_REASON, MAX_REASON = 3, 200


def _counts_at(session: Session, db: Database) -> list[Any]:
    """The counts of every tenant of one database: one statement, a branch per schema."""
    branches: list[str] = []
    params: dict[str, Any] = {}
    for i, (schema, found) in enumerate(sorted(db.schemas().items())):
        branches.append(
            f"SELECT * FROM app.tenant_counts(:s{i}, CAST(:t{i} AS uuid[]),"
            f" CAST(:v{i} AS integer[]))"
        )
        arguments = placements.counts_arguments(found)
        params |= {f"s{i}": schema, f"t{i}": arguments["tenants"], f"v{i}": arguments["versions"]}
    return list(session.execute(text(" UNION ALL ".join(branches)), params).all())


def overview(*, session: Session, admin: ConsoleAdmin) -> list[TenantOverview]:
    """Every tenant, by slug, with its tier and region (the catalog) and its people, goal
    counts and last activity (its placement): counts only, never a tenant's rows."""
    if not isinstance(admin, ConsoleAdmin):
        raise ConsoleError("Sign in to the console first.")
    placed = placements.tenants(session)
    counted = {
        r.tenant_id: r
        for rows in placements.each_database(session, placements.by_database(placed), _counts_at)
        for r in rows
    }
    out = []
    for p in placed:
        r = counted.get(p.tenant_id)  # None: being moved (neither place counts it now)
        out.append(
            TenantOverview(
                tenant_id=str(p.tenant_id),
                slug=p.slug,
                name=r.name if r else p.slug,
                isolation_tier=p.tier.value,
                region=p.region,
                users=int(r.users) if r else 0,
                goals=int(r.goals) if r else 0,
                last_activity=r.last_activity if r else None,
            )
        )
    return out


def regions() -> list[str]:
    """The regions an organisation may be placed in (the home region first)."""
    return [r.name for r in clusters.regions()]


def tier_choices() -> dict[str, str]:
    """tier -> how the form names it."""
    return {t.value: TIER_WORDS[t] for t in Tier}


def create_organisation(
    *, session: Session, admin: ConsoleAdmin, slug: str, name: str, tier: str, region: str,
    justification: str, ip: str = "",
) -> uuid.UUID:  # fmt: skip
    """Provision a new organisation in a tier and region (`tenancy.provision`), which
    writes the platform's `tenant.created` event naming this admin and the reason given;
    TenantError (a refusal to show; nothing made) on bad input or a taken slug."""
    if not isinstance(admin, ConsoleAdmin):
        raise ConsoleError("Sign in to the console first.")
    reason = justification.strip() if isinstance(justification, str) else ""
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise ConsoleError(
            f"Give the reason: the order or ticket ({MIN_REASON}-{MAX_REASON} characters)."
        )
    if region not in regions():
        raise ConsoleError("Choose a region from the list.")
    created = provision.create_tenant(
        slug=slug, name=name, tier=tier, region=region, admin_id=admin.admin_id, ip=ip,
        justification=reason,
    )  # fmt: skip
    return created.placement.tenant_id
