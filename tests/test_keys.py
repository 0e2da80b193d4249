"""Customer-managed keys: the envelope, the providers (platform, a real OpenBao dev server,
AWS KMS through botocore's Stubber), the cache's hard maximum age, and the fields sealed on
write and opened on read through the services, as pms_app."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import CheckInInput, GoalInput
from pms_dashboard.keys import cache, envelope
from pms_dashboard.keys import service as keys
from pms_dashboard.keys.envelope import Misplaced, Place
from pms_dashboard.keys.errors import UNAVAILABLE_TEXT, KeyConfigError, KeyUnavailable
from pms_dashboard.keys.providers import AwsKmsProvider, ProviderConfig
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, ctx
from tests.kms import (  # noqa: F401  (fixtures: an OpenBao dev server, a short key cache)
    Bao,
    bao_server,
    short_key_cache,
)

TODAY = date.today()


def use_openbao(t: TenantFixture, bao: Bao, key: str) -> keys.KeyStatus:
    bao.new_key(key)
    with owner_session(t.id) as s:
        choice = keys.KeyChoice("openbao", bao.address, key, bao.token_for(key))
        return keys.use_key(session=s, tenant_id=t.id, choice=choice)


def use_platform(t: TenantFixture) -> None:
    with owner_session(t.id) as s:
        keys.use_key(session=s, tenant_id=t.id, choice=keys.KeyChoice("platform"))


def new_goal(t: TenantFixture, description: str, who: str = "manager") -> uuid.UUID:
    data = GoalInput(
        title="Grow the pipeline",
        description=description,
        start_date=TODAY - timedelta(days=10),
        due_date=TODAY + timedelta(days=50),
    )
    with tenant_session(ctx(t, who)) as s:
        return goals.create_goal(session=s, actor=ctx(t, who), data=data)


def stored(table: str, column: str, row_id: uuid.UUID, tenant_id: uuid.UUID) -> str:
    with owner_session(tenant_id) as s:
        return s.execute(
            text(f"SELECT {column} FROM {table} WHERE tenant_id = :t AND id = :i"),
            {"t": tenant_id, "i": row_id},
        ).scalar_one()


def detail(t: TenantFixture, goal_id: uuid.UUID, who: str = "manager"):
    with tenant_session(ctx(t, who)) as s:
        return goals.goal_detail(session=s, actor=ctx(t, who), goal_id=goal_id)


# ------------------------------------------------------------------------- the envelope


def test_a_sealed_value_opens_only_where_it_was_written() -> None:
    key, tenant, row = bytes(32), uuid.uuid4(), uuid.uuid4()
    place = Place(tenant, "goal", "description", row)
    sealed = envelope.seal(key=key, version=3, place=place, plaintext="secret plan")
    assert sealed.startswith("pmsenc:1:3:") and "secret" not in sealed
    assert envelope.version_of(sealed) == 3
    assert envelope.open_sealed(key=key, place=place, stored=sealed) == "secret plan"
    for other in (
        Place(tenant, "goal", "description", uuid.uuid4()),
        Place(tenant, "goal_check_in", "note", row),
        Place(uuid.uuid4(), "goal", "description", row),
    ):
        with pytest.raises(Misplaced):
            envelope.open_sealed(key=key, place=other, stored=sealed)
    with pytest.raises(Misplaced):
        envelope.open_sealed(key=bytes(31) + b"x", place=place, stored=sealed)


# ------------------------------------------------------------------------- opting in


def test_a_tenant_without_a_key_keeps_plain_text(make_tenant: Callable[..., TenantFixture]) -> None:
    t = make_tenant()
    goal_id = new_goal(t, "plain words")
    assert stored("goal", "description", goal_id, t.id) == "plain words"
    with owner_session(t.id) as s:
        assert keys.key_status(session=s, tenant_id=t.id) is None


@pytest.mark.parametrize("tier", ["pool", "schema", "database"])
def test_platform_key_encrypts_in_every_tier(
    make_tenant: Callable[..., TenantFixture], tier: str
) -> None:
    t = make_tenant(tier=tier)
    use_platform(t)
    goal_id = new_goal(t, "MARKER-platform launch plan")
    raw = stored("goal", "description", goal_id, t.id)
    assert envelope.is_sealed(raw) and "MARKER" not in raw
    assert detail(t, goal_id).description == "MARKER-platform launch plan"


def test_a_read_across_tenants_keeps_sealed_values_and_uses_no_key(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    """An operator's read of every tenant's goals (no tenant context to audit a key's use
    in) neither fails nor opens anything; the tenant's own unit of work still reads it."""
    from pms_dashboard.goals.models import Goal

    t = make_tenant()
    use_platform(t)
    goal_id = new_goal(t, "MARKER-across tenants")
    with owner_session() as s:  # the home database, no tenant context
        seen = {g.id: g.description for g in s.scalars(select(Goal))}
    assert envelope.is_sealed(seen[goal_id]) and "MARKER" not in seen[goal_id]
    with owner_session(t.id) as s:  # at the tenant's placement, with its context
        assert s.get(Goal, (t.id, goal_id)).description == "MARKER-across tenants"


