"""Page-constant reads (filter menus) and large counts kept per tenant and viewer for a
short, explicit time.

A list page's menus (periods, owners, teams, departments) change rarely but were read on
every visit and every paging step; the overview's counts over a very large scope (tens of
thousands of goals) cost tens of milliseconds, and one write moves them by one. `cached(
session, key, read, tables=..., keep=...)` keeps what `read()` returned in the caller's
tenant transaction (those answers `keep` accepts), under the tenant of that transaction
and the caller's key (which names the viewer when the answer depends on who asks), for
`LIFETIME_S` seconds. Nothing is shared between tenants or viewers: the tenant comes from
the session, never from the caller, and a value is only ever computed inside that tenant's
own transaction (RLS).

A transaction that writes a tenant's rows drops, when it commits and in this process, that
tenant's entries read from the tables it wrote (`tables`: what `read` reads; an entry that
does not say is dropped by any write of its tenant). The tables written are known for ORM
flushes and ORM statements; a textual write names its table, or counts as a write of every
table. So a check-in (goals, key results, check-ins) leaves the menus of people alone.
Another process's commits are seen when the lifetime ends. A write of the owner or the
auditor without a tenant (platform administration) drops every entry; `pms_app` without a
tenant (sign-in's throttle) cannot write a tenant's rows and drops none.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.elements import TextClause

from pms_dashboard.tenancy.session import TenantSession

T = TypeVar("T")

LIFETIME_S = 30.0  # how stale a menu may be when another process changed it
MAX_ENTRIES = 1_000  # least recently used first out past this (a menu is up to ~50 KB)

ANY_TABLE = "*"  # a write whose tables are not known: it counts as a write of every table
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|COPY|TRUNCATE)\b", re.IGNORECASE)
# The one table of a plain textual write ("INSERT INTO t", "UPDATE s.t", "DELETE FROM t").
_ONE_TABLE = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?([\w.\"]+)", re.IGNORECASE
)

Snapshot = tuple[int, ...]


class _Entries:
    """The cache proper: (tenant, key) -> (expiry, tables, snapshot, value), and per tenant
    the committed writes of each table, so a value read while a write of its tables
    committed is not kept, and is never served after one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: OrderedDict[
            tuple[uuid.UUID, Hashable], tuple[float, frozenset[str] | None, Snapshot, Any]
        ] = OrderedDict()
        self.writes: dict[uuid.UUID, dict[str, int]] = {}  # tenant -> table -> commits
        self.everything = 0  # bumped by a write without a tenant

    def _snapshot(self, tenant_id: uuid.UUID, tables: frozenset[str] | None) -> Snapshot:
        """What must not change while an entry of `tables` is kept."""
        counts = self.writes.get(tenant_id, {})
        if tables is None:  # any write of the tenant
            return (self.everything, sum(counts.values()))
        return (
            self.everything,
            counts.get(ANY_TABLE, 0),
            *(counts.get(t, 0) for t in sorted(tables)),
        )

    def get(self, tenant_id: uuid.UUID, key: Hashable) -> tuple[bool, Any]:
        with self.lock:
            found = self.values.get((tenant_id, key))
            if found is None:
                return False, None
            expiry, tables, snapshot, value = found
            if expiry < time.monotonic() or snapshot != self._snapshot(tenant_id, tables):
                del self.values[(tenant_id, key)]
                return False, None
            self.values.move_to_end((tenant_id, key))
            return True, value

    def put(
        self,
        tenant_id: uuid.UUID,
        key: Hashable,
        tables: frozenset[str] | None,
        snapshot: Snapshot,
        value: Any,
    ) -> None:
        with self.lock:
            if snapshot != self._snapshot(tenant_id, tables):
                return  # a write of its tables committed while it was read: not kept
            expiry = time.monotonic() + LIFETIME_S
            self.values[(tenant_id, key)] = (expiry, tables, snapshot, value)
            self.values.move_to_end((tenant_id, key))
            while len(self.values) > MAX_ENTRIES:
                self.values.popitem(last=False)

    def current(self, tenant_id: uuid.UUID, tables: frozenset[str] | None) -> Snapshot:
        with self.lock:
            return self._snapshot(tenant_id, tables)

    def drop(self, tenant_id: uuid.UUID | None, tables: Iterable[str]) -> None:
        """A write of `tables` committed for `tenant_id` (None: platform administration).
        Only counted: an entry whose snapshot it changes is dropped when next asked for
        (`get`), so a commit does not walk the cache."""
        with self.lock:
            if tenant_id is None:
                self.everything += 1
                self.values.clear()
                return
            counts = self.writes.setdefault(tenant_id, {})
            for table in set(tables):
                counts[table] = counts.get(table, 0) + 1

    def clear(self) -> None:
        with self.lock:
            self.values.clear()
            self.everything += 1


