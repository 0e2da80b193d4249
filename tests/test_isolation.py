"""Tenant isolation as the runtime role sees it (DESIGN.md §2), in every tier and region.

Every check runs over pairs of tenants placed in different tiers and regions (a pool and a
schema tenant sharing one database, a schema and a database tenant, a database and a pool
tenant in two regions), so the database's own isolation is shown to hold whatever the tier
adds. Every assertion runs as `pms_app` (tenant_session / contextless_session or an app
engine of the tenant's database); the owner is used only to set data up and to confirm what
really is in the tables, at the tenant's placement. Raw SQL
(`session.connection().execute(text(...))`) bypasses the ORM's tenant criteria, so those
checks exercise row-level security alone.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, exc, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from pms_dashboard import models
from pms_dashboard.audit import service as audit_service
from pms_dashboard.audit.models import AccessGrant
from pms_dashboard.auth.models import AuthSession, User
from pms_dashboard.db import engine as db_engine
from pms_dashboard.goals.models import Goal, GoalCheckIn, KeyResult
from pms_dashboard.keys.models import TenantDataKey, TenantKeyConfig
from pms_dashboard.keys.providers import PlatformProvider
from pms_dashboard.organisation.models import TenantLogo
from pms_dashboard.reviews.models import (
    CalibrationChange,
    Review,
    ReviewCriterion,
    ReviewCycle,
    ReviewOutcome,
    ReviewRating,
    ReviewTemplate,
)
from pms_dashboard.sso.models import SsoConfig, SsoLogin
from pms_dashboard.tenancy import placement as placements
from pms_dashboard.tenancy.context import CrossTenantWrite, MissingTenantContext, TenantContext
from pms_dashboard.tenancy.models import tenant_models, utcnow
from pms_dashboard.tenancy.placement import Placement
from pms_dashboard.tenancy.session import contextless_session, owner_session, tenant_session
from tests.conftest import TenantFixture, new_tenant
from tests.test_catalog import CTX, _unspace
from tests.tiers import (
    HOME,
    OTHER,
    PLACEMENTS,
    one_connection_engine,
    placement_id,
    placement_of,
    same_database,
    where_database,
)

TENANT_TABLES = tuple(m.__tablename__ for m in models.TENANT_MODELS)
START, DUE = date(2026, 1, 1), date(2026, 6, 30)


class Boom(Exception):
    """Raised by a test in the middle of a request."""


# --------------------------------------------------------------------------- helpers


def _ctx(t: TenantFixture | uuid.UUID) -> TenantContext:
    return TenantContext(tenant_id=t if isinstance(t, uuid.UUID) else t.id)


def _goal(t: TenantFixture, title: str = "goal", owner: str = "emp1") -> Goal:
    return Goal(
        tenant_id=t.id, owner_id=t.user_id(owner), title=title, start_date=START, due_date=DUE
    )


# pms_app may add to these and read them, never change or remove a row.
APPEND_ONLY = ("audit_event", "calibration_change")
# ...and may only read these (access grants are opened by the console, shown to the tenant).
READ_ONLY = ("access_grant",)
# ...and may change, but never remove, these (a tenant's single sign-on connection).
NO_DELETE = ("sso_config",)


def seed_every_table(t: TenantFixture) -> dict[str, uuid.UUID]:
    """One row of every tenant-owned table for `t` (as the owner); returns ids by table."""
    tid = t.id
    with owner_session(tid) as s:
        goal = _goal(t, "seeded goal")
        template = ReviewTemplate(tenant_id=tid, name="Annual")
        s.add_all([goal, template])
        s.flush()
        kr = KeyResult(tenant_id=tid, goal_id=goal.id, title="kr", target_value=Decimal(10))
        check_in = GoalCheckIn(
            tenant_id=tid, goal_id=goal.id, author_id=t.user_id("emp1"), progress=Decimal(20)
        )
        criterion = ReviewCriterion(tenant_id=tid, template_id=template.id, name="Impact")
        cycle = ReviewCycle(
            tenant_id=tid, name="H1", template_id=template.id, period_start=START, period_end=DUE
        )
        auth = AuthSession(
            tenant_id=tid, user_id=t.user_id("emp1"), expires_at=utcnow() + timedelta(hours=1)
        )
        s.add_all([kr, check_in, criterion, cycle, auth])
        s.flush()
        review = Review(
            tenant_id=tid,
            cycle_id=cycle.id,
            reviewee_id=t.user_id("emp1"),
            reviewer_id=t.user_id("manager"),
            kind="manager",
        )
        s.add(review)
        s.flush()
        rating = ReviewRating(
            tenant_id=tid, review_id=review.id, criterion_id=criterion.id, score=Decimal(3)
        )
        outcome = ReviewOutcome(
            tenant_id=tid,
            cycle_id=cycle.id,
            reviewee_id=t.user_id("emp1"),
            manager_id=t.user_id("manager"),
        )
        s.add_all([rating, outcome])
        s.flush()
        change = CalibrationChange(
            tenant_id=tid,
            outcome_id=outcome.id,
            actor_id=t.user_id("manager"),
            new_rating=Decimal(3),
            reason="seeded",
        )
        grant = AccessGrant(
            tenant_id=tid,
            admin_id=uuid.uuid4(),
            admin_name="Ops",
            justification="customer_support",
            ticket="SUP-1",
            expires_at=utcnow() + timedelta(hours=1),
        )
        sso_config = SsoConfig(
            tenant_id=tid, issuer="https://idp.example", client_id="pms", client_secret="x",
            allowed_domains=[f"{t.slug}.test"],
        )  # fmt: skip
        sso_login = SsoLogin(
            tenant_id=tid, state=uuid.uuid4().hex, nonce="n", code_verifier="v",
            redirect_uri="https://app.example/cb",
        )  # fmt: skip
        # the tenant's opt-in to encrypted free text (the platform's key: usable here)
        _key, wrapped = PlatformProvider().new_data_key(tenant_id=tid)
        key_config = TenantKeyConfig(tenant_id=tid, provider="platform")
        data_key = TenantDataKey(tenant_id=tid, version=1, provider="platform", wrapped=wrapped)
        logo = TenantLogo(tenant_id=tid, content_type="image/png", data=b"\x89PNG", width=1,
                          height=1, version="seeded")  # fmt: skip
        s.add_all([change, grant, sso_config, sso_login, key_config, data_key, logo])
        s.flush()
        return {
            "tenant_logo": logo.id,
            "tenant_key_config": key_config.id,
            "tenant_data_key": data_key.id,
            "sso_config": sso_config.id,
            "sso_login": sso_login.id,
            "app_user": t.user_id("emp1"),
            "goal": goal.id,
            "key_result": kr.id,
            "goal_check_in": check_in.id,
            "review_template": template.id,
            "review_criterion": criterion.id,
            "review_cycle": cycle.id,
            "review": review.id,
            "review_rating": rating.id,
            "review_outcome": outcome.id,
            "calibration_change": change.id,
            "access_grant": grant.id,
            "auth_session": auth.id,
            "audit_event": _seed_audit_event(t),
        }


def _seed_audit_event(t: TenantFixture) -> uuid.UUID:
    """Audit events are written only through append_audit_event, in a tenant session."""
    with tenant_session(_ctx(t)) as s:
        return audit_service.record(session=s, action="test.seed", entity_type="goal")


def _owner_counts(tenant_id: uuid.UUID) -> dict[str, int]:
    """What is really stored for the tenant at its placement (the owner bypasses RLS)."""
    with owner_session(tenant_id) as s:
        return {
            t: s.execute(
                text(f"SELECT count(*) FROM {t} WHERE tenant_id = :t"), {"t": tenant_id}
            ).scalar_one()
            for t in TENANT_TABLES
        }


def _tenant_ids_by_table(conn: Connection) -> dict[str, set[uuid.UUID]]:
    return {
        t: set(conn.execute(text(f"SELECT tenant_id FROM {t}")).scalars()) for t in TENANT_TABLES
    }


def _row_counts(conn: Connection, schema: str | None = None) -> dict[str, int]:
    """Rows visible per table, unqualified (the session's search_path) or in `schema`."""
    prefix = f'"{schema}".' if schema else ""
    return {
        t: conn.execute(text(f"SELECT count(*) FROM {prefix}{t}")).scalar_one()
        for t in (*TENANT_TABLES, "tenant")
    }


def _search_path(conn: Connection) -> str:
    return str(conn.execute(text("SHOW search_path")).scalar_one())


def _pid_and_setting(conn: Connection) -> tuple[int, str | None]:
    row = conn.execute(
        text("SELECT pg_backend_pid(), current_setting('app.current_tenant_id', true)")
    ).one()
    return row[0], row[1]


def _titled(title: str, pair: Pair) -> list[uuid.UUID]:
    """Ids of goals called `title` stored at either tenant's placement (as the owner)."""
    found: set[uuid.UUID] = set()
    for t in (pair.a, pair.b):
        with owner_session(t.id) as s:
            found |= set(s.scalars(select(Goal.id).where(Goal.title == title)))
    return sorted(found)


def _tenant_schemas(conn: Connection) -> list[str]:
    """Every schema of the connection's database holding tenant tables (the pool's `public`
    and each schema tenant's), as any role can read them from the catalog."""
    return list(
        conn.execute(
            text(
                "SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n"
                " ON n.oid = c.relnamespace WHERE c.relname = 'goal' AND c.relkind = 'r'"
                " ORDER BY 1"
            )
        ).scalars()
    )


def _pg_error(err: BaseException) -> psycopg.Error:
    assert isinstance(err, exc.DBAPIError), err
    assert isinstance(err.orig, psycopg.Error), err.orig
    return err.orig


def _assert_rls_refused(err: BaseException) -> None:
    orig = _pg_error(err)
    assert isinstance(orig, psycopg.errors.InsufficientPrivilege), orig
    assert "row-level security" in str(orig)


# Pairs of placements every check runs over: two pool tenants sharing every table, two
# tiers sharing one database, two tiers on one cluster, and two regions (tiers and regions
# mixed in one run).
PAIRS = (
    (("pool", HOME), ("pool", HOME)),
    (("pool", HOME), ("schema", HOME)),
    (("schema", OTHER), ("database", OTHER)),
    (("database", HOME), ("pool", OTHER)),
)


def _pair_id(value: tuple[tuple[str, str], tuple[str, str]]) -> str:
    return "+".join(placement_id(v) for v in value)


@dataclass
class Pair:
    a: TenantFixture
    b: TenantFixture
    a_ids: dict[str, uuid.UUID]
    b_ids: dict[str, uuid.UUID]

    @property
    def a_at(self) -> Placement:
        return placement_of(self.a.id)

    @property
    def b_at(self) -> Placement:
        return placement_of(self.b.id)


@pytest.fixture(params=PAIRS, ids=_pair_id)
def pair(request: pytest.FixtureRequest) -> Pair:
    (tier_a, region_a), (tier_b, region_b) = request.param
    a = new_tenant(tier=tier_a, region=region_a)
    b = new_tenant(tier=tier_b, region=region_b)
    return Pair(a, b, seed_every_table(a), seed_every_table(b))


@pytest.fixture
def tiny_pool(pair: Pair) -> Iterator[Callable[[TenantFixture], Engine]]:
    """A pms_app engine with exactly one connection per database of the pair, so every
    request of that database reuses it (one engine when both tenants share a database)."""
    engines: dict[str, Engine] = {}

    def of(t: TenantFixture) -> Engine:
        p = placement_of(t.id)
        if p.owner_base_url not in engines:
            engines[p.owner_base_url] = one_connection_engine(p)
        return engines[p.owner_base_url]

    yield of
    for engine in engines.values():
        engine.dispose()


# ----------------------------------------------------------------- reads under a context


def test_seed_covers_every_tenant_table(pair: Pair) -> None:
    for tenant in (pair.a, pair.b):
        counts = _owner_counts(tenant.id)
        assert [t for t, n in counts.items() if n == 0] == []
    assert set(pair.a_ids) == set(TENANT_TABLES)


def test_context_sees_only_its_own_rows_in_every_table(pair: Pair) -> None:
    with tenant_session(_ctx(pair.a)) as s:
        conn = s.connection()
        seen = _tenant_ids_by_table(conn)
        foreign = {
            t: conn.execute(
                text(f"SELECT count(*) FROM {t} WHERE tenant_id = :b"), {"b": pair.b.id}
            ).scalar_one()
            for t in TENANT_TABLES
        }
        by_id = {
            t: conn.execute(
                text(f"SELECT count(*) FROM {t} WHERE id = :id"), {"id": pair.b_ids[t]}
            ).scalar_one()
            for t in TENANT_TABLES
        }
    assert seen == {t: {pair.a.id} for t in TENANT_TABLES}
    assert foreign == dict.fromkeys(TENANT_TABLES, 0)
    assert by_id == dict.fromkeys(TENANT_TABLES, 0)


def test_orm_queries_see_only_the_context_tenant(pair: Pair) -> None:
    with tenant_session(_ctx(pair.b)) as s:
        seen = {
            m.__tablename__: {row.tenant_id for row in s.scalars(select(m))}
            for m in models.TENANT_MODELS
        }
        by_pk = s.get(Goal, (pair.a.id, pair.a_ids["goal"]))
    assert seen == {t: {pair.b.id} for t in TENANT_TABLES}
    assert by_pk is None


def test_the_scoping_knows_every_tenant_table_without_importing_the_domains() -> None:
    """`tenancy.models.tenant_models()` (read from the class tree, not from the domains) is
    exactly the list of tenant tables, so the ORM criteria cover every one of them."""
    assert set(tenant_models()) == set(models.TENANT_MODELS)
    assert len(tenant_models()) == len(models.TENANT_MODELS)


def test_tenant_table_shows_only_the_context_tenant(pair: Pair) -> None:
    with tenant_session(_ctx(pair.a)) as s:
        ids = s.connection().execute(text("SELECT id FROM tenant")).scalars().all()
        slugs = s.connection().execute(text("SELECT slug FROM tenant")).scalars().all()
    assert ids == [pair.a.id]
    assert slugs == [pair.a.slug]


@pytest.fixture(scope="module")
def every_placement() -> list[TenantFixture]:
    """One tenant in each tier of each region."""
    return [new_tenant(tier=tier, region=region) for tier, region in PLACEMENTS]


def _schemas_beside(pair: Pair, session: Session) -> list[str]:
    """The other schemas of A's database holding tenant tables that A's session could name:
    B's when it shares the database, the pool's `public`, and a few schema tenants'."""
    schemas = [x for x in _tenant_schemas(session.connection()) if x != pair.a_at.search_path]
    near = [x for x in schemas if x in ("public", pair.b_at.search_path)]
    return near + [x for x in schemas if x not in near][:2]


def test_no_schema_of_the_database_shows_a_foreign_row(
    pair: Pair, every_placement: list[TenantFixture]
) -> None:
    """Qualifying a table with another schema of the same database (another schema tenant's,
    or the pool's `public`) reaches only the context tenant's rows: none. A tenant database
    holds one schema of tenant data, its own."""
    own = pair.a_at.search_path
    with tenant_session(_ctx(pair.a)) as s:
        conn = s.connection()
        beside = _schemas_beside(pair, s)
        seen = {
            (schema, t): set(conn.execute(text(f'SELECT tenant_id FROM "{schema}".{t}')).scalars())
            for schema in [own, *beside]
            for t in TENANT_TABLES
        }
    if pair.a_at.tier == "database":
        assert beside == []
    else:  # a schema tenant of the region lives in its pool database (every_placement)
        assert len(beside) >= 1 + same_database(pair.a_at, pair.b_at) * (own == "public")
    assert {k: v for k, v in seen.items() if v - {pair.a.id}} == {}
    assert all(seen[(own, t)] == {pair.a.id} for t in TENANT_TABLES)


def test_no_write_lands_in_another_schema_of_the_database(
    pair: Pair, every_placement: list[TenantFixture]
) -> None:
    """Into any other schema of its database, A can neither write B's rows (row-level
    security) nor its own (they would point at no tenant and no person there)."""
    with tenant_session(_ctx(pair.a)) as s:
        beside = _schemas_beside(pair, s)
    attempts = [
        (schema, tenant, user)
        for schema in beside
        for tenant, user in (
            (pair.b.id, pair.b.user_id("emp1")),
            (pair.a.id, pair.a.user_id("emp1")),
        )
    ]
    for schema, tenant, user in attempts:
        with pytest.raises(exc.DBAPIError) as err, tenant_session(_ctx(pair.a)) as s:
            s.connection().execute(
                text(
                    f'INSERT INTO "{schema}".goal (tenant_id, owner_id, title, start_date,'
                    " due_date, status) VALUES (:t, :u, 'test.elsewhere', '2026-01-01',"
                    " '2026-02-01', 'active')"
                ),
                {"t": tenant, "u": user},
            )
        if tenant == pair.b.id:
            _assert_rls_refused(err.value)
        else:
            assert isinstance(_pg_error(err.value), psycopg.errors.ForeignKeyViolation)
    assert len(attempts) == (0 if pair.a_at.tier == "database" else 2 * len(beside))
    assert _titled("test.elsewhere", pair) == []


_TARGET_TABLES = text(
    "SELECT n.nspname AS schema, c.relname AS name, c.relrowsecurity AS enabled,"
    " c.relforcerowsecurity AS forced,"
    " ARRAY(SELECT format('%s|%s|%s|%s', p.policyname, p.cmd, p.qual, p.with_check)"
    "       FROM pg_policies AS p WHERE p.schemaname = n.nspname AND p.tablename = c.relname"
    "        AND 'pms_app' = ANY(p.roles)) AS policies"
    " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY(:schemas) AND c.relkind = 'r' AND c.relname = ANY(:tables)"
)


def test_every_target_forces_rls_with_the_tenant_policy(
    every_placement: list[TenantFixture],
) -> None:
    """In every schema and database holding tenant data (pool databases, templates, schema
    tenants, database tenants, in every region): each tenant-data table has row-level
    security enabled and forced and the policy `tenant_isolation` for pms_app with the
    tenant expression; the `tenant` table's RLS is forced too."""
    from pms_dashboard.db.targets import all_targets

    policy = f"tenant_isolation|ALL|(tenant_id = {CTX})|(tenant_id = {CTX})"
    by_url: dict[str, list[str]] = {}
    for target in all_targets():
        by_url.setdefault(target.url, []).append(target.schema)
    problems, checked = [], set()
    for url, schemas in by_url.items():
        with create_engine(url, poolclass=NullPool).connect() as conn:
            rows = conn.execute(
                _TARGET_TABLES, {"schemas": schemas, "tables": [*TENANT_TABLES, "tenant"]}
            ).all()
            database = conn.execute(text("SELECT current_database()")).scalar_one()
            conn.rollback()
        found = {(r.schema, r.name): r for r in rows}
        for schema in schemas:
            checked.add((database, schema))
            for table in (*TENANT_TABLES, "tenant"):
                r = found.get((schema, table))
                if r is None or not (r.enabled and r.forced):
                    problems.append((database, schema, table, "RLS not forced"))
                elif table != "tenant" and policy not in [_unspace(p) for p in r.policies]:
                    problems.append((database, schema, table, r.policies))
    assert problems == []
    for t in every_placement:
        at = placement_of(t.id)
        assert (where_database(at), at.search_path) in checked, at.describe()


# ------------------------------------------------------------------------ no context


def test_no_context_sees_nothing_on_a_fresh_and_on_a_reused_connection(
    pair: Pair, tiny_pool: Callable[[TenantFixture], Engine]
) -> None:
    engine, schema = tiny_pool(pair.a), pair.a_at.search_path
    with contextless_session(engine=engine) as s:
        pid_fresh, setting_fresh = _pid_and_setting(s.connection())
        path_fresh = _search_path(s.connection())
        fresh = _row_counts(s.connection(), schema)
    with tenant_session(_ctx(pair.a), engine=engine) as s:
        pid_a, setting_a = _pid_and_setting(s.connection())
        path_a = _search_path(s.connection())
        with_ctx = _row_counts(s.connection())
    with contextless_session(engine=engine) as s:
        pid_reused, setting_reused = _pid_and_setting(s.connection())
        path_reused = _search_path(s.connection())
        reused = _row_counts(s.connection(), schema)

    nothing = dict.fromkeys((*TENANT_TABLES, "tenant"), 0)
    assert pid_fresh == pid_a == pid_reused  # really the same pooled connection
    assert setting_fresh is None
    assert setting_a == str(pair.a.id)
    assert setting_reused == ""  # reset by COMMIT: the case nullif(..., '') exists for
    assert path_a == schema
    assert path_fresh == path_reused == '"$user", public'  # the tier's path died with COMMIT
    assert fresh == nothing
    assert reused == nothing
    assert all(n >= 1 for n in with_ctx.values()), with_ctx


def test_no_context_on_the_app_engine_returns_zero_rows_without_error(pair: Pair) -> None:
    for t, ids in ((pair.a, pair.a_ids), (pair.b, pair.b_ids)):
        at = placement_of(t.id)
        with placements.engine_of(at, db_engine.APP_ROLE).connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "pms_app"
            counts = _row_counts(conn, at.search_path)
            goal = conn.execute(
                text(f'SELECT * FROM "{at.search_path}".goal WHERE id = :id'), {"id": ids["goal"]}
            ).all()
            conn.rollback()
        assert counts == dict.fromkeys((*TENANT_TABLES, "tenant"), 0), at.describe()
        assert goal == []


@pytest.mark.parametrize("model", models.TENANT_MODELS, ids=lambda m: m.__tablename__)
def test_orm_query_without_context_raises(model: type) -> None:
    """Refused before any SQL is sent, whatever the tier (no tenant data needed)."""
    with pytest.raises(MissingTenantContext), contextless_session() as s:
        s.scalars(select(model)).all()


def test_orm_get_and_write_without_context_raise(pair: Pair) -> None:
    with pytest.raises(MissingTenantContext), contextless_session() as s:
        s.get(Goal, (pair.a.id, pair.a_ids["goal"]))
    with pytest.raises(MissingTenantContext), contextless_session() as s:
        s.add(_goal(pair.a, "no context"))
        s.flush()
    assert _titled("no context", pair) == []


def test_no_context_cannot_insert(pair: Pair) -> None:
    at = pair.a_at
    with (
        pytest.raises(exc.DBAPIError) as err,
        contextless_session(engine=placements.engine_of(at, db_engine.APP_ROLE)) as s,
    ):
        s.connection().execute(
            text(
                f'INSERT INTO "{at.search_path}".goal_check_in'
                " (tenant_id, goal_id, author_id, progress) VALUES (:t, :g, :u, 1)"
            ),
            {"t": pair.a.id, "g": pair.a_ids["goal"], "u": pair.a.user_id("emp1")},
        )
    _assert_rls_refused(err.value)


# ------------------------------------------------------------------ cross-tenant writes

RAW_INSERTS = {
    "goal": (
        "INSERT INTO goal (tenant_id, owner_id, title, start_date, due_date, status)"
        " VALUES (:b, :b_user, 'test.forged', '2026-01-01', '2026-02-01', 'active')"
    ),
}


@pytest.mark.parametrize("table", sorted(RAW_INSERTS))
def test_insert_with_another_tenants_id_is_refused_by_rls(pair: Pair, table: str) -> None:
    before = _owner_counts(pair.b.id)[table]
    with pytest.raises(exc.DBAPIError) as err, tenant_session(_ctx(pair.a)) as s:
        s.connection().execute(
            text(RAW_INSERTS[table]), {"b": pair.b.id, "b_user": pair.b.user_id("emp1")}
        )
    _assert_rls_refused(err.value)
    assert _owner_counts(pair.b.id)[table] == before


def test_orm_refuses_to_write_an_object_of_another_tenant(pair: Pair) -> None:
    with pytest.raises(CrossTenantWrite), tenant_session(_ctx(pair.a)) as s:
        s.add(_goal(pair.b, "orm forged"))
        s.flush()
    assert _titled("orm forged", pair) == []


def test_update_moving_a_row_to_another_tenant_is_refused(pair: Pair) -> None:
    goal_id = pair.a_ids["goal"]
    with pytest.raises(exc.DBAPIError) as err, tenant_session(_ctx(pair.a)) as s:
        s.connection().execute(
            text("UPDATE goal SET tenant_id = :b WHERE id = :id"), {"b": pair.b.id, "id": goal_id}
        )
    _assert_rls_refused(err.value)
    with pytest.raises(CrossTenantWrite), tenant_session(_ctx(pair.a)) as s:
        goal = s.scalars(select(Goal).where(Goal.id == goal_id)).one()
        goal.tenant_id = pair.b.id
        s.flush()
    with owner_session(pair.a.id) as s:
        owner_of_goal = s.execute(
            text("SELECT tenant_id FROM goal WHERE id = :id"), {"id": goal_id}
        ).scalar_one()
    assert owner_of_goal == pair.a.id


def test_update_and_delete_of_another_tenants_rows_touch_nothing(pair: Pair) -> None:
    with tenant_session(_ctx(pair.a)) as s:
        conn = s.connection()
        updated = conn.execute(
            text("UPDATE goal SET title = 'hijacked' WHERE id = :id OR tenant_id = :b"),
            {"id": pair.b_ids["goal"], "b": pair.b.id},
        ).rowcount
        deleted = {
            t: conn.execute(text(f"DELETE FROM {t} WHERE id = :id"), {"id": pair.b_ids[t]}).rowcount
            for t in TENANT_TABLES
            if t not in APPEND_ONLY + READ_ONLY + NO_DELETE  # pms_app has no DELETE on these
        }
    assert updated == 0
    assert set(deleted.values()) == {0}
    with owner_session(pair.b.id) as s:
        title = s.execute(
            text("SELECT title FROM goal WHERE id = :id"), {"id": pair.b_ids["goal"]}
        ).scalar_one()
    assert title == "seeded goal"
    assert all(n >= 1 for n in _owner_counts(pair.b.id).values())


def test_history_tables_are_append_only_for_the_app(pair: Pair) -> None:
    for table in APPEND_ONLY + READ_ONLY:
        for statement in ("DELETE FROM {t}", "UPDATE {t} SET tenant_id = tenant_id"):
            with pytest.raises(exc.DBAPIError) as err, tenant_session(_ctx(pair.a)) as s:
                s.connection().execute(text(statement.format(t=table)))
            orig = _pg_error(err.value)
            assert isinstance(orig, psycopg.errors.InsufficientPrivilege), (table, statement)
    counts = _owner_counts(pair.a.id)
    assert [t for t in APPEND_ONLY + READ_ONLY if counts[t] < 1] == []


def _foreign_reference(pair: Pair, what: str, target: uuid.UUID) -> object:
    a = pair.a
    if what == "goal.owner_id":
        return Goal(owner_id=target, title="fk", start_date=START, due_date=DUE)
    if what == "goal_check_in.goal_id":
        return GoalCheckIn(goal_id=target, author_id=a.user_id("emp1"), progress=Decimal(1))
    if what == "review_rating.criterion_id":
        return ReviewRating(review_id=pair.a_ids["review"], criterion_id=target)
    raise AssertionError(what)


FOREIGN_REFS = {
    "goal.owner_id": ("app_user", "fk_goal_tenant_id_owner_id_app_user"),
    "goal_check_in.goal_id": ("goal", "fk_goal_check_in_tenant_id_goal_id_goal"),
    "review_rating.criterion_id": (
        "review_criterion",
        "fk_review_rating_tenant_id_criterion_id_review_criterion",
    ),
}


def test_composite_fk_refuses_a_reference_into_another_tenant(pair: Pair) -> None:
    """FK checks bypass RLS; only the composite key stops a row pointing at B's row — and the
    error is the same as for an id that exists nowhere (no existence oracle)."""
    for what, (table, constraint) in sorted(FOREIGN_REFS.items()):
        failures = []
        for target in (pair.b_ids[table], uuid.uuid4()):
            with pytest.raises(exc.IntegrityError) as err, tenant_session(_ctx(pair.a)) as s:
                s.add(_foreign_reference(pair, what, target))
                s.flush()
            orig = _pg_error(err.value)
            failures.append((type(orig), orig.diag.constraint_name))
        assert failures == [(psycopg.errors.ForeignKeyViolation, constraint)] * 2, what


def test_same_email_in_two_tenants(pair: Pair) -> None:
    a, b = pair.a, pair.b
    email = f"same-{uuid.uuid4().hex[:8]}@example.test"
    for t in (a, b):
        with tenant_session(_ctx(t)) as s:
            s.add(User(email=email, display_name="Same"))
    for t in (a, b):
        with tenant_session(_ctx(t)) as s:
            users = s.scalars(select(User).where(User.email == email)).all()
            assert [u.tenant_id for u in users] == [t.id]
    tenants = set()
    for t in (a, b):
        with owner_session(t.id) as s:
            tenants |= set(s.scalars(select(User.tenant_id).where(User.email == email)))
    assert tenants == {a.id, b.id}
    # ...while the per-tenant unique still holds inside one tenant
    with pytest.raises(exc.IntegrityError) as err, tenant_session(_ctx(a)) as s:
        s.add(User(email=email, display_name="Dup"))
        s.flush()
    assert isinstance(_pg_error(err.value), psycopg.errors.UniqueViolation)


# ----------------------------------------------------------------- pooled connections


def _fail_with(kind: str, s: Session) -> None:
    if kind == "python":
        raise Boom
    s.connection().execute(text("SELECT 1 / 0"))


@pytest.mark.parametrize(("kind", "error"), [("python", Boom), ("sql", exc.DataError)])
def test_failed_request_leaves_nothing_for_the_next_user_of_the_connection(
    pair: Pair, tiny_pool: Callable[[TenantFixture], Engine], kind: str, error: type[Exception]
) -> None:
    """The next user of A's connection: a request without a tenant, then B (on the same
    connection when B's rows are in A's database, e.g. a pool and a schema tenant)."""
    with pytest.raises(error), tenant_session(_ctx(pair.a), engine=tiny_pool(pair.a)) as s:
        s.add(_goal(pair.a, "rolled back"))
        s.flush()
        pid_a, setting = _pid_and_setting(s.connection())
        assert setting == str(pair.a.id)
        assert s.connection().execute(text("SELECT count(*) FROM goal")).scalar_one() == 2
        _fail_with(kind, s)

    with contextless_session(engine=tiny_pool(pair.a)) as s:
        pid_none, setting_none = _pid_and_setting(s.connection())
        path_none = _search_path(s.connection())
        counts = _row_counts(s.connection(), pair.a_at.search_path)
    assert pid_none == pid_a
    assert setting_none == ""
    assert path_none == '"$user", public'
    assert counts == dict.fromkeys((*TENANT_TABLES, "tenant"), 0)

    with tenant_session(_ctx(pair.b), engine=tiny_pool(pair.b)) as s:
        pid_b, _ = _pid_and_setting(s.connection())
        seen = _tenant_ids_by_table(s.connection())
        titles = s.connection().execute(text("SELECT title FROM goal")).scalars().all()
    assert (pid_b == pid_a) == same_database(pair.a_at, pair.b_at)
    assert seen == {t: {pair.b.id} for t in TENANT_TABLES}
    assert titles == ["seeded goal"]
    assert _titled("rolled back", pair) == []


def test_concurrent_requests_never_see_a_foreign_row() -> None:
    """Requests of tenants in every tier and region, and requests without a tenant, run
    concurrently through the door on the shared pools (a region's pool database serves its
    pool and schema tenants on the same connections, one after the other)."""
    tenants = [new_tenant(tier=tier, region=region) for tier, region in PLACEMENTS * 2]
    expected = {t.id: i + 1 for i, t in enumerate(tenants)}  # distinct goal counts per tenant
    for t in tenants:
        with owner_session(t.id) as s:
            s.add_all(_goal(t, f"g{k}") for k in range(expected[t.id]))
    tenant_ids = list(expected)
    at = {t.id: placement_of(t.id) for t in tenants}
    threads, per_thread = 8, 300

    def worker(seed: int) -> tuple[int, list[str]]:
        rng = random.Random(seed)
        done, problems = 0, []
        for i in range(per_thread):
            if i % 7 == 3:  # a request with no tenant right after someone else's
                p = at[rng.choice(tenant_ids)]
                with contextless_session(engine=placements.engine_of(p, db_engine.APP_ROLE)) as s:
                    n = (
                        s.connection()
                        .execute(text(f'SELECT count(*) FROM "{p.search_path}".goal'))
                        .scalar_one()
                    )
                    path = _search_path(s.connection())
                if n or path != '"$user", public':
                    problems.append(f"no context saw {n} goals with search_path {path}")
                done += 1
                continue
            tid = rng.choice(tenant_ids)
            try:
                with tenant_session(_ctx(tid)) as s:
                    if i % 2:
                        rows = list(
                            s.connection().execute(text("SELECT tenant_id FROM goal")).scalars()
                        )
                    else:
                        rows = [g.tenant_id for g in s.scalars(select(Goal))]
                    if set(rows) != {tid} or len(rows) != expected[tid]:
                        problems.append(f"context {tid} saw {len(rows)} rows of {set(rows)}")
                    if i % 10 == 0:
                        raise Boom  # a failing request: rolled back, connection reused
            except Boom:
                pass
            done += 1
        return done, problems

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(worker, range(threads)))
    elapsed = time.perf_counter() - started
    print(f"{threads * per_thread} requests over {len(PLACEMENTS)} placements in {elapsed:.1f} s")
    assert sum(done for done, _ in results) == threads * per_thread
    assert [p for _, problems in results for p in problems] == []


