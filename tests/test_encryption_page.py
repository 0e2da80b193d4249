"""The Encryption page (tenant admins), through its state as the browser drives it: opt in
with the organisation's own OpenBao key, see the status and the key-use log, test the key
(a revoked key says so and the failed unwrap is logged), switch back to the platform's key
(rewrapped, rows readable); everyone else is refused and nothing changes; the token never
reaches a var; addresses inside the platform's network are refused unless the operator
allows them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from pms_dashboard.keys import cache, envelope
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.session import owner_session
from pms_dashboard.ui.states.encryption import EncryptionState
from tests.conftest import TEST_PASSWORD, TenantFixture
from tests.kms import Bao, bao_server  # noqa: F401  (the `bao` fixture: an OpenBao dev server)
from tests.test_keys import new_goal, stored
from tests.ui_harness import call, redirects_to, state_for, token_for, vars_text

MakeTenant = Callable[..., TenantFixture]


@pytest.fixture
def private_ok(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The operator allows key servers on private addresses (the dev server is loopback)."""
    monkeypatch.setenv("PMS_KMS_ALLOW_PRIVATE_ADDRESSES", "true")
    get_settings.cache_clear()
    cache.forget()
    yield
    monkeypatch.delenv("PMS_KMS_ALLOW_PRIVATE_ADDRESSES")
    get_settings.cache_clear()
    cache.forget()


def _page(t: TenantFixture, who: str = "admin") -> EncryptionState:
    token = token_for(t.slug, f"{who}@{t.slug}.test", TEST_PASSWORD)
    state = state_for(EncryptionState, token, "/encryption")
    call(state, EncryptionState.load)
    return state


def _config(t: TenantFixture) -> list[tuple]:
    with owner_session(t.id) as s:
        return [
            tuple(r)
            for r in s.execute(
                text(
                    "SELECT provider, address, key_name FROM tenant_key_config WHERE tenant_id = :t"
                ),
                {"t": t.id},
            )
        ]


def _sealed_soon(t: TenantFixture, goal_id: object) -> bool:
    """Whether the background pass seals the goal's description within a few seconds."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if envelope.is_sealed(stored("goal", "description", goal_id, t.id)):
            return True
        time.sleep(0.2)
    return False


def test_admin_opts_in_with_openbao_tests_and_switches(
    make_tenant: MakeTenant, bao: Bao, private_ok: None
) -> None:
    t = make_tenant()
    before = new_goal(t, "MARKER-written before the opt-in")
    page = _page(t)
    assert page.allowed and not page.enabled and page.log == []
    bao.new_key("page-key")
    token = bao.token_for("page-key")
    call(page, EncryptionState.choose_provider, "openbao")
    call(page, EncryptionState.save,
         {"address": bao.address, "key_name": "page-key", "token": token})  # fmt: skip
    assert page.error == "" and "saved" in page.success
    assert page.enabled and page.provider == "Your OpenBao / Vault key" and page.has_token
    assert page.key_name == "page-key" and page.data_key.startswith("version 1")
    assert token not in vars_text(page)
    assert _config(t) == [("openbao", bao.address, "page-key")]
    assert _sealed_soon(t, before)  # the text written before is sealed in the background
    call(page, EncryptionState.load)
    assert page.rotation == "All text is sealed with the current data key"

    call(page, EncryptionState.test)
    assert "works" in page.success and page.log and page.log[0]["result"] == "Unwrapped"

    bao.revoke_policy("page-key")
    call(page, EncryptionState.test)
    assert "could not be used" in page.error
    assert page.log[0]["result"] == "Failed" and page.log[0]["ok"] is False
    bao.restore_policy("page-key")

    # an empty token keeps the stored one
    call(page, EncryptionState.save, {"address": bao.address, "key_name": "page-key", "token": ""})
    assert page.error == "" and page.has_token

    call(page, EncryptionState.choose_provider, "platform")
    call(page, EncryptionState.save, {})
    assert page.error == "" and page.provider == "The platform's key" and not page.has_token
    assert _config(t) == [("platform", "", "")]


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"address": "ftp://kms.example.com", "key_name": "k", "token": "t"}, "https://"),
        ({"address": "http://127.0.0.1:8200", "key_name": "k", "token": "t"}, "https://"),
        ({"address": "https://127.0.0.1:8200", "key_name": "k", "token": "t"}, "not a public"),
        ({"address": "https://10.1.2.3", "key_name": "k", "token": "t"}, "not a public"),
        ({"address": "https://169.254.169.254", "key_name": "k", "token": "t"}, "not a public"),
        ({"address": "https://[::1]:8200", "key_name": "k", "token": "t"}, "not a public"),
        ({"address": ["x"], "key_name": "k", "token": "t"}, "must be text"),
        ({"address": "https://" + "a" * 600, "key_name": "k", "token": "t"}, "too long"),
    ],
)
def test_bad_addresses_are_refused_and_change_nothing(
    make_tenant: MakeTenant, form: dict, words: str
) -> None:
    t = make_tenant()
    page = _page(t)
    call(page, EncryptionState.choose_provider, "openbao")
    call(page, EncryptionState.save, form)
    assert words in page.error, page.error
    assert page.success == "" and not page.enabled
    assert _config(t) == []


def test_only_tenant_admins(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    for who in ("manager", "emp1"):
        page = _page(t, who)
        assert not page.allowed and "Only tenant admins" in page.error
        call(page, EncryptionState.choose_provider, "platform")
        call(page, EncryptionState.save, {})
        call(page, EncryptionState.test)
        assert "Only tenant admins" in page.error and page.success == ""
    assert _config(t) == []


def test_no_session_no_page(make_tenant: MakeTenant) -> None:
    make_tenant()
    for handler, args in [
        (EncryptionState.load, ()),
        (EncryptionState.save, ({},)),
        (EncryptionState.test, ()),
    ]:
        state = state_for(EncryptionState, None, "/encryption")
        assert redirects_to(call(state, handler, *args)) == "/signin"
        assert not state.allowed


def test_an_unknown_provider_from_a_forged_event_is_ignored(make_tenant: MakeTenant) -> None:
    t = make_tenant()
    page = _page(t)
    for value in ("aws-kms", "../x", 7, None):
        call(page, EncryptionState.choose_provider, value)
        assert page.form_provider == "platform"
    assert _config(t) == []
