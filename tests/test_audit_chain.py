"""The tamper-evident audit trail: the app can only append (through the SECURITY DEFINER
function, into its own tenant), each tenant's events form a hash chain, and `audit verify`
names the first row that was altered, removed or moved."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import exc, text

from pms_dashboard import cli
from pms_dashboard.audit import service as audit
from pms_dashboard.audit.chain import verify
from pms_dashboard.tenancy.session import contextless_session, owner_session, tenant_session
from tests.conftest import TenantFixture, ctx


def append(t: TenantFixture, n: int = 1, action: str = "test.event") -> list[uuid.UUID]:
    with tenant_session(ctx(t, "admin")) as s:
        return [
            audit.record(session=s, action=action, actor_id=t.user_id("admin"),
                         detail={"n": i, "text": "ünïcode ✓"})
            for i in range(n)
        ]  # fmt: skip


def chain_rows(t: TenantFixture) -> list[tuple[int, str, str]]:
    with owner_session(t.id) as s:
        return [
            (int(seq), prev, h)
            for seq, prev, h in s.execute(
                text("SELECT seq, prev_hash, hash FROM audit_event WHERE tenant_id = :t "
                     "ORDER BY seq"), {"t": t.id},
            )
        ]  # fmt: skip


def check(t: TenantFixture):
    with owner_session(t.id) as s:
        return verify(s.connection(), tenant_id=t.id)


@pytest.fixture
def t(make_tenant: Callable[..., TenantFixture]) -> TenantFixture:
    return make_tenant()


def _pg(err: BaseException) -> BaseException:
    assert isinstance(err, exc.DBAPIError)
    return err.orig  # type: ignore[return-value]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO audit_event (tenant_id, seq, action, hash) VALUES (:t, 99, 'forged', 'x')",
        "UPDATE audit_event SET action = 'edited'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ],
)
def test_the_app_cannot_write_the_table_itself(t, statement) -> None:
    append(t, 2)
    with pytest.raises(exc.DBAPIError) as err, tenant_session(ctx(t, "admin")) as s:
        s.connection().execute(text(statement), {"t": t.id})
    assert isinstance(_pg(err.value), psycopg.errors.InsufficientPrivilege)
    assert len(chain_rows(t)) == 2


def test_appends_go_to_the_context_tenant_only_and_need_one(t, make_tenant) -> None:
    other = make_tenant()
    append(other, 1)
    append(t, 3)  # A's context: whatever the event says, it lands in A's chain
    assert [r[0] for r in chain_rows(t)] == [1, 2, 3]
    assert [r[0] for r in chain_rows(other)] == [1]
    with pytest.raises(exc.DBAPIError) as err, contextless_session() as s:
        audit.record(session=s, action="test.no_context")
    assert isinstance(_pg(err.value), psycopg.errors.InsufficientPrivilege)


def test_each_row_hashes_its_content_and_the_previous_hash(t) -> None:
    append(t, 4)
    rows = chain_rows(t)
    assert rows[0][1] == ""
    assert all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))
    assert len({h for _, _, h in rows}) == 4 and all(len(h) == 64 for _, _, h in rows)
    result = check(t)
    assert result.ok and result.events == 4


def test_a_rolled_back_change_leaves_no_event_and_no_gap(t) -> None:
    append(t, 1)
    with pytest.raises(RuntimeError), tenant_session(ctx(t, "admin")) as s:
        audit.record(session=s, action="test.rolled_back")
        raise RuntimeError("the change fails after its event was written")
    append(t, 1)
    assert [r[0] for r in chain_rows(t)] == [1, 2]
    with owner_session() as s:
        actions = (
            s.execute(text("SELECT action FROM audit_event WHERE tenant_id = :t"), {"t": t.id})
            .scalars()
            .all()
        )
    assert "test.rolled_back" not in actions
    assert check(t).ok


def _tamper(t: TenantFixture, sql: str) -> None:
    """Rewrite the trail as the owner at the tenant's placement (what an attacker with the
    database's keys could do)."""
    with owner_session(t.id) as s:
        for statement in sql.split(";"):
            s.execute(text(statement), {"t": t.id})


