"""Overview: what needs attention across the goals (and reviews) the viewer may see."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import reflex as rx

from pms_dashboard.goals import service as goals_service
from pms_dashboard.goals.schemas import GoalListQuery
from pms_dashboard.people import service as people_service
from pms_dashboard.reviews import calibration
from pms_dashboard.reviews import cycles as review_cycles
from pms_dashboard.tenancy import limits
from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.rows import (
    ChartSlice,
    CountRow,
    GoalListRow,
    LinkedSlice,
    count_rows,
    goal_list_row,
    shares,
)
from pms_dashboard.ui.states.session import SessionState

DUE_SOON_DAYS = goals_service.DUE_SOON_DAYS
ALL_GOALS = "/goals?scope=all"

# Chart colours follow the badges used on the lists.
HEALTH_SLICES = (
    ("on_track", "On track", "var(--green-9)", "confidence=on_track"),
    ("at_risk", "At risk", "var(--amber-9)", "confidence=at_risk"),
    ("off_track", "Off track", "var(--red-9)", "confidence=off_track"),
    ("no_check_in", "No check-in", "var(--gray-8)", "status=active&confidence=none"),
)


def ring_gradient(parts: list[ChartSlice]) -> str:
    """The CSS conic gradient that draws `parts` round a ring, clockwise from the top (a
    grey ring when there is nothing to count)."""
    drawn = [part for part in parts if part["share"] > 0]
    stops, start = [], 0.0
    for i, part in enumerate(drawn):  # the last part closes the ring (shares are rounded)
        end = 100.0 if i == len(drawn) - 1 else min(100.0, start + part["share"])
        stops.append(f"{part['fill']} {start:.1f}% {end:.1f}%")
        start = end
    return f"conic-gradient({', '.join(stops)})" if stops else "var(--gray-5)"


class OverviewState(SessionState):
    """Counts and short lists only: the overview never holds a whole table."""

    health: dict[str, int] = {}
    health_chart: list[LinkedSlice] = []
    completion_chart: list[ChartSlice] = []
    completion_ring: str = ""  # the ring's CSS gradient
    completion_done: str = ""  # the share completed, in the ring's middle
    due_soon: rx.Field[list[GoalListRow]] = rx.field(default_factory=list)
    stale: rx.Field[list[GoalListRow]] = rx.field(default_factory=list)
    scope_label: str = ""
    cycle_name: str = ""
    cycle_href: str = ""
    funnel: rx.Field[list[CountRow]] = rx.field(default_factory=list)
    ratings: rx.Field[list[CountRow]] = rx.field(default_factory=list)
    loaded: bool = False  # read once in this tab (until then: grey bars, not "none")

    @event
    def load(self):
        self.loaded = True  # sent with what the load read
        with self._signed_in(slot=limits.LIST) as (principal, session):  # counts, lists
            actor = principal.context
            health = goals_service.goal_health(session=session, actor=actor)
            soon = goals_service.list_goals(
                session=session,
                actor=actor,
                query=GoalListQuery(
                    scope="all", due_within_days=DUE_SOON_DAYS, sort="due_date", page_size=5
                ),
                counted=False,  # the charts above it count them
            )
            stale = goals_service.list_goals(
                session=session,
                actor=actor,
                query=GoalListQuery(scope="all", stale_only=True, sort="due_date", page_size=5),
                counted=False,
            )
            admin = principal.role in ("hr_admin", "tenant_admin")
            team = admin or people_service.has_reports(session=session, actor=actor)
            self._review_charts(session, actor, team)
        self.health = asdict(health)
        counts = [self.health[key] for key, *_ in HEALTH_SLICES]
        self.health_chart = [
            LinkedSlice(name=label, value=n, share=length, fill=color, href=f"{ALL_GOALS}&{q}")
            for (_, label, color, q), n, length in zip(
                HEALTH_SLICES, counts, shares(counts), strict=True
            )
        ]
        active = health.on_track + health.at_risk + health.off_track + health.no_check_in
        active_part, done_part = shares([active, health.completed], of_total=True)
        self.completion_chart = [
            ChartSlice(name="Active", value=active, share=active_part, fill="var(--accent-9)"),
            ChartSlice(
                name="Completed", value=health.completed, share=done_part, fill="var(--green-9)"
            ),
        ]
        self.completion_done = f"{done_part:.0f}%" if active + health.completed else "-"
        self.completion_ring = ring_gradient(self.completion_chart)
        self.due_soon = [goal_list_row(r) for r in soon.rows]
        self.stale = [goal_list_row(r) for r in stale.rows]
        self.scope_label = (
            "Everyone in your organisation"
            if admin
            else "You and everyone who reports to you"
            if team
            else "Your own goals"
        )
        return None

    def _review_charts(self, session: Any, actor: Any, team: bool) -> None:
        """The running cycle (else the latest one) as the viewer may see it: completion
        funnel and rating distribution of the people below them (everyone, for HR)."""
        self.cycle_name = self.cycle_href = ""
        self.funnel, self.ratings = [], []
        if actor.role == "employee" and not team:
            return
        cycles = review_cycles.list_cycles(session=session, actor=actor, limit=20)
        order = {"active": 0, "calibration": 1, "closed": 2}
        started = [c for c in cycles if c.status in order]
        if not started:
            return
        newest_first = sorted(started, key=lambda c: c.period_start, reverse=True)
        cycle = min(newest_first, key=lambda c: order[c.status])  # running before finished
        funnel, distribution = calibration.cycle_tallies(
            session=session, actor=actor, cycle_id=uuid.UUID(cycle.id)
        )
        self.cycle_name, self.cycle_href = cycle.name, f"/cycles?cycle={cycle.id}"
        self.funnel = count_rows((n.replace("_", " "), c) for n, c in funnel)
        self.ratings = count_rows(distribution)