def test_openbao_key_write_read_and_unwraps_audited(
    make_tenant: Callable[..., TenantFixture],
    bao: Bao,
) -> None:
    t = make_tenant()
    status = use_openbao(t, bao, f"k-{t.slug}")
    assert status.provider == "openbao" and status.data_keys[0].kms_key_version == "v1"
    assert status.last_unwrap_at is not None  # the new key was tried, and that is audited
    assert status.has_credential and "token" not in str(status.as_json()).lower()
    cache.forget()
    goal_id = new_goal(t, "MARKER-bao the secret roadmap")
    assert "MARKER" not in stored("goal", "description", goal_id, t.id)
    assert detail(t, goal_id).description == "MARKER-bao the secret roadmap"
    with owner_session(t.id) as s:
        log = keys.key_log(session=s, tenant_id=t.id)
        assert log and log[0].success and log[0].provider == "openbao"
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.tenant_id == t.id, AuditEvent.action == "key.unwrap"
            )
        ).all()
        assert events and not any(e.flagged for e in events)
        assert "token" not in str([e.detail for e in events]).lower()


def test_a_bad_openbao_configuration_changes_nothing(
    make_tenant: Callable[..., TenantFixture],
    bao: Bao,
) -> None:
    t = make_tenant()
    with owner_session(t.id) as s, pytest.raises(KeyConfigError, match="cannot be used"):
        choice = keys.KeyChoice("openbao", bao.address, "no-such-key", "not-a-token")
        keys.use_key(session=s, tenant_id=t.id, choice=choice)
    with owner_session(t.id) as s, pytest.raises(KeyConfigError, match="URL"):
        choice = keys.KeyChoice("openbao", "ftp:x", "k", "x")
        keys.use_key(session=s, tenant_id=t.id, choice=choice)
    with owner_session(t.id) as s:
        assert keys.key_status(session=s, tenant_id=t.id) is None


# ------------------------------------------------------------------------- revocation


def test_revoked_key_shows_the_message_refuses_writes_then_recovers(
    make_tenant: Callable[..., TenantFixture],
    bao: Bao,
    short_cache: float,
) -> None:
    import time

    t = make_tenant()
    key = f"k-{t.slug}"
    use_openbao(t, bao, key)
    goal_id = new_goal(t, "MARKER-revocable text")
    bao.revoke_policy(key)
    time.sleep(short_cache + 0.2)
    shown = detail(t, goal_id)
    assert shown.description == UNAVAILABLE_TEXT and shown.title == "Grow the pipeline"
    refused = CheckInInput(progress=10, confidence="on_track", note="new note")
    manager = ctx(t, "manager")
    with pytest.raises(KeyUnavailable, match="Nothing was changed"), tenant_session(manager) as s:
        goals.check_in(session=s, actor=manager, goal_id=goal_id, data=refused)
    with owner_session(t.id) as s:
        failures = s.scalars(
            select(AuditEvent).where(
                AuditEvent.tenant_id == t.id,
                AuditEvent.action == "key.unwrap",
                AuditEvent.flagged.is_(True),  # type: ignore[attr-defined]
            )
        ).all()
        assert failures and all(e.detail["success"] is False for e in failures)
        notes = s.execute(
            text("SELECT count(*) FROM goal_check_in WHERE tenant_id = :t"), {"t": t.id}
        ).scalar_one()
        assert notes == 0  # nothing half-written
    bao.restore_policy(key)
    assert detail(t, goal_id).description == "MARKER-revocable text"


