"""Seeding: the two demo organisations, and synthetic tenants for load tests.

Both run as the owner role (platform administration, never a web request) and are
idempotent: a tenant whose slug already exists is skipped, so running them again inserts
nothing. Every id is random (version 4), demo rows included: an id derived from a name
would let anyone who reads this source compute the ids of a demo organisation, and probe
with them.

Neither is allowed when PMS_ENV=production: every seeded account's password is the demo
password, which is published in the README.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, Table, select
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlmodel import col

import pms_dashboard.models  # noqa: F401  (every table in the metadata)
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.db.metadata import metadata
from pms_dashboard.goals.models import REFRESH_LATEST_CHECK_IN, Confidence, GoalStatus
from pms_dashboard.people.models import Role
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.registry import SLUG_RE
from pms_dashboard.tenancy.session import owner_session


class SeedError(RuntimeError):
    """Seeding was refused; the message is safe to show."""


def _refuse_in_production() -> None:
    if get_settings().env == "production":
        raise SeedError(
            "refusing to seed accounts with the published demo password when PMS_ENV=production"
        )


# --------------------------------------------------------------------------------------------
# Demo organisations: a declarative description, turned into rows by `_demo_rows`.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KR:
    title: str
    start: float
    target: float
    current: float
    unit: str

    @property
    def progress(self) -> Decimal:
        """Share of the way from start to target, 0-100 (works for "lower is better" too)."""
        share = (self.current - self.start) / (self.target - self.start)
        return Decimal(str(max(0.0, min(1.0, share)) * 100))


@dataclass(frozen=True)
class CheckIn:
    days_ago: int
    progress: int
    confidence: Confidence
    note: str


@dataclass(frozen=True)
class GoalSpec:
    """A goal; its key is "<owner>#<n>" (the owner's n-th goal), which `parent` refers to."""

    owner: str
    title: str
    krs: tuple[KR, ...]
    parent: str | None = None
    status: GoalStatus = GoalStatus.active
    check_ins: tuple[CheckIn, ...] = ()


@dataclass(frozen=True)
class PersonSpec:
    local: str  # email local part, also the person's key in the spec
    name: str
    role: Role
    job_title: str
    department: str
    team: str
    manager: str | None = None


@dataclass(frozen=True)
class CriterionSpec:
    name: str
    weight: str
    description: str


@dataclass(frozen=True)
class TenantSpec:
    slug: str
    name: str
    region: str
    people: tuple[PersonSpec, ...]  # managers before their reports
    goals: tuple[GoalSpec, ...]  # parents before the goals aligned to them
    template_name: str
    criteria: tuple[CriterionSpec, ...]
    comments: tuple[str, ...]  # review comments, picked deterministically
    accent: str = "indigo"  # the tenant's theme colour (tenant settings)


def G(
    owner: str,
    title: str,
    *krs: KR,
    parent: str | None = None,
    status: GoalStatus = GoalStatus.active,
    check_ins: Sequence[CheckIn] = (),
) -> GoalSpec:
    return GoalSpec(owner, title, krs, parent, status, tuple(check_ins))


P = PersonSpec
C = CheckIn
ON, RISK, OFF = Confidence.on_track, Confidence.at_risk, Confidence.off_track
DONE, DRAFT = GoalStatus.completed, GoalStatus.draft
EMP, MGR, HR, ADMIN = Role.employee, Role.manager, Role.hr_admin, Role.tenant_admin

# fmt: off
ACME = TenantSpec(
    slug="acme", name="Acme Corp", region="us-east",
    people=(
        P("ada.admin", "Ada Okafor", ADMIN, "Chief Executive Officer", "Leadership", "Executive"),
        P("hana.hr", "Hana Kobayashi", HR, "VP People", "People", "People Operations",
          "ada.admin"),
        P("maria.manager", "María Fernández", MGR, "Engineering Manager", "Engineering",
          "Checkout", "ada.admin"),
        P("liam.manager", "Liam Walsh", MGR, "Head of Growth Marketing", "Marketing", "Growth",
          "ada.admin"),
        P("priya.nair", "Priya Nair", EMP, "Senior Software Engineer", "Engineering",
          "Checkout", "maria.manager"),
        P("jonas.berg", "Jonas Berg", EMP, "Software Engineer", "Engineering", "Checkout",
          "maria.manager"),
        P("chloe.martin", "Chloe Martin", EMP, "QA Engineer", "Engineering", "Checkout",
          "maria.manager"),
        P("omar.haddad", "Omar Haddad", EMP, "Growth Marketer", "Marketing", "Growth",
          "liam.manager"),
        P("sofia.rossi", "Sofia Rossi", EMP, "Content Strategist", "Marketing", "Growth",
          "liam.manager"),
        P("ben.carter", "Ben Carter", EMP, "Marketing Analyst", "Marketing", "Growth",
          "liam.manager"),
    ),
    goals=(
        G("ada.admin", "Grow annual recurring revenue to $24M",
          KR("Annual recurring revenue", 18, 24, 20.4, "$M"),
          KR("Net revenue retention", 104, 115, 108, "%"),
          check_ins=[C(20, 38, ON, "Bookings ahead of plan; two enterprise renewals pending.")]),
        G("ada.admin", "Make our checkout the fastest in the market",
          KR("Median checkout time", 95, 45, 70, "s"),
          KR("Checkout conversion", 61, 70, 64.5, "%")),
        G("hana.hr", "Run a fair, on-time review cycle",
          KR("Self reviews submitted on time", 0, 95, 40, "%"),
          KR("Managers trained on calibration", 0, 2, 2, "managers")),
        G("hana.hr", "Lift the engagement score to 80",
          KR("Engagement survey score", 72, 80, 75, "pts"),
          check_ins=[C(12, 35, ON, "Pulse survey up 3 points after the flexible-hours pilot.")]),
        G("maria.manager", "Ship v2 checkout",
          KR("Merchants migrated to v2 checkout", 0, 120, 54, "merchants"),
          KR("p95 payment API latency", 900, 300, 520, "ms"),
          parent="ada.admin#2",
          check_ins=[C(21, 30, ON, "Beta with 12 merchants went smoothly; rollout plan agreed."),
                     C(7, 45, RISK, "3-D Secure edge cases on EU cards; added a fix sprint.")]),
        G("maria.manager", "Cut checkout incidents in half",
          KR("Sev-2+ incidents per month", 8, 4, 5, "incidents"),
          parent="ada.admin#2"),
        G("maria.manager", "Grow the checkout team's on-call bench",
          KR("Engineers onboarded to on-call", 3, 6, 5, "engineers")),
        G("liam.manager", "Generate $3M pipeline from mid-market campaigns",
          KR("Marketing-sourced pipeline", 0, 3, 1.2, "$M"),
          KR("MQL to SQL conversion", 18, 25, 21, "%"),
          parent="ada.admin#1"),
        G("liam.manager", "Launch v2 checkout publicly",
          KR("Launch assets shipped", 0, 8, 3, "assets"),
          KR("Press and analyst briefings", 0, 6, 1, "briefings"),
          parent="ada.admin#2"),
        G("priya.nair", "Build one-click wallet payments for v2 checkout",
          KR("Wallets supported (Apple Pay, Google Pay, PayPal)", 0, 3, 2, "wallets"),
          parent="maria.manager#1",
          check_ins=[C(10, 66, ON, "Apple Pay and Google Pay live behind a flag; PayPal next.")]),
        G("priya.nair", "Reduce payment API p95 latency",
          KR("p95 latency of /payments", 900, 300, 480, "ms"),
          parent="maria.manager#1"),
        G("priya.nair", "Mentor a new engineer through their first on-call",
          KR("On-call shadow shifts completed", 0, 4, 4, "shifts"),
          parent="maria.manager#3", status=DONE),
        G("jonas.berg", "Migrate saved cards to the new vault",
          KR("Saved cards migrated", 0, 100, 35, "%"),
          parent="maria.manager#1",
          check_ins=[C(5, 35, RISK, "The vault's tokenisation rate limit slows the backfill.")]),
        G("jonas.berg", "Add synthetic checks for the checkout funnel",
          KR("Funnel steps covered by synthetic checks", 0, 7, 5, "steps"),
          parent="maria.manager#2"),
        G("chloe.martin", "Automate the v2 checkout regression suite",
          KR("Regression cases automated", 40, 220, 150, "cases"),
          parent="maria.manager#1"),
        G("chloe.martin", "Halve escaped checkout defects",
          KR("Production defects per release", 6, 3, 4, "defects"),
          parent="maria.manager#2",
          check_ins=[C(14, 50, ON, "Contract tests on the gateway caught two regressions.")]),
        G("chloe.martin", "Certify in accessibility testing",
          KR("Course modules completed", 0, 10, 0, "modules"),
          status=DRAFT),
        G("omar.haddad", "Run paid campaigns for mid-market retailers",
          KR("Cost per SQL", 420, 300, 350, "$"),
          KR("SQLs from paid channels", 0, 180, 95, "SQLs"),
          parent="liam.manager#1",
          check_ins=[C(12, 52, ON, "Retargeting beats search on cost per SQL; moving budget.")]),
        G("omar.haddad", "Launch a merchant referral programme",
          KR("Referral sign-ups", 0, 60, 9, "sign-ups"),
          parent="liam.manager#1",
          check_ins=[C(3, 15, OFF, "Referral terms still in legal review; launch slips 2 weeks.")]),
        G("sofia.rossi", "Publish the v2 checkout launch content",
          KR("Launch articles and case studies", 0, 6, 2, "pieces"),
          parent="liam.manager#2"),
        G("sofia.rossi", "Grow organic traffic to the blog",
          KR("Monthly organic sessions", 42000, 60000, 51000, "sessions")),
        G("ben.carter", "One source of truth for pipeline attribution",
          KR("Channels with multi-touch attribution", 0, 5, 5, "channels"),
          parent="liam.manager#1", status=DONE),
        G("ben.carter", "Deliver a weekly funnel report to leadership",
          KR("Weekly reports delivered on time", 0, 12, 7, "reports"),
          parent="liam.manager#1",
          check_ins=[C(6, 58, ON, "Report now built from the warehouse; reviewed Mondays.")]),
    ),
    template_name="Acme Performance Review",
    criteria=(
        CriterionSpec("Impact", "0.40", "Delivered outcomes that moved team and company goals."),
        CriterionSpec("Execution", "0.25", "Quality, reliability and predictability of the work."),
        CriterionSpec("Collaboration", "0.20", "Made the people around them more effective."),
        CriterionSpec("Growth", "0.15", "Learned new skills and helped others learn."),
    ),
    comments=(
        "Consistently raised the bar on v2 checkout quality.",
        "Clear written updates; stakeholders always knew where things stood.",
        "Would like to see more ownership of cross-team dependencies.",
        "Stepped up during the payments incident and ran the retro well.",
        "Good progress; next step is leading a project end to end.",
    ),
)

GLOBEX = TenantSpec(
    slug="globex", name="Globex Corporation", region="eu-central", accent="teal",
    people=(
        P("greta.admin", "Greta Lindqvist", ADMIN, "Chief Operating Officer", "Leadership",
          "Executive"),
        P("hugo.hr", "Hugo Moreau", HR, "HR Director", "People", "People Operations",
          "greta.admin"),
        P("gus.manager", "Gus Delgado", MGR, "Sales Manager, EMEA", "Sales", "EMEA Sales",
          "greta.admin"),
        P("nina.manager", "Nina Kowalski", MGR, "Customer Success Manager, EMEA",
          "Customer Success", "EMEA Retention", "greta.admin"),
        P("tariq.rahman", "Tariq Rahman", EMP, "Account Executive, DACH", "Sales",
          "EMEA Sales", "gus.manager"),
        P("elena.petrova", "Elena Petrova", EMP, "Account Executive, Nordics", "Sales",
          "EMEA Sales", "gus.manager"),
        P("felix.wagner", "Felix Wagner", EMP, "Sales Development Representative", "Sales",
          "EMEA Sales", "gus.manager"),
        P("aisha.bello", "Aisha Bello", EMP, "Customer Success Specialist",
          "Customer Success", "EMEA Retention", "nina.manager"),
        P("lucas.silva", "Lucas Silva", EMP, "Support Engineer", "Customer Success",
          "EMEA Retention", "nina.manager"),
        P("mei.chen", "Mei Chen", EMP, "Onboarding Specialist", "Customer Success",
          "EMEA Retention", "nina.manager"),
    ),
    goals=(
        G("greta.admin", "Reduce churn in EMEA",
          KR("EMEA gross revenue churn", 14, 8, 11.5, "%"),
          KR("Accounts with a success plan", 40, 90, 66, "%"),
          check_ins=[C(15, 40, RISK, "Two large DACH accounts at risk after the price change.")]),
        G("greta.admin", "Grow EMEA new business to €9M",
          KR("New-business ACV", 0, 9, 4.1, "€M")),
        G("hugo.hr", "Hire 12 quota-carrying reps in EMEA",
          KR("Reps hired", 0, 12, 7, "hires"),
          KR("Median time to hire", 52, 35, 41, "days"),
          parent="greta.admin#2"),
        G("hugo.hr", "Launch the career framework for Sales and CS",
          KR("Role profiles published", 0, 14, 14, "profiles"),
          status=DONE),
        G("gus.manager", "Close €4M new business in DACH and the Nordics",
          KR("Closed-won ACV", 0, 4, 1.9, "€M"),
          KR("Win rate", 21, 28, 24, "%"),
          parent="greta.admin#2",
          check_ins=[C(9, 47, ON, "Nordics ahead of plan; DACH deals slipping a quarter.")]),
        G("gus.manager", "Renew every strategic account on time",
          KR("Strategic renewals closed before term end", 0, 15, 9, "renewals"),
          parent="greta.admin#1"),
        G("gus.manager", "Roll out the new discovery playbook",
          KR("Reps certified on the playbook", 0, 5, 2, "reps")),
        G("nina.manager", "Cut logo churn in EMEA mid-market",
          KR("Quarterly logo churn", 4.5, 2.5, 3.6, "%"),
          parent="greta.admin#1",
          check_ins=[C(20, 30, ON, "Health scores now live for every mid-market account."),
                     C(4, 42, RISK, "Retail churn above forecast; exec sponsor calls booked.")]),
        G("nina.manager", "Raise EMEA NPS to 45",
          KR("Net promoter score", 31, 45, 36, "pts"),
          parent="greta.admin#1"),
        G("nina.manager", "Halve time to first value for new customers",
          KR("Median days to first value", 40, 20, 29, "days"),
          parent="greta.admin#1"),
        G("tariq.rahman", "Close €1.5M in DACH mid-market",
          KR("Closed-won ACV", 0, 1.5, 0.6, "€M"),
          parent="gus.manager#1",
          check_ins=[C(8, 40, RISK, "Two late-stage deals wait on procurement.")]),
        G("tariq.rahman", "Build a €4M qualified pipeline",
          KR("Qualified pipeline", 0, 4, 2.9, "€M"),
          parent="gus.manager#1"),
        G("elena.petrova", "Close €1.2M in the Nordics",
          KR("Closed-won ACV", 0, 1.2, 0.9, "€M"),
          parent="gus.manager#1",
          check_ins=[C(11, 75, ON, "Signed the Oslo logistics deal; two more in legal review.")]),
        G("elena.petrova", "Renew the top five Nordic accounts",
          KR("Renewals signed", 0, 5, 3, "renewals"),
          parent="gus.manager#2"),
        G("elena.petrova", "Complete MEDDICC certification",
          KR("Certification modules passed", 0, 6, 6, "modules"),
          parent="gus.manager#3", status=DONE),
        G("felix.wagner", "Book 90 qualified meetings for the DACH team",
          KR("Qualified meetings booked", 0, 90, 41, "meetings"),
          parent="gus.manager#1",
          check_ins=[C(5, 46, ON, "German-language sequences doubled the reply rate.")]),
        G("felix.wagner", "Pilot the discovery playbook on outbound",
          KR("Outbound calls using the playbook", 0, 200, 0, "calls"),
          parent="gus.manager#3", status=DRAFT),
        G("aisha.bello", "Put every at-risk account on a success plan",
          KR("At-risk accounts with a plan", 0, 100, 70, "%"),
          parent="nina.manager#1",
          check_ins=[C(7, 70, ON, "14 of 20 at-risk accounts have a signed success plan.")]),
        G("aisha.bello", "Run business reviews with the top 20 accounts",
          KR("Quarterly business reviews held", 0, 20, 8, "QBRs"),
          parent="nina.manager#2"),
        G("lucas.silva", "Cut first-response time on priority tickets",
          KR("Median first response, P1 tickets", 90, 30, 55, "min"),
          parent="nina.manager#2",
          check_ins=[C(9, 55, ON, "Follow-the-sun rota with the Lisbon team is live.")]),
        G("lucas.silva", "Publish 25 troubleshooting articles",
          KR("Articles published", 0, 25, 11, "articles"),
          parent="nina.manager#3"),
        G("lucas.silva", "Automate triage of billing tickets",
          KR("Billing tickets routed automatically", 0, 80, 10, "%"),
          parent="nina.manager#2",
          check_ins=[C(2, 12, OFF, "Triage model misroutes invoice disputes; paused to retrain.")]),
        G("mei.chen", "Onboard new customers in under 20 days",
          KR("Median onboarding time", 34, 20, 26, "days"),
          parent="nina.manager#3"),
        G("mei.chen", "Launch a self-serve onboarding academy",
          KR("Academy courses live", 0, 6, 2, "courses"),
          parent="nina.manager#3"),
    ),
    template_name="Globex Performance Review",
    criteria=(
        CriterionSpec("Customer outcomes", "0.35", "Customers got measurable value from the work."),
        CriterionSpec("Commercial impact", "0.30", "Contribution to revenue, retention, margin."),
        CriterionSpec("Teamwork", "0.20", "Shared context, helped colleagues, kept promises."),
        CriterionSpec("Ownership and learning", "0.15", "Took initiative and grew their craft."),
    ),
    comments=(
        "Customers ask for them by name; renewals in their book are rock solid.",
        "Strong half against a tough DACH market.",
        "Forecasts need to be more conservative late in the quarter.",
        "Shared the renewal playbook with the whole team unprompted.",
        "Ready for a larger territory next half.",
    ),
)
# fmt: on

DEMO_TENANTS: tuple[TenantSpec, ...] = (ACME, GLOBEX)


@dataclass(frozen=True)
class DemoSignIn:
    """One demo account, for `make run` and the README."""

    slug: str
    email: str
    role: str
    display_name: str


def demo_sign_ins() -> list[DemoSignIn]:
    """Every demo account (organisation slug, email, role); the password is the demo password."""
    return [
        DemoSignIn(t.slug, _email(t, p), p.role.value, p.name)
        for t in DEMO_TENANTS
        for p in t.people
    ]


@dataclass
class SeedResult:
    """What `seed_demo` did: tenants created or skipped, and rows inserted per table."""

    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _email(t: TenantSpec, p: PersonSpec) -> str:
    return f"{p.local}@{t.slug}.example"


def _dec(value: float | Decimal, places: str = "0.01") -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _half_year(today: date) -> tuple[date, date, str]:
    """The current half-year: the demo's goal period and review cycle."""
    if today.month <= 6:
        return date(today.year, 1, 1), date(today.year, 6, 30), f"{today.year} H1"
    return date(today.year, 7, 1), date(today.year, 12, 31), f"{today.year} H2"


def _quarter_end(today: date) -> date:
    q_last_month = ((today.month - 1) // 3 + 1) * 3
    next_first = date(today.year + (q_last_month == 12), q_last_month % 12 + 1, 1)
    return next_first - timedelta(days=1)


# Insertion order: every table after the tables its foreign keys point to.
_DEMO_TABLES = (
    "app_user",
    "goal",
    "key_result",
    "goal_check_in",
    "review_template",
    "review_criterion",
    "review_cycle",
    "review",
    "review_rating",
)


def _demo_rows(
    t: TenantSpec, tid: uuid.UUID, users: dict[str, uuid.UUID], password_hash: str, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Every row of one demo tenant, keyed by table, in insertion (foreign-key) order, with
    random ids (`users`: each person's id, by the local part of their email)."""
    today = now.date()
    half_start, half_end, period = _half_year(today)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _DEMO_TABLES}
    goal_ids: dict[str, uuid.UUID] = {}

    def uid(local: str) -> uuid.UUID:
        return users[local]

    def gid(goal_key: str) -> uuid.UUID:
        return goal_ids.setdefault(goal_key, uuid.uuid4())

    # The spec lists managers before their reports and parent goals before aligned ones.
    for p in t.people:
        rows["app_user"].append(
            {
                "tenant_id": tid,
                "id": uid(p.local),
                "email": _email(t, p),
                "display_name": p.name,
                "role": p.role.value,
                "manager_id": uid(p.manager) if p.manager else None,
                "department": p.department,
                "team": p.team,
                "job_title": p.job_title,
                "password_hash": password_hash,
                "is_active": True,
            }
        )
    roles = {p.local: p.role for p in t.people}
    goals_so_far: dict[str, int] = {}
    half_start_at = datetime.combine(half_start, datetime.min.time(), UTC)
    for g in t.goals:
        goals_so_far[g.owner] = n = goals_so_far.get(g.owner, 0) + 1
        key = f"{g.owner}#{n}"
        progress = (
            Decimal(100)
            if g.status is GoalStatus.completed
            else sum((kr.progress for kr in g.krs), Decimal(0)) / len(g.krs)
        )
        rows["goal"].append(
            {
                "tenant_id": tid,
                "id": gid(key),
                "owner_id": uid(g.owner),
                "parent_id": gid(g.parent) if g.parent else None,
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
        )
        for kr in g.krs:
            rows["key_result"].append(
                {
                    "tenant_id": tid,
                    "id": uuid.uuid4(),
                    "goal_id": gid(key),
                    "title": kr.title,
                    "start_value": _dec(kr.start),
                    "target_value": _dec(kr.target),
                    "current_value": _dec(kr.current),
                    "unit": kr.unit,
                    "weight": Decimal(1),
                }
            )
        for ci in g.check_ins:
            rows["goal_check_in"].append(
                {
                    "tenant_id": tid,
                    "id": uuid.uuid4(),
                    "goal_id": gid(key),
                    "author_id": uid(g.owner),
                    "progress": _dec(ci.progress),
                    "confidence": ci.confidence.value,
                    "note": ci.note,
                    "created_at": max(half_start_at, now - timedelta(days=ci.days_ago)),
                }
            )

    return rows


def _insert_ignoring_existing(session: Session, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose primary key is new; return how many were inserted."""
    if not rows:
        return 0
    stmt = insert(table).on_conflict_do_nothing().returning(table.c.id)
    return len(session.execute(stmt, rows).all())


def seed_demo(*, password: str | None = None, now: datetime | None = None) -> SeedResult:
    """Create the demo organisations Acme and Globex, each in one transaction, once."""
    _refuse_in_production()
    result = SeedResult()
    with owner_session() as s:
        existing = set(
            s.scalars(
                select(col(Tenant.slug)).where(col(Tenant.slug).in_([t.slug for t in DEMO_TENANTS]))
            )
        )
    todo = [t for t in DEMO_TENANTS if t.slug not in existing]
    result.skipped = [t.slug for t in DEMO_TENANTS if t.slug in existing]
    if not todo:
        return result
    # One Argon2 run for every demo account (it costs ~50 ms each; they share a password).
    password_hash = hash_password(password or get_settings().demo_password)
    now = now or datetime.now(UTC)
    for t in todo:
        tid = uuid.uuid4()
        users = {p.local: uuid.uuid4() for p in t.people}
        with owner_session() as s:
            # ON CONFLICT: a concurrent `seed demo` that got there first makes this a no-op.
            tenant_table = metadata.tables["tenant"]
            created = s.execute(
                insert(tenant_table)
                .values(
                    id=tid,
                    slug=t.slug,
                    name=t.name,
                    region=t.region,
                    settings={"accent": t.accent},
                )
                .on_conflict_do_nothing()
                .returning(tenant_table.c.id)
            ).first()
            if created is None:
                result.skipped.append(t.slug)
                continue
            result.created.append(t.slug)
            result.rows["tenant"] = result.rows.get("tenant", 0) + 1
            for name, rows in _demo_rows(t, tid, users, password_hash, now).items():
                n = _insert_ignoring_existing(s, metadata.tables[name], rows)
                result.rows[name] = result.rows.get(name, 0) + n
            s.execute(sql_text(REFRESH_LATEST_CHECK_IN), {"tenant_ids": [tid]})
        _roll_up_demo_goals(tid)
        result.rows.update(
            {
                k: result.rows.get(k, 0) + v
                for k, v in _seed_demo_reviews(t, tid, users, today=now.date()).items()
            }
        )
    return result


# Left with nothing written in the current cycle, for the browser tests and for trying it out.
DEMO_FRESH_REVIEWEE = "priya.nair"


def _seed_demo_reviews(
    t: TenantSpec, tid: uuid.UUID, users: dict[str, uuid.UUID], *, today: date
) -> dict[str, int]:
    """The demo's review cycles, made through the review services as the people themselves
    would: last half-year's cycle fully reviewed, calibrated and shared (so the nine-box
    and the results pages have data), and the current one under way."""
    from pms_dashboard.reviews import calibration, cycles, peers, templates, writing
    from pms_dashboard.reviews.models import Review, ReviewOutcome
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import tenant_session

    people = {p.local: p for p in t.people}
    hr = next(p for p in t.people if p.role is Role.hr_admin)

    def actor(local: str) -> TenantContext:
        return TenantContext(tenant_id=tid, user_id=users[local], role=people[local].role.value)

    rng = random.Random(f"{t.slug}-reviews")
    employees = [p for p in t.people if p.role is Role.employee and p.manager]
    cur_start, cur_end, cur_name = _half_year(today)
    prev_end = cur_start - timedelta(days=1)
    prev_start, _, prev_name = _half_year(prev_end)

    with tenant_session(actor(hr.local)) as s:
        template = templates.create_template(
            session=s,
            actor=actor(hr.local),
            data={
                "name": t.template_name,
                "description": "Half-yearly review: self review, then manager review.",
                "criteria": [
                    {"name": c.name, "description": c.description, "weight": c.weight}
                    for c in t.criteria
                ],
            },
        )
        cycle_ids = {}
        for name, start, end in ((prev_name, prev_start, prev_end), (cur_name, cur_start, cur_end)):
            due = (
                (end, end)
                if end < today
                else (today + timedelta(days=14), today + timedelta(days=28))
            )
            cycle_ids[name] = uuid.UUID(
                cycles.create_cycle(
                    session=s,
                    actor=actor(hr.local),
                    data={
                        "name": f"{name} performance review",
                        "template_id": template.id,
                        "period_start": start,
                        "period_end": end,
                        "self_review_due": due[0],
                        "manager_review_due": due[1],
                    },
                ).id
            )
            cycles.launch_cycle(session=s, actor=actor(hr.local), cycle_id=cycle_ids[name])
    criteria = [c.id for c in template.criteria]

    def review_ids(cycle_id: uuid.UUID) -> dict[tuple[str, str, str], uuid.UUID]:
        by_id = {v: k for k, v in users.items()}
        with tenant_session(actor(hr.local)) as s:
            rows = s.scalars(select(Review).where(col(Review.cycle_id) == cycle_id)).all()
            return {(by_id[r.reviewee_id], r.kind, by_id[r.reviewer_id]): r.id for r in rows}

    def write(cycle_id: uuid.UUID, reviewee: str, kind: str, reviewer: str, base: int) -> None:
        draft = {
            "summary": rng.choice(t.comments),
            "ratings": [
                {"criterion_id": c, "score": max(1, min(5, base + rng.choice((-1, 0, 0, 1)))),
                 "comment": rng.choice(t.comments)}
                for c in criteria
            ],
        }  # fmt: skip
        rid = review_ids(cycle_id)[(reviewee, kind, reviewer)]
        with tenant_session(actor(reviewer)) as s:
            writing.submit_review(session=s, actor=actor(reviewer), review_id=rid, draft=draft)

    # Last half-year: everyone reviewed, two peers each for the first employees, then
    # calibrated (potential for all, a few ratings moved with a reason), shared and closed.
    prev = cycle_ids[prev_name]
    for n, p in enumerate(employees):
        base = 2 + n % 4
        write(prev, p.local, "self", p.local, base)
        if n < 3:
            peer_locals = [
                q.local for q in employees if q.local != p.local and q.manager == p.manager
            ][:2]
            with tenant_session(actor(hr.local)) as s:
                peers.nominate_peers(
                    session=s, actor=actor(hr.local), cycle_id=prev,
                    reviewee_id=users[p.local],
                    data={"peer_ids": [users[q] for q in peer_locals]},
                )  # fmt: skip
            for q in peer_locals:
                write(prev, p.local, "peer", q, base)
        write(prev, p.local, "manager", p.manager or "", base)
    with tenant_session(actor(hr.local)) as s:
        cycles.start_calibration(session=s, actor=actor(hr.local), cycle_id=prev)
        outcomes = s.scalars(select(ReviewOutcome).where(col(ReviewOutcome.cycle_id) == prev)).all()
        reviewed = {users[p.local] for p in employees}
        for n, o in enumerate(o for o in outcomes if o.reviewee_id in reviewed):
            moved = n % 4 == 0 and o.computed_score is not None
            calibration.adjust_calibration(
                session=s,
                actor=actor(hr.local),
                outcome_id=o.id,
                change={
                    "final_rating": min(5, round(o.computed_score) + 1) if moved else None,  # type: ignore[arg-type]
                    "potential": 1 + n % 3,
                    "reason": "Calibration panel: impact beyond the team"
                    if moved
                    else "Calibration panel: potential agreed",
                },
            )
        calibration.share_results(session=s, actor=actor(hr.local), cycle_id=prev)
        cycles.close_cycle(session=s, actor=actor(hr.local), cycle_id=prev)

    # This half-year: under way. Self reviews from two in three, manager reviews for some.
    cur = cycle_ids[cur_name]
    for n, p in enumerate(employees):
        if p.local == DEMO_FRESH_REVIEWEE or n % 3 == 2:
            continue
        write(cur, p.local, "self", p.local, 2 + n % 4)
        if n % 3 == 0:
            write(cur, p.local, "manager", p.manager or "", 2 + n % 4)
    return {"review_cycle": 2, "review": len(review_ids(prev)) + len(review_ids(cur))}


def _roll_up_demo_goals(tenant_id: uuid.UUID) -> None:
    """Give aligned demo goals the progress the app's roll-up rule gives them (deepest
    goals first, so each parent sees its children's final figures)."""
    from pms_dashboard.goals.models import Goal
    from pms_dashboard.goals.service import recompute_progress
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import tenant_session

    with tenant_session(TenantContext(tenant_id=tenant_id)) as s:
        parents = {i: p for i, p in s.execute(select(col(Goal.id), col(Goal.parent_id)))}

        def depth(goal_id: uuid.UUID) -> int:
            chain: list[uuid.UUID] = [goal_id]
            parent = parents.get(goal_id)
            while parent is not None and parent not in chain:
                chain.append(parent)
                parent = parents.get(parent)
            return len(chain)

        for goal_id in sorted(parents, key=depth, reverse=True):
            recompute_progress(session=s, goal_ids=[goal_id])


# --------------------------------------------------------------------------------------------
# Bulk synthetic tenants for load tests: COPY as the owner (BYPASSRLS), one transaction per
# chunk of tenants, rows generated as ready-made text so Python stays out of the way.
# --------------------------------------------------------------------------------------------

FIRST_NAMES = (
    "Amara", "Ben", "Carla", "Deniz", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jamal",
    "Kira", "Lena", "Mateo", "Nadia", "Oscar", "Paula", "Quentin", "Rosa", "Sami", "Tess",
    "Umar", "Vera", "Wen", "Xavier", "Yara", "Zoltan", "Anika", "Bruno", "Chiara", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat",
    "Ivanova", "Jensen", "Kaur", "Lopez", "Moreau", "Novak", "Okoro", "Petrov", "Quinn",
    "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
DEPARTMENTS = (
    ("Engineering", ("Platform", "Payments", "Mobile")),
    ("Sales", ("EMEA", "Americas", "APAC")),
    ("Customer Success", ("Onboarding", "Retention")),
    ("Marketing", ("Growth", "Brand")),
    ("Operations", ("Finance", "People")),
)
JOB_TITLES = ("Analyst", "Specialist", "Engineer", "Senior Engineer", "Lead", "Associate")
GOAL_VERBS = (
    "Improve", "Reduce", "Launch", "Automate", "Grow", "Standardise", "Migrate", "Simplify",
    "Expand", "Document", "Streamline", "Pilot", "Scale", "Modernise", "Consolidate",
)  # fmt: skip
GOAL_OBJECTS = (
    "the onboarding flow", "invoice processing", "customer churn", "release frequency",
    "support backlog", "the partner programme", "data quality", "the pricing page",
    "forecast accuracy", "cloud spend", "the mobile app", "pipeline coverage",
    "incident response", "hiring funnel", "renewal rate", "the design system",
    "API latency", "NPS in key accounts", "the analytics warehouse", "security training",
)  # fmt: skip
KR_TEMPLATES = (
    ("Completion", "0.00", "100.00", "%"),
    ("Revenue booked", "0.00", "250000.00", "EUR"),
    ("Tickets resolved", "0.00", "400.00", "tickets"),
    ("Median response time", "48.00", "12.00", "h"),
    ("Accounts activated", "0.00", "60.00", "accounts"),
)
CHECK_IN_NOTES = (
    "On plan this week.",
    "Blocked on a dependency from another team.",
    "Good progress after the last sprint.",
    "Scope trimmed to hit the date.",
    "Waiting on customer feedback.",
    "",
)
REGIONS = ("eu-central", "eu-west", "us-east", "ap-southeast")
# draft 10%, active 60%, completed 20%, archived 10%
_STATUS_BY_DECILE = ("draft",) + ("active",) * 6 + ("completed",) * 2 + ("archived",)
_BEHIND = ("at_risk", "off_track")
_BULK_TABLES = ("app_user", "goal", "key_result", "goal_check_in")
_COPY_SQL = {
    "app_user": "COPY app_user (tenant_id, id, email, display_name, role, manager_id, "
    "department, team, job_title, password_hash) FROM STDIN",
    "goal": "COPY goal (tenant_id, id, owner_id, parent_id, title, period, start_date, "
    "due_date, status, progress) FROM STDIN",
    "key_result": "COPY key_result (tenant_id, id, goal_id, title, start_value, target_value, "
    "current_value, unit, weight) FROM STDIN",
    "goal_check_in": "COPY goal_check_in (tenant_id, id, goal_id, author_id, progress, "
    "confidence, note, created_at) FROM STDIN",
}


@dataclass
class BulkSeedResult:
    """What `seed_bulk` did."""

    tenants_created: int = 0
    tenants_skipped: int = 0
    users: int = 0
    goals: int = 0
    key_results: int = 0
    check_ins: int = 0
    seconds: float = 0.0

    def add(self, other: BulkSeedResult) -> None:
        """Fold in the counts of one chunk."""
        self.tenants_created += other.tenants_created
        self.tenants_skipped += other.tenants_skipped
        self.users += other.users
        self.goals += other.goals
        self.key_results += other.key_results
        self.check_ins += other.check_ins

    @property
    def rows(self) -> int:
        """Rows inserted in every table, tenants included."""
        return self.tenants_created + self.users + self.goals + self.key_results + self.check_ins

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _random_ids(n: int) -> list[str]:
    """n random version-4 UUIDs as 32 hex digits (PostgreSQL's uuid input accepts them);
    about ten times faster than str(uuid4()) per id."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])
    hexed = raw.hex()
    return [hexed[i : i + 32] for i in range(0, 32 * n, 32)]


def _spread(index: int, ratio: float) -> int:
    """How many children item `index` gets so that n items get round(n * ratio) in total,
    evenly spread (ratio 0.5: every other item gets one)."""
    return int((index + 1) * ratio + 1e-9) - int(index * ratio + 1e-9)


class _Calendar:
    """Dates around today as ready-made text, so row generation does no date arithmetic."""

    PAST, FUTURE = 400, 200

    def __init__(self, today: date) -> None:
        days = [today + timedelta(days=d) for d in range(-self.PAST, self.FUTURE + 1)]
        self.iso = [d.isoformat() for d in days]
        self.period = [f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in days]
        self.noon = [f"{d.isoformat()} 12:00:00+00" for d in days]

    def index(self, offset: int) -> int:
        """Index of today + offset days (offset in [-PAST, FUTURE])."""
        return offset + self.PAST


@dataclass(frozen=True)
class _BulkShape:
    users_per_tenant: int
    goals_per_user: int
    key_results_per_goal: float
    check_ins_per_goal: float
    password_hash: str
    calendar: _Calendar


def _bulk_tenant_rows(
    tenant_id: str, slug: str, shape: _BulkShape, out: dict[str, list[tuple[Any, ...]]]
) -> None:
    """Append the synthetic rows of one tenant to `out` (one list of tuples per table)."""
    rng = random.Random(slug)
    rand, randrange = rng.random, rng.randrange
    cal = shape.calendar
    n_users, per_user = shape.users_per_tenant, shape.goals_per_user
    user_ids = _random_ids(n_users)
    goal_ids = _random_ids(n_users * per_user)
    manager = user_ids[0]
    users, goals, krs, check_ins = (
        out["app_user"],
        out["goal"],
        out["key_result"],
        out["goal_check_in"],
    )
    for u, user_id in enumerate(user_ids):
        first, last = (
            FIRST_NAMES[randrange(len(FIRST_NAMES))],
            LAST_NAMES[randrange(len(LAST_NAMES))],
        )
        department, teams = DEPARTMENTS[u % len(DEPARTMENTS)]
        users.append(
            (
                tenant_id,
                user_id,
                f"user{u:04d}@{slug}.example",
                f"{first} {last}",
                "manager" if u == 0 else "employee",
                None if u == 0 else manager,
                department,
                teams[u % len(teams)],
                "Manager" if u == 0 else JOB_TITLES[u % len(JOB_TITLES)],
                shape.password_hash,
            )
        )
    g_index = kr_index = ci_index = 0
    for u, owner in enumerate(user_ids):
        for j in range(per_user):
            goal_id = goal_ids[g_index]
            status = _STATUS_BY_DECILE[int(rand() * 10)]
            start = randrange(-365, 1)
            due = min(start + randrange(14, 181), _Calendar.FUTURE)
            if status == "draft":
                progress = 0
            elif status == "completed":
                progress = 100
            else:
                progress = randrange(0, 100)
            # Half of each report's goals support the manager's goal with the same position.
            parent = goal_ids[j] if u and j % 2 == 0 else None
            goals.append(
                (
                    tenant_id,
                    goal_id,
                    owner,
                    parent,
                    f"{rng.choice(GOAL_VERBS)} {rng.choice(GOAL_OBJECTS)}",
                    cal.period[cal.index(start)],
                    cal.iso[cal.index(start)],
                    cal.iso[cal.index(due)],
                    status,
                    str(progress),
                )
            )
            for _ in range(_spread(g_index, shape.key_results_per_goal)):
                title, lo, hi, unit = KR_TEMPLATES[kr_index % len(KR_TEMPLATES)]
                current = float(lo) + (float(hi) - float(lo)) * progress / 100
                krs.append((tenant_id, None, goal_id, title, lo, hi, f"{current:.2f}", unit, "1"))
                kr_index += 1
            for _ in range(_spread(g_index, shape.check_ins_per_goal)):
                when = randrange(start, 1)
                confidence = (
                    "on_track" if progress >= 60 else ("at_risk", "off_track")[ci_index % 2]
                )
                note = CHECK_IN_NOTES[ci_index % len(CHECK_IN_NOTES)]
                check_ins.append(
                    (tenant_id, None, goal_id, owner, str(progress), confidence, note,
                     cal.noon[cal.index(when)])
                )  # fmt: skip
                ci_index += 1
            g_index += 1


def _with_ids(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Fill the id (second column) of rows generated without one, in one batch."""
    ids = _random_ids(len(rows))
    for row, row_id in zip(rows, ids, strict=True):
        yield (row[0], row_id, *row[2:]) if row[1] is None else row


def _copy_rows(cursor: Any, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with cursor.copy(_COPY_SQL[table]) as copy:
        for row in rows:
            copy.write_row(row)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _seed_chunk(engine: Engine, chunk: Sequence[str], shape: _BulkShape) -> BulkSeedResult:
    """Create one chunk of tenants with all their rows in one transaction."""
    done = BulkSeedResult()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            # ON CONFLICT: a concurrent run that created a slug first keeps it.
            cur.execute(
                "INSERT INTO tenant (id, slug, name, region) "
                "SELECT gen_random_uuid(), s, initcap(replace(s, '-', ' ')), r "
                "FROM unnest(%s::text[], %s::text[]) AS t(s, r) "
                "ON CONFLICT (slug) DO NOTHING RETURNING id, slug",
                (list(chunk), [REGIONS[i % len(REGIONS)] for i in range(len(chunk))]),
            )
            created = cur.fetchall()
            out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in _BULK_TABLES}
            for tenant_id, slug in created:
                _bulk_tenant_rows(str(tenant_id), slug, shape, out)
            _copy_rows(cur, "app_user", out["app_user"])
            _copy_rows(cur, "goal", out["goal"])
            _copy_rows(cur, "key_result", _with_ids(out["key_result"]))
            _copy_rows(cur, "goal_check_in", _with_ids(out["goal_check_in"]))
            conn.execute(
                sql_text(REFRESH_LATEST_CHECK_IN), {"tenant_ids": [tid for tid, _ in created]}
            )
    done.tenants_created = len(created)
    done.tenants_skipped = len(chunk) - len(created)
    done.users = len(out["app_user"])
    done.goals = len(out["goal"])
    done.key_results = len(out["key_result"])
    done.check_ins = len(out["goal_check_in"])
    return done


def bulk_slugs(*, tenants: int, prefix: str = "load") -> list[str]:
    """Slugs of the synthetic tenants: prefix-0001, prefix-0002, …"""
    return [f"{prefix}-{i:04d}" for i in range(1, tenants + 1)]


def seed_bulk(
    *,
    tenants: int,
    users_per_tenant: int,
    goals_per_user: int,
    prefix: str = "load",
    key_results_per_goal: float = 1.0,
    check_ins_per_goal: float = 0.5,
    goals_per_transaction: int = 20_000,
    workers: int | None = None,
    progress: bool = False,
    engine: Engine | None = None,
) -> BulkSeedResult:
    """Synthetic tenants `prefix-0001`… for load tests; existing slugs are skipped.

    Each tenant gets `users_per_tenant` users (the first manages the rest, all with the demo
    password), `goals_per_user` goals each with varied status, dates and progress, and key
    results and check-ins in the given ratios per goal. Rows go in with COPY as the owner
    (which has BYPASSRLS: COPY FROM is refused on RLS tables otherwise), one transaction per
    chunk of about `goals_per_transaction` goals, so an interrupted run keeps whole tenants;
    `workers` connections (default: one per CPU, at most 4) load chunks in parallel.
    """
    _refuse_in_production()
    if tenants < 0 or users_per_tenant < 1 or goals_per_user < 0:
        raise SeedError("need tenants >= 0, users per tenant >= 1 and goals per user >= 0")
    if min(key_results_per_goal, check_ins_per_goal) < 0:
        raise SeedError("key results and check-ins per goal must not be negative")
    if not SLUG_RE.fullmatch(f"{prefix}-{max(tenants, 1):04d}"):
        raise SeedError("prefix must be lower-case letters, digits and hyphens")

    from pms_dashboard.db.engine import owner_engine

    engine = engine or owner_engine()
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    started = time.perf_counter()
    result = BulkSeedResult()
    slugs = bulk_slugs(tenants=tenants, prefix=prefix)
    with engine.connect() as conn:
        existing = set(
            conn.execute(select(col(Tenant.slug)).where(col(Tenant.slug).in_(slugs))).scalars()
        )
    todo = [s for s in slugs if s not in existing]
    result.tenants_skipped = len(existing)
    shape = _BulkShape(
        users_per_tenant=users_per_tenant,
        goals_per_user=goals_per_user,
        key_results_per_goal=key_results_per_goal,
        check_ins_per_goal=check_ins_per_goal,
        password_hash=hash_password(get_settings().demo_password) if todo else "",
        calendar=_Calendar(date.today()),
    )
    per_chunk = max(1, goals_per_transaction // max(1, users_per_tenant * goals_per_user))

    chunks = list(_chunks(todo, per_chunk))
    with _progress_bar(progress, total=tenants, done=len(existing)) as advance:

        def record(done: BulkSeedResult, chunk_size: int) -> None:
            result.add(done)
            result.seconds = time.perf_counter() - started
            advance(chunk_size, result.rows_per_second)

        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                record(_seed_chunk(engine, chunk, shape), len(chunk))
        else:
            # The server does most of the work (foreign-key checks, index upkeep), so parallel
            # connections scale with its cores; chunks are independent tenants.
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seed")
            try:
                futures = {pool.submit(_seed_chunk, engine, c, shape): len(c) for c in chunks}
                for future in as_completed(futures):
                    record(future.result(), futures[future])
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    if result.tenants_created:
        # Fresh statistics, so the first queries after a big load get sensible plans.
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE tenant, app_user, goal, key_result, goal_check_in"
            )
    result.seconds = time.perf_counter() - started
    return result


@contextmanager
def _progress_bar(
    enabled: bool, *, total: int, done: int
) -> Iterator[Callable[[int, float], None]]:
    """rich progress (tenants done / total, rows/s); yields `advance(tenants, rows_per_s)`."""
    if not enabled:
        yield lambda _n, _rate: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]seeding tenants"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10,.0f} rows/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task("seed", total=total, completed=done, rate=0.0)
        yield lambda n, rate: bar.update(task, advance=n, rate=rate)
