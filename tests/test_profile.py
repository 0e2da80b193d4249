"""The profile page, driven through its state as a browser would. The password change: the
current password is required, the rules and Argon2id hashing of pms_dashboard.auth apply,
each refusal lands beside its input and changes nothing, and a change ends the person's
other sessions (this one stays), audited. The name and the time zone: checked in the
service (a refusal beside its input, nothing changed), audited with before and after; the
zone chosen (else the organisation's, else UTC) is the one the person's pages show times in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.service import SignInError
from pms_dashboard.tenancy.session import owner_session
from pms_dashboard.ui.states.goals import GoalDetailState
from pms_dashboard.ui.states.profile import ProfileState
from tests.conftest import TEST_PASSWORD, TenantFixture
from tests.test_review_context import add_check_in
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
    refused = _one(
        t,
        "SELECT count(*) FROM audit_event WHERE action = 'auth.password_change_refused'"
        " AND flagged AND tenant_id = :t",
    )
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


def _one(t: TenantFixture, sql: str, **params: Any) -> Any:
    """The one value `sql` reads in `t` (`:t` is its id)."""
    with owner_session(t.id) as s:
        return s.execute(text(sql), {"t": t.id, **params}).scalar_one()


def _zone_of(t: TenantFixture, who: str) -> Any:
    sql = "SELECT time_zone FROM app_user WHERE tenant_id = :t AND id = :u"
    return _one(t, sql, u=t.user_id(who))


def _zone_changes(t: TenantFixture) -> list[dict]:
    with owner_session(t.id) as s:
        details = s.execute(
            text(
                "SELECT detail FROM audit_event WHERE action = 'auth.profile_updated'"
                " AND tenant_id = :t ORDER BY occurred_at, id"
            ),
            {"t": t.id},
        ).scalars()
        return [d for d in details if "time_zone" in d["after"]]


def _check_in_at(t: TenantFixture, who: str, at: datetime) -> str:
    """A goal of `who` with one check-in made at `at`; the goal's id."""
    from pms_dashboard.goals.models import Goal

    goal = Goal(
        tenant_id=t.id,
        owner_id=t.user_id(who),
        title="Ship it",
        start_date=date(2026, 1, 1),
        due_date=date(2026, 12, 31),
    )
    with owner_session(t.id) as s:
        s.add(goal)
    add_check_in(t.id, goal.id, t.user_id(who), at, note="halfway")
    return str(goal.id)


def _emp1_checked_in(make_tenant: Callable[..., TenantFixture], at: datetime) -> tuple:
    """A new organisation, a goal of its emp1 checked in at `at`, and emp1's session."""
    t = make_tenant()
    goal_id = _check_in_at(t, "emp1", at)
    return t, goal_id, token_for(t.slug, f"emp1@{t.slug}.test", TEST_PASSWORD)


def _check_in_time_seen(token: str, goal_id: str) -> str:
    st = state_for(GoalDetailState, token, "/goals/[goal_id]", {"goal_id": goal_id})
    call(st, GoalDetailState.load)
    return st.check_ins[0]["at"]


def test_a_person_picks_a_time_zone_and_their_times_show_in_it(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t, goal_id, token = _emp1_checked_in(make_tenant, datetime(2026, 1, 15, 12, tzinfo=UTC))
    manager = token_for(t.slug, f"manager@{t.slug}.test", TEST_PASSWORD)
    assert _check_in_time_seen(token, goal_id) == "2026-01-15 12:00 UTC"  # none chosen yet

    st = state_for(ProfileState, token, "/profile")
    call(st, ProfileState.load)
    assert (st.own_time_zone, st.time_zone) == ("", "UTC")
    call(st, ProfileState.save_time_zone, {"time_zone": " America/New_York "})
    assert st.error == "" and st.success == "Dates and times are now shown in America/New_York."
    assert st.time_zone == "America/New_York" and st.own_time_zone == "America/New_York"
    assert st.zone_now.endswith((" EST", " EDT"))
    assert _zone_of(t, "emp1") == "America/New_York"
    assert _zone_of(t, "manager") is None  # only theirs
    assert _check_in_time_seen(token, goal_id) == "2026-01-15 07:00 EST"
    assert _check_in_time_seen(manager, goal_id) == "2026-01-15 12:00 UTC"  # the reader's zone

    call(st, ProfileState.save_time_zone, {"time_zone": ""})  # back to the default
    assert st.error == "" and (st.own_time_zone, st.time_zone) == ("", "UTC")
    assert _zone_of(t, "emp1") is None
    assert [(d["before"], d["after"]) for d in _zone_changes(t)] == [
        ({"time_zone": None}, {"time_zone": "America/New_York"}),
        ({"time_zone": "America/New_York"}, {"time_zone": None}),
    ]


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("Mars/Olympus_Mons", "“Mars/Olympus_Mons” is not a time zone we know"),
        ("europe/paris", "not a time zone we know"),  # names are exact
        ("localtime", "not a time zone we know"),  # the server's own: never offered
        ("x" * 5000, "not a time zone we know"),
        (["Europe/Paris"], "Choose a time zone from the list"),
        (3600, "Choose a time zone from the list"),
        (None, "Choose a time zone from the list"),
    ],
)
def test_a_bad_time_zone_is_refused_beside_its_input_and_changes_nothing(
    make_tenant: Callable[..., TenantFixture], typed: object, said: str
) -> None:
    t = make_tenant()
    st = state_for(ProfileState, token_for(t.slug, f"emp1@{t.slug}.test", TEST_PASSWORD))
    call(st, ProfileState.save_time_zone, {"time_zone": "Europe/Paris"})
    assert st.error == ""
    call(st, ProfileState.save_time_zone, {"time_zone": typed})
    assert st.error_field == "time_zone" and said in st.error and st.success == ""
    assert len(st.error) < 200  # a long typed value is not echoed whole
    assert st.time_zone == "Europe/Paris"
    assert _zone_of(t, "emp1") == "Europe/Paris"
    assert len(_zone_changes(t)) == 1  # the refused change is not audited as made


def test_without_a_zone_of_their_own_a_person_reads_their_organisations(
    make_tenant: Callable[..., TenantFixture],
) -> None:
    t, goal_id, token = _emp1_checked_in(make_tenant, datetime(2026, 7, 1, 12, tzinfo=UTC))

    def organisation_zone(zone: object) -> None:
        with owner_session(t.id) as s:
            s.execute(
                text(
                    "UPDATE tenant SET settings = settings || jsonb_build_object('time_zone',"
                    " CAST(:z AS text)) WHERE id = :t"
                ),
                {"z": zone, "t": t.id},
            )

    organisation_zone("Asia/Tokyo")
    st = state_for(ProfileState, token, "/profile")
    call(st, ProfileState.load)
    assert (st.own_time_zone, st.time_zone) == ("", "Asia/Tokyo")
    assert _check_in_time_seen(token, goal_id) == "2026-07-01 21:00 JST"
    call(st, ProfileState.save_time_zone, {"time_zone": "Europe/London"})  # theirs wins
    assert _check_in_time_seen(token, goal_id) == "2026-07-01 13:00 BST"
    call(st, ProfileState.save_time_zone, {"time_zone": ""})
    assert st.time_zone == "Asia/Tokyo"  # back to the organisation's
    organisation_zone("Nowhere/Atlantis")  # a setting no one may choose counts as none
    assert _check_in_time_seen(token, goal_id) == "2026-07-01 12:00 UTC"
