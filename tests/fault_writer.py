"""An app process for tests/test_faults.py to SIGKILL in the middle of its writes.

Run as `python -m tests.fault_writer --tenant TENANT:USER ...` with DATABASE_URL pointing at
the test's own cluster. One thread per tenant creates goals (two key results each) through
the real service in `tenant_session`s as `pms_app`, and prints `goal <id> <tenant> <pid>`
(pid: the server backend it used) only after the `with` block has committed. Once
`--hold-after` goals are committed, another thread creates one more goal in the first
tenant, prints `holding <id> <tenant> <pid>` and then sits inside that open transaction
(holding the tenant's audit-chain lock, so that tenant's writer queues behind it): the kill
is sure to land mid-transaction. A watchdog ends the process after `--max-seconds`, so an
orphan never outlives a failed test by long.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text

from pms_dashboard.goals import service
from pms_dashboard.goals.schemas import GoalInput, KeyResultInput
from pms_dashboard.tenancy.context import TenantContext
from pms_dashboard.tenancy.session import tenant_session

_print_lock = threading.Lock()
_committed = 0  # goals committed so far, all threads
_hold_after = 0  # from --hold-after
_enough = threading.Event()  # set once _hold_after goals are committed


def goal_with_two_key_results(title: str) -> GoalInput:
    """The unit of write both fault tests use: a goal and its two key results, one request."""
    today = date.today()
    return GoalInput(
        title=title,
        start_date=today - timedelta(days=7),
        due_date=today + timedelta(days=60),
        key_results=[
            KeyResultInput(title="Customers called", target_value=Decimal(40)),
            KeyResultInput(title="Tickets open", start_value=Decimal(30), target_value=Decimal(5)),
        ],
    )


def _say(*words: object) -> None:
    with _print_lock:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()


def _create(ctx: TenantContext, title: str, *, hold: bool = False) -> None:
    global _committed
    with tenant_session(ctx) as session:
        goal_id = service.create_goal(
            session=session, actor=ctx, data=goal_with_two_key_results(title)
        )
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        if hold:
            _say("holding", goal_id, ctx.tenant_id, pid)
            time.sleep(3600)  # the test kills us here, inside the open transaction
    _say("goal", goal_id, ctx.tenant_id, pid)  # the with block exited: committed
    with _print_lock:
        _committed += 1
        n = _committed
    if n >= _hold_after:
        _enough.set()


def _stream(ctx: TenantContext) -> None:
    for i in range(1_000_000):
        _create(ctx, f"Stream goal {i}")


def _hold(ctx: TenantContext) -> None:
    _enough.wait()
    _create(ctx, "Held goal", hold=True)


def _crash_on_error(
    target: Callable[[TenantContext], None], ctx: TenantContext
) -> threading.Thread:
    def run() -> None:
        try:
            target(ctx)
        except BaseException as err:  # any failure here is a test failure: say so and stop
            sys.stderr.write(f"fault_writer: {type(err).__name__}: {err}\n")
            sys.stderr.flush()
            os._exit(3)

    return threading.Thread(target=run, daemon=True)


def main() -> None:
    global _hold_after
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", action="append", required=True, help="TENANT_ID:USER_ID")
    parser.add_argument("--hold-after", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=60)
    args = parser.parse_args()
    _hold_after = args.hold_after
    actors = []
    for pair in args.tenant:
        tenant, user = pair.split(":")
        actors.append(
            TenantContext(tenant_id=uuid.UUID(tenant), user_id=uuid.UUID(user), role="employee")
        )
    threads = [_crash_on_error(_stream, a) for a in actors]
    threads.append(_crash_on_error(_hold, actors[0]))
    for t in threads:
        t.start()
    time.sleep(args.max_seconds)
    sys.stderr.write("fault_writer: nobody killed me; giving up\n")
    os._exit(2)


if __name__ == "__main__":
    main()
