"""How the load test reads its throughput-latency curve (`bench/load.py`): the capacity is
the curve's peak, what a set-up serves within the p95 target is the best point that meets
it, and the two-worker ratio compares capacities. A report that took the last point for
the capacity, or any point for "within the target", would claim what was not measured."""

from __future__ import annotations

import re

from bench import load
from bench.common import Timing


def _phase(tabs: int, per_second: float, p95_ms: float) -> load.Phase:
    timing = Timing("all", int(per_second * 20), p95_ms / 2, p95_ms)
    return load.Phase(
        tabs=tabs,
        events=int(per_second * 20),
        seconds=20.0,
        latency=timing,
        by_kind={"check-in": timing},
        leaks=0,
        errors=[],
        client_cores=0.05,
    )


def _setup(label: str, workers: int, curve: list[load.Phase]) -> load.Setup:
    return load.Setup(label, workers, curve, _phase(200, 90, 400), 200.0, 250.0)


def test_peak_and_the_best_point_within_the_target_are_read_off_the_curve() -> None:
    # the most events/s is not the last point, and the point within the target is not the first
    one = _setup("one", 1, [_phase(4, 140, 45), _phase(6, 152, 99), _phase(12, 160, 140),
                            _phase(24, 150, 300)])  # fmt: skip
    assert (one.peak.tabs, one.within_target and one.within_target.tabs) == (12, 6)
    # a p95 just over the target does not count
    over = _setup("over", 1, [_phase(4, 120, 100.5), _phase(8, 130, 180)])
    assert over.within_target is None
    assert over.peak.tabs == 8


def test_the_report_states_both_and_scales_on_the_capacities() -> None:
    one = _setup("1 worker", 1, [_phase(4, 140, 45), _phase(6, 150, 90), _phase(24, 150, 300)])
    two = _setup("2 workers", 2, [_phase(4, 200, 40), _phase(24, 255, 180)])
    text = load.report([one, two], 200, 20.0)
    assert "Two workers / one worker, capacity: **1.70x**" in text
    assert "| 1 worker | 150 events/s at 6 tabs (p95 90 ms) | 150 events/s at 6 tabs" in text
    assert "| 2 workers | 255 events/s at 24 tabs (p95 180 ms) | 200 events/s at 4 tabs" in text
    # every measured point is a row of the main table, the thinking tabs too
    rows = re.findall(r"^\| 1 worker \| (\d+) \| ([^|]+) \|", text, re.M)
    assert rows == [("4", "0"), ("6", "0"), ("24", "0"), ("200", "1-3 s")]
    assert "| Event | 1 worker, 6 tabs | 1 worker, 200 tabs | 2 workers, 4 tabs |" in text
