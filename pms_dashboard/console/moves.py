"""Moving an organisation from the console, and each organisation's last move (`last_moves`,
from the catalog's `tenant_move`). Who asks and what is checked here, in the console's
transaction (`check_move`); the move itself (`pms_dashboard.moves.move_tenant`) then
runs in a thread of its own (`start_move`), whose progress the console's page polls
(`move_status`) while the page stays usable.

One move per organisation at a time, across app processes: the thread holds a session-level
advisory lock of the organisation on the home database for as long as the move runs, taken
before the thread starts, so a second request (from any process) is refused at once and
changes nothing. A process that dies lets the lock go with its connection, and the next
move of that organisation finishes or rolls back what the dead one left (`moves.recover`).

The platform events `tenant.move_started` / `tenant.move_completed` (and the tenant's own
chain) name the admin who asked; the catalog's `tenant_move` row keeps the reason.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from pms_dashboard import moves
from pms_dashboard.console import organisations, placements
from pms_dashboard.console.service import ConsoleAdmin, ConsoleError
from pms_dashboard.db.engine import auditor_engine
from pms_dashboard.errors import UserError
from pms_dashboard.tenancy.placement import TIER_WORDS, Tier
from pms_dashboard.tenancy.registry import SLUG_RE

logger = logging.getLogger(__name__)

STEPS = moves.STEPS
LOCK_KEY = "pms.console_move:{}"
FAILED = "The move of {slug} stopped with an unexpected error (logged); see the platform trail."
KEEP_FINISHED_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class MoveOrder:
    """A move the console accepted: checked, not yet started."""

    tenant_id: uuid.UUID
    slug: str
    tier: str
    region: str
    reason: str
    admin_id: uuid.UUID
    source: str  # "eu-central, shared pool"
    target: str


@dataclass(frozen=True, slots=True)
class MoveStatus:
    """What the page shows of a move: its step, its copy, then its outcome or error."""

    slug: str
    target: str
    step: str
    steps_seen: tuple[str, ...]
    tables_done: int
    tables: int
    rows: int
    running: bool
    outcome: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class LastMove:
    """An organisation's last move as the console lists it."""

    state: str  # copying ... done, or rolled_back
    at: datetime  # when it last changed
    route: str  # "eu-central, shared pool → us-east, dedicated schema"


_LAST_MOVES = text(
    "SELECT DISTINCT ON (tenant_id) tenant_id, state, updated_at,"
    " from_placement->>'region' AS from_region, from_placement->>'tier' AS from_tier,"
    " to_region, to_tier FROM tenant_move ORDER BY tenant_id, started_at DESC"
)


def last_moves(*, session: Session, admin: ConsoleAdmin) -> dict[str, LastMove]:
    """Each organisation's last move (by tenant id): its state, when, from where to where;
    catalog data only, no personal data."""
    if not isinstance(admin, ConsoleAdmin):
        raise ConsoleError("Sign in to the console first.")
    words = organisations.tier_choices()
    return {
        str(r.tenant_id): LastMove(
            r.state,
            r.updated_at,
            f"{r.from_region}, {words.get(r.from_tier, r.from_tier)} → "
            f"{r.to_region}, {words.get(r.to_tier, r.to_tier)}",
        )
        for r in session.execute(_LAST_MOVES)
    }


def check_move(
    *, session: Session, admin: ConsoleAdmin, slug: str, tier: str, region: str, reason: str
) -> MoveOrder:
    """A move of organisation `slug` to `tier` in `region`, asked by a signed-in
    super-admin with a reason: every argument checked (ConsoleError: nothing changes)."""
    if not isinstance(admin, ConsoleAdmin):
        raise ConsoleError("Sign in to the console first.")
    words = reason.strip() if isinstance(reason, str) else ""
    if not organisations.MIN_REASON <= len(words) <= organisations.MAX_REASON:
        raise ConsoleError(
            f"Give the reason: the order or ticket ({organisations.MIN_REASON}-"
            f"{organisations.MAX_REASON} characters)."
        )
    if not isinstance(tier, str) or tier not in organisations.tier_choices():
        raise ConsoleError("Choose a tier from the list.")
    if not isinstance(region, str) or region not in organisations.regions():
        raise ConsoleError("Choose a region from the list.")
    name = slug.strip().lower() if isinstance(slug, str) else ""
    if not SLUG_RE.fullmatch(name):
        raise ConsoleError("No organisation with that slug.")
    [found] = placements.tenants(session, slug=name)
    if found.state != "active":
        raise ConsoleError(f"{found.slug} is being moved; try again in a minute.")
    target = f"{region}, {TIER_WORDS[Tier(tier)]}"
    if found.describe() == target and not found.dedicated_cluster:
        raise ConsoleError(f"{found.slug} already lives in {target}.")
    return MoveOrder(
        found.tenant_id, found.slug, tier, region, words, admin.admin_id, found.describe(), target
    )


