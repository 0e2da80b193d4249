"""CSV exports through the streaming route: the file equals the page's rows, cells cannot
run as formulas, no session or parameter reaches another tenant, every export is audited."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, text, update
from sqlmodel import col
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.cookies import SESSION_COOKIE
from pms_dashboard.auth.models import User
from pms_dashboard.console import routes as console_routes
from pms_dashboard.errors import UserError
from pms_dashboard.exports import service as exports
from pms_dashboard.exports.catalog import EXPORTS
from pms_dashboard.exports.routes import export_stream, routes
from pms_dashboard.exports.stream import UTF8_BOM
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.models import Goal, GoalCheckIn, KeyResult
from pms_dashboard.goals.schemas import CheckInInput, GoalInput, GoalListQuery, KeyResultInput
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TEST_PASSWORD, create_console_admin, ctx, draft_cycle

PAYLOADS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1,2)", "\tTAB", "\rCR"]


def _client_for(slug: str, email: str) -> TestClient:
    signed = auth_routes.sign_in_with_password(slug=slug, email=email, password=TEST_PASSWORD)
    client = TestClient(Starlette(routes=routes), base_url="http://localhost:3000")
    client.cookies.set(SESSION_COOKIE, signed.token)
    return client


def _csv(response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    return pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)


def _goal(t, key: str, title: str, **extra) -> uuid.UUID:
    data = {
        "title": title,
        "start_date": date.today() - timedelta(days=10),
        "due_date": date.today() + timedelta(days=30),
        **extra,
    }
    with tenant_session(ctx(t, key)) as s:
        return goals.create_goal(session=s, actor=ctx(t, key), data=GoalInput(**data))


@pytest.fixture
def acme(make_tenant):
    t = make_tenant()
    mine = _goal(
        t,
        "manager",
        "Grow revenue",
        period="2026-H2",
        key_results=[
            KeyResultInput(title="New logos", target_value=Decimal(10)),
            KeyResultInput(
                title="Churn", start_value=Decimal(-5), target_value=Decimal(-1), unit="%"
            ),
        ],
    )
    _goal(t, "emp1", "Ship the mobile app", period="2026-H2", parent_id=mine)
    _goal(t, "emp2", "Learn Rust", period="2027-H1")
    _goal(t, "admin", "Admin's own goal")
    with tenant_session(ctx(t, "manager")) as s:
        goals.check_in(
            session=s,
            actor=ctx(t, "manager"),
            goal_id=mine,
            data=CheckInInput(confidence="at_risk", note='Slow quarter,\n"quoted" note'),
        )
    return t


def _page_ids(t, key: str, **filters) -> set[str]:
    """Every goal id the list page shows for these filters, across all its pages."""
    ids: set[str] = set()
    page = 1
    while True:
        with tenant_session(ctx(t, key)) as s:
            result = goals.list_goals(
                session=s,
                actor=ctx(t, key),
                query=GoalListQuery(page=page, page_size=100, **filters),
            )
        ids |= {r.id for r in result.rows}
        if page >= result.pages:
            return ids
        page += 1


@pytest.mark.parametrize(
    ("key", "filters"),
    [
        ("manager", {"scope": "mine"}),
        ("manager", {"scope": "team"}),
        ("manager", {"scope": "all"}),
        ("manager", {"scope": "all", "period": "2026-H2"}),
        ("manager", {"scope": "all", "search": "mobile"}),
        ("admin", {"scope": "all"}),
        ("admin", {"scope": "all", "status": "active", "sort": "owner", "descending": "true"}),
        ("emp1", {"scope": "all"}),
    ],
)
def test_goal_export_holds_exactly_the_rows_of_the_page(acme, key, filters) -> None:
    client = _client_for(acme.slug, acme.users[key].email)
    frame = _csv(client.get("/api/export/goals.csv", params=filters))
    typed = {k: (v == "true" if k == "descending" else v) for k, v in filters.items()}
    assert set(frame["goal_id"]) == _page_ids(acme, key, **typed)
    assert len(frame) == len(set(frame["goal_id"]))


def test_goal_columns_equal_the_database(acme) -> None:
    frame = _csv(
        _client_for(acme.slug, f"admin@{acme.slug}.test").get("/api/export/goals.csv?scope=all")
    )
    with owner_session() as s:
        rows = s.execute(
            select(Goal, col(User.display_name), col(User.email))
            .join(User, col(User.id) == Goal.owner_id)
            .where(col(Goal.tenant_id) == acme.id)
        ).all()
    assert len(frame) == len(rows) == 4
    by_id = frame.set_index("goal_id")
    for goal, owner, email in rows:
        line = by_id.loc[str(goal.id)]
        assert line["title"] == goal.title
        assert line["owner"] == owner and line["owner_email"] == email
        assert Decimal(line["progress_pct"]) == goal.progress
        assert line["start_date"] == goal.start_date.isoformat()
        assert line["due_date"] == goal.due_date.isoformat()
        assert line["created_at"] == goal.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert line["parent_goal_id"] == (str(goal.parent_id) if goal.parent_id else "")
        assert line["confidence"] == (goal.confidence or "")
        assert line["stale"] in ("true", "false") and line["overdue"] == "false"
    child = frame[frame["title"] == "Ship the mobile app"].iloc[0]
    assert child["parent_title"] == "Grow revenue"


def test_key_results_and_check_ins_files(acme) -> None:
    client = _client_for(acme.slug, f"manager@{acme.slug}.test")
    krs = _csv(client.get("/api/export/key-results.csv?scope=mine"))
    assert sorted(krs["title"]) == ["Churn", "New logos"]
    churn = krs[krs["title"] == "Churn"].iloc[0]
    assert (churn["start_value"], churn["target_value"], churn["unit"]) == ("-5.00", "-1.00", "%")
    assert churn["progress_pct"] == "0.00"
    with owner_session() as s:
        s.execute(
            update(KeyResult)
            .where(col(KeyResult.title) == "Churn", col(KeyResult.tenant_id) == acme.id)
            .values(current_value=Decimal(-2))
        )
    krs = _csv(client.get("/api/export/key-results.csv?scope=mine"))
    assert krs[krs["title"] == "Churn"].iloc[0]["progress_pct"] == "75.00"

    checkins = _csv(client.get("/api/export/check-ins.csv?scope=mine"))
    assert len(checkins) == 1
    row = checkins.iloc[0]
    assert row["note"] == 'Slow quarter,\n"quoted" note'  # embedded newline and quotes survive
    assert (row["confidence"], row["author"], row["goal_title"]) == (
        "at_risk",
        "Manager",
        "Grow revenue",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["checked_in_at"])


def test_people_export_follows_the_directory_filters(acme) -> None:
    client = _client_for(acme.slug, f"admin@{acme.slug}.test")
    everyone = _csv(client.get("/api/export/people.csv"))
    assert set(everyone["email"]) == {u.email for u in acme.users.values()}
    managers = _csv(client.get("/api/export/people.csv?role=manager"))
    assert list(managers["email"]) == [f"manager@{acme.slug}.test"]
    emp = _csv(client.get("/api/export/people.csv?search=employee 1"))
    assert list(emp["manager"]) == ["Manager"]
    # an employee's directory is their chain and themself, and so is their export
    mine = _csv(_client_for(acme.slug, f"emp1@{acme.slug}.test").get("/api/export/people.csv"))
    assert set(mine["email"]) == {f"emp1@{acme.slug}.test", f"manager@{acme.slug}.test"}


def test_injection_payloads_come_back_inert_and_numbers_untouched(acme) -> None:
    with owner_session() as s:
        goal_ids = list(s.scalars(select(Goal.id).where(col(Goal.tenant_id) == acme.id)))
        for goal_id, payload in zip(goal_ids, PAYLOADS, strict=False):
            s.execute(
                update(Goal)
                .where(col(Goal.id) == goal_id)
                .values(title=payload, description=payload)
            )
        s.execute(
            update(User)
            .where(col(User.tenant_id) == acme.id, col(User.role) == "manager")
            .values(display_name='=HYPERLINK("http://x")', department="@dept", team="-team")
        )
        s.execute(
            update(GoalCheckIn).where(col(GoalCheckIn.tenant_id) == acme.id).values(note="+cmd")
        )
    client = _client_for(acme.slug, f"admin@{acme.slug}.test")
    frame = _csv(client.get("/api/export/goals.csv?scope=all"))
    titles = set(frame["title"])
    assert {"'" + p for p in PAYLOADS[: len(goal_ids)]} == titles
    assert set(frame["description"]) == titles
    for cell in frame.to_numpy().ravel():
        assert not str(cell).startswith(("=", "+", "@", "\t", "\r")), cell
    manager_rows = frame[frame["owner"].str.contains("HYPERLINK")]
    assert set(manager_rows["owner"]) == {'\'=HYPERLINK("http://x")'}
    assert set(manager_rows["department"]) == {"'@dept"} and set(manager_rows["team"]) == {"'-team"}
    people = _csv(client.get("/api/export/people.csv?role=manager"))
    assert people.iloc[0]["name"] == '\'=HYPERLINK("http://x")'
    assert _csv(client.get("/api/export/check-ins.csv?scope=all")).iloc[0]["note"] == "'+cmd"
    krs = _csv(client.get("/api/export/key-results.csv?scope=all"))
    assert "-5.00" in set(krs["start_value"])  # a negative number stays a number


def test_excel_bom_on_request(acme) -> None:
    client = _client_for(acme.slug, f"manager@{acme.slug}.test")
    plain = client.get("/api/export/goals.csv")
    with_bom = client.get("/api/export/goals.csv?bom=1")
    assert not plain.content.startswith(UTF8_BOM)
    assert with_bom.content == UTF8_BOM + plain.content
    assert plain.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = plain.headers["content-disposition"]
    assert disposition == f'attachment; filename="{acme.slug}-goals-{date.today():%Y-%m-%d}.csv"'


def test_no_session_is_401_and_bad_filters_are_400(acme) -> None:
    anonymous = TestClient(Starlette(routes=routes))
    assert anonymous.get("/api/export/goals.csv").status_code == 401
    anonymous.cookies.set(SESSION_COOKIE, "not-a-token")
    assert anonymous.get("/api/export/goals.csv").status_code == 401
    client = _client_for(acme.slug, f"manager@{acme.slug}.test")
    for url, words in [
        ("/api/export/nothing.csv", "no export called"),
        ("/api/export/goals.csv?tenant_id=" + str(uuid.uuid4()), "tenant_id"),
        ("/api/export/goals.csv?status=deleted", "status"),
        # ids and names a filter gives are resolved as on the page: the page's own words
        ("/api/export/goals.csv?owner_id=not-a-uuid", "That owner was not found"),
        (f"/api/export/goals.csv?owner_id={uuid.uuid4()}", "That owner was not found"),
        ("/api/export/goals.csv?team=No+such+team", "That team was not found"),
        ("/api/export/key-results.csv?department=Nowhere", "That department was not found"),
        ("/api/export/people.csv?department=Nowhere", "That department was not found"),
        ("/api/export/people.csv?team=No+such+team", "That team was not found"),
        ("/api/export/goals.csv?sort=password_hash", "sort"),
        ("/api/export/audit.csv?since=2026-02-01&until=2026-01-01", "before"),
    ]:
        response = client.get(url)
        assert response.status_code == 400, url
        assert words.lower() in response.json()["error"].lower(), (url, response.json())


def test_another_tenant_is_unreachable_by_any_parameter(acme, make_tenant) -> None:
    globex = make_tenant()
    _goal(globex, "manager", "Globex secret plan")
    client = _client_for(globex.slug, f"admin@{globex.slug}.test")
    acme_ids = {str(u.id) for u in acme.users.values()}
    with owner_session() as s:
        acme_ids |= {
            str(i) for i in s.scalars(select(Goal.id).where(col(Goal.tenant_id) == acme.id))
        }
    acme_cycle = str(draft_cycle(acme))
    acme_ids.add(acme_cycle)
    probes = [
        {"scope": "all"},
        {"scope": "all", "status": "archived"},
        {"scope": "all", "search": "Grow"},
    ]
    # audit first: later probes are Globex's own requests, recorded in its own trail
    for name in sorted(EXPORTS, key=lambda n: n != "audit"):
        if name in ("reviews", "cycle-summary"):  # another tenant's cycle: refused, as a page
            response = client.get(f"/api/export/{name}.csv", params={"cycle_id": acme_cycle})
            assert response.status_code == 400
            assert response.json() == {
                "error": "That review cycle was not found in this organisation."
            }
            continue
        if name in ("goals", "key-results", "check-ins"):  # Acme's person as the owner filter
            params = {"scope": "all", "owner_id": str(acme.user_id("manager"))}
            response = client.get(f"/api/export/{name}.csv", params=params)
            assert response.status_code == 400
            assert response.json() == {"error": "That owner was not found in this organisation."}
        for params in probes if name in ("goals", "key-results", "check-ins") else [{}]:
            response = client.get(f"/api/export/{name}.csv", params=params)
            assert response.status_code == 200
            body = response.text
            assert not any(i in body for i in acme_ids), (name, params)
            assert acme.slug not in body and "Grow revenue" not in body


def test_audit_export_is_for_tenant_admins_and_refusals_are_flagged(acme) -> None:
    manager = _client_for(acme.slug, f"manager@{acme.slug}.test")
    refused = manager.get("/api/export/audit.csv")
    assert refused.status_code == 403
    with tenant_session(ctx(acme, "admin")) as s:
        last = s.scalars(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
    assert last is not None and last.action == "access.denied" and last.flagged
    admin = _client_for(acme.slug, f"admin@{acme.slug}.test")
    trail = _csv(admin.get("/api/export/audit.csv"))
    assert "goal.created" in set(trail["action"]) or any(
        a.startswith("goal.") for a in trail["action"]
    )
    assert list(trail["seq"].astype(int)) == sorted(trail["seq"].astype(int))
    flagged = _csv(admin.get("/api/export/audit.csv?flagged=true"))
    assert set(flagged["flagged"]) == {"true"} and len(flagged) >= 1
    assert set(_csv(admin.get("/api/export/audit.csv?action=access."))["action"]) <= {
        "access.denied",
        "access.not_found",
    }


def _refusal(actor: TenantContext, name: str, filters: dict[str, str]) -> str | None:
    """What a page's Export button says instead of a download (None: it hands one out),
    the check run in a transaction of its own as a page's event runs it."""
    try:
        with tenant_session(actor) as s:
            exports.check(session=s, actor=actor, name=name, filters=filters)
    except UserError as err:
        return str(err)
    return None


