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
        (f"pool -> database ({home})", ("database", home), ("pool", home)),
        (f"{home} -> {away} (pool)", ("pool", away), ("pool", home)),
    ]
    with Progress() as bar:
        task = bar.add_task("moves", total=len(sizes) * moves * 2 * len(directions))
        for goals in sizes:
            slug = _tenant(goals, home)
            for label, there, back in directions:
                results: dict[str, list[tuple[float, float, int]]] = {"to": [], "back": []}
                for _ in range(moves):
                    for way, (tier, region) in (("to", there), ("back", back)):
                        r = move_tenant(slug=slug, tier=tier, region=region, reason="benchmark")
                        results[way].append((r.freeze_seconds, r.total_seconds, r.rows))
                        bar.advance(task)
                for way, name in (("to", label), ("back", f"back: {label}")):
                    freeze = [f for f, _, _ in results[way]]
                    total = [t for _, t, _ in results[way]]
                    rows = results[way][-1][2]
                    lines.append(
                        f"| {goals:,} goals | {name} | {rows:,} |"
                        f" {statistics.median(freeze):.3f} s | {_p99(freeze):.3f} s |"
                        f" {statistics.median(total):.1f} s | {max(total):.1f} s |"
                    )
    body = "\n".join(lines)
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
