"""A signed-in manager's overview in headless Chromium, on a tenant of 100,000 goals.

The production app (one worker) serves the bench database; Chromium opens /overview again
and again with the manager's session cookie. The time is taken inside the page: a
MutationObserver installed before any script records `performance.now()` (milliseconds
since navigation start) when the goal-health chart has drawn its bars and the totals card
shows a number — what the manager waits for. Alongside, the server time of the event
behind it (the overview's `load`, called as the websocket would). Baseline: the same on a
tenant of 1,000 goals, in the same run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import Timing, measure, prepare_database, summarize, write_section

RUNS = 25
WARMUPS = 2  # per page: caches, the first websocket
TENANTS = (("bench-big", 1_000, 100), ("bench-small", 100, 10))  # as bench/list_pages.py

# The floor: the same shell with nothing of its own to read (the 404 page inside the shell)
# once the server has answered it (the signed-in person's name in the header).
WATCH_SHELL = """
window.__rendered = null;
new MutationObserver((_, obs) => {
  const name = document.querySelector('#user-name');
  if (document.querySelector('#not-found') && name && name.textContent.trim()) {
    window.__rendered = performance.now();
    obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""
TARGET_MS, TARGET_FLOOR_RATIO, TARGET_SCALE_RATIO = 720, 1.5, 1.2
_FLOOR = "blank shell"
_KEPT_OVER = "PMS_COUNTS_KEPT_OVER"

# Where the 100,000-goal tenant's extra time goes (measured while working on it, kept in
# the section by every run): the websocket frames of 20 loads of each page, recorded with
# Playwright, and the same event sent by a bare socket.io client.
FINDINGS = """\
Where the larger tenant's extra time goes when its counts are read: both pages send their
event at the same moment (median 464-465 ms after navigation start, 20 loads each,
websocket frames recorded with Playwright), and the 100,000-goal overview's last delta
arrives 84 ms after the 1,000-goal one's. Sent by a bare socket.io client with nothing else
running, the same event takes 50 ms against 15 (the goal-health counts over 90,000 goals
are 31 ms of it: a pass over the tenant's goals that a parallel plan on this 2-core machine
cut only to 28 ms); in Chromium the server shares the machine's two cores with the
browser, which is still building the page meanwhile. Read on each load, the scale ratio
moved with the machine: 1.12 to 1.41 over five runs that took the pages in turn.
"""

WATCH = """
window.__rendered = null;
new MutationObserver((_, obs) => {
  const bars = document.querySelector('#chart-health .bar-row');
  const total = document.querySelector('#stat-total');
  if (bars && total && /\\d/.test(total.textContent)) {
    window.__rendered = performance.now();
    obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


class _Page:
    """One page to time in Chromium: a browser context signed in with `token`, whose
    `watch` script stamps the moment the page is rendered. Each load is in a new tab: its
    own Reflex state, so nothing of the previous load is shown before this load's event has
    run."""

    def __init__(self, browser: Any, url: str, token: str, path: str, watch: str) -> None:
        from pms_dashboard.auth.cookies import SESSION_COOKIE

        self.address = f"{url}{path}"
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": url}])
        self.context.add_init_script(watch)
        self.times: list[float] = []

    def load(self, *, keep: bool = True) -> None:
        page = self.context.new_page()
        page.set_default_timeout(60_000)
        page.goto(self.address)
        page.wait_for_function("window.__rendered !== null")
        if keep:
            self.times.append(float(page.evaluate("window.__rendered")))
        page.close()


def _render_times(pages: dict[str, _Page], progress: Callable[[], None]) -> None:
    """`RUNS` loads of each page after `WARMUPS`, in rounds that take the pages in turn (the
    order rotating each round), so the machine's drift over the run weighs on all alike."""
    names = list(pages)
    for i in range(WARMUPS + RUNS):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            pages[name].load(keep=i >= WARMUPS)
        progress()
    for page in pages.values():
        page.context.close()


def _server_time(slug: str, token: str, *, kept: bool) -> Timing:
    """The overview's `load` event in this process; not `kept`: with nothing kept from the
    last run (`tenancy.cache` emptied first), as the first load after a change."""
    from pms_dashboard.tenancy import cache
    from pms_dashboard.ui.driver import call, state_for
    from pms_dashboard.ui.states.overview import OverviewState

    def run() -> None:
        if not kept:
            cache.clear()
        st = state_for(OverviewState, token, "/overview")
        call(st, OverviewState.load)

    return measure(f"overview load ({slug}, {'kept' if kept else 'read'})", run, runs=RUNS)


@contextmanager
def _app(env: dict[str, str]) -> Iterator[str]:
    """The production app, with `env` on top of this process's environment; its URL."""
    from tests.app_process import running_app

    log = Path(tempfile.mkdtemp(prefix="pms-bench-app-")) / "app.log"
    with mock.patch.dict(os.environ, env), running_app(log) as url:
        yield url


def _phase(url: str, pages: dict[str, tuple[str, str, str]], label: str) -> dict[str, Timing]:
    """Each of `pages` (name: token, path, watch script) loaded in rounds in Chromium."""
    from playwright.sync_api import sync_playwright
    from rich.progress import Progress, TimeElapsedColumn

    from tests.app_process import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        opened = {name: _Page(browser, url, *spec) for name, spec in pages.items()}
        with Progress(*Progress.get_default_columns(), TimeElapsedColumn()) as bar:
            task = bar.add_task(label, total=WARMUPS + RUNS)
            _render_times(opened, lambda: bar.advance(task))
        browser.close()
    return {name: summarize(f"{label}: {name}", page.times) for name, page in opened.items()}


def run() -> list[tuple[str, float, float]]:
    from bench.list_pages import _seed, _tokens

    prepare_database()
    big, small = (_seed(*t) for t in TENANTS)
    tokens = {slug: _tokens(slug)["manager"] for slug in (big, small)}
    overview = {slug: (tokens[slug], "/overview", WATCH) for slug in (big, small)}
    # the floor as the small tenant's manager: the same shell, header and session
    floor_page = (tokens[small], "/no-such-page", WATCH_SHELL)
    with _app({}) as url:  # as deployed: large counts kept (PMS_COUNTS_KEPT_OVER)
        shown = _phase(url, overview | {_FLOOR: floor_page}, "overview in Chromium")
    with _app({_KEPT_OVER: "0"}) as url:  # every count read on every load
        read = _phase(url, overview, "overview in Chromium, counts read on each load")
    floor = shown[_FLOOR]
    b_read, s_read = read[big], read[small]
    b_srv, s_srv = (_server_time(slug, tokens[slug], kept=True) for slug in (big, small))
    b_cold = _server_time(big, tokens[big], kept=False)
    b_med, b_p95 = shown[big].median_ms, shown[big].p95_ms
    s_med, s_p95 = shown[small].median_ms, shown[small].p95_ms
    read_ratio = b_read.median_ms / s_read.median_ms
    verdicts = (
        _verdict(s_med <= TARGET_MS),
        _verdict(s_med <= TARGET_FLOOR_RATIO * floor.median_ms),
        _verdict(b_med <= TARGET_SCALE_RATIO * s_med),
        _verdict(read_ratio <= TARGET_SCALE_RATIO),
    )
    write_section(
        "Overview page in Chromium at scale (benchmarks, load, faults)",
        f"""A signed-in manager (everyone in the tenant reports to them) opens /overview in
headless Chromium ({RUNS} loads, each in a new tab, after {WARMUPS} warm-ups), production
build, one app worker on this machine. The two tenants' overviews and the floor below are
loaded in turn, round by round, so the machine's drift over the run weighs on all three
alike. Render time is measured inside the page: milliseconds from navigation start until
the goal-health chart has drawn its bars and the totals card shows its number. Server
time: the overview's `load` event alone. Baseline: a tenant of 1,000 goals, same run.
Floor, same run: the same shell with nothing of its own to read (an unknown address: the
404 page inside the shell) until the server has answered (the person's name in the
header): {floor.median_ms:.0f} ms median, p95 {floor.p95_ms:.0f} ms.

The app as deployed keeps goal counts over more than 10,000 goals for up to 30 s
(`PMS_COUNTS_KEPT_OVER`; dropped at once by a change made through the same process, and
used only while they count the same people: one more statement on each use), so
the 100,000-goal overview reads its counts on the first load of a 30-s window and not on
the loads after it; nothing changes the goals during the run. The same rounds follow on an
app that reads every count on every load (`PMS_COUNTS_KEPT_OVER=0`): what the first load
costs, and every load of a tenant whose goals change all the time.

| Measure | 100,000 goals median ms | p95 ms | 1,000 goals median ms | p95 ms | ratio |
|---|---:|---:|---:|---:|---:|
| Page rendered (in Chromium) | {b_med:.0f} | {b_p95:.0f} | {s_med:.0f} | {s_p95:.0f} | {b_med / s_med:.2f} |
| Page rendered, counts read on each load | {b_read.median_ms:.0f} | {b_read.p95_ms:.0f} | {s_read.median_ms:.0f} | {s_read.p95_ms:.0f} | {read_ratio:.2f} |
| Server time of the overview event | {b_srv.median_ms:.0f} | {b_srv.p95_ms:.0f} | {s_srv.median_ms:.0f} | {s_srv.p95_ms:.0f} | {b_srv.ratio_to(s_srv):.2f} |
| Server time, counts read | {b_cold.median_ms:.0f} | {b_cold.p95_ms:.0f} | {s_srv.median_ms:.0f} | {s_srv.p95_ms:.0f} | {b_cold.ratio_to(s_srv):.2f} |

Targets: 1,000 goals <= {TARGET_MS} ms median ({verdicts[0]}); <= {TARGET_FLOOR_RATIO}x the
floor ({s_med / floor.median_ms:.2f}x: {verdicts[1]}); 100,000 goals <= {TARGET_SCALE_RATIO}x
1,000 goals ({b_med / s_med:.2f}x: {verdicts[2]}; counts read on each load {read_ratio:.2f}x:
{verdicts[3]}).

{FINDINGS}""",  # noqa: E501
    )
    shell = (_FLOOR, floor.median_ms, floor.p95_ms)
    return [(big, b_med, b_p95), (small, s_med, s_p95), shell]


def _verdict(held: bool) -> str:
    return "met" if held else "**missed**"


if __name__ == "__main__":
    for slug, median, p95 in run():
        print(f"{slug:24s} overview rendered: median {median:.0f} ms  p95 {p95:.0f} ms")