def test_a_refusal_is_known_before_the_download_and_flagged_like_the_routes(
    acme, make_tenant
) -> None:
    """What the page's buttons ask before handing out a download (`service.check`, in the
    event's transaction): the route's own answers, without reading the export."""
    globex = make_tenant()
    admin = ctx(globex, "admin")
    acme_cycle = str(draft_cycle(acme))
    assert _refusal(admin, "goals", {"scope": "all"}) is None
    assert _refusal(admin, "payroll", {}) == "There is no export called 'payroll'."
    assert _refusal(admin, "goals", {"colour": "red"}) is not None
    for name in ("reviews", "cycle-summary"):  # another tenant's cycle: as the route says
        assert _refusal(admin, name, {"cycle_id": acme_cycle}) == (
            "That review cycle was not found in this organisation."
        )
    with tenant_session(admin) as s:
        last = s.scalars(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
        exports_recorded = s.scalars(
            select(AuditEvent).where(col(AuditEvent.action) == "export.csv")
        ).all()
    assert last is not None and last.action == "access.not_found" and last.flagged
    assert acme_cycle not in str(last.detail) and last.entity_id is None
    assert exports_recorded == []  # a check, not an export


def _export_events(t) -> list[dict]:
    with tenant_session(ctx(t, "admin")) as s:
        return [
            e.detail
            for e in s.scalars(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "export.csv")
                .order_by(col(AuditEvent.seq))
            )
        ]