@pytest.mark.parametrize(
    ("sql", "bad_seq", "problem"),
    [
        ("UPDATE audit_event SET detail = '{\"n\": 42}' WHERE tenant_id = :t AND seq = 3",
         3, "altered"),
        ("UPDATE audit_event SET occurred_at = occurred_at - interval '1 hour'"
         " WHERE tenant_id = :t AND seq = 2", 2, "altered"),
        ("UPDATE audit_event SET flagged = true WHERE tenant_id = :t AND seq = 4", 4, "altered"),
        ("DELETE FROM audit_event WHERE tenant_id = :t AND seq = 3", 4, "missing"),
        # reorder: rows 2 and 4 swap places
        ("UPDATE audit_event SET seq = -seq WHERE tenant_id = :t AND seq IN (2, 4);"
         "UPDATE audit_event SET seq = CASE seq WHEN -2 THEN 4 ELSE 2 END"
         " WHERE tenant_id = :t AND seq IN (-2, -4)", 2, "follow"),
        # a row rewritten with a fresh, self-consistent hash still breaks the next link
        ("UPDATE audit_event SET action = 'covered.up', hash = app.audit_event_hash(tenant_id,"
         " seq, occurred_at, actor_id, 'covered.up', entity_type, entity_id, flagged, ip,"
         " detail, prev_hash) WHERE tenant_id = :t AND seq = 3", 4, "follow"),
    ],
)  # fmt: skip
def test_verify_names_the_first_broken_row(t, sql, bad_seq, problem) -> None:
    append(t, 5)
    assert check(t).ok
    _tamper(t, sql)
    result = check(t)
    assert not result.ok
    [broken] = result.breaks
    assert (broken.tenant_slug, broken.seq) == (t.slug, bad_seq)
    assert problem in broken.problem


