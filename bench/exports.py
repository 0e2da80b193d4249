"""Export throughput and memory: the streaming route against a raw COPY of the same rows.

A tenant with 1,000,000 goals (and one with 100,000). For each, the goals export is
downloaded over HTTP from the real route (session cookie, tenant session as `pms_app` under
RLS, COPY, 256 KiB chunks) served by granian in its own process; the baseline is the same
statement run as `COPY (...) TO STDOUT` by the owner (no RLS, no HTTP) in the same run,
read to the end through psycopg the same way. The serving process's resident memory is
sampled every 20 ms during each download; a fresh server per size, so each peak is its own.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.common import prepare_database, write_section

# goals per user chosen so the export (non-archived goals, the list default) has ~100k / ~1M
# rows; runs per size: a 100k export takes about a second, so one slow run moves its median
SIZES = (("bench-exports-100k", 100, 1_112), ("bench-exports-1m", 1_000, 1_112))
RUNS = {"bench-exports-100k-0001": 11, "bench-exports-1m-0001": 5}


@dataclass(frozen=True)
class Result:
    rows: int
    mib: float
    route_s: float
    copy_s: float
    first_byte_s: float  # route: until the first chunk arrived
    pair_ratios: tuple[float, ...]  # copy / route of each interleaved pair
    runs: int
    rss_idle_mib: float
    rss_peak_mib: float

    @property
    def ratio(self) -> float:
        return self.copy_s / self.route_s


def _seed(prefix: str, users: int, per_user: int) -> str:
    from pms_dashboard.seed import seed_bulk

    seed_bulk(tenants=1, users_per_tenant=users, goals_per_user=per_user, prefix=prefix,
              progress=True)  # fmt: skip
    return f"{prefix}-0001"


def _token(slug: str) -> str:
    """A tenant admin's session (promoted for the benchmark): the export then holds every goal."""
    from sqlalchemy import text

    from pms_dashboard.settings import get_settings
    from pms_dashboard.tenancy.session import owner_session
    from pms_dashboard.ui.driver import token_for

    email = f"user0000@{slug}.example"
    with owner_session() as s:
        s.execute(
            text(
                "UPDATE app_user SET role = 'tenant_admin' WHERE email = :e "
                "AND tenant_id = (SELECT id FROM tenant WHERE slug = :s)"
            ),
            {"e": email, "s": slug},
        )
    return token_for(slug, email, get_settings().demo_password)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (granian runs its worker as a child)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        pids += [int(c) for c in children]
    return total / 1024


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _tree_rss_mib(self.pid))
            time.sleep(0.02)


