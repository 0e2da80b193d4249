"""Noisy-neighbour protection: how much expensive work one tenant may run at once.

Each kind of heavy work (an export streaming out, a goal-list query) has a few slots per
tenant. A slot is a transaction-scoped PostgreSQL advisory lock, so the limit holds across
every app process and worker sharing the database, and a slot frees itself when the
transaction ends — whatever way it ends, crash included. A tenant whose slots are all taken
is told to try again shortly; other tenants' slots are untouched, so one tenant hammering
exports cannot queue everyone else behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

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


_TAKE = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, :slot))")


def take_slot(session: Session, kind: Kind) -> None:
    """Hold one of the tenant's slots for `kind` until the session's transaction ends;
    TenantBusy if every slot is taken."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise RuntimeError("a slot belongs to a tenant: use a tenant session")
    held = session.info.setdefault("slots_held", set())  # until the transaction ends
    if kind.name in held:  # a page reading two lists in one transaction takes one slot
        return
    key = f"pms.{kind.name}:{tenant_id}"
    for slot in range(kind.slots):
        if session.execute(_TAKE, {"key": key, "slot": slot}).scalar_one():
            held.add(kind.name)
            return
    raise TenantBusy(kind)