def test_cli_reports_ok_or_the_broken_row(t, capsys) -> None:
    append(t, 3)
    assert cli.main(["audit", "verify", "--tenant", t.slug]) == 0
    assert "OK: 3 events in 1 tenants" in capsys.readouterr().out
    _tamper(t, "UPDATE audit_event SET action = 'x' WHERE tenant_id = :t AND seq = 2")
    assert cli.main(["audit", "verify", "--tenant", t.slug]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN {t.slug}: event #2" in out and "altered" in out
    assert cli.main(["audit", "verify", "--tenant", "no-such-tenant"]) == 2


def _broken(out: str) -> dict[str, str]:
    """slug -> the BROKEN line naming it, from `audit verify`'s output."""
    lines = [line for line in out.splitlines() if line.startswith("BROKEN ")]
    return {line.split()[1].rstrip(":"): line for line in lines}


def test_cli_verifies_every_placement_and_finds_a_tampered_schema_tenant(
    make_tenant, capsys
) -> None:
    """`audit verify` checks the chains of pool, schema and database tenants (in both
    regions) where they live, and the platform's; a row altered in a schema tenant's own
    schema (or in a tenant database, or in the pool) is found and named, and `--tenant`
    goes to each tenant's placement. (Other tests leave tampered trails of their own
    tenants behind, so only these tenants' lines are judged.)"""
    tiers = {
        "pool": make_tenant(),
        "schema": make_tenant(tier="schema"),
        "database": make_tenant(tier="database", region="us-east"),
    }
    for n, t in enumerate(tiers.values(), start=2):
        append(t, n)
    cli.main(["audit", "verify"])
    out = capsys.readouterr().out
    assert "the platform chain intact" in out
    assert not set(_broken(out)) & {t.slug for t in tiers.values()}
    for n, t in enumerate(tiers.values(), start=2):
        assert cli.main(["audit", "verify", "--tenant", t.slug]) == 0
        assert f"OK: {n} events in 1 tenants" in capsys.readouterr().out

    victim = tiers["schema"]
    _tamper(victim, "UPDATE audit_event SET detail = '{}' WHERE tenant_id = :t AND seq = 2")
    assert cli.main(["audit", "verify"]) == 1
    broken = _broken(capsys.readouterr().out)
    assert f"{victim.slug}: event #2" in broken[victim.slug] and "altered" in broken[victim.slug]
    assert tiers["pool"].slug not in broken and tiers["database"].slug not in broken
    assert cli.main(["audit", "verify", "--tenant", victim.slug]) == 1
    assert f"BROKEN {victim.slug}: event #2" in capsys.readouterr().out
    for tier in ("pool", "database"):
        assert cli.main(["audit", "verify", "--tenant", tiers[tier].slug]) == 0

    # the whole check reaches the tenant database (us-east) and the pool as well
    _tamper(tiers["database"], "DELETE FROM audit_event WHERE tenant_id = :t AND seq = 2")
    _tamper(tiers["pool"], "UPDATE audit_event SET ip = '6.6.6.6' WHERE tenant_id = :t AND seq = 1")
    assert cli.main(["audit", "verify"]) == 1
    broken = _broken(capsys.readouterr().out)
    assert (
        "event #3" in broken[tiers["database"].slug] and "missing" in broken[tiers["database"].slug]
    )
    assert "event #1" in broken[tiers["pool"].slug]
    assert victim.slug in broken


def test_eight_concurrent_writers_leave_one_valid_chain(t) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer() -> None:
        try:
            start.wait()
            for _ in range(25):
                append(t, 1, action="test.concurrent")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert [r[0] for r in chain_rows(t)] == list(range(1, 201))
    result = check(t)
    assert result.ok and result.events == 200


# ---------------------------------------------- refusals: audited, cross-tenant ones flagged


def _events(t: TenantFixture, prefix: str = "access.") -> list[tuple[str, bool, dict]]:
    with owner_session() as s:
        return [
            (a, f, d)
            for a, f, d in s.execute(
                text("SELECT action, flagged, detail FROM audit_event WHERE tenant_id = :t"
                     " AND action LIKE :p ORDER BY seq"), {"t": t.id, "p": f"{prefix}%"},
            )
        ]  # fmt: skip


def test_refusals_are_audited_and_cross_tenant_ids_reported_to_the_platform_only(
    t, make_tenant
) -> None:
    from datetime import date, timedelta

    from pms_dashboard.auth.permissions import PermissionDenied
    from pms_dashboard.goals import service as goals
    from pms_dashboard.goals.schemas import GoalInput
    from tests.trails import cross_tenant_since, mentions, platform_head

    other = make_tenant()
    day = date.today()
    data = GoalInput(title="Secret plan", start_date=day, due_date=day + timedelta(days=9))
    owner_ctx = ctx(other, "emp1")
    with tenant_session(owner_ctx) as s:
        foreign_goal = goals.create_goal(session=s, actor=owner_ctx, data=data)
    emp = ctx(t, "emp1")
    with tenant_session(emp) as s:
        peer_goal = goals.create_goal(
            session=s, actor=emp, data=data.model_copy(update={"title": "Peer goal"})
        )
    emp2 = ctx(t, "emp2")
    head = platform_head()
    messages = []
    for goal_id in (foreign_goal, peer_goal, uuid.uuid4(), "not-an-id"):
        with pytest.raises(PermissionDenied) as refused, tenant_session(emp2) as s:
            goals.goal_detail(session=s, actor=emp2, goal_id=goal_id)
        messages.append(refused.value.message)
    # another tenant's id, an unknown one and garbage: one answer; a peer's goal: no access
    assert messages[0] == messages[2] == messages[3] != messages[1]
    events = _events(t)
    assert [(a, f) for a, f, _ in events] == [
        ("access.not_found", True),  # another tenant's goal id: as if it existed nowhere
        ("access.denied", True),  # a peer's goal: same tenant, not theirs
        ("access.not_found", True),  # an id that exists nowhere
        ("access.not_found", True),  # not an id at all
    ]
    assert events[0][2] == events[2][2] == events[3][2]  # nothing tells them apart
    assert not mentions(events, foreign_goal) and not mentions(events, "cross_tenant")
    assert all(d["action"] == "view" and d["role"] == "employee" for _, _, d in events)
    assert _events(other) == []  # the other tenant's trail is untouched by the attempt
    # the platform's trail has the attempt, flagged, with both tenants, the actor and the id
    [report] = cross_tenant_since(head)
    assert report | {"tenant_event_id": None, "tenant_event_seq": None} == {
        "flagged": True, "tenant_id": str(t.id), "tenant": t.slug,
        "actor_id": str(emp2.user_id), "kind": "goal", "foreign_id": str(foreign_goal),
        "owner_tenant_id": str(other.id), "owner_tenant": other.slug,
        "tenant_event_id": None, "tenant_event_seq": None,
    }  # fmt: skip
    assert check(t).ok


def test_the_app_role_reaches_the_platform_trail_only_through_the_narrow_report(
    t, make_tenant
) -> None:
    """`app.report_foreign_id` is the app role's only way into the platform's trail: SECURITY
    DEFINER with a pinned search_path, returning nothing; it reports only an id of another
    tenant, and only for this tenant's own not-found refusal. The old yes/no question
    (`app.is_foreign_id`) and the trail's append function are out of the app role's reach."""
    from tests.trails import cross_tenant_since, platform_head

    with owner_session() as s:
        row = s.execute(
            text(
                "SELECT prosecdef, proconfig, prorettype::regtype::text AS returns,"
                " has_function_privilege('pms_app', oid, 'EXECUTE') AS app_exec,"
                " has_function_privilege('pms_auditor', oid, 'EXECUTE') AS auditor_exec"
                " FROM pg_proc WHERE oid = 'app.report_foreign_id(uuid, uuid)'::regprocedure"
            )
        ).one()
        others = s.execute(
            text(
                "SELECT has_function_privilege('pms_app', 'app.is_foreign_id(uuid)', 'EXECUTE'),"
                " has_function_privilege('pms_app',"
                " 'app.append_platform_event(uuid, text, jsonb, text)', 'EXECUTE')"
            )
        ).one()
    assert row.prosecdef and row.returns == "void" and row.app_exec and not row.auditor_exec
    assert any(c.startswith("search_path=pg_catalog") and c.endswith("pg_temp")
               for c in row.proconfig)  # fmt: skip
    assert tuple(others) == (False, False)

    other = make_tenant()
    foreign_person = other.user_id("emp1")
    head = platform_head()
    with tenant_session(ctx(t, "admin")) as s:
        plain = audit.record(session=s, action="goal.update", actor_id=t.user_id("admin"))
        refusal = audit.record(
            session=s, action="access.not_found", actor_id=t.user_id("admin"),
            entity_type="person", flagged=True,
        )  # fmt: skip
        report = text("SELECT app.report_foreign_id(:id, :event)")
        # not a refusal, an event of no one, an id of this tenant or of no tenant: nothing
        # reported; and every answer, the one that is reported included, is the same void
        answers = {
            s.execute(report, {"id": target, "event": event}).scalar_one()
            for target, event in (
                (foreign_person, plain), (foreign_person, uuid.uuid4()),
                (t.user_id("emp1"), refusal), (uuid.uuid4(), refusal), (foreign_person, refusal),
            )
        }  # fmt: skip
    assert len(answers) == 1 and not answers.pop()
    [reported] = cross_tenant_since(head)
    assert (reported["foreign_id"], reported["owner_tenant_id"], reported["tenant_id"]) == (
        str(foreign_person), str(other.id), str(t.id),
    )  # fmt: skip
    # without a tenant context the function reports nothing either
    with contextless_session() as s:
        s.execute(text("SELECT app.report_foreign_id(:id, :e)"), {"id": foreign_person,
                                                                  "e": refusal})  # fmt: skip
    assert len(cross_tenant_since(head)) == 1
