"""The command line's contract for tiers and regions, driven as operators' scripts drive it
(subprocesses): `tenants create --tier --region`, `tenants placement` (JSON, never a
password), `db upgrade`, `db status`; then each tenant's rows are looked for in every
database of every region's cluster."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from sqlalchemy.engine import make_url

from pms_dashboard import cli, keyring
from pms_dashboard.db import engine as db_engine
from pms_dashboard.db import migrate
from pms_dashboard.settings import APP_ROLE, AUDITOR_ROLE, PROJECT_ROOT
from tests.conftest import TenantFixture, add_person
from tests.tiers import HOME, OTHER, rows_by_place

PLACEMENT_KEYS = {"tier", "region", "host", "port", "database", "schema"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pms_dashboard.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _secrets() -> list[str]:
    owner = make_url(db_engine.owner_url()).password
    return [
        p for p in (owner, keyring.db_password(APP_ROLE), keyring.db_password(AUDITOR_ROLE)) if p
    ]


def test_tenants_create_placement_upgrade_status_and_where_the_rows_are() -> None:
    run = uuid.uuid4().hex[:6]
    wanted = {
        f"cli-{run}-s": ("schema", OTHER),
        f"cli-{run}-d": ("database", HOME),
        f"cli-{run}-p": ("pool", OTHER),
    }
    outputs: list[str] = []
    found: dict[str, dict[str, object]] = {}
    for slug, (tier, region) in wanted.items():
        made = _cli("tenants", "create", "--slug", slug, "--name", f"Org {slug}",
                    "--tier", tier, "--region", region)  # fmt: skip
        assert made.returncode == 0, made.stderr
        shown = _cli("tenants", "placement", "--slug", slug)
        assert shown.returncode == 0, shown.stderr
        outputs += [made.stdout, made.stderr, shown.stdout, shown.stderr]
        placement = json.loads(shown.stdout)
        assert set(placement) >= PLACEMENT_KEYS
        assert (placement["tier"], placement["region"]) == (tier, region)
        assert isinstance(placement["port"], int) and placement["host"]
        found[slug] = placement

    upgraded = _cli("db", "upgrade", "--no-progress")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    status = _cli("db", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    outputs += [upgraded.stdout, upgraded.stderr, status.stdout, status.stderr]
    head = migrate.head_revision()
    for p in found.values():
        if p["tier"] != "pool":  # a tenant's own target, listed by revision
            line = next(x for x in status.stdout.splitlines() if f"{p['database']}" in x
                        and (p["schema"] == "public" or f".{p['schema']}" in x))  # fmt: skip
            assert line.split()[-1] == head, line

    everything = "\n".join(outputs)
    assert "password" not in everything.lower()
    assert [s for s in _secrets() if s in everything] == []

    ids = {slug: uuid.UUID(str(p["tenant_id"])) for slug, p in found.items()}
    for slug, tenant_id in ids.items():  # a person too, written at the placement
        add_person(TenantFixture(id=tenant_id, slug=slug), "someone")
    rows = rows_by_place(ids.values())
    for slug, p in found.items():
        where = (p["port"], p["database"], p["schema"])
        assert set(rows[ids[slug]]) == {where}, (slug, rows[ids[slug]])
        assert rows[ids[slug]][where] >= 2  # its tenant row and the person


def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    slug = f"cli-bad-{uuid.uuid4().hex[:6]}"
    for args, words in (
        (["--tier", "schema", "--region", "mars"], "unknown region"),
        (["--tier", "pool", "--region", HOME, "--url", "postgresql://h/db"], "database tier"),
    ):
        capsys.readouterr()
        assert cli.main(["tenants", "create", "--slug", slug, "--name", "Bad", *args]) == 2
        assert words in capsys.readouterr().err
    assert cli.main(["tenants", "placement", "--slug", slug]) == 2
    assert f"no tenant with slug {slug!r}" in capsys.readouterr().err
