"""`db upgrade` / `db status`: one Alembic history applied to every target (`db.targets`).

Why this is fast where per-schema migrators are slow (a no-op run over ~900 schemas taking
minutes elsewhere): the revision of every schema of a database is read with one query on
one connection, so a no-op run costs a query per database, not an Alembic environment per
schema. Only targets behind the head are migrated, each in its own transaction, by `--jobs`
worker processes (Alembic's `op` is process-global, so processes, not threads). A failure
leaves that target at its old revision and is reported by name; the others proceed; a
re-run finishes the job. The catalog migrates first (the other targets are listed from it),
then the databases (a schema lives in one), then the tenants' schemas and databases.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from pms_dashboard.db.targets import Target, all_targets, database_targets, tenant_targets
from pms_dashboard.settings import PROJECT_ROOT


def alembic_config(target: Target | None = None) -> Config:
    """The project's Alembic configuration, usable from any working directory."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if target is not None:
        cfg.attributes["target"] = target
    return cfg


def head_revision() -> str | None:
    """The newest revision among the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@dataclass(frozen=True)
class Outcome:
    target: Target
    before: str | None
    after: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def upgrade_target(target: Target, revision: str = "head") -> None:
    """Migrate one target (in this process)."""
    command.upgrade(alembic_config(target), revision)


# Raised when two workers re-assert the runtime roles (`ensure_roles`: ALTER ROLE, cluster
# wide) for two databases of one cluster at the same moment; the loser's transaction rolled
# back, so the target is still at its old revision and is simply run again.
_CONCURRENT_ROLE_UPDATE = "tuple concurrently updated"
_ATTEMPTS = 5


def _worker(target: Target, revision: str) -> Outcome:
    before = revisions_of([target]).get(target)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            upgrade_target(target, revision)
            break
        except Exception as err:  # reported per target; the others proceed
            message = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:300]
            if _CONCURRENT_ROLE_UPDATE in message and attempt < _ATTEMPTS:
                time.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            return Outcome(target, before, before, f"{type(err).__name__}: {message}")
    return Outcome(target, before, revisions_of([target]).get(target))


def _run(
    targets: list[Target],
    revision: str,
    jobs: int,
    advance: Callable[[Outcome], None],
) -> list[Outcome]:
    if not targets:
        return []
    if jobs <= 1 or len(targets) == 1:
        outcomes = []
        for t in targets:
            outcomes.append(_worker(t, revision))
            advance(outcomes[-1])
        return outcomes
    outcomes = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(targets)), mp_context=context) as ex:
        futures = [ex.submit(_worker, t, revision) for t in targets]
        for future in as_completed(futures):
            outcomes.append(future.result())
            advance(outcomes[-1])
    return outcomes


def upgrade(
    revision: str = "head",
    *,
    jobs: int = 1,
    advance: Callable[[Outcome], None] | None = None,
    planned: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Every target to `revision`: the catalog first, then the other databases, then the
    tenants' schemas and databases; targets already there are skipped. `planned(n)` is
    told how many targets will be migrated (for a progress bar), `advance` each outcome."""
    step = advance or (lambda _o: None)
    head = head_revision() if revision == "head" else revision
    databases = database_targets()
    catalog, other_databases = databases[0], databases[1:]
    outcomes = _run(_behind([catalog], head), revision, 1, step)
    if not all(o.ok for o in outcomes):
        return outcomes  # nothing else can be listed without the catalog
    _ensure_databases(other_databases)
    behind_databases = _behind(other_databases, head)
    tenants = tenant_targets()
    behind_tenants = _behind(tenants, head)
    if planned:
        planned(len(outcomes) + len(behind_databases) + len(behind_tenants))
    outcomes += _run(behind_databases, revision, jobs, step)
    failed_databases = {o.target.url for o in outcomes if not o.ok}
    ready = [t for t in behind_tenants if t.url not in failed_databases]
    outcomes += _run(ready, revision, jobs, step)
    _refresh_catalog_revisions()
    return outcomes


def _behind(targets: Iterable[Target], head: str | None) -> list[Target]:
    found = revisions_of(list(targets))
    return [t for t, rev in found.items() if rev != head]


def _ensure_databases(targets: list[Target]) -> None:
    """Create the other databases (templates) that do not exist yet, on their clusters."""
    from pms_dashboard.db.provision import ensure_database

    for t in targets:
        ensure_database(t.url)


def revisions_of(targets: list[Target]) -> dict[Target, str | None]:
    """The revision of each target (None: not migrated yet / missing), one connection and
    one query per database whatever the number of schemas in it."""
    by_database: dict[str, list[Target]] = defaultdict(list)
    for t in targets:
        by_database[t.url].append(t)
    found: dict[Target, str | None] = {}
    for url, group in by_database.items():
        found.update(_revisions_in(url, group))
    return {t: found.get(t) for t in targets}


def _revisions_in(url: str, group: list[Target]) -> dict[Target, str | None]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            schemas = [t.schema for t in group]
            present = set(
                conn.execute(
                    text(
                        "SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n"
                        " ON n.oid = c.relnamespace WHERE c.relname = 'alembic_version'"
                        " AND c.relkind = 'r' AND n.nspname = ANY(:schemas)"
                    ),
                    {"schemas": schemas},
                ).scalars()
            )
            union = " UNION ALL ".join(
                f"SELECT '{s}' AS schema, max(version_num) FROM \"{s}\".alembic_version"
                for s in sorted(present)
            )
            versions: dict[str, str | None] = {}
            if union:
                versions = {str(k): v for k, v in conn.execute(text(union)).all()}
    except (OperationalError, ProgrammingError):
        return dict.fromkeys(group)
    finally:
        engine.dispose()
    return {t: versions.get(t.schema) for t in group}


def _refresh_catalog_revisions() -> None:
    """Record each tenant target's revision in the catalog (`tenants list` shows it)."""
    from pms_dashboard.db.engine import owner_url

    targets = tenant_targets()
    current = revisions_of(targets)
    engine = create_engine(owner_url(), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            for t, rev in current.items():
                conn.execute(
                    text("UPDATE tenant_placement SET revision = :r WHERE tenant_id = :t"),
                    {"r": rev, "t": t.tenant_id},
                )
            pools = [t for t in database_targets() if t.kind in ("catalog", "pool")]
            for t, rev in revisions_of(pools).items():
                conn.execute(
                    text(
                        "UPDATE tenant_placement SET revision = :r"
                        " WHERE tier = 'pool' AND region = :region"
                    ),
                    {"r": rev, "region": t.region},
                )
    finally:
        engine.dispose()


def status() -> dict[Target, str | None]:
    """Every target and its revision."""
    return revisions_of(all_targets())


def current_revision() -> str | None:
    """The revision the home database (the catalog) is at."""
    return revisions_of(database_targets()[:1]).popitem()[1]
