"""A demo organisation's review cycles, made through the review services as its people
would, in the caller's transaction: last half-year's cycle fully reviewed, calibrated and
shared (so the nine-box and the results pages have data), and the current one under way."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from pms_dashboard.auth.models import Role
from pms_dashboard.reviews import calibration, cycles, peers, templates, writing
from pms_dashboard.reviews.models import Review, ReviewOutcome
from pms_dashboard.seed.data import DEMO_FRESH_REVIEWEE, TenantSpec, half_year
from pms_dashboard.tenancy.context import TenantContext


class _DemoReviews:
    """One organisation's people acting in one session; scores and comments drawn from a
    generator seeded by the slug, so every run writes the same reviews."""

    def __init__(
        self, session: Session, t: TenantSpec, tid: uuid.UUID, users: dict[str, uuid.UUID]
    ) -> None:
        self.session, self.t, self.tid, self.users = session, t, tid, users
        self.people = {p.local: p for p in t.people}
        self.hr = next(p.local for p in t.people if p.role is Role.hr_admin)
        self.employees = [p for p in t.people if p.role is Role.employee and p.manager]
        self.rng = random.Random(f"{t.slug}-reviews")
        self.criteria: list[str] = []

    def actor(self, local: str) -> TenantContext:
        role = self.people[local].role.value
        return TenantContext(tenant_id=self.tid, user_id=self.users[local], role=role)

    def launch(self, today: date) -> tuple[uuid.UUID, uuid.UUID]:
        """The template, and last and this half-year's cycles launched over everyone."""
        s, hr, t = self.session, self.actor(self.hr), self.t
        criteria = [
            {"name": c.name, "description": c.description, "weight": c.weight} for c in t.criteria
        ]
        description = "Half-yearly review: self review, then manager review."
        template = templates.create_template(
            session=s,
            actor=hr,
            data={"name": t.template_name, "description": description, "criteria": criteria},
        )
        self.criteria = [c.id for c in template.criteria]
        cur_start, cur_end, cur_name = half_year(today)
        prev_start, prev_end, prev_name = half_year(cur_start - timedelta(days=1))
        made = []
        for name, start, end in ((prev_name, prev_start, prev_end), (cur_name, cur_start, cur_end)):
            due = (end, end) if end < today else (today + timedelta(14), today + timedelta(28))
            data = {
                "name": f"{name} performance review",
                "template_id": template.id,
                "period_start": start,
                "period_end": end,
                "self_review_due": due[0],
                "manager_review_due": due[1],
            }
            cycle_id = uuid.UUID(cycles.create_cycle(session=s, actor=hr, data=data).id)
            cycles.launch_cycle(session=s, actor=hr, cycle_id=cycle_id)
            made.append(cycle_id)
        return made[0], made[1]

    def review_ids(self, cycle_id: uuid.UUID) -> dict[tuple[str, str, str], uuid.UUID]:
        """(reviewee, kind, reviewer) -> review id, people by their local part."""
        by_id = {v: k for k, v in self.users.items()}
        rows = self.session.scalars(select(Review).where(col(Review.cycle_id) == cycle_id))
        return {(by_id[r.reviewee_id], r.kind, by_id[r.reviewer_id]): r.id for r in rows}

    def write(
        self, cycle_id: uuid.UUID, reviewee: str, kind: str, reviewer: str, base: int
    ) -> None:
        """The reviewer submits the review, scores around `base`."""
        rng = self.rng
        draft = {
            "summary": rng.choice(self.t.comments),
            "ratings": [
                {"criterion_id": c, "score": max(1, min(5, base + rng.choice((-1, 0, 0, 1)))),
                 "comment": rng.choice(self.t.comments)}
                for c in self.criteria
            ],
        }  # fmt: skip
        rid = self.review_ids(cycle_id)[(reviewee, kind, reviewer)]
        writing.submit_review(
            session=self.session, actor=self.actor(reviewer), review_id=rid, draft=draft
        )

    def previous(self, cycle_id: uuid.UUID) -> None:
        """Everyone reviewed, two peers each for the first employees, then calibrated
        (`calibrate`), shared and closed."""
        hr = self.actor(self.hr)
        for n, p in enumerate(self.employees):
            base = 2 + n % 4
            self.write(cycle_id, p.local, "self", p.local, base)
            if n < 3:
                team = [q.local for q in self.employees if q.manager == p.manager]
                chosen = [q for q in team if q != p.local][:2]
                peers.nominate_peers(
                    session=self.session, actor=hr, cycle_id=cycle_id,
                    reviewee_id=self.users[p.local],
                    data={"peer_ids": [self.users[q] for q in chosen]},
                )  # fmt: skip
                for q in chosen:
                    self.write(cycle_id, p.local, "peer", q, base)
            self.write(cycle_id, p.local, "manager", p.manager or "", base)
        cycles.start_calibration(session=self.session, actor=hr, cycle_id=cycle_id)
        self.calibrate(cycle_id)
        calibration.share_results(session=self.session, actor=hr, cycle_id=cycle_id)
        cycles.close_cycle(session=self.session, actor=hr, cycle_id=cycle_id)

    def calibrate(self, cycle_id: uuid.UUID) -> None:
        """A potential for everyone reviewed; every fourth rating moved up, with a reason."""
        outcomes = self.session.scalars(
            select(ReviewOutcome).where(col(ReviewOutcome.cycle_id) == cycle_id)
        ).all()
        reviewed = {self.users[p.local] for p in self.employees}
        for n, o in enumerate(o for o in outcomes if o.reviewee_id in reviewed):
            moved = n % 4 == 0 and o.computed_score is not None
            calibration.adjust_calibration(
                session=self.session,
                actor=self.actor(self.hr),
                outcome_id=o.id,
                change={
                    "final_rating": min(5, round(o.computed_score) + 1) if moved else None,  # type: ignore[arg-type]
                    "potential": 1 + n % 3,
                    "reason": "Calibration panel: impact beyond the team"
                    if moved
                    else "Calibration panel: potential agreed",
                },
            )

    def current(self, cycle_id: uuid.UUID) -> None:
        """Under way: self reviews from two in three, manager reviews for some, and nothing
        for the fresh reviewee."""
        for n, p in enumerate(self.employees):
            if p.local == DEMO_FRESH_REVIEWEE or n % 3 == 2:
                continue
            self.write(cycle_id, p.local, "self", p.local, 2 + n % 4)
            if n % 3 == 0:
                self.write(cycle_id, p.local, "manager", p.manager or "", 2 + n % 4)


def seed_demo_reviews(
    session: Session, t: TenantSpec, tid: uuid.UUID, users: dict[str, uuid.UUID], *, today: date
) -> dict[str, int]:
    """The organisation's two cycles and their reviews; rows per table."""
    demo = _DemoReviews(session, t, tid, users)
    previous, current = demo.launch(today)
    demo.previous(previous)
    demo.current(current)
    reviews = len(demo.review_ids(previous)) + len(demo.review_ids(current))
    return {"review_cycle": 2, "review": reviews}
