"""Shared pieces of the benchmarks: a dedicated database, timing with median/p95, and the
machine description written at the top of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PMS_ENV", "test")
os.environ.setdefault("PMS_EMBEDDED_DB", "pms_bench")

from pms_dashboard.settings import PROJECT_ROOT, get_settings

RESULTS = PROJECT_ROOT / "BENCHMARKS.md"


def prepare_database() -> None:
    """The bench database, created and migrated once; kept between runs (seeding is slow)."""
    from pms_dashboard.db import embedded, engine, migrate

    settings = get_settings()
    if settings.database_url is None:
        embedded.ensure_database(engine.embedded_cluster(settings), settings.embedded_db_name)
    engine.reset_engines()
    migrate.upgrade()


@dataclass(frozen=True)
class Timing:
    name: str
    runs: int
    median_ms: float
    p95_ms: float

    def ratio_to(self, baseline: Timing) -> float:
        return self.median_ms / baseline.median_ms if baseline.median_ms else float("nan")


def measure(name: str, fn: Callable[[], object], *, runs: int = 30, warmup: int = 3) -> Timing:
    """Median and 95th percentile wall time of `fn` over `runs` calls, after a warm-up."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return summarize(name, samples)


def measure_interleaved(
    fns: dict[str, Callable[[], float | None]],
    *,
    runs: int = 30,
    warmup: int = 3,
    self_timed: bool = False,
    advance: Callable[[], None] | None = None,
) -> dict[str, Timing]:
    """`measure` for several functions compared with each other: they take turns, and who
    goes first rotates, so a drift in the machine's load (or a cache warming up) hits each
    alike. With `self_timed` each function returns its own time in ms (to leave set-up
    such as opening a transaction out of the sample); `advance` is called after each turn."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(runs):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            own = fns[name]()
            wall = (time.perf_counter() - start) * 1000
            samples[name].append(float(own) if self_timed and own is not None else wall)
        if advance is not None:
            advance()
    return {name: summarize(name, samples[name]) for name in names}


def summarize(name: str, samples_ms: list[float]) -> Timing:
    """Median and 95th percentile of samples (milliseconds) taken by the caller."""
    samples = sorted(samples_ms)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return Timing(name, len(samples), statistics.median(samples), p95)


def machine() -> str:
    cpus = os.cpu_count() or 0
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {cpus} CPUs, {mem_gib:.0f} GiB RAM, "
        f"Python {platform.python_version()}, PostgreSQL (embedded), {platform.system()}"
    )


def write_section(title: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or add) the `## title` section of BENCHMARKS.md, keeping the others."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\nWritten by `make bench`.\n"
    header = f"## {title}\n"
    start = text.find(header)
    section = f"{header}\n{body.strip()}\n\n"
    if start == -1:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(header))
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    path.write_text(text.rstrip() + "\n")
