"""Seeding the demo organisations (`data.DEMO_TENANTS`), each filled in one transaction at
its placement.

Each organisation is created through `tenancy.provision.create_tenant` in its own tier and
region (Acme in the pool, Initech in a schema of its own, Globex in a database of its own),
so the catalog routes to it like to any other tenant. Then one transaction at its placement
(`tenant_session(..., as_owner=True)`) writes its people, goals, key results and check-ins,
the goals' rolled-up progress, its review cycles (written through the review services as its
people would, `demo_reviews`) and, last, a completion marker: the audit event `seed.demo`
in its own trail. A failure part-way rolls the rows back and removes the provisioned tenant
(`delete_tenant`), so nothing of it is left; a hard crash can leave at most a provisioned
organisation without the marker, and so can older code or a hand-made tenant. Such an
organisation is incomplete: the next run removes it, with everything of it, and makes it
again. One with the marker is left as it is, so running it again inserts nothing.

It runs as the owner role (platform administration, never a web request), in a tenant
session of the organisation it makes, so the services' tenant scoping and the audit chain
work as in the app. Concurrent runs wait for each other per organisation: an advisory lock
held on a home-database connection around each organisation's check, removal and making.
A region the deployment does not have (a single-region set-up) falls back to the home
region.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

import pms_dashboard.models  # noqa: F401  (every table in the metadata)
from pms_dashboard.audit import service as audit
from pms_dashboard.auth.models import Role
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.db import clusters
from pms_dashboard.db.metadata import metadata
from pms_dashboard.goals.models import REFRESH_LATEST_CHECK_IN, Goal, GoalStatus
from pms_dashboard.goals.service import recompute_progress
from pms_dashboard.keys import access as keys
from pms_dashboard.keys import service as key_admin
from pms_dashboard.seed.base import refuse_in_production
from pms_dashboard.seed.data import DEMO_TENANTS, KR, GoalSpec, TenantSpec, email_of, half_year
from pms_dashboard.seed.demo_reviews import seed_demo_reviews
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.provision import create_tenant, delete_tenant
from pms_dashboard.tenancy.session import owner_session, tenant_session

logger = logging.getLogger(__name__)

# Written last in an organisation's transaction: present means the organisation is whole.
COMPLETE_ACTION = "seed.demo"

_MARKED = text(
    "SELECT EXISTS (SELECT 1 FROM audit_event WHERE tenant_id = :t AND action = :complete)"
)
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


@dataclass
class SeedResult:
    """What `seed_demo` did: organisations created (`repaired`: of those, the ones that
    replaced an incomplete one) or skipped, and rows inserted per table."""

    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _dec(value: float | Decimal, places: str = "0.01") -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _quarter_end(today: date) -> date:
    q_last_month = ((today.month - 1) // 3 + 1) * 3
    next_first = date(today.year + (q_last_month == 12), q_last_month % 12 + 1, 1)
    return next_first - timedelta(days=1)


def _user_rows(
    t: TenantSpec, tid: uuid.UUID, users: dict[str, uuid.UUID], password_hash: str
) -> list[dict[str, Any]]:
    """The organisation's people (the spec lists managers before their reports)."""
    return [
        {
            "tenant_id": tid,
            "id": users[p.local],
            "email": email_of(t, p),
            "display_name": p.name,
            "role": p.role.value,
            "manager_id": users[p.manager] if p.manager else None,
            "department": p.department,
            "team": p.team,
            "job_title": p.job_title,
            "password_hash": password_hash,
            "is_active": True,
        }
        for p in t.people
    ]


