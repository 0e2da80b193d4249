"""Page-constant reads (filter menus) kept per tenant and viewer for a short, explicit time.

A list page's menus (periods, owners, teams, departments) change rarely but were read on
every visit and every paging step. `cached(session, key, read)` keeps what `read()` returned
in the caller's tenant transaction, under the tenant of that transaction and the caller's
key (which names the viewer when the answer depends on who asks), for `LIFETIME_S` seconds.
Nothing is shared between tenants or viewers: the tenant comes from the session, never from
the caller, and a value is only ever computed inside that tenant's own transaction (RLS).

A transaction that writes anything of a tenant (an ORM flush, an ORM or textual
INSERT/UPDATE/DELETE) drops that tenant's entries when it commits, in this process; another
process's commits are seen when the lifetime ends. A write of the owner or the auditor
without a tenant (platform administration) drops every entry; `pms_app` without a tenant
(sign-in's throttle) cannot write a tenant's rows and drops none.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.elements import TextClause

from pms_dashboard.tenancy.session import TenantSession

T = TypeVar("T")

LIFETIME_S = 30.0  # how stale a menu may be when another process changed it
MAX_ENTRIES = 1_000  # least recently used first out past this (a menu is up to ~50 KB)

_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|COPY|TRUNCATE)\b", re.IGNORECASE)


class _Entries:
    """The cache proper: (tenant, key) -> (expiry, value), and a generation per tenant
    bumped by each committed write, so a read racing a write is not kept."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: OrderedDict[tuple[uuid.UUID, Hashable], tuple[float, int, Any]] = OrderedDict()
        self.generation: dict[uuid.UUID, int] = {}
        self.everything = 0  # bumped by a write without a tenant

    def get(self, tenant_id: uuid.UUID, key: Hashable) -> tuple[bool, Any]:
        with self.lock:
            found = self.values.get((tenant_id, key))
            if found is None:
                return False, None
            expiry, generation, value = found
            if expiry < time.monotonic() or generation != self._generation(tenant_id):
                del self.values[(tenant_id, key)]
                return False, None
            self.values.move_to_end((tenant_id, key))
            return True, value

    def put(self, tenant_id: uuid.UUID, key: Hashable, generation: int, value: Any) -> None:
        with self.lock:
            if generation != self._generation(tenant_id):
                return  # a write committed while it was read: not kept
            self.values[(tenant_id, key)] = (time.monotonic() + LIFETIME_S, generation, value)
            self.values.move_to_end((tenant_id, key))
            while len(self.values) > MAX_ENTRIES:
                self.values.popitem(last=False)

    def _generation(self, tenant_id: uuid.UUID) -> int:
        return self.generation.get(tenant_id, 0) + self.everything

    def current(self, tenant_id: uuid.UUID) -> int:
        with self.lock:
            return self._generation(tenant_id)

    def drop(self, tenant_id: uuid.UUID | None) -> None:
        with self.lock:
            if tenant_id is None:
                self.everything += 1
                self.values.clear()
                return
            self.generation[tenant_id] = self.generation.get(tenant_id, 0) + 1
            for key in [k for k in self.values if k[0] == tenant_id]:
                del self.values[key]

    def clear(self) -> None:
        with self.lock:
            self.values.clear()
            self.everything += 1


_ENTRIES = _Entries()


def cached(session: Session, key: Hashable, read: Callable[[], T]) -> T:
    """`read()` (run in `session`, a tenant transaction), or what it returned within the last
    `LIFETIME_S` seconds for the same tenant and `key` with no write of the tenant since.
    `key` must name everything the answer depends on besides the tenant (the viewer, the
    viewer's role, the filter)."""
    tenant_id = session.info.get("tenant_id")
    if not isinstance(tenant_id, uuid.UUID):
        raise RuntimeError("a tenant's cached reads need a tenant session")
    hit, value = _ENTRIES.get(tenant_id, key)
    if hit:
        return value  # type: ignore[no-any-return]
    generation = _ENTRIES.current(tenant_id)
    value = read()
    if not session.info.get("wrote"):  # what this transaction wrote is not yet committed
        _ENTRIES.put(tenant_id, key, generation, value)
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


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        session.info["wrote"] = True


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    statement = state.statement
    textual = isinstance(statement, TextClause) and _WRITES.search(statement.text) is not None
    if textual or state.is_update or state.is_delete or state.is_insert:
        state.session.info["wrote"] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop("wrote", False):
        tenant_id = _tenant_of(session)
        if tenant_id is not None or not isinstance(session, TenantSession):
            _ENTRIES.drop(tenant_id)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop("wrote", None)
