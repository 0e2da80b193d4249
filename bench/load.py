"""The real server under load: simulated browser tabs over real websockets.

`reflex run --env prod` is started twice on a free loopback port: one worker with its state
in memory, then two workers sharing their state in Redis (Debian's redis-server, as the
browser tests run it). Each simulated tab is a different person of a different tenant (the
`ws-*` tenants seeded here, managers and employees alternately): it signs in through the real
sign-in route (`POST /api/auth/signin`, its own cookie), opens a socket.io websocket to
`/_event` as the browser does (the hydrate event in the CONNECT packet, the session cookie
in the handshake), and then drives the pages the way the compiled frontend does: page
changes are `on_load_internal` events (done when the server flips `is_hydrated` back to
true), clicks are the handlers' own events (done when the delta carrying their result
arrives). The mix: open the goal list, page (employees) or switch to the team (managers),
filter by status, open a goal, check in on it, open the overview.

Every goal row, goal page, overview row, tenant name and email that reaches a tab is
checked against that tab's own tenant, read as the owner beforehand: a row of another
tenant is a leak. Errors are refusals, error messages in the state, redirects to the
sign-in page, disconnects and timeouts.

Three measurements per set-up, bounded in time and count, loopback only:
- capacity: a curve, `CAPACITY_TABS` tabs with no think time for `SECONDS` s each (events/s,
  latency): the peak is the set-up's capacity, and the most events/s measured with a p95
  within the target is what it serves at that latency (more tabs with no think time than
  the workers can serve at once add queueing, not work: Little's law);
- latency: `IDLE_TABS` tabs with a think time of 1-3 s between events for `SECONDS` s (each
  tab starts at a random moment of the first 3 s, and the measurement once all have);
  in both, each tab starts at a step of the mix of its own, not all on the same page;
- memory: the workers' resident memory before the tabs connect and with `IDLE_TABS` tabs
  connected, each having loaded its goal list; the difference per tab.
The load generator runs on the same two cores as the server; its own CPU use is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.common import Timing, prepare_database, summarize, write_section

PREFIX = "ws"
TENANTS, USERS_PER_TENANT, GOALS_PER_USER = 200, 6, 40
CAPACITY_TABS = (4, 6, 8, 12, 24)
IDLE_TABS = 200
SECONDS = 20.0
THINK_SECONDS = (1.0, 3.0)
EVENT_TIMEOUT_S = 30.0
TARGET_PER_WORKER, TARGET_P95_MS, TARGET_SCALE, TARGET_KB = 150, 100, 1.7, 400
# What the figures cannot say by themselves (measured on this machine while working on the
# events: py-spy on the worker, pg_stat_statements on the server, one worker, 24 tabs, no
# think time, 25 s runs): kept in the section by every run.
FINDINGS = """\
Where one worker's time goes:
- A worker runs one handler at a time on its event loop and waits for PostgreSQL inside it:
  its CPU (0.68 of a core at about 150 events/s) and its PostgreSQL backends' (0.28) add up
  to about one core. An event costs about 4.5 ms of worker CPU and 1.9 ms of database time,
  one after the other (5.9 ms and 1.9 ms before the list statements were kept and the menus
  of people survived check-ins; py-spy on the worker). The handlers' share of the worker's
  CPU is about 70%: a check-in 20%, a goal's page 14%, the lists 24%, the overview 11%.
- Planning was 0.8 ms of the database's 1.9 ms per event: the runtime roles plan every
  statement for the tenant at hand (`plan_cache_mode = force_custom_plan`,
  `pms_dashboard.db.roles`), because a generic plan is made for no tenant in particular and
  served a 100,000-goal tenant's team list 3.5x slower. With PostgreSQL's own choice
  (`auto`) for every statement, two workers served 304-322 events/s against 247-256, with
  PostgreSQL at 0.36 cores against 0.54. A goal's page and what it does there (check-in,
  edit, archive) read and write by key only, and now reuse cached plans
  (`tenancy.session.CACHED_PLANS`), while the lists keep plans made for their tenant. Two
  workers: 270-275 events/s against 247-250; one worker: 140-141 against 126-135
  (alternating the code on the same database).