def test_every_export_is_audited_with_filters_and_row_count(acme) -> None:
    client = _client_for(acme.slug, f"manager@{acme.slug}.test")
    frame = _csv(client.get("/api/export/goals.csv?scope=all&period=2026-H2"))
    event = _export_events(acme)[-1]
    assert event["export"] == "goals"
    assert event["filters"] == {"scope": "all", "period": "2026-H2"}
    assert event["rows"] == len(frame) == 2
    assert event["completed"] is True and event["bytes"] > 0


def test_a_download_cut_short_cancels_the_copy_and_is_still_audited(acme) -> None:
    with owner_session() as s:
        s.execute(
            text(
                "INSERT INTO goal (tenant_id, id, owner_id, title, start_date, due_date, status)"
                " SELECT :t, gen_random_uuid(), :o, 'Bulk ' || g, current_date, current_date + 30,"
                " 'active' FROM generate_series(1, 3000) AS g"
            ),
            {"t": acme.id, "o": acme.user_id("manager")},
        )
    request = exports.prepare("goals", {"scope": "mine"})
    stream = export_stream(ctx(acme, "manager"), request, chunk_bytes=4096)
    chunks = [next(stream), next(stream)]
    assert all(len(c) >= 4096 for c in chunks)  # whole chunks, never one write per row
    stream.close()
    event = _export_events(acme)[-1]
    assert event["completed"] is False and event["rows"] is None
    assert event["bytes"] >= 8192
    # the connection went back clean: the next export works and counts every row
    full = b"".join(export_stream(ctx(acme, "manager"), request, chunk_bytes=4096))
    frame = pd.read_csv(io.BytesIO(full), dtype=str)
    assert len(frame) == 3001
    assert _export_events(acme)[-1]["rows"] == 3001


