"""Noisy-neighbour protection: how much expensive work one tenant may run at once.

Each kind of heavy work (an export streaming out, a goal-list query) has a few slots per
tenant. A slot is a transaction-scoped PostgreSQL advisory lock, so the limit holds across
every app process and worker sharing the database, and a slot frees itself when the
transaction ends — whatever way it ends, crash included. A tenant whose slots are all taken
is told to try again shortly; other tenants' slots are untouched, so one tenant hammering
exports cannot queue everyone else behind it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from pms_dashboard.errors import UserError
from pms_dashboard.settings import get_settings


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    retry_after_s: int
    what: str

    @property
    def slots(self) -> int:
        return max(1, int(getattr(get_settings(), f"{self.name}_slots_per_tenant")))


EXPORT = Kind("export", 15, "exports")
LIST = Kind("list", 2, "large lists")


class TenantBusy(UserError):
    """All of the tenant's slots for this kind of work are in use: try again later."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.retry_after_s = kind.retry_after_s
        super().__init__(
            f"Your organisation is already running {kind.slots} {kind.what} at once. "
            f"Try again in {kind.retry_after_s} s."
        )


def _try_sql(kind: Kind, key: str) -> str:
    """One statement that tries the tenant's slots for `kind` in order and stops at the
    first it takes: its number, or NULL when every slot is taken (`key`: the placeholder
    of the slots' key in the driver's or SQLAlchemy's style)."""
    whens = " ".join(
        f"WHEN pg_try_advisory_xact_lock(hashtextextended({key}, {n})) THEN {n}"
        for n in range(kind.slots)
    )
    return f"SELECT CASE {whens} END"


def _key(kind: Kind, tenant_id: uuid.UUID) -> str:
    return f"pms.{kind.name}:{tenant_id}"


def slot_try(kind: Kind, tenant_id: uuid.UUID) -> tuple[str, dict[str, Any]]:
    """`take_slot`'s try as SQL for the door's set-up round trip (`tenant_session(first=...)`);
    `tried(session, kind, rows)` records the answer, so the page's `take_slot` sends
    nothing."""
    return _try_sql(kind, "%(key)s"), {"key": _key(kind, tenant_id)}


def tried(session: Session, kind: Kind, rows: Sequence[Any]) -> None:
    """Record what `slot_try` found in this transaction: a slot held, or every slot taken."""
    taken = bool(rows) and rows[0][0] is not None
    session.info.setdefault("slots_held" if taken else "slots_busy", set()).add(kind.name)


def take_slot(session: Session, kind: Kind) -> None:
    """Hold one of the tenant's slots for `kind` until the session's transaction ends;
    TenantBusy if every slot is taken."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise RuntimeError("a slot belongs to a tenant: use a tenant session")
    held = session.info.setdefault("slots_held", set())  # until the transaction ends
    if kind.name in held:  # a page reading two lists in one transaction takes one slot
        return
    if kind.name not in session.info.get("slots_busy", ()):  # not tried with the set-up
        found = session.execute(text(_try_sql(kind, ":key")), {"key": _key(kind, tenant_id)})
        tried(session, kind, found.all())
    if kind.name not in held:
        raise TenantBusy(kind)
