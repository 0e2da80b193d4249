"""The one place a tenant transaction is opened, committed and rolled back.

`tenant_session(ctx)` opens a transaction as `pms_app`, sets `app.current_tenant_id`
transaction-locally (so it dies with COMMIT/ROLLBACK and never leaks to the next user of
the pooled connection), yields the session, and commits — or rolls back on any error.
Services receive the session and never open or commit one; only entry points call these
openers (the Reflex states' one helper, the HTTP routes, the command line, the seeding
jobs: `tests/test_architecture.py` holds it).

Defence in depth on top of row-level security: every ORM query on a tenant-owned model
also gets `tenant_id = :ctx` (`with_loader_criteria`), a tenant-model query in a session
without a tenant raises `MissingTenantContext`, and flushing an object of another tenant
raises `CrossTenantWrite`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from pms_dashboard.db.engine import app_engine, auditor_engine, owner_engine
from pms_dashboard.tenancy.context import (
    AuditedRefusal,
    CrossTenantWrite,
    MissingTenantContext,
    TenantContext,
)
from pms_dashboard.tenancy.models import TenantOwned, tenant_models
from pms_dashboard.tenancy.rls import TENANT_SETTING

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=Session)

_SET_CONTEXT = f"SELECT set_config('{TENANT_SETTING}', %s, true)"


class TenantSession(Session):
    """A session whose ORM queries are scoped to `info["tenant_id"]`."""

    @property
    def tenant_id(self) -> uuid.UUID | None:
        return self.info.get("tenant_id")

    @property
    def context(self) -> TenantContext | None:
        return self.info.get("ctx")


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None:
        if any(issubclass(m.class_, TenantOwned) for m in state.all_mappers):
            raise MissingTenantContext("tenant-owned data queried without a tenant context")
        return
    state.statement = state.statement.options(*tenant_criteria(tenant_id))


def tenant_criteria(tenant_id: uuid.UUID) -> tuple[Any, ...]:
    """ORM options adding `tenant_id = :tenant` for every tenant class, not only a statement's
    top-level entities, so correlated subqueries, joins and borrowed subqueries are scoped
    too (they render on compilation, so they hold in a raw COPY as well); the lambdas are
    cached per class by SQLAlchemy."""
    return tuple(
        with_loader_criteria(cls, lambda c: c.tenant_id == tenant_id, include_aliases=True)
        for cls in tenant_models()
    )


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_guard_tenant(session: Session, _ctx: Any, _instances: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantOwned):
            continue
        if tenant_id is None:
            raise MissingTenantContext("tenant-owned row written without a tenant context")
        if obj.tenant_id is None and obj in session.new:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise CrossTenantWrite(f"{type(obj).__name__} belongs to another tenant")


def _begin_with_context(session: Session, tenant_id: uuid.UUID) -> None:
    """Send BEGIN and set_config in one network round trip (psycopg pipeline mode)."""
    conn = session.connection()
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.pipeline():
            raw.execute(_SET_CONTEXT, (str(tenant_id),))
    except psycopg.OperationalError:
        # The pooled connection died (e.g. the server restarted): drop it; the caller retries.
        conn.invalidate()
        raise


@contextmanager
def _unit_of_work(session: S, tenant_id: uuid.UUID | None = None) -> Iterator[S]:
    """Commit on success, roll back on any error, always close: the only commit point."""
    try:
        if tenant_id is not None:
            try:
                _begin_with_context(session, tenant_id)
            except psycopg.OperationalError:
                # Nothing has run yet, so one retry on a fresh connection is safe.
                session.rollback()
                _begin_with_context(session, tenant_id)
        yield session
        session.commit()
    except BaseException as err:
        session.rollback()
        if tenant_id is not None and isinstance(err, AuditedRefusal):
            _record_refusal(session, tenant_id, err)
        raise
    finally:
        session.close()


def _record_refusal(session: Session, tenant_id: uuid.UUID, err: AuditedRefusal) -> None:
    """A refused request is audited in a transaction of its own (the request's own work was
    rolled back); what is recorded is the refusal's own business (`audit_refusal`)."""
    try:
        _begin_with_context(session, tenant_id)
        err.audit_refusal(session)
        session.commit()
    except Exception:  # the refusal itself must still reach the caller
        session.rollback()
        logger.exception("could not audit a refused request")


def tenant_session(
    ctx: TenantContext, *, engine: Engine | None = None
) -> AbstractContextManager[TenantSession]:
    """Run one unit of work for `ctx.tenant_id` as `pms_app`; commit on success.

    Usage: `with tenant_session(ctx) as session: service.do(session=session, ...)`.
    """
    if not isinstance(ctx, TenantContext):
        raise TypeError("tenant_session needs a TenantContext")
    session = TenantSession(
        bind=engine or app_engine(),
        info={"tenant_id": ctx.tenant_id, "ctx": ctx},
        expire_on_commit=False,
    )
    return _unit_of_work(session, ctx.tenant_id)


def contextless_session(*, engine: Engine | None = None) -> AbstractContextManager[TenantSession]:
    """A `pms_app` session with no tenant: sees no tenant rows (used before sign-in)."""
    session = TenantSession(bind=engine or app_engine(), info={}, expire_on_commit=False)
    return _unit_of_work(session)


def auditor_session() -> AbstractContextManager[Session]:
    """The super-admin console's unit of work, as `pms_auditor` (no tenant rows by itself)."""
    return _unit_of_work(Session(bind=auditor_engine(), expire_on_commit=False))


def owner_session() -> AbstractContextManager[Session]:
    """Platform administration as the migration role (CLI only, never a web request)."""
    return _unit_of_work(Session(bind=owner_engine(), expire_on_commit=False))