- Handler threads (`PMS_EVENT_THREADS=2`) overlap the waits but cost more worker CPU than
  they save: 120 events/s at 0.92 worker cores (117-127 without). The pool's pre-ping
  off: no measurable change.
- Handlers that do not block the loop while PostgreSQL works (SQLAlchemy's greenlet bridge,
  psycopg's waits handed to the event loop, at most 3 handlers at once) raised one worker
  from 104-109 to 124-132 events/s (the worker then at 1.0 core, p95 down a third), but
  each event cost about 15% more worker CPU, and two workers, already short of CPU, fell
  from 145-161 to 121-126 events/s. Not kept.
- Two workers: each keeps the states of the tabs it serves in memory while it holds their
  lock (Reflex's opportunistic lock, turned on in `rxconfig.py`), and writes them to Redis
  when another worker asks for a tab or after 5 s. Before, every event read and wrote its
  tab's states in Redis: 7.3 ms of worker CPU per event against 5.1 ms in memory (one tab,
  no think time), and two workers served 194-218 events/s, 1.36-1.42x one worker. With the
  lock held: 248-272 events/s, 1.74x. At that peak the workers use 1.3 cores, PostgreSQL
  0.5 and the load generator 0.13: the machine is full. A reload that lands on the other
  worker finds what the tab did last (`tests/e2e/test_scale_out_e2e.py`).
- 200 tabs thinking 1-3 s ask for about 90 events/s, 60% of one worker's capacity at 8 tabs,
  but there an event costs about 7 ms of worker CPU instead of 4.6: 200 tenants' rows,
  menus and kept statements instead of 8 (more cache misses), and a larger heap to collect
  (gen-2 collections of 40-210 ms). One worker then runs at 80-90% in bursts, and its p95
  is queueing. Tabs that all began their mix at the same step brought every check-in and
  overview, the dearest events, in one wave: a p95 of 820-980 ms. Each tab now starts at a
  step of its own: 280-510 ms. Two workers serve the same tabs with a p95 under 100 ms.
"""

_ROOT = "reflex___state____state"
_HYDRATED = "is_hydrated_rx_state_"
_ERRORS = ("error_rx_state_", "check_in_error_rx_state_")


@dataclass(frozen=True)
class Person:
    """A user and what their tenant holds (read as the owner: the ground truth)."""

    slug: str
    email: str
    manager: bool
    tenant_name: str
    goal_ids: frozenset[str]
    owner_names: frozenset[str]
    own_goals: tuple[str, ...]


def seed() -> None:
    from pms_dashboard.seed import seed_bulk

    seed_bulk(tenants=TENANTS, users_per_tenant=USERS_PER_TENANT, goals_per_user=GOALS_PER_USER,
              prefix=PREFIX, progress=True)  # fmt: skip


def people(count: int) -> list[Person]:
    """`count` users of as many `ws-*` tenants: the manager (user0000) and an employee
    (user0003) alternately."""
    from rich.progress import track

    out = []
    for k in track(range(count), description="reading each tenant's rows"):
        slug = f"{PREFIX}-{k % TENANTS + 1:04d}"
        out.append(person(slug, f"user{0 if k % 2 == 0 else 3:04d}@{slug}.example"))
    return out


def person(slug: str, email: str) -> Person:
    """A user and their tenant's goals and owners, read as the owner at its placement."""
    from sqlalchemy import text

    from pms_dashboard.tenancy import placement
    from pms_dashboard.tenancy.session import owner_session

    where = placement.by_slug(slug)
    if where is None:
        raise LookupError(f"no organisation {slug!r}")
    with owner_session(where.tenant_id) as s:
        name = s.execute(
            text("SELECT name FROM tenant WHERE id = :t"), {"t": where.tenant_id}
        ).scalar_one()
        goals = s.execute(
            text(
                "SELECT g.id::text, u.display_name, u.email, g.status, u.role FROM goal g "
                "JOIN app_user u ON u.tenant_id = g.tenant_id AND u.id = g.owner_id "
                "WHERE g.tenant_id = :t"
            ),
            {"t": where.tenant_id},
        ).all()
        role = s.execute(
            text("SELECT role FROM app_user WHERE tenant_id = :t AND email = :e"),
            {"t": where.tenant_id, "e": email},
        ).scalar_one()
    return Person(
        slug=slug,
        email=email,
        manager=role != "employee",
        tenant_name=name,
        goal_ids=frozenset(g[0] for g in goals),
        owner_names=frozenset(g[1] for g in goals),
        own_goals=tuple(sorted(g[0] for g in goals if g[2] == email and g[3] == "active")),
    )


def sign_in(url: str, person: Person) -> str:
    """The session cookie from the real sign-in route (a form POST from the app's origin)."""
    from pms_dashboard.auth.cookies import SESSION_COOKIE
    from pms_dashboard.settings import get_settings

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=60)
    body = urlencode(
        {"organisation": person.slug, "email": person.email,
         "password": get_settings().demo_password}
    )  # fmt: skip
    conn.request(
        "POST",
        "/api/auth/signin",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": url},
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie" and value.startswith(f"{SESSION_COOKIE}="):
            return value.split(";", 1)[0]
    raise RuntimeError(f"sign-in of {person.email} refused ({response.status})")


def _names() -> dict[str, str]:
    """Full state names of the states the tabs drive (as the compiled frontend knows them)."""
    from pms_dashboard.ui.states.goals import GoalDetailState, GoalsState
    from pms_dashboard.ui.states.overview import OverviewState
    from pms_dashboard.ui.states.session import SessionState

    return {
        "goals": GoalsState.get_full_name(),
        "detail": GoalDetailState.get_full_name(),
        "overview": OverviewState.get_full_name(),
        "session": SessionState.get_full_name(),
    }


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    leaks: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, kind: str, ms: float) -> None:
        self.latencies.setdefault(kind, []).append(ms)

    def fail(self, what: str) -> None:
        self.errors.append(what)


