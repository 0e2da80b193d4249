"""The one place a tenant transaction is opened, committed and rolled back.

`tenant_session(ctx)` opens a transaction as `pms_app`, sets `app.current_tenant_id`
transaction-locally (so it dies with COMMIT/ROLLBACK and never leaks to the next user of
the pooled connection), yields the session, and commits — or rolls back on any error.
Services receive the session and never open or commit one; only entry points call these
openers (the Reflex states' one helper, the HTTP routes, the command line, the seeding
jobs: `tests/test_architecture.py` holds it).

Defence in depth on top of row-level security: every ORM query on a tenant-owned model,
and every column read on Core through `read_rows`, also gets `tenant_id = :ctx`
(`with_loader_criteria`); a tenant-model query in a session without a tenant raises
`MissingTenantContext`, and flushing an object of another tenant raises `CrossTenantWrite`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Engine, Table, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlalchemy.sql.elements import BindParameter, ColumnClause

from pms_dashboard.db.engine import OWNER, app_engine, auditor_engine, owner_engine
from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.context import (
    MEMO_RELATIONS,
    AuditedRefusal,
    CrossTenantWrite,
    MissingTenantContext,
    TenantContext,
)
from pms_dashboard.tenancy.models import TenantOwned, tenant_models
from pms_dashboard.tenancy.placement import Placement, PlacementUnavailable, TenantFrozen
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
    if state.is_update or state.is_delete:
        state.session.info.pop("memo", None)  # a bulk write may change any memo
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None:
        if any(issubclass(m.class_, TenantOwned) for m in state.all_mappers):
            raise MissingTenantContext("tenant-owned data queried without a tenant context")
        return
    state.statement = _scoped(state.statement, tenant_id)


def read_rows(session: Session, statement: Any, params: dict[str, Any] | None = None) -> Any:
    """A read of columns (no ORM objects) on the session's connection: the same tenant
    scoping as an ORM query gets (`_scoped`), without the ORM's work around each statement
    (a list's count and page run so). The session's pending changes are flushed first, as
    an ORM query would."""
    if not statement.is_select:
        raise TypeError("read_rows runs SELECT statements only")
    session.flush()
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        if _classes_of(statement):
            raise MissingTenantContext("tenant-owned data queried without a tenant context")
        return session.connection().execute(statement, params or {})
    return session.connection().execute(_scoped(statement, tenant_id), params or {})


class _Scopes:
    """What is kept of a statement met: the tenant classes it reaches, and its scoped form
    for each of the last tenants it ran for."""

    __slots__ = ("by_tenant", "classes")

    def __init__(self, classes: Sequence[type[TenantOwned]]) -> None:
        self.classes = classes
        self.by_tenant: OrderedDict[uuid.UUID, Any] = OrderedDict()


# Each statement met, while it lives: a statement built once (module level, bound
# parameters) is walked once, and scoped (its cache key computed) once per tenant, instead
# of on every run. Statements never change (every change makes a new one), so neither does
# what is kept of them.
_SCOPES: weakref.WeakKeyDictionary[Any, _Scopes] = weakref.WeakKeyDictionary()
_SCOPED_TENANTS = 32  # scoped forms kept per statement
_SCOPES_LOCK = threading.Lock()  # event threads share it


def _scoped(statement: Any, tenant_id: uuid.UUID) -> Any:
    """`statement` with the tenant criteria for `tenant_id` (itself when it reaches no
    tenant class)."""
    with _SCOPES_LOCK:
        try:
            kept = _SCOPES.get(statement)
        except TypeError:  # not weakly referenceable: scoped on each run
            return _with_criteria(statement, tenant_id, _classes_of(statement))
        if kept is not None and tenant_id in kept.by_tenant:
            kept.by_tenant.move_to_end(tenant_id)
            return kept.by_tenant[tenant_id]
    classes = kept.classes if kept is not None else _classes_of(statement)
    scoped = _with_criteria(statement, tenant_id, classes)
    with _SCOPES_LOCK:
        kept = _SCOPES.setdefault(statement, _Scopes(classes))
        kept.by_tenant[tenant_id] = scoped
        if len(kept.by_tenant) > _SCOPED_TENANTS:
            kept.by_tenant.popitem(last=False)
    return scoped


def _with_criteria(
    statement: Any, tenant_id: uuid.UUID, classes: Sequence[type[TenantOwned]]
) -> Any:
    return statement.options(*_criteria(tenant_id, classes)) if classes else statement


def tenant_criteria(tenant_id: uuid.UUID, statement: Any) -> tuple[Any, ...]:
    """ORM options adding `tenant_id = :tenant` for every tenant class `statement` reaches,
    not only its top-level entities: correlated subqueries, joins, aliases and borrowed
    subqueries are scoped too (they render on compilation, so they hold in a raw COPY as
    well). Finding them walks the statement once, so the cost grows with the statement, not
    with the number of tenant classes; a statement carrying loader options of its own (which
    could reach tables at compile time) gets every class."""
    return _criteria(tenant_id, _classes_of(statement))


def _classes_of(statement: Any) -> Sequence[type[TenantOwned]]:
    own = getattr(statement, "_with_options", ())
    loads = any(not isinstance(option, LoaderCriteriaOption) for option in own)
    return tenant_models() if loads else _tenant_classes_in(statement)


def _criteria(tenant_id: uuid.UUID, classes: Sequence[type[TenantOwned]]) -> tuple[Any, ...]:
    """The lambdas are cached per class by SQLAlchemy."""
    return tuple(
        with_loader_criteria(cls, lambda c: c.tenant_id == tenant_id, include_aliases=True)
        for cls in classes
    )


# Each table met so far: its tenant class, or None for a table of no tenant.
_CLASS_OF: dict[Table, type[TenantOwned] | None] = {}


def _tenant_classes_in(statement: Any) -> list[type[TenantOwned]]:
    """The tenant classes whose tables appear anywhere in `statement` (each once)."""
    found: dict[type[TenantOwned], None] = {}
    seen: set[int] = set()
    todo = [statement]
    while todo:  # each element once: a CTE is referenced from several places (recursion)
        element = todo.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        if isinstance(element, BindParameter):
            continue
        if isinstance(element, ColumnClause) and element.table is not None:
            todo.append(element.table)  # a column leads only to its table (or alias)
            continue
        if isinstance(element, Table):
            table = element._deannotate()  # an entity's table is an annotated copy
            if table not in _CLASS_OF:  # first met: classes are read from the tree again
                by_table = {cls.__table__: cls for cls in tenant_models()}  # type: ignore[attr-defined]
                _CLASS_OF[table] = by_table.get(table)
            cls = _CLASS_OF[table]
            if cls is not None:
                found[cls] = None
            continue
        todo.extend(element.get_children())
    return list(found)


def _is_read_only_refusal(err: BaseException) -> bool:
    """PostgreSQL refused a write in a read-only transaction (a move's write freeze)."""
    orig = getattr(err, "orig", err)
    return isinstance(orig, psycopg.errors.ReadOnlySqlTransaction)


@event.listens_for(Session, "after_flush")
def _forget_changed_memos(session: Session, _ctx: Any) -> None:
    """Memos a flush may have made wrong are dropped (see `context.transaction_memo`)."""
    memos = session.info.get("memo")
    if not memos:
        return
    if session.deleted:
        memos.clear()
    elif any(
        getattr(obj, "__tablename__", "") == "app_user" for obj in (*session.new, *session.dirty)
    ):
        memos.pop(MEMO_RELATIONS, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_memos_at_the_end(session: Session, transaction: Any) -> None:
    """A memo lives for one transaction (a session used for several starts each afresh), and
    so does a tenant's slot (a transaction-level advisory lock)."""
    session.info.pop("slots_busy", None)
    session.info.pop("slots_held", None)  # `limits.take_slot` asks again (a savepoint
    if transaction.parent is None:  # rolled back may have released it)
        session.info.pop("memo", None)


@event.listens_for(Session, "before_flush")
def _refuse_writes_while_frozen(session: Session, _ctx: Any, _instances: Any) -> None:
    """A change flushed during a move's write freeze is refused before it is sent."""
    if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
        raise TenantFrozen()


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


_FENCE = (
    "SELECT placement_version, placement_state,"
    " coalesce(placement_frozen_until > clock_timestamp(), false) FROM tenant WHERE id = %s"
)
# Every routed transaction holds its tenant's move lock shared: a move takes it exclusively
# once to drain the transactions begun before its write freeze (pms_dashboard.moves).
_MOVE_LOCK = "SELECT pg_advisory_xact_lock_shared(hashtextextended('pms.move:' || %s, 0))"
_SET_PATH = "SELECT set_config('search_path', %s, true)"

# A read sent with the set-up, in its round trip: SQL with psycopg placeholders and its
# parameters. Its rows land in `session.info["first_rows"]` (one list per read).
FirstRead = tuple[str, dict[str, Any]]

# Sent with the set-up of a unit of work that reads and writes rows by key only (a goal's
# page, a check-in): from there until the transaction ends it may reuse PostgreSQL's cached
# generic plans, where the runtime roles otherwise plan every statement for the tenant at
# hand (`db.roles.RUNTIME_SETTINGS`: a tenant's lists must not run on a plan made for a
# tenant of another size). A read by key has one plan whatever the tenant's size, and
# planning it each time was about half of the database's time per event (bench/load.py).
CACHED_PLANS: FirstRead = ("SELECT set_config('plan_cache_mode', 'auto', true)", {})


def _begin_at(
    session: Session,
    tenant_id: uuid.UUID | None,
    placement: Placement | None,
    first: Sequence[FirstRead] = (),
) -> None:
    """BEGIN, the tenant context, the placement's search_path (transaction-local, never a
    plain SET), the placement's fence read and the `first` reads (read-only statements that
    need the context, such as the session check), in one network round trip (psycopg
    pipeline mode). StalePlacement when the target no longer holds the tenant at this
    version (the first reads' rows are then never used)."""
    conn = session.connection()
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.pipeline():
            if tenant_id is not None:
                raw.execute(_SET_CONTEXT, (str(tenant_id),))
            if placement is not None:
                raw.execute(_SET_PATH, (placement.search_path,))
                raw.execute(_MOVE_LOCK, (str(placement.tenant_id),))
                fence = raw.execute(_FENCE, (placement.tenant_id,))
            reads = [raw.cursor() for _ in first]
            for cursor, (sql, params) in zip(reads, first, strict=True):
                cursor.execute(sql, params)
        if placement is not None:
            row = fence.fetchone()
            if row is None or row[0] != placement.version or row[1] == "moved":
                raise StalePlacement(placement)
            # frozen for a move (and not past the freeze's limit): reads only
            frozen = row[1] == "read_only" and bool(row[2])
            session.info["read_only"] = frozen
            if frozen:
                raw.execute("SET TRANSACTION READ ONLY")
        session.info["first_rows"] = [cursor.fetchall() for cursor in reads]
    except psycopg.OperationalError:
        # The pooled connection died (e.g. the server restarted): drop it; the caller retries.
        conn.invalidate()
        raise


class StalePlacement(RuntimeError):
    """The target does not hold the tenant at the cached placement's version."""

    def __init__(self, placement: Placement) -> None:
        super().__init__(f"placement v{placement.version} of {placement.slug} is stale")
        self.placement = placement


@contextmanager
def _unit_of_work(
    session: S,
    tenant_id: uuid.UUID | None = None,
    placement: Placement | None = None,
    first: Sequence[FirstRead] = (),
) -> Iterator[S]:
    """Commit on success, roll back on any error, always close: the only commit point."""
    try:
        if tenant_id is not None or placement is not None:
            try:
                _begin_at(session, tenant_id, placement, first)
            except psycopg.OperationalError:
                # Nothing has run yet, so one retry on a fresh connection is safe.
                session.rollback()
                _begin_at(session, tenant_id, placement, first)
        yield session
        session.commit()
    except BaseException as err:
        session.rollback()
        if tenant_id is not None and isinstance(err, AuditedRefusal):
            _record_refusal(session, tenant_id, placement, err)
        if _is_read_only_refusal(err) and session.info.get("read_only"):
            raise TenantFrozen() from err
        raise
    finally:
        session.close()


def _record_refusal(
    session: Session, tenant_id: uuid.UUID, placement: Placement | None, err: AuditedRefusal
) -> None:
    """A refused request is audited in a transaction of its own (the request's own work was
    rolled back); what is recorded is the refusal's own business (`audit_refusal`)."""
    try:
        _begin_at(session, tenant_id, placement)
        err.audit_refusal(session)
        session.commit()
    except Exception:  # the refusal itself must still reach the caller
        session.rollback()
        logger.exception("could not audit a refused request")


@contextmanager
def _routed(
    tenant_id: uuid.UUID,
    role: str,
    make: Callable[[Engine, Placement], S],
    *,
    context: bool,
    first: Sequence[FirstRead] = (),
) -> Iterator[S]:
    """A unit of work of `role` at the tenant's placement. A cached placement that the
    target does not confirm (its fence row moved on, or the place itself is gone: no such
    schema or database any more) is dropped and the catalog read again (once) before
    anything runs; a place that fails while the catalog still names it is a real error."""
    found = placements.lookup(tenant_id)
    for attempt in (1, 2):
        session = make(placements.engine_of(found, role), found)
        session.info["placement"] = found
        work = _unit_of_work(session, tenant_id if context else None, found, first)
        try:
            entered = work.__enter__()
        except StalePlacement as stale:
            placements.forget(tenant_id)
            session.close()
            if attempt == 2:
                raise PlacementUnavailable() from None
            found = _await_flip(tenant_id, stale.placement)
            continue
        except (DBAPIError, psycopg.Error):
            session.close()
            if attempt == 2:
                raise
            placements.forget(tenant_id)
            fresh = placements.fetch(tenant_id)
            if fresh == found:
                raise
            found = fresh
            continue
        with _exit_through(work):
            yield entered
        return


# A move fences its source a few milliseconds before the catalog names the target: a
# transaction arriving in between waits for the flip rather than fail.
_FLIP_WAIT_S = 3.0


def _await_flip(tenant_id: uuid.UUID, stale: Placement) -> Placement:
    """The catalog's placement once it differs from the stale one, or as it is when the
    wait is over (UnknownTenant when the tenant is gone)."""
    deadline = time.monotonic() + _FLIP_WAIT_S
    fresh = placements.fetch(tenant_id)
    while fresh.version == stale.version and time.monotonic() < deadline:
        time.sleep(0.02)
        fresh = placements.fetch(tenant_id)
    return fresh


@contextmanager
def _exit_through(work: AbstractContextManager[Any]) -> Iterator[None]:
    """Finish an entered unit of work with the block's outcome (commit or roll back)."""
    try:
        yield
    except BaseException as err:
        if not work.__exit__(type(err), err, err.__traceback__):
            raise
    else:
        work.__exit__(None, None, None)


def tenant_session(
    ctx: TenantContext,
    *,
    engine: Engine | None = None,
    as_owner: bool = False,
    first: Sequence[FirstRead] = (),
) -> AbstractContextManager[TenantSession]:
    """Run one unit of work for `ctx.tenant_id` as `pms_app` at the tenant's placement;
    commit on success. `as_owner`: the same, as the migration role (seeding only);
    `engine`: a given engine of the placement's database (tests of pooled connections);
    `first`: reads sent in the set-up's round trip (`session.info["first_rows"]`).

    Usage: `with tenant_session(ctx) as session: service.do(session=session, ...)`.
    """
    if not isinstance(ctx, TenantContext):
        raise TypeError("tenant_session needs a TenantContext")

    def make(routed: Engine, _p: Placement) -> TenantSession:
        return TenantSession(
            bind=engine or routed,
            info={"tenant_id": ctx.tenant_id, "ctx": ctx},
            expire_on_commit=False,
        )

    role = OWNER if as_owner else APP_ROLE
    return _routed(ctx.tenant_id, role, make, context=True, first=first)


def contextless_session(*, engine: Engine | None = None) -> AbstractContextManager[TenantSession]:
    """A `pms_app` session on the home database with no tenant: sees no tenant rows, reads
    the catalog's look-ups (used before sign-in)."""
    session = TenantSession(bind=engine or app_engine(), info={}, expire_on_commit=False)
    return _unit_of_work(session)


def catalog_session(ctx: TenantContext) -> AbstractContextManager[TenantSession]:
    """A `pms_app` transaction on the home database with `ctx`'s tenant context, for the
    catalog entries a tenant keeps there (its SSO domains); never its data (that is at its
    placement: `tenant_session`)."""
    session = TenantSession(bind=app_engine(), info={"ctx": ctx}, expire_on_commit=False)
    return _unit_of_work(session, ctx.tenant_id)


def auditor_session(tenant_id: uuid.UUID | None = None) -> AbstractContextManager[Session]:
    """The super-admin console's unit of work as `pms_auditor`: on the home database (the
    catalog, the platform's trail), or at one tenant's placement (its data, under the
    grant policies; no tenant context)."""
    if tenant_id is None:
        return _unit_of_work(Session(bind=auditor_engine(), expire_on_commit=False))
    return _routed(
        tenant_id,
        AUDITOR_ROLE,
        lambda engine, _p: Session(bind=engine, expire_on_commit=False),
        context=False,
    )


def owner_session(tenant_id: uuid.UUID | None = None) -> AbstractContextManager[Session]:
    """Platform administration as the migration role (CLI, seeding, tests' set-up; never a
    web request): on the home database, or at one tenant's placement with its context."""
    if tenant_id is None:
        return _unit_of_work(Session(bind=owner_engine(), expire_on_commit=False))

    return _routed(
        tenant_id,
        OWNER,
        lambda engine, _p: Session(bind=engine, expire_on_commit=False),
        context=True,
    )