def _server(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(port),
           "--workers", "1", "--no-log", "bench.export_server:app"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/export/goals.csv", timeout=2)
        except urllib.error.HTTPError:
            return proc  # 401: up and answering
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("export server did not start")


def _download(port: int, token: str) -> tuple[int, float, float]:
    """Bytes, seconds until the end, seconds until the first chunk."""
    import httpx

    size = 0
    first = 0.0
    start = time.perf_counter()
    with httpx.stream(
        "GET",
        f"http://127.0.0.1:{port}/api/export/goals.csv?scope=all",
        cookies={"pms_session": token},
        timeout=600,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            first = first or time.perf_counter() - start
            size += len(chunk)
    return size, time.perf_counter() - start, first


def _raw_copy(slug: str) -> tuple[int, int, float]:
    """The goals export's own statement, COPY'd by the owner with the tenant named in SQL."""
    import psycopg
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from pms_dashboard.auth.models import User
    from pms_dashboard.db.engine import owner_engine
    from pms_dashboard.exports.catalog import EXPORTS
    from pms_dashboard.exports.stream import copy_sql
    from pms_dashboard.tenancy.context import TenantContext
    from pms_dashboard.tenancy.models import Tenant

    spec = EXPORTS["goals"]
    with Session(bind=owner_engine()) as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
        admin = s.scalars(
            select(User).where(User.tenant_id == tenant_id, User.role == "tenant_admin")
        ).first()
        assert tenant_id is not None and admin is not None
        ctx = TenantContext(tenant_id=tenant_id, user_id=admin.id, role=admin.role)
        s.info["tenant_id"] = tenant_id  # the statement's own lookups name this tenant
        sql, params = copy_sql(s, spec.build(s, ctx, spec.params(scope="all")))
        raw = s.connection().connection.dbapi_connection
        assert isinstance(raw, psycopg.Connection)
        size = rows = 0
        start = time.perf_counter()
        with raw.cursor() as cur:
            with cur.copy(sql, params) as copy:
                for data in copy:
                    size += len(data)
            elapsed = time.perf_counter() - start
            rows = cur.rowcount
        s.rollback()
    return rows, size, elapsed


def _measure(slug: str) -> Result:
    token = _token(slug)
    port = _free_port()
    proc = _server(port)
    try:
        _download(port, token)  # warm-up (imports, pools, caches)
        idle = _tree_rss_mib(proc.pid)
        sampler = _Sampler(proc.pid)
        sampler.start()
        route, firsts, copies = [], [], []
        for _ in range(RUNS[slug]):  # interleaved, so drift on the machine hits both alike
            size, seconds, first = _download(port, token)
            route.append(seconds)
            firsts.append(first)
            copies.append(_raw_copy(slug))
        sampler.stop.set()
        sampler.join()
    finally:
        proc.terminate()
        proc.wait(10)
    rows, raw_size = copies[0][0], copies[0][1]
    assert abs(raw_size - size) <= 2, (raw_size, size)  # the same bytes, header and all
    return Result(
        rows=rows,
        mib=size / 2**20,
        route_s=statistics.median(route),
        copy_s=statistics.median(c[2] for c in copies),
        first_byte_s=statistics.median(firsts),
        pair_ratios=tuple(c[2] / r for c, r in zip(copies, route, strict=True)),
        runs=len(route),
        rss_idle_mib=idle,
        rss_peak_mib=sampler.peak,
    )


_HEADER = (
    "| Rows | MiB | runs | raw COPY s | route s | route first byte s | route MiB/s | ratio "
    "| per pair | server RSS idle MiB | peak MiB |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
)


def run() -> list[Result]:
    from rich.progress import track

    prepare_database()
    slugs = [_seed(*size) for size in SIZES]
    results = [_measure(slug) for slug in track(slugs, description="exports")]
    rows = "\n".join(
        f"| {r.rows:,} | {r.mib:.0f} | {r.runs} | {r.copy_s:.2f} | {r.route_s:.2f} "
        f"| {r.first_byte_s:.2f} | {r.mib / r.route_s:.0f} | **{r.ratio:.2f}** "
        f"| {min(r.pair_ratios):.2f}–{max(r.pair_ratios):.2f} | {r.rss_idle_mib:.0f} "
        f"| {r.rss_peak_mib:.0f} |"
        for r in results
    )
    write_section(
        "Goals export: streaming route vs raw COPY (issue 5)",
        f"""The goals export of a tenant admin (all the tenant's goals but the archived ones, the
list's default) downloaded over HTTP from the real route (cookie, tenant session as
`pms_app` under RLS, COPY, 256 KiB chunks), served by granian in its own process on this
machine; the client reads it to the end.
Baseline: the same statement as `COPY (...) TO STDOUT` by the owner (no RLS, no HTTP), read
to the end through psycopg, in the same run. Medians of the runs, which alternate between
the two. Ratio = COPY time / route time (target at least 0.8); "per pair" is the range of
that ratio over the alternating pairs. "first byte": how long the route took to send its
first chunk — the statement sorts the goals (the list's order) before COPY emits a row, so
most of an export's time is the database's, before anything is sent, and it varies from run
to run on both sides. Memory: resident set of the serving process (and its worker), idle
after a warm-up export and the peak sampled every 20 ms during the downloads.

{_HEADER}
{rows}
""",
    )
    return results


if __name__ == "__main__":
    for r in run():
        print(f"{r.rows:>9,} rows {r.mib:.0f} MiB  copy {r.copy_s:.2f}s  route {r.route_s:.2f}s")
        print(f"  ratio {r.ratio:.2f}  rss {r.rss_idle_mib:.0f}->{r.rss_peak_mib:.0f} MiB")