class Tab:
    """One browser tab of one person: a websocket, the state it has seen, and its checks."""

    def __init__(self, url: str, person: Person, cookie: str, names: dict[str, str],
                 token: str | None = None) -> None:  # fmt: skip
        import socketio

        self.url, self.person, self.cookie, self.names = url, person, cookie, names
        # the browser tab's own id (its session storage): a reload keeps it, a new tab does not
        self.token = token or str(uuid.uuid4())
        self.sio = socketio.AsyncClient(reconnection=False)
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sio.on("event", self.updates.put_nowait, namespace="/_event")
        self.path = "/goals/"
        self.turn = 0
        self.goal = person.own_goals[0] if person.own_goals else ""
        self.key_results: list[dict[str, Any]] = []
        self.snapshot: dict[str, Any] = {}

    def _router(self, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"pathname": path, "asPath": path}
        if query:
            data["query"] = query
        return data

    async def connect(self, path: str = "/goals/") -> dict[str, Any]:
        """Open the page `path` as a fresh browser load: websocket + hydrate + on_load."""
        self.path = path
        boot = {"name": f"{_ROOT}.hydrate_and_load", "payload": {},
                "router_data": self._router(path)}  # fmt: skip
        await self.sio.connect(
            f"{self.url}?token={self.token}",
            headers={"Cookie": self.cookie, "Origin": self.url},
            transports=["websocket"],
            namespaces=["/_event"],
            socketio_path="/_event",
            auth={"event": boot},
            wait_timeout=EVENT_TIMEOUT_S,
        )
        deltas: list[dict[str, Any]] = []
        merged = await self._until(lambda d: d.get(_ROOT, {}).get(_HYDRATED) is True, deltas)
        self.snapshot = deltas[0]  # the states as the server held them, before on_load
        return merged

    async def close(self) -> None:
        await self.sio.disconnect()

    async def _until(self, done: Callable[[dict[str, Any]], bool],
                     seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
        """Merge the deltas that arrive until one satisfies `done` (each also kept in `seen`);
        the merged delta."""
        merged: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sio.connected:
                raise TimeoutError("no answer" if self.sio.connected else "disconnected")
            try:
                update = await asyncio.wait_for(self.updates.get(), timeout=min(left, 1.0))
            except TimeoutError:
                continue
            for event in update.get("events") or []:
                payload = json.dumps(event.get("payload", {}))
                if event.get("name") == "_redirect" and "/signin" in payload:
                    raise PermissionError("redirected to the sign-in page")
            delta = update.get("delta") or {}
            if seen is not None and delta:
                seen.append(delta)
            for state, values in delta.items():
                merged.setdefault(state, {}).update(values)
            if delta and done(delta):
                return merged

    async def navigate(self, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
        """An in-app page change, as the router does it: `on_load_internal`."""
        self.path = path
        await self.sio.emit(
            "event",
            {
                "name": f"{_ROOT}.reflex___state____on_load_internal_state.on_load_internal",
                "payload": {},
                "router_data": self._router(path, query),
            },
            namespace="/_event",
        )
        return await self._until(lambda d: d.get(_ROOT, {}).get(_HYDRATED) is True)

    async def click(
        self,
        state: str,
        handler: str,
        payload: dict[str, Any],
        wanted: str,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A handler's event; done when the delta carrying `wanted` of its state arrives."""
        full = self.names[state]
        await self.sio.emit(
            "event",
            {
                "name": f"{full}.{handler}",
                "payload": payload,
                "router_data": self._router(self.path, query),
            },
            namespace="/_event",
        )

        def done(delta: dict[str, Any]) -> bool:
            mine = delta.get(full, {})
            return f"{wanted}_rx_state_" in mine or any(mine.get(k) for k in _ERRORS)

        return await self._until(done)

    # ------------------------------------------------------------------- checks

    def leaks(self, merged: dict[str, Any]) -> int:
        """Rows and facts in what the server sent that are not this person's tenant's."""
        p, bad = self.person, 0
        session = merged.get(self.names["session"], {})
        if "tenant_name_rx_state_" in session:
            bad += session["tenant_name_rx_state_"] != p.tenant_name
        if "user_email_rx_state_" in session:
            bad += session["user_email_rx_state_"] != p.email
        rows = list(merged.get(self.names["goals"], {}).get("rows_rx_state_", []))
        overview = merged.get(self.names["overview"], {})
        rows += overview.get("due_soon_rx_state_", []) + overview.get("stale_rx_state_", [])
        for row in rows:
            bad += row.get("id") not in p.goal_ids
            bad += "owner" in row and row["owner"] not in p.owner_names
        goal = merged.get(self.names["detail"], {}).get("goal_rx_state_")
        if goal:
            bad += goal.get("id") not in p.goal_ids
        return bad

    def error(self, merged: dict[str, Any]) -> str | None:
        for state, values in merged.items():
            for key in _ERRORS:
                if values.get(key):
                    return f"{state.rsplit('.', 1)[-1]}: {values[key]}"
        return None

    # ------------------------------------------------------------------- the mix

    async def _open_goal(self, goal: str) -> dict[str, Any]:
        merged = await self.navigate(f"/goals/{goal}/", {"goal_id": goal})
        detail = merged.get(self.names["detail"], {})
        self.key_results = detail.get("key_results_rx_state_", self.key_results)
        return merged

    def _check_in(self) -> dict[str, str]:
        """The check-in form as the page fills it: key results' values when the goal has
        some (its progress comes from them), else the progress."""
        form = {"confidence": random.choice(["on_track", "at_risk"]), "note": "load test"}
        if not self.key_results:
            return form | {"progress": str(random.randint(0, 100))}
        for kr in self.key_results:
            low, high = sorted((float(kr["start_value"]), float(kr["target_value"])))
            form[f"kr_{kr['id']}"] = str(round(random.uniform(low, high), 1))
        return form

    def actions(self) -> list[tuple[str, Callable[[], Any]]]:
        p = self.person
        second = (
            ("team scope", lambda: self.click("goals", "set_scope", {"scope": "team"}, "rows"))
            if p.manager
            else ("next page", lambda: self.click("goals", "next_page", {}, "rows"))
        )
        status = "active" if self.turn % 2 == 0 else "all"
        goal = self.goal
        return [
            ("open goals", lambda: self.navigate("/goals/")),
            second,
            ("filter status",
             lambda: self.click("goals", "filter_status", {"status": status}, "rows")),
            ("open a goal", lambda: self._open_goal(goal)),
            ("check-in", lambda: self.click(
                "detail", "submit_check_in", {"form": self._check_in()}, "check_ins",
                {"goal_id": goal})),
            ("overview", lambda: self.navigate("/overview/")),
        ]  # fmt: skip

    async def run(self, tally: Tally, stop: asyncio.Event, window: list[float],
                  think: tuple[float, float] | None) -> None:  # fmt: skip
        if think:  # people do not all click at the same moment: each tab starts on its own
            await asyncio.sleep(random.uniform(0, think[1]))
        # nor are they all on the same page: each tab starts at a step of the mix of its own
        # (a check-in after opening its goal). Tabs that all began with the goal list stayed
        # in step for their first rounds, and every tab's check-in and overview, the dearest
        # events, came in one wave (a p95 near 1 s on one worker with 200 tabs thinking).
        start = random.randrange(len(self.actions()))
        if self.actions()[start][0] == "check-in":
            start -= 1
        while not stop.is_set():
            for kind, action in self.actions()[start:]:
                if stop.is_set():
                    break
                began = time.perf_counter()
                try:
                    merged = await action()
                except Exception as err:
                    tally.fail(f"{kind}: {type(err).__name__}: {err}")
                    if not self.sio.connected:
                        return
                    continue
                ended = time.perf_counter()
                if window[0] <= began and ended <= window[1]:
                    tally.add(kind, (ended - began) * 1000)
                    tally.leaks += self.leaks(merged)
                    if (problem := self.error(merged)) is not None:
                        tally.fail(f"{kind}: {problem}")
                if think:
                    await asyncio.sleep(random.uniform(*think))
            self.turn, start = self.turn + 1, 0


# ----------------------------------------------------------------------- the server


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


@dataclass(frozen=True)
class Phase:
    tabs: int
    events: int
    seconds: float
    latency: Timing
    by_kind: dict[str, Timing]
    leaks: int
    errors: list[str]
    client_cores: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


async def _open_tabs(url: str, persons: list[Person], names: dict[str, str]) -> list[Tab]:
    from rich.progress import track

    tabs = []
    for person in track(persons, description=f"signing in {len(persons)} tabs"):
        cookie = await asyncio.to_thread(sign_in, url, person)
        tab = Tab(url, person, cookie, names)
        await tab.connect("/goals/")
        tabs.append(tab)
    return tabs


async def _phase(tabs: list[Tab], seconds: float, think: tuple[float, float] | None) -> Phase:
    stop = asyncio.Event()
    # with think time, measured once every tab has started (`Tab.run`), not in the start-up
    window = [time.perf_counter() + (0.0 if think is None else think[1]), float("inf")]
    tallies = [Tally() for _ in tabs]
    cpu0 = _cpu_s()
    tasks = [asyncio.create_task(t.run(tally, stop, window, think)) for t, tally in
             zip(tabs, tallies, strict=True)]  # fmt: skip
    await asyncio.sleep(seconds)
    window[1] = time.perf_counter()
    stop.set()
    await asyncio.wait(tasks, timeout=EVENT_TIMEOUT_S + 5)
    elapsed = window[1] - window[0]
    by_kind: dict[str, list[float]] = {}
    for tally in tallies:
        for kind, values in tally.latencies.items():
            by_kind.setdefault(kind, []).extend(values)
    every = [ms for values in by_kind.values() for ms in values]
    return Phase(
        tabs=len(tabs),
        events=len(every),
        seconds=elapsed,
        latency=summarize("all", every or [float("nan")]),
        by_kind={k: summarize(k, v) for k, v in sorted(by_kind.items())},
        leaks=sum(t.leaks for t in tallies),
        errors=[e for t in tallies for e in t.errors],
        client_cores=(_cpu_s() - cpu0) / elapsed,
    )


@dataclass(frozen=True)
class Setup:
    label: str
    workers: int
    curve: list[Phase]  # no think time, one phase per tab count of `CAPACITY_TABS`
    thinking: Phase
    kb_per_tab: float
    rss_mb: float

    @property
    def peak(self) -> Phase:
        """The capacity: the curve's most events/s, whatever the latency."""
        return max(self.curve, key=lambda p: p.per_second)

    @property
    def within_target(self) -> Phase | None:
        """The most events/s the curve measured with a p95 within the target."""
        met = [p for p in self.curve if p.latency.p95_ms <= TARGET_P95_MS]
        return max(met, key=lambda p: p.per_second) if met else None

    @property
    def phases(self) -> list[Phase]:
        return [*self.curve, self.thinking]


async def _measure(url: str, server_pid: int, label: str, workers: int,
                   persons: list[Person], seconds: float) -> Setup:  # fmt: skip
    from rich.progress import Progress

    names = _names()
    pids = _descendants(server_pid)
    # warm the workers up (imports, first queries) before the memory baseline
    warm = await _open_tabs(url, persons[:2], names)
    for tab in warm:
        await tab.navigate("/overview/")
        await tab.close()
    await asyncio.sleep(1)
    rss0 = _rss_kb(pids)
    tabs = await _open_tabs(url, persons, names)
    await asyncio.sleep(2)
    rss1 = _rss_kb(pids)
    counts = [n for n in CAPACITY_TABS if n <= len(tabs)]
    with Progress() as progress:
        task = progress.add_task(f"{label}: {len(tabs)} tabs thinking", total=1 + len(counts))
        thinking = await _phase(tabs, seconds, THINK_SECONDS)
        progress.advance(task)
        curve = []
        for n in counts:
            progress.update(task, description=f"{label}: {n} tabs, no think time")
            curve.append(await _phase(tabs[:n], seconds, None))
            progress.advance(task)
    for tab in tabs:
        await tab.close()
    return Setup(label, workers, curve, thinking, (rss1 - rss0) / len(persons), rss1 / 1024)


def run(*, tabs: int = IDLE_TABS, seconds: float = SECONDS) -> list[Setup]:
    from contextlib import nullcontext

    from tests.app_process import app_process, running_redis

    prepare_database()
    seed()
    persons = people(tabs)
    setups = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "app.log"
        for label, workers in (("1 worker, state in memory", 1), ("2 workers, state in Redis", 2)):
            redis = running_redis(Path(tmp)) if workers > 1 else nullcontext(None)
            with (
                redis as redis_url,
                app_process(log, redis=redis_url, workers=workers) as (
                    url,
                    pid,
                ),
            ):
                setups.append(asyncio.run(_measure(url, pid, label, workers, persons, seconds)))
                print(_line(setups[-1]))
    write_section("Real-websocket load", report(setups, tabs, seconds))
    return setups


def _at(p: Phase | None) -> str:
    if p is None:
        return "none"
    return f"{p.per_second:.0f} events/s at {p.tabs} tabs (p95 {p.latency.p95_ms:.0f} ms)"


def _line(s: Setup) -> str:
    return (
        f"{s.label}: peak {_at(s.peak)}, within the p95 target {_at(s.within_target)}, "
        f"{s.thinking.per_second:.0f} events/s at {s.thinking.tabs} thinking tabs "
        f"(p95 {s.thinking.latency.p95_ms:.0f} ms), {s.kb_per_tab:.0f} KB per tab, "
        f"leaks {sum(p.leaks for p in s.phases)}, errors {sum(len(p.errors) for p in s.phases)}"
    )


def _knee(s: Setup) -> Phase:
    """The capacity phase the per-event table shows: the one within the target, else the peak."""
    return s.within_target or s.peak


def report(setups: list[Setup], tabs: int, seconds: float) -> str:
    one = setups[0]
    header = (
        "| Set-up | tabs | think time | events/s | per worker | median ms | p95 ms | leaks "
        "| errors | load generator cores |\n" + "|---" + "|---:" * 9 + "|"
    )
    rows = []
    for s in setups:
        for phase in s.phases:
            think = "0" if phase in s.curve else f"{THINK_SECONDS[0]:.0f}-{THINK_SECONDS[1]:.0f} s"
            rows.append(
                f"| {s.label} | {phase.tabs} | {think} | {phase.per_second:.0f} "
                f"| {phase.per_second / s.workers:.0f} | {phase.latency.median_ms:.0f} "
                f"| {phase.latency.p95_ms:.0f} | **{phase.leaks}** | {len(phase.errors)} "
                f"| {phase.client_cores:.2f} |"
            )
    summary = "\n".join(
        f"| {s.label} | {_at(s.peak)} | {_at(s.within_target)} "
        f"| {(s.within_target.per_second / s.workers if s.within_target else 0):.0f} |"
        for s in setups
    )
    shown = [(s, p) for s in setups for p in (_knee(s), s.thinking)]
    kinds = sorted({k for _, p in shown for k in p.by_kind})
    kind_rows = "\n".join(
        f"| {kind} | "
        + " | ".join(
            f"{p.by_kind[kind].median_ms:.0f} / {p.by_kind[kind].p95_ms:.0f}"
            if kind in p.by_kind
            else ""
            for _, p in shown
        )
        + " |"
        for kind in kinds
    )
    kind_header = (
        "| Event | "
        + " | ".join(f"{s.label}, {p.tabs} tabs" for s, p in shown)
        + " |\n|---|"
        + "---:|" * len(shown)
    )
    memory = "\n".join(f"| {s.label} | {s.rss_mb:.0f} MB | {s.kb_per_tab:.0f} KB |" for s in setups)
    scale = setups[-1].peak.per_second / one.peak.per_second if len(setups) > 1 else 1.0
    errors = sorted({e for s in setups for p in s.phases for e in p.errors})
    counts = ", ".join(map(str, CAPACITY_TABS))
    error_text = (
        "\n\nErrors seen (first 10 kinds): " + "; ".join(f"`{e}`" for e in errors[:10])
        if errors
        else ""
    )
    return f"""`python -m bench.load` (part of `make bench`). The production server (`reflex run
--env prod`) on loopback, driven by simulated browser tabs over real socket.io websockets:
each tab a different person of a different tenant ({TENANTS} `{PREFIX}-*` tenants of
{USERS_PER_TENANT} people with {GOALS_PER_USER} goals each; managers and employees
alternately), signed in through the real sign-in route with its own cookie. The mix, in a
loop: open the goal list, next page (employees) or the team (managers), filter by status,
open a goal, check in on it, open the overview. Every row, goal page, tenant name and email
a tab receives is checked against its own tenant. {seconds:.0f} s per measurement.

Each tab starts at a step of the mix of its own; with think time, also at a random moment
of the first {THINK_SECONDS[1]:.0f} s, and the measurement once all have (not every tab clicking at
the same instant). With no think time, a curve over {counts} tabs: each tab sends its
next event as soon as the last is answered, so once the workers are busy, more tabs only
wait longer in line (Little's law: at 150 events/s, 24 such tabs wait 160 ms on average
whatever the server does). The peak is the capacity; the most events/s with a p95 within
the target is what a set-up serves at that latency. The load generator shares the
machine's cores with the server (its own use in the last column).

Targets: >= {TARGET_PER_WORKER} events/s per worker with p95 <= {TARGET_P95_MS} ms, 2
workers >= {TARGET_SCALE}x one worker, 0 leaks, 0 errors, <= {TARGET_KB} KB per connected
tab at {tabs} tabs.

{header}
{chr(10).join(rows)}

| Set-up | capacity (peak of the curve) | most events/s, p95 <= {TARGET_P95_MS} ms | per worker |
|---|---|---|---:|
{summary}

Two workers / one worker, capacity: **{scale:.2f}x**.

Worker memory with {tabs} tabs connected (each having loaded its goal list), and the
growth per tab over the workers' memory before the tabs connected:

| Set-up | workers' RSS | per tab |
|---|---:|---:|
{memory}

Latency per event, median / p95 ms (no think time: the curve's point within the p95
target, else its peak):

{kind_header}
{kind_rows}{error_text}

{FINDINGS}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tabs", type=int, default=IDLE_TABS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args()
    run(tabs=args.tabs, seconds=args.seconds)


if __name__ == "__main__":
    main()