# ------------------------------------------------------------------------- aws-kms (Stubber)


def test_aws_kms_provider_with_botocore_stubber() -> None:
    """AWS is not reachable here: the provider's calls are checked against botocore's
    Stubber (request shapes and replies), never the real service."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("kms", region_name="eu-central-1", aws_access_key_id="a",
                          aws_secret_access_key="b")  # fmt: skip
    tenant, arn = uuid.uuid4(), "arn:aws:kms:eu-central-1:111122223333:key/k1"
    context = {"pms-tenant": str(tenant)}
    data_key, blob = bytes(range(32)), b"wrapped-blob"
    with Stubber(client) as stub:
        stub.add_response(
            "generate_data_key",
            {"CiphertextBlob": blob, "Plaintext": data_key, "KeyId": arn},
            {"KeyId": "alias/pms", "KeySpec": "AES_256", "EncryptionContext": context},
        )
        stub.add_response(
            "decrypt",
            {"Plaintext": data_key, "KeyId": arn},
            {"KeyId": "alias/pms", "CiphertextBlob": blob, "EncryptionContext": context},
        )
        stub.add_client_error("decrypt", service_error_code="DisabledException")
        provider = AwsKmsProvider(ProviderConfig("aws-kms", key_name="alias/pms"), client=client)
        key, wrapped = provider.new_data_key(tenant_id=tenant)
        assert key == data_key and wrapped == f"{arn}|{base64.b64encode(blob).decode()}"
        assert provider.key_version(wrapped) == arn
        assert provider.unwrap(wrapped, tenant_id=tenant) == data_key
        from pms_dashboard.keys.errors import ProviderError

        with pytest.raises(ProviderError, match="DisabledException"):
            provider.unwrap(wrapped, tenant_id=tenant)
        stub.assert_no_pending_responses()


# ------------------------------------------------------------------------- the page's API


def test_only_tenant_admins_manage_the_key(make_tenant: Callable[..., TenantFixture]) -> None:
    from pms_dashboard.auth.permissions import PermissionDenied
    from pms_dashboard.organisation import encryption

    t = make_tenant()
    with tenant_session(ctx(t, "manager")) as s, pytest.raises(PermissionDenied):
        encryption.use_key(session=s, actor=ctx(t, "manager"), choice=keys.KeyChoice("platform"))
    with tenant_session(ctx(t, "admin")) as s:
        assert encryption.encryption_status(session=s, actor=ctx(t, "admin")) is None
        status = encryption.use_key(
            session=s, actor=ctx(t, "admin"), choice=keys.KeyChoice("platform")
        )
        assert status.provider == "platform" and status.current_version == 1
    with tenant_session(ctx(t, "admin")) as s:
        assert encryption.test_key(session=s, actor=ctx(t, "admin")) is True
        log = encryption.key_log(session=s, actor=ctx(t, "admin"))
        assert log and log[0].success and log[0].key_version == 1
    with tenant_session(ctx(t, "emp1")) as s, pytest.raises(PermissionDenied):
        encryption.key_log(session=s, actor=ctx(t, "emp1"))
    goal_id = new_goal(t, "MARKER-page opted in")
    assert envelope.is_sealed(stored("goal", "description", goal_id, t.id))