# ------------------------------------------------------------------- property-based

_titles = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
_tenant = st.integers(min_value=0, max_value=2)
_target = st.integers(min_value=0, max_value=10_000)
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), _tenant, _titles),
        st.tuples(st.just("update"), _tenant, _target, _titles),
        st.tuples(st.just("delete"), _tenant, _target),
        st.tuples(st.just("move"), _tenant, _target, _tenant),
        st.tuples(st.just("read"), _tenant, st.booleans()),
    ),
    min_size=1,
    max_size=12,
)


# Three tenants per run: two sharing one table (pool) beside a schema tenant of the same
# database; and tiers spread over both regions.
TRIOS = (
    (("pool", HOME), ("pool", HOME), ("schema", HOME)),
    (("schema", OTHER), ("database", OTHER), ("pool", OTHER)),
    (("database", HOME), ("schema", HOME), ("database", OTHER)),
)


@pytest.mark.parametrize("trio", TRIOS, ids=lambda v: "+".join(map(placement_id, v)))
def test_random_operations_across_three_tenants_never_leak(
    trio: tuple[tuple[str, str], ...],
) -> None:
    tenants = [new_tenant(tier=tier, region=region) for tier, region in trio]
    # What each tenant should see: goal id -> title. Shared by all examples, like the DB.
    model: dict[uuid.UUID, dict[uuid.UUID, str]] = {t.id: {} for t in tenants}
    known: list[uuid.UUID] = []  # every goal id ever created, in any tenant (some deleted)
    tried: dict[str, int] = {"foreign target": 0, "refused move": 0}

    def owner_of(goal_id: uuid.UUID) -> uuid.UUID | None:
        return next((tid for tid, goals in model.items() if goal_id in goals), None)

    def pick(index: int) -> uuid.UUID:
        return known[index % len(known)] if known and index % 5 else uuid.uuid4()

    def view(tid: uuid.UUID, orm: bool) -> dict[uuid.UUID, str]:
        with tenant_session(_ctx(tid)) as s:
            if orm:
                rows = [(g.tenant_id, g.id, g.title) for g in s.scalars(select(Goal))]
            else:
                rows = [
                    tuple(r)
                    for r in s.connection().execute(text("SELECT tenant_id, id, title FROM goal"))
                ]
        assert {r[0] for r in rows} <= {tid}, "a foreign row leaked"
        return {r[1]: r[2] for r in rows}

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(_operations)
    # Always run once: B and C try to change A's goal, then A tries to give it to B.
    @example([("insert", 0, "a"), ("update", 1, 1, "b"), ("delete", 2, 1), ("move", 0, 1, 1)])
    def run(operations: list[tuple]) -> None:
        for op in operations:
            kind, t = op[0], tenants[op[1]]
            if kind == "insert":
                with tenant_session(_ctx(t)) as s:
                    goal = Goal(
                        owner_id=t.user_id("emp1"), title=op[2], start_date=START, due_date=DUE
                    )
                    s.add(goal)
                assert goal.tenant_id == t.id
                model[t.id][goal.id] = op[2]
                known.append(goal.id)
            elif kind in ("update", "delete"):
                target = pick(op[2])
                with tenant_session(_ctx(t)) as s:
                    if kind == "update":
                        sql, params = "UPDATE goal SET title = :v WHERE id = :id", {"v": op[3]}
                    else:
                        sql, params = "DELETE FROM goal WHERE id = :id", {}
                    n = s.connection().execute(text(sql), {**params, "id": target}).rowcount
                mine = owner_of(target) == t.id
                tried["foreign target"] += owner_of(target) not in (None, t.id)
                assert n == (1 if mine else 0), (kind, mine, n)
                if mine and kind == "update":
                    model[t.id][target] = op[3]
                elif mine:
                    del model[t.id][target]
            elif kind == "move":
                own = sorted(model[t.id])
                target = own[op[2] % len(own)] if own and op[2] % 3 else pick(op[2])
                dest = tenants[op[3]]
                mine = owner_of(target) == t.id
                try:
                    with tenant_session(_ctx(t)) as s:
                        n = (
                            s.connection()
                            .execute(
                                text("UPDATE goal SET tenant_id = :d WHERE id = :id"),
                                {"d": dest.id, "id": target},
                            )
                            .rowcount
                        )
                except exc.DBAPIError as err:
                    assert mine and dest.id != t.id, "refused a move it should not see"
                    tried["refused move"] += 1
                    _assert_rls_refused(err)
                else:
                    assert n == (1 if mine and dest.id == t.id else 0), (mine, n)
                    assert not (mine and dest.id != t.id), "moved a row to another tenant"
            else:
                assert view(t.id, op[2]) == model[t.id]
            assert view(t.id, orm=False) == model[t.id]
        for t in tenants:
            assert view(t.id, orm=True) == model[t.id]

    run()
    print(f"property test: {tried}")
    assert all(tried.values()), tried  # the cross-tenant paths were exercised
    real: dict[uuid.UUID, set[uuid.UUID]] = {t.id: set() for t in tenants}
    for t in tenants:  # what is stored at each placement, for any of the three
        with owner_session(t.id) as s:
            for tid, gid in s.execute(
                select(Goal.tenant_id, Goal.id).where(Goal.tenant_id.in_(list(real)))
            ):
                real[tid].add(gid)
    assert real == {tid: set(goals) for tid, goals in model.items()}


