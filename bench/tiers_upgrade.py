"""`db upgrade` with one extra, temporary revision, for `bench.tiers` (run as its own process).

The project's history stays untouched: the extra revision lives in a folder of its own
(`EXTRA_VERSIONS`, set by `bench.tiers`), added to Alembic's version locations here. `db
upgrade` migrates in spawned worker processes, and a spawned process imports the main
module of its parent first, so the two wrappers below are put in place at import time: in
this process and in every worker alike. Each worker appends the time of each target it
migrates to `TARGET_TIMES` (one `kind<TAB>seconds` line per target).

Prints one JSON line: seconds, targets migrated, failures, and, with `--noop-after`, the
time of a second, no-op run at the new head.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

EXTRA_VERSIONS = "PMS_BENCH_EXTRA_VERSIONS"
TARGET_TIMES = "PMS_BENCH_TARGET_TIMES"


def _install() -> None:
    """Point the migration module at the extra version folder and time each target."""
    from pms_dashboard.db import migrate
    from pms_dashboard.settings import PROJECT_ROOT

    extra, times = os.environ.get(EXTRA_VERSIONS), os.environ.get(TARGET_TIMES)
    if not extra or getattr(migrate, "_bench_extra", None) == extra:
        return
    base_config: Callable[..., Any] = migrate.alembic_config
    base_upgrade: Callable[..., None] = migrate.upgrade_target

    def alembic_config(target: Any = None) -> Any:
        cfg = base_config(target)
        own = PROJECT_ROOT / "alembic" / "versions"
        cfg.set_main_option("version_locations", f"{own}{os.pathsep}{extra}")
        return cfg

    def upgrade_target(target: Any, revision: str = "head") -> None:
        started = time.perf_counter()
        base_upgrade(target, revision)
        if times:
            with open(times, "a") as out:
                out.write(f"{target.kind}\t{time.perf_counter() - started:.6f}\n")

    migrate.alembic_config = alembic_config  # type: ignore[assignment]
    migrate.upgrade_target = upgrade_target  # type: ignore[assignment]
    migrate._bench_extra = extra  # type: ignore[attr-defined]


_install()


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pms_dashboard.db import migrate

    parser = argparse.ArgumentParser(prog="python -m bench.tiers_upgrade")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--noop-after", action="store_true")
    args = parser.parse_args(argv)
    if not os.environ.get(EXTRA_VERSIONS):
        raise SystemExit(f"{EXTRA_VERSIONS} must name the folder of the extra revision")
    with Progress(
        TextColumn("[bold]db upgrade (extra revision)"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("upgrade", total=None)
        started = time.perf_counter()
        outcomes = migrate.upgrade(
            jobs=args.jobs,
            planned=lambda n: bar.update(task, total=n),
            advance=lambda _o: bar.advance(task),
        )
        seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "head": migrate.head_revision(),
        "seconds": seconds,
        "migrated": len(outcomes),
        "failed": [f"{o.target.label}: {o.error}" for o in outcomes if not o.ok],
    }
    if args.noop_after:
        started = time.perf_counter()
        again = migrate.upgrade(jobs=args.jobs)
        result["noop_seconds"] = time.perf_counter() - started
        result["noop_migrated"] = len(again)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
