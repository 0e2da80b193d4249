"""Platform super-admins: members of no tenant, password plus a one-time TOTP code, console
sessions as pms_auditor, and an overview of counts only."""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import asdict

import psycopg
import pyotp
import pytest
from sqlalchemy import exc, text

from pms_dashboard import cli
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.console import organisations, service, totp
from pms_dashboard.console import routes as console_routes
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import auditor_session, owner_session, tenant_session
from tests.conftest import TEST_PASSWORD, as_admin, create_console_admin

PASSWORD = "a long console passphrase"


@pytest.fixture
def admin() -> service.NewAdmin:
    return create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example",
        display_name="Ops Admin",
        password=PASSWORD,
    )


def code(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset_steps * totp.STEP_SECONDS)


def test_sign_in_needs_password_and_a_fresh_code(admin) -> None:
    signed = console_routes.sign_in_with_code(
        email=admin.email.upper(), password=PASSWORD, code=code(admin.totp_secret)
    )
    who = console_routes.authenticate(signed.token)
    assert who is not None and who.email == admin.email
    assert signed.max_age == service.CONSOLE_SESSION_HOURS * 3600


@pytest.mark.parametrize(
    "case", ["wrong password", "wrong code", "no code", "letters", "replayed", "unknown email"]
)
def test_every_failure_gets_the_same_message(admin, case) -> None:
    good = code(admin.totp_secret)
    if case == "replayed":
        console_routes.sign_in_with_code(email=admin.email, password=PASSWORD, code=good)
    attempt = {
        "wrong password": (admin.email, "not the password!!", good),
        "wrong code": (admin.email, PASSWORD, f"{(int(good) + 1) % 1_000_000:06d}"),
        "no code": (admin.email, PASSWORD, ""),
        "letters": (admin.email, PASSWORD, "abcdef"),
        "replayed": (admin.email, PASSWORD, good),
        "unknown email": ("nobody@platform.example", PASSWORD, good),
    }[case]
    with pytest.raises(service.ConsoleError) as err:
        console_routes.sign_in_with_code(email=attempt[0], password=attempt[1], code=attempt[2])
    assert str(err.value) == service.SIGN_IN_FAILED


def test_codes_from_the_neighbouring_steps_pass_older_ones_do_not(admin) -> None:
    assert totp.accepted_step(admin.totp_secret, code(admin.totp_secret, -1), last_step=0)
    assert totp.accepted_step(admin.totp_secret, code(admin.totp_secret, +1), last_step=0)
    assert totp.accepted_step(admin.totp_secret, code(admin.totp_secret, -3), last_step=0) is None


def test_secret_is_stored_encrypted(admin) -> None:
    with owner_session() as s:
        stored = s.execute(
            text("SELECT totp_secret FROM platform_admin WHERE id = :i"), {"i": admin.id}
        ).scalar_one()
    assert admin.totp_secret not in stored
    assert totp.decrypt(stored) == admin.totp_secret


def test_sign_out_revokes_and_tokens_do_not_cross_over(admin, make_tenant) -> None:
    signed = console_routes.sign_in_with_code(
        email=admin.email, password=PASSWORD, code=code(admin.totp_secret)
    )
    t = make_tenant()
    tenant_token = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"admin@{t.slug}.test", password=TEST_PASSWORD
    ).token
    assert console_routes.authenticate(tenant_token) is None  # a tenant admin is no super-admin
    assert auth_routes.authenticate(signed.token) is None  # and a console token opens no tenant
    console_routes.sign_out(signed.token)
    assert console_routes.authenticate(signed.token) is None


def test_overview_is_counts_only_and_the_console_role_reads_no_tenant_row(
    admin, make_tenant
) -> None:
    t = make_tenant()
    signed = console_routes.sign_in_with_code(
        email=admin.email, password=PASSWORD, code=code(admin.totp_secret)
    )
    rows = {r.slug: r for r in as_admin(organisations.overview, admin=signed.admin)}
    assert rows[t.slug].users == 4 and rows[t.slug].goals == 0
    assert set(asdict(rows[t.slug])) == {
        "tenant_id", "slug", "name", "isolation_tier", "region", "users", "goals",
        "last_activity",
    }  # fmt: skip
    # without an access grant the console's role sees no row of the grant-readable tables,
    # and has no privilege at all on the rest
    with auditor_session() as s:
        assert [s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("goal", "review", "review_outcome")] == [0, 0, 0]  # fmt: skip
    # of audit events and tenants only the metadata columns (the audit search), never the
    # content, the hashes or a tenant's settings; nothing at all of sessions
    for sql in (
        "SELECT detail FROM audit_event",
        "SELECT prev_hash FROM audit_event",
        "SELECT hash FROM audit_event",
        "SELECT * FROM audit_event",
        "SELECT settings FROM tenant",
        "SELECT * FROM tenant",
        "SELECT count(*) FROM auth_session",
    ):
        with pytest.raises(exc.DBAPIError) as err, auditor_session() as s:
            s.execute(text(sql))
        assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege), sql
    with pytest.raises(service.ConsoleError):
        as_admin(organisations.overview, admin=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM platform_admin",
        "SELECT * FROM console_session",
        "SELECT * FROM app.platform_overview()",
    ],
)
def test_the_app_role_cannot_touch_the_console(make_tenant, sql) -> None:
    t = make_tenant()
    with pytest.raises(exc.DBAPIError) as err, tenant_session(TenantContext(tenant_id=t.id)) as s:
        s.connection().execute(text(sql))
    assert isinstance(err.value.orig, psycopg.errors.InsufficientPrivilege)


def test_cli_creates_an_admin_and_prints_the_secret_once(monkeypatch, capsys) -> None:
    email = f"cli-{uuid.uuid4().hex[:8]}@platform.example"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["console", "create-admin", "--email", email, "--name", "CLI Admin",
                     "--password-stdin"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    secret = out.split("secret: ")[1].split()[0]
    assert "otpauth://totp/" in out
    assert console_routes.sign_in_with_code(
        email=email, password=PASSWORD, code=pyotp.TOTP(secret).now()
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["console", "create-admin", "--email", "x@platform.example", "--name", "X",
                     "--password-stdin"]) == 2  # fmt: skip
    assert "at least 12 characters" in capsys.readouterr().err


def test_console_state_needs_a_console_session(admin, make_tenant) -> None:
    from pms_dashboard.ui.states.console import ConsoleState
    from tests.ui_harness import call, redirects_to, state_for

    t = make_tenant()
    tenant_token = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"admin@{t.slug}.test", password=TEST_PASSWORD
    ).token
    for cookie_token in (None, tenant_token, "garbage"):
        st = state_for(ConsoleState, cookie_token, cookie_name="pms_console")
        assert redirects_to(call(st, ConsoleState.load)) == "/console/signin"
        assert st.tenants == [] and st.totals == {}
    signed = console_routes.sign_in_with_code(
        email=admin.email, password=PASSWORD, code=code(admin.totp_secret)
    )
    st = state_for(ConsoleState, signed.token, cookie_name="pms_console")
    assert call(st, ConsoleState.load) == []
    assert any(r["slug"] == t.slug for r in st.tenants)