@dataclass
class _Job:
    """One running (or finished) move of this process, and the connection holding its
    organisation's lock."""

    order: MoveOrder
    lock: Connection
    progress: moves.Progress = field(default_factory=moves.Progress)
    steps_seen: list[str] = field(default_factory=list)
    running: bool = True
    outcome: str = ""
    error: str = ""
    finished_at: float = 0.0
    guard: threading.Lock = field(default_factory=threading.Lock)

    def report(self, p: moves.Progress) -> None:
        """`move_tenant`'s progress callback (the mover's thread)."""
        with self.guard:
            self.progress = moves.Progress(p.step, p.tables_done, p.tables, p.rows)
            if p.step and (not self.steps_seen or self.steps_seen[-1] != p.step):
                self.steps_seen.append(p.step)

    def status(self) -> MoveStatus:
        with self.guard:
            p = self.progress
            return MoveStatus(
                self.order.slug, self.order.target, p.step, tuple(self.steps_seen),
                p.tables_done, p.tables, p.rows, self.running, self.outcome, self.error,
            )  # fmt: skip

    def run(self) -> None:
        """The move, start to end; whatever happens, the lock is let go."""
        o = self.order
        outcome = error = ""
        try:
            result = moves.move_tenant(
                slug=o.slug, tier=o.tier, region=o.region, reason=o.reason,
                admin_id=o.admin_id, report=self.report,
            )  # fmt: skip
            outcome = (
                f"{result.slug} moved to {result.target}; writes frozen "
                f"{result.freeze_seconds:.2f} s ({result.rows:,} rows copied)."
            )
        except UserError as err:
            error = str(err)
        except Exception:
            logger.exception("the console's move of %s failed", o.slug)
            error = FAILED.format(slug=o.slug)
        finally:
            _unlock(self.lock, o.tenant_id)
            with self.guard:
                self.running, self.outcome, self.error = False, outcome, error
                self.finished_at = time.monotonic()


_jobs: dict[str, _Job] = {}
_jobs_guard = threading.Lock()


def _unlock(lock: Connection, tenant_id: uuid.UUID) -> None:
    try:
        lock.execute(
            text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"),
            {"k": LOCK_KEY.format(tenant_id)},
        )
    finally:
        lock.close()


def _lock(order: MoveOrder) -> Connection:
    """A connection holding the organisation's move lock (ConsoleError: another move of it
    runs, in this process or another)."""
    conn = auditor_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"),
            {"k": LOCK_KEY.format(order.tenant_id)},
        ).scalar_one()
    except Exception:
        conn.close()
        raise
    if not got:
        conn.close()
        raise ConsoleError(f"{order.slug} is already being moved; wait for that move to finish.")
    return conn


def start_move(order: MoveOrder) -> str:
    """Start a checked move in a thread of its own; the id to follow it by. Refused
    (ConsoleError, nothing started) while another move of the organisation runs."""
    if not isinstance(order, MoveOrder):
        raise ConsoleError("Check the move first.")
    job = _Job(order, _lock(order))
    job_id = uuid.uuid4().hex
    with _jobs_guard:
        old = time.monotonic() - KEEP_FINISHED_SECONDS
        for key in [k for k, j in _jobs.items() if not j.running and j.finished_at < old]:
            del _jobs[key]
        _jobs[job_id] = job
    threading.Thread(target=job.run, name=f"move-{order.slug}", daemon=True).start()
    return job_id


def move_status(job_id: str) -> MoveStatus | None:
    """Where a move started in this process is (None: no such move here)."""
    with _jobs_guard:
        job = _jobs.get(job_id)
    return job.status() if job else None