def _documented_columns(spec, session, actor) -> list[str]:
    from pms_dashboard.reviews import reporting

    if spec.name == "reviews":  # needs a cycle; its statement is checked against this list
        return list(reporting.REVIEW_EXPORT_COLUMNS)
    if spec.name == "cycle-summary":  # one column per label of the tenant's rating scale
        fixed = [*reporting.SUMMARY_COUNT_COLUMNS, reporting.COMPLETION]
        return ["department` or `manager", *fixed, "<each rating label>", reporting.NOT_RATED]
    return spec.columns(session, actor, spec.params())


def test_readme_documents_every_export_column(acme) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    with tenant_session(ctx(acme, "admin")) as s:
        for spec in EXPORTS.values():
            columns = _documented_columns(spec, s, ctx(acme, "admin"))
            line = f"| `{spec.name}` | " + ", ".join(f"`{c}`" for c in columns) + " |"
            assert line in readme, f"README's export table is missing or out of date:\n{line}"


def _download_url(events: list) -> str:
    from tests.ui_harness import download_url

    url = download_url(events)
    assert url is not None, f"no download among {events}"
    return url


def test_export_buttons_download_the_list_as_filtered(acme) -> None:
    from urllib.parse import parse_qs, urlsplit

    from pms_dashboard.ui.states.goals import GoalsState
    from pms_dashboard.ui.states.people import PeopleState
    from tests.ui_harness import call, redirects_to, state_for, token_for

    token = token_for(acme.slug, f"manager@{acme.slug}.test", TEST_PASSWORD)
    listing = state_for(GoalsState, token, "/goals")
    call(listing, GoalsState.load)
    call(listing, GoalsState.set_scope, "all")
    call(listing, GoalsState.filter_period, "2026-H2")
    call(listing, GoalsState.search_titles, {"search": "mobile"})
    for name in ("goals", "key-results", "check-ins"):
        url = urlsplit(_download_url(call(listing, GoalsState.export_csv, name)))
        assert url.path.endswith(f"/api/export/{name}.csv")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert query == {
            "scope": "all",
            "period": "2026-H2",
            "search": "mobile",
            "sort": "due_date",
        }
        # and the route, given that query, returns the rows the page shows
        client = _client_for(acme.slug, f"manager@{acme.slug}.test")
        frame = _csv(client.get(f"/api/export/{name}.csv", params=query))
        if name == "goals":
            assert set(frame["goal_id"]) == {r["id"] for r in listing.rows}
    assert call(listing, GoalsState.export_csv, "audit") == []
    assert listing.error == "That export is not available."

    people = state_for(PeopleState, token, "/people")
    call(people, PeopleState.load)
    call(people, PeopleState.filter_role, "employee")
    url = urlsplit(_download_url(call(people, PeopleState.export_csv, "people")))
    assert {k: v[0] for k, v in parse_qs(url.query).items()} == {
        "role": "employee",
        "active": "active",
    }

    anonymous = state_for(GoalsState, None, "/goals")
    assert redirects_to(call(anonymous, GoalsState.export_csv, "goals")) == "/signin"


