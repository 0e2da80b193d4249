"""Tenant moves: write-freeze time and total time (issue: online tenant moves).

For a 1,000-goal and a 100,000-goal tenant, `--moves` moves each way of two directions:
pool -> database (in the home region) and eu-central -> us-east (pool to pool), each
followed by the way back, timing the write freeze (from the source turning read-only to
the catalog naming the target) and the whole move. Targets: freeze under 1 s for the
100,000-goal tenant, total under 2 minutes.
`python -m bench.moves [--moves 5] [--sizes 1000,100000]`.
"""

from __future__ import annotations

import argparse
import statistics

from bench import common


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _tenant(goals: int, region: str) -> str:
    from pms_dashboard.seed.bulk import seed_bulk
    from pms_dashboard.tenancy import placement

    prefix = f"move{goals}"
    users = max(10, goals // 100)
    seed_bulk(
        tenants=1,
        users_per_tenant=users,
        goals_per_user=goals // users,
        prefix=prefix,
        region=region,
    )
    slug = f"{prefix}-0001"
    found = placement.by_slug(slug)
    assert found is not None, slug
    if found.tier.value != "pool" or found.region != region:  # a previous run left it moved
        from pms_dashboard.moves import move_tenant

        move_tenant(slug=slug, tier="pool", region=region, reason="benchmark reset")
    return slug


# What the figures cannot say by themselves: kept in the section by every run.
FINDINGS = """\
Every way back goes into the home region's pool the tenant left one move before, and every
move to the other region after the first into that region's pool it left: the case that
once took 226 s and 290 s (reproduced at 194 s for the copy of `goal`, 212-339 s in all). Cause,
measured on the index statistics and with `auto_explain` of the foreign-key checks: the
copy's checks were planned for the tenant's own id (`plan_cache_mode = force_custom_plan`)
against the pool's statistics from before the copy, refreshed after the tenant had left
(by autovacuum, or by the copy's own `VACUUM (ANALYZE)` of a table full of dead rows); the
tenant's id was not among the common values of `goal.tenant_id`, so its rows looked
absent, every index beginning with `tenant_id` looked as cheap as the key, and the planner
took `ix_goal_tenant_id_period` with `id` as a filter. Each check of the self-reference
`goal.parent_id` then read the tenant's goals one by one: 49,965 checks read 1.8 billion
index entries (2.6-3.2 ms and ~4,550 buffers per check). Dead rows, index bloat and the
row locks were not it: in the same table, after the same purge and with the same locks,
a check planned by the key (`pk_goal`) takes 0.002 ms and 5 buffers. Fix: the copy plans its checks
generically (`force_generic_plan`: a lookup of "a key" by the unique key, whatever the
statistics say of this tenant); every check is still made by PostgreSQL, so an orphaned
row is refused as before. The copy of `goal` back into the pool took 5.8 s. The freeze
also shrank: its per-table checksums sum the rows' 64-bit hashes (`hash_record_extended`)
instead of md5 of every row's text in id order (100,000 goals: 54 ms instead of 285 per
side), and the search for rows written since the copy asks only rows younger than the
copy's snapshot (15 ms instead of 128); it had been 0.8-2.4 s on this machine (its load
varies with other work)."""


def _verdict(worst: dict[int, tuple[float, float]]) -> str:
    """Whether the largest tenant holds the issue's targets, in words."""
    goals = max(worst)
    freeze, total = worst[goals]
    held = freeze < 1.0 and total < 120.0
    return (
        f"Targets (freeze p99 < 1 s, total < 2 min for the largest tenant): "
        f"{'held' if held else '**missed**'} for the {goals:,}-goal tenant in every row: "
        f"worst freeze p99 {freeze:.3f} s, slowest move {total:.1f} s."
    )


def run(moves: int = 5, sizes: tuple[int, ...] = (1_000, 100_000)) -> str:
    from rich.progress import Progress

    from pms_dashboard.db import clusters
    from pms_dashboard.moves import move_tenant

    common.prepare_database()
    names = [r.name for r in clusters.regions()]
    home, away = names[0], names[-1]
    lines = [
        f"Machine: {common.machine()}. Each tenant is moved {moves} times each way in two "
        f"directions: pool -> database in {home}, and {home} -> {away} (pool to pool), each "
        "move followed by the way back. The freeze is from the source turning read-only to "
        "the catalog naming the target (the copy runs before it, the purge after it).",
        "",
        "| tenant | move | rows | freeze p50 | freeze p99 | total p50 | total max |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    directions = [
        (f"pool -> database ({home})", f"database -> pool ({home})", ("database", home)),
        (f"{home} -> {away} (pool)", f"{away} -> {home} (pool)", ("pool", away)),
    ]
    worst: dict[int, tuple[float, float]] = {}  # goals -> (freeze p99, total max)
    with Progress() as bar:
        task = bar.add_task("moves", total=len(sizes) * moves * 2 * len(directions))
        for goals in sizes:
            slug = _tenant(goals, home)
            for label, back_label, there in directions:
                results: dict[str, list[tuple[float, float, int]]] = {"to": [], "back": []}
                for _ in range(moves):
                    for way, (tier, region) in (("to", there), ("back", ("pool", home))):
                        r = move_tenant(slug=slug, tier=tier, region=region, reason="benchmark")
                        results[way].append((r.freeze_seconds, r.total_seconds, r.rows))
                        bar.advance(task)
                for way, name in (("to", label), ("back", f"back: {back_label}")):
                    freeze = [f for f, _, _ in results[way]]
                    total = [t for _, t, _ in results[way]]
                    rows = results[way][-1][2]
                    was = worst.get(goals, (0.0, 0.0))
                    worst[goals] = (max(was[0], _p99(freeze)), max(was[1], max(total)))
                    lines.append(
                        f"| {goals:,} goals | {name} | {rows:,} |"
                        f" {statistics.median(freeze):.3f} s | {_p99(freeze):.3f} s |"
                        f" {statistics.median(total):.1f} s | {max(total):.1f} s |"
                    )
    body = "\n".join([*lines, "", _verdict(worst), "", FINDINGS])
    common.write_section("Tenant moves", body)
    return body


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.moves", description=__doc__)
    parser.add_argument("--moves", type=int, default=5, help="moves each way per tenant")
    parser.add_argument("--sizes", default="1000,100000", help="goals per tenant, comma list")
    args = parser.parse_args()
    print(run(args.moves, tuple(int(s) for s in args.sizes.split(","))))


if __name__ == "__main__":
    main()
