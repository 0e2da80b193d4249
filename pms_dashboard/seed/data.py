"""The demo organisations, described declaratively: people, goals with key results and
check-ins, and the review template; `demo` turns them into rows.

Nothing here derives an id: every id is random (version 4) when the rows are made, so
nobody who reads this file can compute the ids of a demo organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pms_dashboard.auth.models import Role
from pms_dashboard.goals.models import Confidence, GoalStatus


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
    tier: str = "pool"  # isolation tier: pool, schema or database (tenancy.provision)
    # Opted in to encrypted free text with this key provider (None: plain text).
    key_provider: str | None = None


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
    slug="acme", name="Acme Corp", region="eu-central", tier="pool",
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
    slug="globex", name="Globex Corporation", region="us-east", tier="database",
    accent="teal",
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
INITECH = TenantSpec(
    slug="initech", name="Initech", region="eu-central", tier="schema", accent="orange",
    people=(
        P("ines.admin", "Ines Duarte", ADMIN, "Chief Executive Officer", "Leadership",
          "Executive"),
        P("henrik.hr", "Henrik Larsen", HR, "Head of People", "People", "People Operations",
          "ines.admin"),
        P("rafael.manager", "Rafael Costa", MGR, "Platform Engineering Manager", "Engineering",
          "Platform", "ines.admin"),
        P("yuki.manager", "Yuki Tanaka", MGR, "Support Manager", "Customer Support",
          "Service Desk", "ines.admin"),
        P("dara.obi", "Dara Obi", EMP, "Site Reliability Engineer", "Engineering", "Platform",
          "rafael.manager"),
        P("mateo.ruiz", "Mateo Ruiz", EMP, "Backend Engineer", "Engineering", "Platform",
          "rafael.manager"),
        P("zoe.fischer", "Zoe Fischer", EMP, "Data Engineer", "Engineering", "Platform",
          "rafael.manager"),
        P("kofi.mensah", "Kofi Mensah", EMP, "Support Engineer", "Customer Support",
          "Service Desk", "yuki.manager"),
        P("lea.dubois", "Léa Dubois", EMP, "Technical Writer", "Customer Support",
          "Service Desk", "yuki.manager"),
        P("sam.patel", "Sam Patel", EMP, "Support Specialist", "Customer Support",
          "Service Desk", "yuki.manager"),
    ),
    goals=(
        G("ines.admin", "Move every customer to the new TPS platform",
          KR("Customers on the new platform", 0, 400, 170, "customers"),
          KR("Legacy servers decommissioned", 0, 30, 9, "servers"),
          check_ins=[C(18, 40, ON, "Migration waves on schedule; the largest bank moves next.")]),
        G("ines.admin", "Make Initech support the best rated in its class",
          KR("Customer satisfaction score", 78, 92, 84, "%")),
        G("henrik.hr", "Fill every open platform engineering role",
          KR("Engineers hired", 0, 5, 2, "hires"),
          parent="ines.admin#1"),
        G("henrik.hr", "Introduce a quarterly learning budget",
          KR("People who used the budget", 0, 100, 100, "%"),
          status=DONE),
        G("rafael.manager", "Migrate the report pipeline to the TPS platform",
          KR("Report jobs migrated", 0, 60, 27, "jobs"),
          KR("Nightly batch duration", 6, 2, 4, "h"),
          parent="ines.admin#1",
          check_ins=[C(16, 35, ON, "First 20 report jobs run on the new platform unchanged."),
                     C(6, 45, RISK, "Cover-sheet formats differ per customer; needs work.")]),
        G("rafael.manager", "Reach 99.95% platform availability",
          KR("Monthly availability", 99.5, 99.95, 99.8, "%"),
          parent="ines.admin#1"),
        G("rafael.manager", "Document every runbook for on-call",
          KR("Runbooks reviewed", 0, 25, 18, "runbooks")),
        G("yuki.manager", "Answer every priority ticket within the hour",
          KR("P1 tickets answered within 60 min", 70, 98, 88, "%"),
          parent="ines.admin#2",
          check_ins=[C(10, 60, ON, "Second-shift cover means nights are answered in time too.")]),
        G("yuki.manager", "Halve the support backlog",
          KR("Open tickets older than a week", 240, 120, 190, "tickets"),
          parent="ines.admin#2",
          check_ins=[C(4, 25, OFF, "A release bug flooded the queue; the backlog grew again.")]),
        G("yuki.manager", "Launch a customer self-help portal",
          KR("Help articles live", 0, 80, 30, "articles"),
          parent="ines.admin#2"),
        G("dara.obi", "Automate failover for the report database",
          KR("Failover drills passed", 0, 4, 2, "drills"),
          parent="rafael.manager#2",
          check_ins=[C(9, 50, ON, "Second drill failed over in 40 seconds with no data loss.")]),
        G("dara.obi", "Cut paging noise for the platform rota",
          KR("Pages per on-call week", 35, 10, 21, "pages"),
          parent="rafael.manager#2"),
        G("mateo.ruiz", "Port the cover-sheet service to the new platform",
          KR("Endpoints ported", 0, 18, 7, "endpoints"),
          parent="rafael.manager#1",
          check_ins=[C(5, 39, RISK, "Old date formats in the cover sheets need a converter.")]),
        G("mateo.ruiz", "Retire the legacy batch scheduler",
          KR("Scheduled jobs retired", 0, 40, 12, "jobs"),
          parent="rafael.manager#1"),
        G("mateo.ruiz", "Learn the new deployment tooling",
          KR("Course labs completed", 0, 8, 0, "labs"),
          status=DRAFT),
        G("zoe.fischer", "Rebuild the report warehouse tables",
          KR("Warehouse tables rebuilt", 0, 24, 24, "tables"),
          parent="rafael.manager#1", status=DONE),
        G("zoe.fischer", "Publish data-quality checks for every report",
          KR("Reports with automated checks", 0, 60, 33, "reports"),
          parent="rafael.manager#1",
          check_ins=[C(8, 55, ON, "Checks caught a duplicated feed before customers saw it.")]),
        G("kofi.mensah", "Resolve priority tickets on first contact",
          KR("P1 first-contact resolution", 40, 70, 52, "%"),
          parent="yuki.manager#1",
          check_ins=[C(7, 40, RISK, "Platform escalations still need an engineer on the call.")]),
        G("kofi.mensah", "Train two colleagues on the platform escalation path",
          KR("Colleagues trained", 0, 2, 1, "people"),
          parent="yuki.manager#2"),
        G("lea.dubois", "Write the self-help portal's first 40 articles",
          KR("Articles written", 0, 40, 22, "articles"),
          parent="yuki.manager#3",
          check_ins=[C(11, 55, ON, "Top 20 ticket topics covered; search terms added next.")]),
        G("lea.dubois", "Rewrite the platform migration guide for customers",
          KR("Guide chapters rewritten", 0, 10, 4, "chapters"),
          parent="yuki.manager#3"),
        G("sam.patel", "Clear tickets older than a month",
          KR("Tickets older than 30 days", 80, 0, 35, "tickets"),
          parent="yuki.manager#2",
          check_ins=[C(3, 56, ON, "Closed 45 stale tickets after calling the customers back.")]),
        G("sam.patel", "Send a weekly ticket-trends report",
          KR("Weekly trend reports sent", 0, 12, 5, "reports"),
          parent="yuki.manager#1"),
    ),
    template_name="Initech Performance Review",
    criteria=(
        CriterionSpec("Customer impact", "0.35", "Customers noticed the difference the work made."),
        CriterionSpec("Reliability", "0.30", "Delivered what was promised, safely and on time."),
        CriterionSpec("Collaboration", "0.20", "Worked across teams and shared what they knew."),
        CriterionSpec("Learning", "0.15", "Picked up new skills and taught them to others."),
    ),
    comments=(
        "Kept the migration waves calm for customers and colleagues alike.",
        "Runbooks and write-ups are a model for the rest of the team.",
        "Should raise risks earlier instead of absorbing them quietly.",
        "Took the awkward escalations nobody else wanted, and closed them.",
        "Ready to own a migration wave from start to finish.",
    ),
)
# fmt: on

DEMO_TENANTS: tuple[TenantSpec, ...] = (ACME, GLOBEX, INITECH)


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
        DemoSignIn(t.slug, email_of(t, p), p.role.value, p.name)
        for t in DEMO_TENANTS
        for p in t.people
    ]


def half_year(today: date) -> tuple[date, date, str]:
    """The current half-year: the demo's goal period and review cycle."""
    if today.month <= 6:
        return date(today.year, 1, 1), date(today.year, 6, 30), f"{today.year} H1"
    return date(today.year, 7, 1), date(today.year, 12, 31), f"{today.year} H2"


def email_of(t: TenantSpec, p: PersonSpec) -> str:
    """A demo person's email: their local part at the organisation's slug."""
    return f"{p.local}@{t.slug}.example"


# Left with nothing written in the current cycle, for the browser tests and for trying it out.
DEMO_FRESH_REVIEWEE = "priya.nair"