def _goal_rows(
    t: TenantSpec, tid: uuid.UUID, users: dict[str, uuid.UUID], now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Goals, key results and check-ins, with random ids (the spec lists parent goals before
    the goals aligned to them; a goal's key is "<owner>#<n>")."""
    roles = {p.local: p.role for p in t.people}
    rows: dict[str, list[dict[str, Any]]] = {"goal": [], "key_result": [], "goal_check_in": []}
    goal_ids: dict[str, uuid.UUID] = {}
    goals_so_far: dict[str, int] = {}
    for g in t.goals:
        goals_so_far[g.owner] = n = goals_so_far.get(g.owner, 0) + 1
        goal_id = goal_ids[f"{g.owner}#{n}"] = uuid.uuid4()
        parent_id = goal_ids[g.parent] if g.parent else None
        rows["goal"].append(_goal_row(g, tid, goal_id, parent_id, users, roles, now))
        rows["key_result"] += [_key_result_row(kr, tid, goal_id) for kr in g.krs]
        rows["goal_check_in"] += [
            {
                "tenant_id": tid,
                "id": uuid.uuid4(),
                "goal_id": goal_id,
                "author_id": users[g.owner],
                "progress": _dec(ci.progress),
                "confidence": ci.confidence.value,
                "note": ci.note,
                # never before the half-year began
                "created_at": max(_half_start_at(now), now - timedelta(days=ci.days_ago)),
            }
            for ci in g.check_ins
        ]
    return rows


def _half_start_at(now: datetime) -> datetime:
    return datetime.combine(half_year(now.date())[0], datetime.min.time(), UTC)


def _goal_row(
    g: GoalSpec,
    tid: uuid.UUID,
    goal_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    users: dict[str, uuid.UUID],
    roles: dict[str, Role],
    now: datetime,
) -> dict[str, Any]:
    today = now.date()
    half_start, half_end, period = half_year(today)
    progress = (
        Decimal(100)
        if g.status is GoalStatus.completed
        else sum((kr.progress for kr in g.krs), Decimal(0)) / len(g.krs)
    )
    return {
        "tenant_id": tid,
        "id": goal_id,
        "owner_id": users[g.owner],
        "parent_id": parent_id,
        "title": g.title,
        "description": "",
        "period": period,
        "start_date": half_start,
        # Employees plan by quarter, leaders by half-year.
        "due_date": _quarter_end(today) if roles[g.owner] is Role.employee else half_end,
        "status": g.status.value,
        "progress": _dec(progress),
        "weight": Decimal(1),
    }


def _key_result_row(kr: KR, tid: uuid.UUID, goal_id: uuid.UUID) -> dict[str, Any]:
    return {
        "tenant_id": tid,
        "id": uuid.uuid4(),
        "goal_id": goal_id,
        "title": kr.title,
        "start_value": _dec(kr.start),
        "target_value": _dec(kr.target),
        "current_value": _dec(kr.current),
        "unit": kr.unit,
        "weight": Decimal(1),
    }


def _insert(session: Session, tid: uuid.UUID, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert the rows (free text sealed for an opted-in tenant); how many."""
    if rows:
        rows = keys.seal_rows(session, tenant_id=tid, table=table.name, rows=rows)
        session.execute(table.insert(), rows)
    return len(rows)


def _roll_up_goals(session: Session) -> None:
    """Give aligned demo goals the progress the app's roll-up rule gives them (deepest
    goals first, so each parent sees its children's final figures)."""
    parents = {i: p for i, p in session.execute(select(col(Goal.id), col(Goal.parent_id)))}

    def depth(goal_id: uuid.UUID) -> int:
        chain: list[uuid.UUID] = [goal_id]
        parent = parents.get(goal_id)
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = parents.get(parent)
        return len(chain)

    for goal_id in sorted(parents, key=depth, reverse=True):
        recompute_progress(session=session, goal_ids=[goal_id])


def _state(slug: str) -> tuple[uuid.UUID, bool] | None:
    """(tenant id, complete) of the organisation with `slug`, if the catalog has it (the
    marker read at its placement, as the owner)."""
    found = placements.by_slug(slug)
    if found is None:
        return None
    with owner_session(found.tenant_id) as s:
        marked = s.execute(_MARKED, {"t": found.tenant_id, "complete": COMPLETE_ACTION})
        return found.tenant_id, bool(marked.scalar())


def _region_of(t: TenantSpec) -> str:
    """The organisation's region, or the home region where the deployment lacks it."""
    try:
        return clusters.region(t.region).name
    except clusters.UnknownRegion:
        return clusters.home_region().name


def _fill(
    session: Session, t: TenantSpec, tid: uuid.UUID, password_hash: str, now: datetime
) -> dict[str, int]:
    """Every row of one organisation, in the caller's transaction; rows per table."""
    users = {p.local: uuid.uuid4() for p in t.people}
    counts = {"tenant": 1}  # (provisioned by create_tenant; given its settings here)
    tenant = metadata.tables["tenant"]
    session.execute(tenant.update().where(tenant.c.id == tid).values(settings={"accent": t.accent}))
    if t.key_provider is not None:
        choice = key_admin.KeyChoice(t.key_provider)
        key_admin.use_key(session=session, tenant_id=tid, choice=choice)
    tables = {"app_user": _user_rows(t, tid, users, password_hash)}
    for name, rows in (tables | _goal_rows(t, tid, users, now)).items():
        counts[name] = _insert(session, tid, metadata.tables[name], rows)
    session.execute(text(REFRESH_LATEST_CHECK_IN), {"tenant_ids": [tid]})
    _roll_up_goals(session)
    counts |= seed_demo_reviews(session, t, tid, users, today=now.date())
    return counts


def _seed_one(t: TenantSpec, password_hash: str, now: datetime, result: SeedResult) -> None:
    """One organisation: skipped if complete, else (removed if incomplete and) provisioned
    and filled whole in one transaction at its placement."""
    with owner_session() as home:  # the lock, held until this organisation is done
        home.execute(_LOCK, {"key": f"seed demo {t.slug}"})
        found = _state(t.slug)
        if found is not None and found[1]:
            result.skipped.append(t.slug)  # (a concurrent run made it meanwhile)
            return
        if found is not None:  # incomplete: everything of it goes
            delete_tenant(found[0])
        created = create_tenant(slug=t.slug, name=t.name, tier=t.tier, region=_region_of(t))
        tid = created.placement.tenant_id
        try:
            with tenant_session(TenantContext(tenant_id=tid), as_owner=True) as s:
                counts = _fill(s, t, tid, password_hash, now)
                audit.record(
                    session=s,
                    action=COMPLETE_ACTION,
                    entity_type="tenant",
                    entity_id=tid,
                    detail={"rows": counts, "replaced_incomplete": found is not None},
                )
        except BaseException:
            _remove_quietly(tid)
            raise
    result.created.append(t.slug)
    if found is not None:
        result.repaired.append(t.slug)
    for name, n in counts.items():
        result.rows[name] = result.rows.get(name, 0) + n


def _remove_quietly(tenant_id: uuid.UUID) -> None:
    """Remove an organisation whose filling failed (its rows were rolled back); if that
    fails too, the next run finds it without the marker and makes it again."""
    try:
        delete_tenant(tenant_id)
    except Exception:
        logger.exception("could not remove the half-made demo organisation %s", tenant_id)


def seed_demo(
    *,
    password: str | None = None,
    now: datetime | None = None,
    tenants: Sequence[TenantSpec] = DEMO_TENANTS,
) -> SeedResult:
    """Create the demo organisations (Acme, Globex, Initech) in their tiers and regions,
    each filled whole in one transaction at its placement; an incomplete one is made again,
    a complete one left as it is."""
    refuse_in_production()
    result = SeedResult()
    states = {t.slug: _state(t.slug) for t in tenants}
    todo = [t for t in tenants if not (states[t.slug] or (None, False))[1]]
    result.skipped = [t.slug for t in tenants if t not in todo]
    if not todo:
        return result
    # One Argon2 run for every demo account (it costs ~50 ms each; they share a password).
    password_hash = hash_password(password or get_settings().demo_password)
    now = now or datetime.now(UTC)
    for t in todo:
        _seed_one(t, password_hash, now, result)
    return result
