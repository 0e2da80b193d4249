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

import tempfile
from pathlib import Path

from bench.common import Timing, measure, prepare_database, summarize, write_section

RUNS = 15
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


def _render_times(
    browser, url: str, token: str, path: str = "/overview", watch: str = WATCH
) -> list[float]:
    from pms_dashboard.auth.cookies import SESSION_COOKIE

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": url}])
    context.add_init_script(watch)
    times = []
    for i in range(RUNS + 2):
        # a new tab each time: its own Reflex state, so nothing from the previous load is
        # shown before this load's event has run
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}{path}")
        page.wait_for_function("window.__rendered !== null")
        if i >= 2:  # two warm-ups: caches, the first websocket
            times.append(float(page.evaluate("window.__rendered")))
        page.close()
    context.close()
    return times


def _server_time(slug: str, token: str) -> Timing:
    from pms_dashboard.ui.driver import call, state_for
    from pms_dashboard.ui.states.overview import OverviewState

    def run() -> None:
        st = state_for(OverviewState, token, "/overview")
        call(st, OverviewState.load)

    return measure(f"overview load ({slug})", run, runs=RUNS)


def run() -> list[tuple[str, float, float]]:
    from playwright.sync_api import sync_playwright
    from rich.progress import track

    from bench.list_pages import _seed, _tokens
    from tests.app_process import CHROMIUM, CHROMIUM_ARGS, running_app

    prepare_database()
    slugs = [_seed(*t) for t in TENANTS]
    tokens = {slug: _tokens(slug)["manager"] for slug in slugs}
    results = []
    log = Path(tempfile.mkdtemp(prefix="pms-bench-app-")) / "app.log"
    with running_app(log) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        small_token = tokens[slugs[1]]
        floor = summarize(
            "blank shell",
            _render_times(browser, url, small_token, "/no-such-page", WATCH_SHELL),
        )
        for slug in track(slugs, description="overview in Chromium"):
            times = _render_times(browser, url, tokens[slug])
            server = _server_time(slug, tokens[slug])
            rendered = summarize(f"overview rendered ({slug})", times)
            results.append((slug, rendered.median_ms, rendered.p95_ms, server))
        browser.close()
    (big, b_med, b_p95, b_srv), (small, s_med, s_p95, s_srv) = results
    verdicts = (
        _verdict(s_med <= TARGET_MS),
        _verdict(s_med <= TARGET_FLOOR_RATIO * floor.median_ms),
        _verdict(b_med <= TARGET_SCALE_RATIO * s_med),
    )
    write_section(
        "Overview page in Chromium at scale (benchmarks, load, faults)",
        f"""A signed-in manager (everyone in the tenant reports to them) opens /overview in
headless Chromium ({RUNS} loads, each in a new tab, after two warm-ups), production build,
one app worker on this machine. Render time is measured inside the page: milliseconds from
navigation start until the goal-health chart has drawn its bars and the totals card shows
its number. Server time: the overview's `load` event alone. Baseline: a tenant of 1,000
goals, same run. Floor, same run: the same shell with nothing of its own to read (an
unknown address: the 404 page inside the shell) until the server has answered (the
person's name in the header): {floor.median_ms:.0f} ms median, p95 {floor.p95_ms:.0f} ms.

| Measure | 100,000 goals median ms | p95 ms | 1,000 goals median ms | p95 ms | ratio |
|---|---:|---:|---:|---:|---:|
| Page rendered (in Chromium) | {b_med:.0f} | {b_p95:.0f} | {s_med:.0f} | {s_p95:.0f} | {b_med / s_med:.2f} |
| Server time of the overview event | {b_srv.median_ms:.0f} | {b_srv.p95_ms:.0f} | {s_srv.median_ms:.0f} | {s_srv.p95_ms:.0f} | {b_srv.ratio_to(s_srv):.2f} |

Targets: 1,000 goals <= {TARGET_MS} ms median ({verdicts[0]}); <= {TARGET_FLOOR_RATIO}x the
floor ({s_med / floor.median_ms:.2f}x: {verdicts[1]}); 100,000 goals <= {TARGET_SCALE_RATIO}x
1,000 goals ({b_med / s_med:.2f}x: {verdicts[2]}).
""",  # noqa: E501
    )
    shell = ("blank shell", floor.median_ms, floor.p95_ms)
    return [(big, b_med, b_p95), (small, s_med, s_p95), shell]


def _verdict(held: bool) -> str:
    return "met" if held else "**missed**"


if __name__ == "__main__":
    for slug, median, p95 in run():
        print(f"{slug:24s} overview rendered: median {median:.0f} ms  p95 {p95:.0f} ms")
