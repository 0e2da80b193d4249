"""Server time of the list pages' events on a tenant with 100,000 goals.

Each page's on_load (and a paging step) is called exactly as the browser's websocket would,
through the real states, cookie check and services, as `pms_app` under RLS. The baseline is
the same events on a tenant of 1,000 goals measured in the same run: with server-side
paging the ratio should stay near 1 however large the tenant grows.
"""

from __future__ import annotations

from bench.common import Timing, measure, prepare_database, write_section

BIG = ("bench-big", 1_000, 100)  # slug prefix, users, goals per user -> 100,000 goals
SMALL = ("bench-small", 100, 10)  # -> 1,000 goals


def _seed(prefix: str, users: int, per_user: int) -> str:
    from pms_dashboard.seed import seed_bulk

    seed_bulk(tenants=1, users_per_tenant=users, goals_per_user=per_user, prefix=prefix,
              progress=True)  # fmt: skip
    return f"{prefix}-0001"


def _tokens(slug: str) -> dict[str, str]:
    """Sign in as the tenant's manager (everyone reports to them), an employee, and an HR
    admin (promoted for the benchmark)."""
    from sqlalchemy import text

    from pms_dashboard.settings import get_settings
    from pms_dashboard.tenancy.session import owner_session
    from pms_dashboard.ui.driver import token_for

    with owner_session() as s:
        s.execute(
            text(
                "UPDATE app_user SET role = 'hr_admin' WHERE email = :e "
                "AND tenant_id = (SELECT id FROM tenant WHERE slug = :s)"
            ),
            {"e": f"user0001@{slug}.example", "s": slug},
        )
    password = get_settings().demo_password
    return {
        who: token_for(slug, f"user{n:04d}@{slug}.example", password)
        for who, n in (("manager", 0), ("hr_admin", 1), ("employee", 2))
    }


def _scenarios(tokens: dict[str, str]) -> dict[str, object]:
    from pms_dashboard.ui.driver import call, state_for
    from pms_dashboard.ui.states.goals import GoalsState
    from pms_dashboard.ui.states.overview import OverviewState

    def goals(who: str, scope: str, page: int = 1, **extra: object):
        def run() -> None:
            st = state_for(GoalsState, tokens[who], "/goals")
            call(st, GoalsState.load)
            if scope != "mine":
                call(st, GoalsState.set_scope, scope)
            for key, value in extra.items():
                st._load(**{key: value})
            if page > 1:
                st._load(page=page)
            assert st.rows, (who, scope, extra)

        return run

    def overview(who: str):
        def run() -> None:
            st = state_for(OverviewState, tokens[who], "/overview")
            call(st, OverviewState.load)
            assert st.health["total"] > 0

        return run

    return {
        "My goals (employee)": goals("employee", "mine"),
        "Team goals (manager, whole tenant below)": goals("manager", "team"),
        "Team goals, page 50, sorted by owner": goals("manager", "team", 50, sort="owner"),
        "Stale goals filter (manager)": goals("manager", "all", stale_only=True),
        "Title search (HR admin, tenant-wide)": goals("hr_admin", "all", search="onboarding"),
        "Overview (manager)": overview("manager"),
        "Overview (HR admin)": overview("hr_admin"),
    }


def run(runs: int = 25) -> list[tuple[Timing, Timing]]:
    from rich.progress import track

    prepare_database()
    big, small = _seed(*BIG), _seed(*SMALL)
    big_runs = _scenarios(_tokens(big))
    small_runs = _scenarios(_tokens(small))
    results = []
    for name in track(list(big_runs), description="list pages"):
        results.append(
            (
                measure(name, big_runs[name], runs=runs),  # type: ignore[arg-type]
                measure(name, small_runs[name], runs=runs),  # type: ignore[arg-type]
            )
        )
    rows = "\n".join(
        f"| {b.name} | {b.median_ms:.1f} | {b.p95_ms:.1f} | {s.median_ms:.1f} "
        f"| {b.ratio_to(s):.2f} |"
        for b, s in results
    )
    write_section(
        "List pages on a tenant with 100,000 goals (issue 3)",
        f"""Server time of each page's events (cookie check, tenant session, services, state
update), called as the websocket would call them, as `pms_app` under RLS. Baseline: the same
events on a 1,000-goal tenant in the same database and run. {runs} runs each after a warm-up.

| Event | 100k goals median ms | p95 ms | 1k goals median ms | ratio |
|---|---:|---:|---:|---:|
{rows}
""",
    )
    return results


if __name__ == "__main__":
    for big, small in run():
        print(
            f"{big.name:45s} {big.median_ms:8.1f} ms  p95 {big.p95_ms:8.1f}  "
            f"ratio {big.ratio_to(small):.2f}"
        )
