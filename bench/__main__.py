"""`make bench`: every benchmark, results into BENCHMARKS.md."""

from __future__ import annotations

from bench import (
    common,
    concurrency,
    encryption,
    exports,
    list_pages,
    load,
    noisy_neighbour,
    page_render,
    profile,
    rls_overhead,
    tiers,
)


def main() -> None:
    common.write_section("Machine", common.machine())
    list_pages.run()
    profile.run()
    exports.run()
    rls_overhead.run()
    concurrency.run()
    load.run()
    page_render.run()
    noisy_neighbour.run()
    tiers.run()
    encryption.run()
    print(f"results written to {common.RESULTS.name}")


if __name__ == "__main__":
    main()