# ------------------------------------------------------------------ the tenant row itself


def test_app_may_update_only_its_own_tenants_name_and_settings(pair: Pair) -> None:
    with tenant_session(_ctx(pair.a)) as s:
        conn = s.connection()
        own = conn.execute(
            text("UPDATE tenant SET name = 'Renamed', settings = '{\"x\": 1}' WHERE true")
        ).rowcount
    with tenant_session(_ctx(pair.a)) as s:
        other = (
            s.connection()
            .execute(text("UPDATE tenant SET name = 'hijacked' WHERE id = :b"), {"b": pair.b.id})
            .rowcount
        )
    assert (own, other) == (1, 0)
    names: dict[uuid.UUID, str] = {}
    for t in (pair.a, pair.b):
        with owner_session(t.id) as s:
            names |= dict(
                s.execute(
                    text("SELECT id, name FROM tenant WHERE id IN (:a, :b)"),
                    {"a": pair.a.id, "b": pair.b.id},
                ).all()
            )
    assert names[pair.a.id] == "Renamed"
    assert names[pair.b.id] != "hijacked"


def test_app_may_not_change_a_tenants_identity_or_placement_columns(pair: Pair) -> None:
    columns = ("slug", "isolation_tier", "region", "id", "placement_version", "placement_state")
    for column in columns:
        value = {"id": str(uuid.uuid4()), "placement_version": 99}.get(
            column, {"isolation_tier": "pool", "placement_state": "moved"}.get(column, "x")
        )
        with pytest.raises(exc.DBAPIError) as err, tenant_session(_ctx(pair.a)) as s:
            s.connection().execute(text(f"UPDATE tenant SET {column} = :v"), {"v": value})
        orig = _pg_error(err.value)
        assert isinstance(orig, psycopg.errors.InsufficientPrivilege), column
