"""Tenant customization: reading with safe fallbacks, and the tenant admin's update with
every validation refusal, its audit event, and tenant isolation of the tenant row itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import CursorResult, select, text, update

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth.permissions import PermissionDenied
from pms_dashboard.organisation.schemas import ACCENT_COLORS, Customization, CustomizationError
from pms_dashboard.organisation.service import (
    get_customization,
    get_tenant_settings,
    update_tenant_settings,
)
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.models import Tenant
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, ctx

MakeTenant = Callable[..., TenantFixture]


def update_as(t: TenantFixture, changes: dict[str, Any], who: str = "admin", **kw: Any):
    actor = ctx(t, who, **kw)
    with tenant_session(actor) as s:
        return update_tenant_settings(session=s, actor=actor, changes=changes)


def read(t: TenantFixture) -> Customization:
    with tenant_session(ctx(t, "emp1")) as s:
        return get_customization(session=s)


def tenant_row(tenant_id: uuid.UUID) -> tuple[str, dict]:
    with owner_session() as s:
        row = s.execute(
            text("SELECT name, settings FROM tenant WHERE id = :t"), {"t": tenant_id}
        ).one()
    return row.name, row.settings


def audits(tenant_id: uuid.UUID) -> list[AuditEvent]:
    with owner_session() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant_id, AuditEvent.action == "tenant.update_settings"
                )
            )
        )


GOOD_SCALE = {"low": 1, "high": 4, "labels": {1: "Low", 2: "Some", 3: "Good", 4: "Great"}}


def test_defaults_for_a_new_tenant(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    actor = ctx(t, "emp1")
    with tenant_session(actor) as s:
        settings = get_tenant_settings(session=s, actor=actor)
    assert settings.name == t.slug.title()
    assert settings.customization == Customization()
    assert settings.can_edit is False
    with tenant_session(ctx(t, "admin")) as s:
        assert get_tenant_settings(session=s, actor=ctx(t, "admin")).can_edit is True


def test_admin_update_is_visible_to_everyone_in_the_tenant(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    result = update_as(
        t,
        {
            "name": "  Acme   Corp ",
            "accent": "teal",
            "logo_url": " https://cdn.example.com/acme/logo.svg?v=2 ",
            "rating_scale": GOOD_SCALE,
            "stale_after_days": 30,
        },
    )
    assert result.name == "Acme Corp"
    seen = read(t)
    assert seen.accent == "teal"
    assert seen.logo_url == "https://cdn.example.com/acme/logo.svg?v=2"
    assert seen.rating_scale.scores == [1, 2, 3, 4]
    assert seen.rating_scale.label(4) == "Great"
    assert seen.stale_after_days == 30
    assert tenant_row(t.id)[0] == "Acme Corp"
    [event] = audits(t.id)
    assert event.actor_id == t.user_id("admin") and event.entity_id == t.id
    assert event.detail["changed"] == [
        "accent",
        "logo_url",
        "name",
        "rating_scale",
        "stale_after_days",
    ]
    assert event.detail["before"]["accent"] == "indigo"
    assert event.detail["after"]["stale_after_days"] == 30
    assert event.detail["before"]["name"] == t.slug.title()


def test_partial_update_keeps_the_rest_and_unknown_stored_keys(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    with owner_session() as s:
        s.execute(
            update(Tenant)
            .where(Tenant.id == t.id)
            .values(settings={"accent": "ruby", "feature_x": {"on": True}})
        )
    update_as(t, {"stale_after_days": 7})
    name, stored = tenant_row(t.id)
    assert stored["feature_x"] == {"on": True}  # another feature's key survives
    assert read(t).accent == "ruby" and read(t).stale_after_days == 7
    assert name == t.slug.title()
    [event] = audits(t.id)
    assert event.detail == {
        "changed": ["stale_after_days"],
        "before": {"stale_after_days": 14},
        "after": {"stale_after_days": 7},
    }


def test_an_unchanged_save_writes_no_audit_event(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    update_as(t, {"accent": "indigo", "name": t.slug.title()})
    assert audits(t.id) == []


@pytest.mark.parametrize("logo", ["", "/logo.svg", "/assets/a-b_c.png", "https://x.io/l.png"])
def test_accepted_logo_urls(make_tenant: MakeTenant, logo: str) -> None:
    t = make_tenant()
    update_as(t, {"logo_url": logo})
    assert read(t).logo_url == logo


BAD: list[tuple[dict[str, Any], str]] = [
    ({"logo_url": "javascript:alert(1)"}, "Logo URL"),
    ({"logo_url": "JavaScript:alert(document.cookie)"}, "Logo URL"),
    ({"logo_url": " javascript:alert(1)"}, "Logo URL"),
    ({"logo_url": "data:image/svg+xml;base64,PHN2Zz4="}, "Logo URL"),
    ({"logo_url": "http://example.com/logo.png"}, "Logo URL"),
    ({"logo_url": "//evil.example/logo.png"}, "Logo URL"),
    ({"logo_url": "/\\evil.example/logo.png"}, "Logo URL"),
    ({"logo_url": "https://"}, "Logo URL"),
    ({"logo_url": "https://x.io/a b.png"}, "Logo URL"),
    ({"logo_url": 'https://x.io/a.png" onerror="alert(1)'}, "Logo URL"),
    ({"logo_url": "ftp://x.io/a.png"}, "Logo URL"),
    ({"logo_url": "logo.png"}, "Logo URL"),
    ({"logo_url": "https://x.io/" + "a" * 500}, "Logo URL"),
    ({"name": ""}, "Organisation name"),
    ({"name": "   "}, "Organisation name"),
    ({"name": "x" * 201}, "Organisation name"),
    ({"name": 5}, "Organisation name"),
    ({"accent": "neon"}, "Accent colour"),
    ({"accent": ""}, "Accent colour"),
    ({"stale_after_days": 0}, "Stale after"),
    ({"stale_after_days": 366}, "Stale after"),
    ({"stale_after_days": "soon"}, "Stale after"),
    ({"rating_scale": {"low": 1, "high": 2, "labels": {1: "a", 2: "b"}}}, "Highest score"),
    (
        {"rating_scale": {"low": 1, "high": 11, "labels": {i: "x" for i in range(1, 12)}}},
        "Highest score",
    ),
    ({"rating_scale": {"low": 2, "high": 4, "labels": {2: "a", 3: "b", 4: "c"}}}, "Lowest score"),
    ({"rating_scale": {"low": 1, "high": 3, "labels": {1: "a", 2: "b"}}}, "exactly one label"),
    ({"rating_scale": {"low": 1, "high": 3, "labels": {1: "a", 2: "b", 3: "c", 4: "d"}}}, "one"),
    ({"rating_scale": {"low": 1, "high": 3, "labels": {1: "a", 2: " ", 3: "c"}}}, "1-40"),
    ({"rating_scale": {"low": 1, "high": 3, "labels": {1: "a", 2: "b" * 41, 3: "c"}}}, "1-40"),
    ({"rating_scale": {"low": 1, "high": 3, "labels": {1: "a", 2: "b", 3: "c"}, "x": 1}}, "Rat"),
    ({"tenant_id": str(uuid.uuid4())}, "Unknown setting"),
    ({"slug": "other"}, "Unknown setting"),
]


@pytest.mark.parametrize(("changes", "message"), BAD)
def test_bad_settings_are_refused_and_nothing_is_written(
    make_tenant: MakeTenant, changes: dict[str, Any], message: str
) -> None:
    t = make_tenant()
    update_as(t, {"accent": "plum"})
    before = tenant_row(t.id)
    with pytest.raises(CustomizationError, match=message) as err:
        update_as(t, {"accent": "teal", **changes})  # even the good part is not saved
    assert isinstance(err.value, ValueError)
    assert tenant_row(t.id) == before
    assert len(audits(t.id)) == 1
    assert read(t).accent == "plum"


def test_every_accent_in_the_list_is_accepted(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    for accent in ACCENT_COLORS:
        update_as(t, {"accent": accent})
        assert read(t).accent == accent


def test_a_bad_stored_logo_never_reaches_a_page(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    with owner_session() as s:
        s.execute(
            update(Tenant)
            .where(Tenant.id == t.id)
            .values(settings={"logo_url": "javascript:alert(1)", "accent": "teal"})
        )
    assert read(t).logo_url == "" and read(t).accent == "teal"


@pytest.mark.parametrize(("who", "role"), [("manager", "manager"), ("emp1", "employee"),
                                           ("manager", "hr_admin")])  # fmt: skip
def test_only_tenant_admins_change_settings(make_tenant: MakeTenant, who: str, role: str) -> None:
    t = make_tenant()
    before = tenant_row(t.id)
    with pytest.raises(PermissionDenied, match="Only tenant admins"):
        update_as(t, {"name": "Mine now"}, who=who, role=role)
    assert tenant_row(t.id) == before and audits(t.id) == []


def test_a_globex_admin_cannot_change_acmes_row(make_tenant: MakeTenant) -> None:
    acme, globex = make_tenant(name="Acme"), make_tenant(name="Globex")
    acme_before = tenant_row(acme.id)
    globex_admin = ctx(globex, "admin")
    # 1. the service with an actor claiming Acme inside Globex's session is refused
    forged = TenantContext(tenant_id=acme.id, user_id=globex.user_id("admin"), role="tenant_admin")
    with tenant_session(globex_admin) as s, pytest.raises(PermissionDenied):
        update_tenant_settings(session=s, actor=forged, changes={"name": "Pwned"})
    # 2. a Globex context cannot see or update Acme's row even with raw SQL as pms_app
    with tenant_session(globex_admin) as s:
        assert s.execute(select(Tenant.id).where(Tenant.id == acme.id)).first() is None
        result = s.execute(
            update(Tenant).where(Tenant.id == acme.id).values(name="Pwned", settings={})
        )
        assert isinstance(result, CursorResult) and result.rowcount == 0
        result = s.execute(text("UPDATE tenant SET name = 'Pwned'"))
        assert isinstance(result, CursorResult) and result.rowcount == 1  # only its own row
        s.rollback()
    # 3. the columns pms_app may not touch stay untouchable even on its own row
    with tenant_session(globex_admin) as s, pytest.raises(Exception, match="permission denied"):
        s.execute(text("UPDATE tenant SET slug = 'acme-2'"))
    # 4. Globex's own update changes Globex only
    update_as(globex, {"name": "Globex Intl", "accent": "ruby"})
    assert tenant_row(acme.id) == acme_before
    assert read(acme).accent == "indigo" and read(globex).accent == "ruby"
    assert audits(acme.id) == []


def test_customization_needs_a_tenant_context_and_names_its_tenant() -> None:
    """Defence in depth: the read names the tenant itself instead of trusting RLS alone."""
    import pytest as _pytest

    from pms_dashboard.tenancy.context import MissingTenantContext
    from pms_dashboard.tenancy.session import contextless_session

    with _pytest.raises(MissingTenantContext), contextless_session() as s:
        get_customization(session=s)
