"""Noisy neighbour: does one tenant hammering exports slow another tenant's pages?

Tenant B (1,000 goals) opens its goal list over and over, as its people would, while tenant
A (the 100,000-goal tenant of the export benchmark) runs 8 export downloads in a loop. Three
runs: B alone (the baseline), B with A limited to its export slots (the product's default),
and B with A unlimited (slots raised to 100) to show what the limit is worth. Everything runs
in one process against one database, as one app worker would serve both tenants.
"""

from __future__ import annotations

import os
import threading
import time

from bench.common import prepare_database, summarize, write_section

HAMMERS = 8
SECONDS = 20


def _b_page(token: str):
    from pms_dashboard.ui.driver import call, state_for
    from pms_dashboard.ui.states.goals import GoalsState

    def run() -> None:
        st = state_for(GoalsState, token, "/goals")
        call(st, GoalsState.load)
        call(st, GoalsState.set_scope, "team")
        assert st.rows and not st.error

    return run


def _hammer(ctx, stop: threading.Event, counts: dict[str, int]) -> None:
    from pms_dashboard.exports import service as exports
    from pms_dashboard.exports.routes import export_stream
    from pms_dashboard.tenancy.limits import TenantBusy

    request = exports.prepare("goals", {"scope": "all"})
    while not stop.is_set():
        try:
            for _ in export_stream(ctx, request):
                if stop.is_set():
                    break
            counts["exports"] += 1
        except TenantBusy:
            counts["refused"] += 1
            time.sleep(0.05)


def _measure(page, a_ctx, *, hammers: int) -> tuple[float, float, int, dict[str, int]]:
    stop = threading.Event()
    counts = {"exports": 0, "refused": 0}
    threads = [
        threading.Thread(target=_hammer, args=(a_ctx, stop, counts), daemon=True)
        for _ in range(hammers)
    ]
    for t in threads:
        t.start()
    time.sleep(1 if hammers else 0)
    samples = []
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        start = time.perf_counter()
        page()
        samples.append((time.perf_counter() - start) * 1000)
    stop.set()
    for t in threads:
        t.join(60)
    timing = summarize("tenant B's list", samples)
    return timing.median_ms, timing.p95_ms, timing.runs, counts


def run() -> list[tuple[str, float, float]]:
    from rich.progress import track
    from sqlalchemy import text

    from pms_dashboard.seed import seed_bulk
    from pms_dashboard.settings import get_settings
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.session import owner_session
    from pms_dashboard.ui.driver import token_for

    prepare_database()
    seed_bulk(tenants=1, users_per_tenant=100, goals_per_user=1_112, prefix="bench-exports-100k",
              progress=True)  # fmt: skip
    seed_bulk(tenants=1, users_per_tenant=100, goals_per_user=10, prefix="bench-small",
              progress=True)  # fmt: skip
    a_slug, b_slug = "bench-exports-100k-0001", "bench-small-0001"
    with owner_session() as s:
        a_id, a_user = s.execute(
            text("SELECT t.id, u.id FROM tenant t JOIN app_user u ON u.tenant_id = t.id"
                 " WHERE t.slug = :s AND u.role = 'tenant_admin' LIMIT 1"), {"s": a_slug}
        ).one()  # fmt: skip
    a_ctx = TenantContext(tenant_id=a_id, user_id=a_user, role="tenant_admin")
    page = _b_page(token_for(b_slug, f"user0000@{b_slug}.example", get_settings().demo_password))
    for _ in range(5):
        page()  # warm-up
    default_slots = get_settings().export_slots_per_tenant
    results = []
    for label, hammers, slots in track(
        [("B alone (baseline)", 0, default_slots),
         (f"B while A runs {HAMMERS} exports, A limited to {default_slots} at once", HAMMERS,
          default_slots),
         (f"B while A runs {HAMMERS} exports, no limit", HAMMERS, 100)],
        description="noisy neighbour",
    ):  # fmt: skip
        os.environ["PMS_EXPORT_SLOTS"] = str(slots)
        get_settings.cache_clear()
        median, p95, n, counts = _measure(page, a_ctx, hammers=hammers)
        results.append((label, median, p95, n, counts))
    os.environ.pop("PMS_EXPORT_SLOTS", None)
    get_settings.cache_clear()
    base_p95 = results[0][2]
    rows = "\n".join(
        f"| {label} | {median:.0f} | {p95:.0f} | {p95 / base_p95:.2f} | {n} | "
        f"{c['exports']} | {c['refused']} |"
        for label, median, p95, n, c in results
    )
    write_section(
        "Noisy neighbour: one tenant hammering exports (issue 7)",
        f"""Tenant B (1,000 goals) loads its team goal list ({SECONDS} s of back-to-back page
events through the real state, cookie check, tenant session and services) while tenant A
(100,000 goals) runs {HAMMERS} export downloads in a loop, all in one process on this
machine. Ratio = B's p95 / B's p95 alone, measured in the same run.

| Scenario | B median ms | B p95 ms | p95 ratio | B pages | A exports done | A refused (429) |
|---|---:|---:|---:|---:|---:|---:|
{rows}
""",
    )
    return [(label, median, p95) for label, median, p95, _, _ in results]


if __name__ == "__main__":
    for label, median, p95 in run():
        print(f"{label:70s} median {median:7.1f} ms  p95 {p95:7.1f} ms")