def test_cycle_export_menu_downloads_the_selecteddraft_cycle(acme) -> None:
    from urllib.parse import parse_qs, urlsplit

    from pms_dashboard.ui.states.cycles import CyclesState
    from tests.ui_harness import call, state_for, token_for

    cycle_id = str(draft_cycle(acme))
    token = token_for(acme.slug, f"admin@{acme.slug}.test", TEST_PASSWORD)
    cycles = state_for(CyclesState, token, "/cycles")
    assert call(cycles, CyclesState.export_csv, "reviews") == []  # nothing selected yet
    assert cycles.error == "That export is not available."
    call(cycles, CyclesState.select_cycle, cycle_id)
    assert cycles.cycle_id == cycle_id
    for name, expected in [
        ("reviews", ("reviews", {"cycle_id": cycle_id})),
        ("summary-manager", ("cycle-summary", {"cycle_id": cycle_id, "by": "manager"})),
    ]:
        url = urlsplit(_download_url(call(cycles, CyclesState.export_csv, name)))
        assert url.path.endswith(f"/api/export/{expected[0]}.csv")
        assert {k: v[0] for k, v in parse_qs(url.query).items()} == expected[1]
    assert call(cycles, CyclesState.export_csv, "people") == []


def test_cli_export_writes_the_file_as_an_admin_and_is_audited(acme, tmp_path, capsys) -> None:
    from pms_dashboard.cli import main

    out = tmp_path / "goals.csv"
    filters = ["--filter", "scope=all", "--filter", "period=2026-H2", "--quiet"]
    assert main(["export", "goals", "--tenant", acme.slug, "--out", str(out), *filters]) == 0
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(frame["goal_id"]) == _page_ids(acme, "admin", scope="all", period="2026-H2")
    assert f"wrote {out}" in capsys.readouterr().out
    event = _export_events(acme)[-1]
    assert event["via"] == "cli" and event["rows"] == len(frame) == 2
    as_emp = tmp_path / "emp.csv"
    assert main(["export", "people", "--tenant", acme.slug, "--out", str(as_emp),
                 "--as", f"emp1@{acme.slug}.test", "--quiet"]) == 0  # fmt: skip
    assert len(pd.read_csv(as_emp)) == 2  # the employee's own directory: themself and manager
    assert main(["export", "goals", "--tenant", "no-such-org", "--quiet"]) == 2
    assert main(["export", "goals", "--tenant", acme.slug, "--filter", "colour=red"]) == 2
    assert "colour" in capsys.readouterr().err
    # a filter naming no one of the organisation: said as the page says it, no file made
    nobody = tmp_path / "nobody.csv"
    assert main(["export", "goals", "--tenant", acme.slug, "--out", str(nobody), "--filter",
                 f"owner_id={uuid.uuid4()}", "--quiet"]) == 2  # fmt: skip
    assert "That owner was not found in this organisation." in capsys.readouterr().err
    assert not nobody.exists()