def _stale(kept: frozenset[str] | None, written: set[str]) -> bool:
    """Whether an entry read from `kept` (None: unknown) is changed by writes of `written`."""
    if not written:
        return False
    return kept is None or ANY_TABLE in written or not kept.isdisjoint(written)


_ENTRIES = _Entries()


def cached(
    session: Session,
    key: Hashable,
    read: Callable[[], T],
    *,
    tables: Iterable[str] | None = None,
    keep: Callable[[T], bool] | None = None,
    still: Callable[[T], bool] | None = None,
) -> T:
    """`read()` (run in `session`, a tenant transaction), or what it returned within the last
    `LIFETIME_S` seconds for the same tenant and `key` with no committed write of the
    tenant's `tables` since (`tables`: every table `read` reads; None: any write counts).
    `key` must name everything the answer depends on besides the tenant (the viewer, the
    viewer's role, the filter). `keep`: which answers are kept (None: all); the others are
    read again on every call. `still`: checked in `session` against a kept answer before it
    is served (what another process may have changed); one it refuses is read again."""
    tenant_id = session.info.get("tenant_id")
    if not isinstance(tenant_id, uuid.UUID):
        raise RuntimeError("a tenant's cached reads need a tenant session")
    reads = None if tables is None else frozenset(tables)
    hit, value = _ENTRIES.get(tenant_id, key)
    if hit and (still is None or still(value)):
        return value  # type: ignore[no-any-return]
    snapshot = _ENTRIES.current(tenant_id, reads)
    value = read()
    # what this transaction wrote is not yet committed: a value read after it is not kept
    if (keep is None or keep(value)) and not _stale(reads, session.info.get("wrote", set())):
        _ENTRIES.put(tenant_id, key, reads, snapshot, value)
    return value


def clear() -> None:
    """Forget everything (tests that write behind the app's back, with COPY)."""
    _ENTRIES.clear()


def _tenant_of(session: Session) -> uuid.UUID | None:
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        placed = session.info.get("placement")  # an owner's session at a tenant's placement
        tenant_id = getattr(placed, "tenant_id", None)
    return tenant_id if isinstance(tenant_id, uuid.UUID) else None


def _wrote(session: Session, tables: Iterable[str]) -> None:
    session.info.setdefault("wrote", set()).update(tables)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _ctx: Any, _instances: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if changed:
        _wrote(session, {_table_of(obj) for obj in changed})


def _table_of(obj: Any) -> str:
    table = getattr(obj, "__table__", None)
    return str(getattr(table, "name", ANY_TABLE))


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, TextClause):
        writes = len(_WRITES.findall(statement.text))
        if writes:  # one plain write names its table; anything else may write any
            named = _ONE_TABLE.match(statement.text) if writes == 1 else None
            table = named.group(1).rsplit(".", 1)[-1].strip('"').lower() if named else ""
            _wrote(state.session, {table or ANY_TABLE})
    elif state.is_update or state.is_delete or state.is_insert:
        tables = {str(getattr(m.local_table, "name", ANY_TABLE)) for m in state.all_mappers}
        _wrote(state.session, tables or {ANY_TABLE})


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    written = session.info.pop("wrote", None)
    if written:
        tenant_id = _tenant_of(session)
        if tenant_id is not None or not isinstance(session, TenantSession):
            _ENTRIES.drop(tenant_id, written)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop("wrote", None)
