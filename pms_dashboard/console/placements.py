"""Where the console's work goes: every tenant's placement from the catalog, grouped by the
database that holds it, and the console's way into those databases.

The console's own transaction (`console.routes`) is on the home database: the catalog, the
platform's trail, the flag reviews. A tenant's rows (its audit events, its grants, its
counts) are at its placement, so the console reads them there, as `pms_auditor`, through
the one door (`auditor_session(tenant_id)`), which the console's entry point hands to the
services in the home session's `info` (`at`). Never a connection per tenant for a read of
many: a database's tenants (its pool's and its schema tenants') are read in one statement,
one UNION ALL branch per data schema, and each database once.

Every read at a database names the placement version the catalog gave (the fence of
`tenancy.placement`): a tenant whose row there is of another version or `moved` is not read
there, so a tenant in the middle of a move is never counted or shown twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    MetaData,
    Table,
    Uuid,
    and_,
    bindparam,
    func,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from pms_dashboard.console.service import ConsoleError
from pms_dashboard.tenancy import placement as catalog
from pms_dashboard.tenancy.placement import Placement

T = TypeVar("T")
AT_KEY = "console.at"
MOVING = "An organisation is being moved; try again in a minute."


class AtPlacement(Protocol):
    """Runs `work` in a `pms_auditor` unit of work of its own at the placement of
    `tenant_id` (acting as the console's admin; committed when `work` returns)."""

    def __call__(self, tenant_id: uuid.UUID, work: Callable[[Session], T]) -> T: ...


def at(session: Session) -> AtPlacement:
    """The way to tenants' placements that the console's entry point gave this transaction."""
    found = session.info.get(AT_KEY)
    if found is None:
        raise ConsoleError("Sign in to the console first.")
    return found  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Database:
    """The placements one database holds (a region's pool database: its pool tenants and
    schema tenants; a tenant database: its one tenant)."""

    key: str
    placements: tuple[Placement, ...]

    @property
    def via(self) -> uuid.UUID:
        """The tenant whose placement the door opens this database through."""
        return self.placements[0].tenant_id

    def schemas(self) -> dict[str, list[Placement]]:
        """The placements by data schema (`public`, or a schema tenant's own)."""
        out: dict[str, list[Placement]] = {}
        for p in self.placements:
            out.setdefault(p.search_path, []).append(p)
        return out


def tenants(session: Session, *, slug: str | None = None) -> list[Placement]:
    """Every tenant's placement from the catalog (by slug), or the one of `slug` (a slug
    no organisation has: ConsoleError)."""
    if slug is None:
        return catalog.listed(session.connection())
    found = catalog.by_slug(slug, conn=session.connection())
    if found is None:
        raise ConsoleError("No organisation with that slug.")
    return [found]


def by_database(placements: Iterable[Placement]) -> list[Database]:
    """The placements grouped by the database holding them (catalog order within each)."""
    groups: dict[str, list[Placement]] = {}
    for p in placements:
        groups.setdefault(p.owner_base_url, []).append(p)
    return [Database(key, tuple(found)) for key, found in groups.items()]


def each_database(
    session: Session, databases: Iterable[Database], work: Callable[[Session, Database], T]
) -> list[T]:
    """`work(session_there, database)` in a unit of work at each database, in turn."""
    run = at(session)

    def checked(db: Database) -> Callable[[Session], T]:
        def inner(there: Session) -> T:
            placed = there.info.get("placement")
            if placed is None or placed.owner_base_url != db.key:
                raise ConsoleError(MOVING)  # the catalog changed under the request
            return work(there, db)

        return inner

    return [found for db in databases for found in through_any(run, db, checked(db))]


def through_any(run: AtPlacement, db: Database, work: Callable[[Session], T]) -> list[T]:
    """`work` at `db` through the first of its tenants whose placement the door accepts
    (a tenant in the middle of a move is passed over); nothing when every one of them is
    being moved, rather than failing the whole console page for one database."""
    for p in db.placements:
        try:
            return [run(p.tenant_id, work)]
        except catalog.PlacementUnavailable:
            continue
        except ConsoleError as err:
            if str(err) != MOVING:
                raise
    return []


@lru_cache(maxsize=4096)
def in_schema(table: Table, schema: str) -> Table:
    """`table` named in data schema `schema` (a statement of several schemas qualifies each
    table: a UNION ALL branch per schema)."""
    return table.to_metadata(MetaData(), schema=schema)


def _ids(placements: list[Placement]) -> Any:
    return bindparam(None, [p.tenant_id for p in placements], type_=ARRAY(Uuid()))


def among(tenant_id: ColumnElement[Any], placements: list[Placement]) -> ColumnElement[bool]:
    """`tenant_id = ANY(:ids)`: one array parameter however many tenants a schema holds."""
    return tenant_id == func.any(_ids(placements))


def fence(tenant_id: ColumnElement[Any], tenant: Table, placements: list[Placement]) -> Any:
    """Rows of the listed tenants only (`tenant_id`, an indexed column, among their ids),
    and of each only where its `tenant` row holds the catalog's version (not `moved`)."""
    ids = _ids(placements)
    versions = bindparam(None, [p.version for p in placements], type_=ARRAY(Integer()))
    pairs = func.unnest(ids, versions).table_valued("id", "version").render_derived()
    return and_(
        tenant_id == func.any(ids),
        tuple_(tenant.c.id, tenant.c.placement_version).in_(select(pairs.c.id, pairs.c.version)),
        tenant.c.placement_state != "moved",
    )


def counts_arguments(placements: list[Placement]) -> dict[str, Any]:
    """The id and version arrays `app.tenant_counts` takes."""
    return {
        "tenants": [p.tenant_id for p in placements],
        "versions": [p.version for p in placements],
    }