def test_cli_export_as_the_admin_covers_the_organisation_by_default(acme, tmp_path) -> None:
    from pms_dashboard.cli import main

    everything, mine = tmp_path / "all.csv", tmp_path / "mine.csv"
    assert (
        main(["export", "goals", "--tenant", acme.slug, "--out", str(everything), "--quiet"]) == 0
    )
    ids = set(pd.read_csv(everything, dtype=str, keep_default_na=False)["goal_id"])
    assert ids == _page_ids(acme, "admin", scope="all")
    assert len(ids) > len(_page_ids(acme, "admin", scope="mine"))
    filters = ["--filter", "scope=mine", "--quiet"]
    assert main(["export", "goals", "--tenant", acme.slug, "--out", str(mine), *filters]) == 0
    own = set(pd.read_csv(mine, dtype=str, keep_default_na=False)["goal_id"])
    assert own == _page_ids(acme, "admin", scope="mine")


@pytest.mark.parametrize(("tier", "region"), [("schema", "eu-central"), ("database", "us-east")])
def test_cli_export_goals_works_for_a_tenant_in_every_tier(
    make_tenant, tmp_path, capsys, tier: str, region: str
) -> None:
    """`export goals --tenant S` finds a schema or database tenant through the catalog and
    streams its goals from its placement, as its admin, audited there; a pool tenant's
    goals (in the pool database of the same region, or elsewhere) never come along."""
    from pms_dashboard.cli import main

    t, pool_tenant = make_tenant(tier=tier, region=region), make_tenant()
    made = {str(_goal(t, "manager", f"Plan of the {tier} tenant")), str(_goal(t, "emp1", "Own"))}
    _goal(pool_tenant, "manager", "Pool tenant secret plan")
    out = tmp_path / "goals.csv"
    assert main(["export", "goals", "--tenant", t.slug, "--out", str(out), "--quiet"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(frame["goal_id"]) == made == _page_ids(t, "admin", scope="all")
    assert "Pool tenant secret plan" not in out.read_text()
    event = _export_events(t)[-1]
    assert event["via"] == "cli" and event["rows"] == 2
    people = tmp_path / "people.csv"
    assert main(["export", "people", "--tenant", t.slug, "--out", str(people), "--quiet"]) == 0
    assert set(pd.read_csv(people, dtype=str)["email"]) == {u.email for u in t.users.values()}


def test_console_audit_export_covers_every_tenant_metadata_only_and_is_audited(
    acme, make_tenant
) -> None:
    import time

    import pyotp

    from pms_dashboard.auth.cookies import CONSOLE_COOKIE

    globex = make_tenant()
    _goal(globex, "manager", "=Globex plan")
    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password="x" * 20
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password="x" * 20, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    client = TestClient(Starlette(routes=routes))
    assert client.get("/api/console/export/audit.csv").status_code == 401
    client.cookies.set(
        SESSION_COOKIE,
        auth_routes.sign_in_with_password(
            slug=acme.slug, email=f"admin@{acme.slug}.test", password=TEST_PASSWORD
        ).token,
    )
    assert client.get("/api/console/export/audit.csv").status_code == 401  # a tenant's cookie
    client.cookies.set(CONSOLE_COOKIE, signed.token)
    assert client.get("/api/console/export/audit.csv?flagged=maybe").status_code == 400

    response = client.get("/api/console/export/audit.csv", params={"action": "goal."})
    frame = _csv(response)
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="platform-audit-'
    )
    assert list(frame.columns) == ["occurred_at", "tenant", "seq", "actor_id", "action",
                                   "entity_type", "entity_id", "flagged", "ip"]  # fmt: skip
    assert {acme.slug, globex.slug} <= set(frame["tenant"])
    assert all(a.startswith("goal.") for a in frame["action"])
    assert "Grow revenue" not in response.text and "Globex plan" not in response.text  # no detail
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v) for v in frame["occurred_at"])
    ours = frame[frame["tenant"].isin([acme.slug, globex.slug])]
    for t in (acme, globex):  # each tenant covered sees the export on its Provider access page
        with tenant_session(ctx(t, "admin")) as s:
            read = s.scalars(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "console.audit_read")
                .order_by(col(AuditEvent.seq).desc())
            ).first()
        assert read is not None and read.flagged
        assert read.detail["rows"] == int((ours["tenant"] == t.slug).sum())
    event = _last_console_export()
    assert event is not None and event.admin_id == signed.admin.admin_id
    assert event.detail["rows"] == len(frame) and event.detail["completed"] is True
    assert event.detail["filters"] == {"action": "goal."}


def _last_console_export():
    from pms_dashboard.audit.models import PlatformEvent

    with owner_session() as s:
        return s.scalars(
            select(PlatformEvent)
            .where(col(PlatformEvent.action) == "console.audit_export")
            .order_by(col(PlatformEvent.seq).desc())
        ).first()


def test_a_console_export_cut_short_is_still_audited(acme) -> None:
    import time

    import pyotp

    from pms_dashboard.exports.routes import console_audit_stream

    new = create_console_admin(
        email=f"ops-{uuid.uuid4().hex[:8]}@platform.example", display_name="Ops", password="x" * 20
    )
    signed = console_routes.sign_in_with_code(
        email=new.email, password="x" * 20, code=pyotp.TOTP(new.totp_secret).at(time.time())
    )
    stream = console_audit_stream(signed.token, {"tenant": acme.slug})
    assert next(stream).startswith(b"occurred_at,tenant,")
    stream.close()
    event = _last_console_export()
    assert event is not None and event.admin_id == signed.admin.admin_id
    assert event.detail["completed"] is False and event.detail["filters"] == {"tenant": acme.slug}
