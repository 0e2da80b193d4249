"""The profile page's password change, driven through its state as a browser would: the
current password is required, the rules and Argon2id hashing of pms_dashboard.auth apply,
each refusal lands beside its input and changes nothing, and a change ends the person's
other sessions (this one stays), audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.service import SignInError
from pms_dashboard.tenancy.session import owner_session
from pms_dashboard.ui.states.profile import ProfileState
from tests.conftest import TEST_PASSWORD, TenantFixture
from tests.ui_harness import call, redirects_to, state_for, token_for

NEW = "a brand new passphrase 2026"


def _hash(t: TenantFixture) -> str:
    with owner_session() as s:
        return s.execute(
            text("SELECT password_hash FROM app_user WHERE id = :u"), {"u": t.user_id("manager")}
        ).scalar_one()


def _form(current: str = TEST_PASSWORD, new: str = NEW, confirm: str | None = None) -> dict:
    return {"current_password": current, "new_password": new, "confirm_password": confirm or new}


@pytest.mark.parametrize(
    ("form", "field", "said"),
    [
        (_form(current="not my password"), "current_password", "not your current password"),
        (_form(new="short"), "new_password", "at least 12 characters"),
        (_form(new=TEST_PASSWORD), "new_password", "not the current one"),
        (_form(confirm="a different passphrase"), "confirm_password", "not the same"),
    ],
)
def test_a_refused_change_says_why_beside_the_input_and_changes_nothing(
    make_tenant: Callable[..., TenantFixture], form: dict, field: str, said: str
) -> None:
    t = make_tenant()
    email = f"manager@{t.slug}.test"
    token, elsewhere = (
        token_for(t.slug, email, TEST_PASSWORD),
        token_for(t.slug, email, TEST_PASSWORD),
    )
    before = _hash(t)
    st = state_for(ProfileState, token, "/profile")
    call(st, ProfileState.save_password, form)
    assert st.error_field == field and said in st.error and st.success == ""
    assert _hash(t) == before
    assert auth_routes.authenticate(elsewhere) is not None  # no session ended


def test_a_change_needs_the_current_password_and_ends_the_other_sessions(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t = make_tenant()
    email = f"manager@{t.slug}.test"
    here, laptop, phone = (token_for(t.slug, email, TEST_PASSWORD) for _ in range(3))
    colleague = token_for(t.slug, f"emp1@{t.slug}.test", TEST_PASSWORD)
    st = state_for(ProfileState, here, "/profile")
    call(st, ProfileState.save_password, _form())
    assert st.error == "" and st.success == "Your password is changed. 2 other sessions ended."
    assert _hash(t).startswith("$argon2id$")
    assert auth_routes.authenticate(here) is not None  # this browser stays signed in
    assert auth_routes.authenticate(laptop) is None and auth_routes.authenticate(phone) is None
    assert auth_routes.authenticate(colleague) is not None  # nobody else's
    with pytest.raises(SignInError):
        token_for(t.slug, email, TEST_PASSWORD)
    assert token_for(t.slug, email, NEW)
    with owner_session() as s:
        reasons = s.execute(
            text("SELECT revoked_reason FROM auth_session WHERE user_id = :u AND revoked_at"
                 " IS NOT NULL"), {"u": t.user_id("manager")}
        ).scalars().all()  # fmt: skip
        [detail] = s.execute(
            text("SELECT detail FROM audit_event WHERE tenant_id = :t"
                 " AND action = 'auth.password_changed'"), {"t": t.id}
        ).scalars().all()  # fmt: skip
    assert sorted(reasons) == ["password_changed", "password_changed"]
    assert len(detail["sessions_ended"]) == 2 and NEW not in str(detail)


def test_without_a_session_nothing_changes(make_tenant: Callable[..., TenantFixture]) -> None:
    t = make_tenant()
    before = _hash(t)
    st = state_for(ProfileState, None, "/profile")
    assert redirects_to(call(st, ProfileState.load)) == "/signin"  # no page without a session
    assert redirects_to(call(st, ProfileState.save_password, _form())) == "/signin"
    assert _hash(t) == before


def test_wrong_current_passwords_are_throttled_like_sign_ins_and_audited(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    """A stolen session cannot guess the password faster than the sign-in form allows:
    after the free failures of the account, the next try is refused before any check
    (even with the right password), and every wrong one is a flagged audit event."""
    t = make_tenant()
    token = token_for(t.slug, f"manager@{t.slug}.test", TEST_PASSWORD)
    before = _hash(t)
    for n in range(3):  # PMS_SIGNIN_PAIR_FREE_FAILURES
        st = state_for(ProfileState, token, "/profile")
        call(st, ProfileState.save_password, _form(current=f"guess number {n}"))
        assert "not your current password" in st.error
    st = state_for(ProfileState, token, "/profile")
    call(st, ProfileState.save_password, _form())  # the right one, too soon
    assert "Too many attempts" in st.error and st.success == ""
    assert _hash(t) == before
    with owner_session(t.id) as s:
        refused = s.execute(
            text(
                "SELECT count(*) FROM audit_event WHERE action = 'auth.password_change_refused'"
                " AND flagged AND tenant_id = :t"
            ),
            {"t": t.id},
        ).scalar_one()
    assert refused == 3


@pytest.mark.parametrize(
    ("typed", "said"),
    [("   ", "cannot be empty"), ("x" * 201, "at most 200"), (["Mallory"], "must be text")],
)
def test_a_bad_name_is_refused_beside_its_input(
    make_tenant: Callable[..., TenantFixture], typed: object, said: str
) -> None:
    t = make_tenant()
    st = state_for(ProfileState, token_for(t.slug, f"manager@{t.slug}.test", TEST_PASSWORD))
    call(st, ProfileState.save_name, {"display_name": typed})
    assert st.error_field == "display_name" and said in st.error and st.success == ""


def test_a_person_renames_themself_and_only_themself(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t = make_tenant()
    st = state_for(ProfileState, token_for(t.slug, f"emp1@{t.slug}.test", TEST_PASSWORD))
    call(st, ProfileState.save_name, {"display_name": "  Ana   María\nLópez ", "user_id": "x"})
    assert st.error == "" and st.user_name == "Ana María López"
    with owner_session(t.id) as s:
        names = dict(
            s.execute(
                text("SELECT email, display_name FROM app_user WHERE tenant_id = :t"),
                {"t": t.id},
            ).all()
        )
        audited = s.execute(
            text(
                "SELECT detail FROM audit_event WHERE action = 'auth.profile_updated'"
                " AND tenant_id = :t"
            ),
            {"t": t.id},
        ).scalar_one()
    assert names[f"emp1@{t.slug}.test"] == "Ana María López"
    assert sum(n == "Ana María López" for n in names.values()) == 1
    assert audited["after"] == {"display_name": "Ana María López"}
