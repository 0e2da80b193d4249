"""The load test's simulated browser tabs (`bench/load.py`) against the real server: they
speak the websocket protocol the compiled frontend speaks, so every event of the mix gets
its answer, and their leak check catches a row of another tenant. Without this the
benchmark could measure timeouts and call them latency."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import load
from pms_dashboard.seed import seed_demo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tabs_people() -> list[load.Person]:
    seed_demo()
    return [
        load.person("acme", "priya.nair@acme.example"),
        load.person("globex", "gus.manager@globex.example"),
    ]


def test_every_event_of_the_mix_is_answered_without_leak(app_url, tabs_people) -> None:
    async def drive() -> list[load.Tally]:
        names = load._names()
        tallies = []
        for person in tabs_people:
            tab = load.Tab(app_url, person, load.sign_in(app_url, person), names)
            await tab.connect("/goals/")
            tally = load.Tally()
            stop = asyncio.Event()
            task = asyncio.create_task(tab.run(tally, stop, [0.0, float("inf")], None))
            while sum(map(len, tally.latencies.values())) < 12 and not task.done():
                await asyncio.sleep(0.2)
            stop.set()
            await task
            await tab.close()
            tallies.append(tally)
        return tallies

    # the tabs' event loop runs in a thread of its own (Playwright's, in this one, is busy)
    with ThreadPoolExecutor(1) as pool:
        tallies = pool.submit(asyncio.run, drive()).result()
    for person, tally in zip(tabs_people, tallies, strict=True):
        assert tally.errors == [], (person.slug, tally.errors)
        assert tally.leaks == 0
        second = "team scope" if person.manager else "next page"
        kinds = {"open goals", second, "filter status", "open a goal", "check-in", "overview"}
        assert set(tally.latencies) == kinds, (person.slug, tally.latencies.keys())


def test_the_leak_check_catches_another_tenants_row(tabs_people) -> None:
    acme, globex = tabs_people
    tab = load.Tab("http://localhost", acme, "", load._names())
    own = {tab.names["goals"]: {"rows_rx_state_": [{"id": next(iter(acme.goal_ids))}]}}
    foreign = {tab.names["goals"]: {"rows_rx_state_": [{"id": next(iter(globex.goal_ids))}]}}
    assert tab.leaks(own) == 0
    assert tab.leaks(foreign) == 1
    assert tab.leaks({tab.names["session"]: {"tenant_name_rx_state_": globex.tenant_name}}) == 1
