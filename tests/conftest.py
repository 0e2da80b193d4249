"""Test set-up: a fresh database in the embedded PostgreSQL (or DATABASE_URL's server),
migrated with the real migrations. Isolation tests connect as pms_app, never as the owner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from sqlalchemy import update
from sqlmodel import col

os.environ.setdefault("PMS_ENV", "test")
os.environ.setdefault("PMS_EMBEDDED_DB", "pms_test")

from pms_dashboard.auth.models import Role, User
from pms_dashboard.auth.passwords import hash_password
from pms_dashboard.console import service as console
from pms_dashboard.console.routes import admin_session
from pms_dashboard.console.service import NewAdmin
from pms_dashboard.db import engine as db_engine
from pms_dashboard.db import migrate
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.provision import create_tenant
from pms_dashboard.tenancy.session import owner_session

T = TypeVar("T")
TEST_PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(TEST_PASSWORD)


@pytest.fixture(scope="session", autouse=True)
def database() -> Iterator[str]:
    """A freshly created, fully migrated test database; yields the owner URL."""
    settings = get_settings()
    if settings.database_url is None and not settings.region_urls:
        from pms_dashboard.db import clusters, embedded

        for region in clusters.regions(settings):
            cluster = clusters.embedded_cluster_of(region, settings)
            embedded.drop_databases(cluster, settings.embedded_db_name)
    db_engine.reset_engines()
    outcomes = migrate.upgrade(jobs=2)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    yield db_engine.owner_url()
    db_engine.reset_engines()


@dataclass
class TenantFixture:
    """A tenant made for one test: its id, slug and users by key."""

    id: uuid.UUID
    slug: str
    users: dict[str, User] = field(default_factory=dict)

    def user_id(self, key: str) -> uuid.UUID:
        return self.users[key].id


def new_tenant(
    slug: str | None = None,
    name: str | None = None,
    *,
    tier: str = "pool",
    region: str | None = None,
) -> TenantFixture:
    """A new tenant (provisioned in `tier` and `region`, the home region's pool unless
    told) with an admin, a manager and two reports (password TEST_PASSWORD).

    Written as the owner at its placement (setup only); tests then act as pms_app through
    tenant_session.
    """
    slug = slug or f"t-{uuid.uuid4().hex[:12]}"
    created = create_tenant(slug=slug, name=name or slug.title(), tier=tier, region=region)
    with owner_session(created.placement.tenant_id) as s:
        tenant = s.get(Tenant, created.placement.tenant_id)
        assert tenant is not None
        admin = User(
            tenant_id=tenant.id,
            email=f"admin@{slug}.test",
            display_name="Admin",
            role=Role.tenant_admin.value,
            password_hash=_PASSWORD_HASH,
        )
        manager = User(
            tenant_id=tenant.id,
            email=f"manager@{slug}.test",
            display_name="Manager",
            role=Role.manager.value,
            password_hash=_PASSWORD_HASH,
        )
        s.add_all([admin, manager])
        s.flush()
        reports = [
            User(
                tenant_id=tenant.id,
                email=f"emp{i}@{slug}.test",
                display_name=f"Employee {i}",
                role=Role.employee.value,
                manager_id=manager.id,
                password_hash=_PASSWORD_HASH,
            )
            for i in (1, 2)
        ]
        s.add_all(reports)
        s.flush()
        users = {"admin": admin, "manager": manager, "emp1": reports[0], "emp2": reports[1]}
        return TenantFixture(id=tenant.id, slug=slug, users=users)


def add_person(
    t: TenantFixture,
    key: str,
    role: str = Role.employee.value,
    manager: str | None = None,
    **fields: Any,
) -> User:
    """Another person in `t` (written as the owner, no password), known to the fixture as
    `key`; `manager` is the key of the person they report to. Named `key` unless given a
    `display_name`."""
    with owner_session(t.id) as s:
        user = User(
            tenant_id=t.id,
            email=f"{key}@{t.slug}.test",
            role=role,
            manager_id=t.user_id(manager) if manager else None,
            **({"display_name": key} | fields),
        )
        s.add(user)
        s.flush()
    t.users[key] = user
    return user


def set_manager(t: TenantFixture, who: str, manager: str | None) -> None:
    """`who` reports to `manager` from now on (None: to nobody), written as the owner."""
    with owner_session(t.id) as s:
        manager_id = t.user_id(manager) if manager else None
        s.execute(update(User).where(col(User.id) == t.user_id(who)).values(manager_id=manager_id))
    t.users[who].manager_id = manager_id


def add_goals(t: TenantFixture, who: str, count: int, period: str = "") -> None:
    """`count` goals of `who`, created by them through the goal service (due 30 days on and
    a day apart), e.g. more than one page of a list shows."""
    from datetime import date, timedelta

    from pms_dashboard.goals import service as goals
    from pms_dashboard.goals.schemas import GoalInput
    from pms_dashboard.tenancy.session import tenant_session

    actor = ctx(t, who)
    with tenant_session(actor) as s:
        for i in range(count):
            goals.create_goal(
                session=s,
                actor=actor,
                data=GoalInput(
                    title=f"Goal {i}",
                    period=period,
                    start_date=date.today(),
                    due_date=date.today() + timedelta(days=30 + i),
                ),
            )


def ctx(t: TenantFixture, who: str, role: str | None = None) -> TenantContext:
    """The context a request of `who` (a key of `t.users`) runs in, with their own role
    unless `role` is given."""
    return TenantContext(tenant_id=t.id, user_id=t.user_id(who), role=role or t.users[who].role)


@pytest.fixture
def make_tenant() -> Callable[..., TenantFixture]:
    """Factory: `new_tenant` (for tests that need more than one, or a given slug)."""
    return new_tenant


def create_console_admin(*, email: str, display_name: str, password: str) -> NewAdmin:
    """A platform super-admin, as the command line creates one (in the owner's session)."""
    with owner_session() as s:
        return console.create_admin(
            session=s, email=email, display_name=display_name, password=password
        )


def as_admin(fn: Callable[..., T], /, *, admin: Any, **kwargs: Any) -> T:
    """One console service run as the console's pages run it: in a console transaction of
    its own, acting as `admin` (refused unless it is a signed-in super-admin)."""
    with admin_session(admin) as s:
        return fn(session=s, admin=admin, **kwargs)


def draft_cycle(t: TenantFixture) -> uuid.UUID:
    """A draft review cycle of `t` with its own template (a real id of that tenant)."""
    from datetime import date, timedelta

    from pms_dashboard.reviews.models import ReviewCycle, ReviewTemplate

    with owner_session(t.id) as s:
        template = ReviewTemplate(tenant_id=t.id, name="Half-year")
        s.add(template)
        s.flush()
        cycle = ReviewCycle(
            tenant_id=t.id,
            name="H2",
            template_id=template.id,
            period_start=date.today() - timedelta(days=90),
            period_end=date.today(),
        )
        s.add(cycle)
        s.flush()
        return cycle.id


def served_app() -> Any:
    """The served ASGI app as Reflex builds it from `api_transformer` (reflex/app.py): its
    own app — stand-ins here: a page at /goals and the event websocket at /_event, which
    says "hello" — mounted inside our `api`, then each callable transformer applied in turn
    (the outermost last)."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.websockets import WebSocket

    from pms_dashboard.pms_dashboard import api, app

    async def page(request: Any) -> PlainTextResponse:
        return PlainTextResponse("<html>page</html>", media_type="text/html")

    async def event(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hello")
        await ws.close()

    reflex_app = Starlette(routes=[Route("/goals", page), WebSocketRoute("/_event", event)])
    served: Any = Starlette(routes=[*api.routes, Mount("", reflex_app)])
    for transform in list(app.api_transformer)[1:]:  # type: ignore[arg-type]
        served = transform(served)
    return served


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: the fast suite fails first, and the browser tests' own writes
    (new goals, submitted reviews) come after the tests that count seeded rows."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
