"""`db upgrade --jobs N` when two workers re-assert the runtime roles at the same moment.

Roles are cluster-wide: each whole-database target's migration re-asserts `pms_app` and
`pms_auditor` (ALTER ROLE), so two workers migrating two databases of one cluster update the
same role row, and the second fails with "tuple concurrently updated" (seen on 11 of 100
tenant databases in the tiers benchmark). The target must still reach head.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, pool, text

from pms_dashboard.db import migrate
from pms_dashboard.db.engine import owner_url
from pms_dashboard.settings import APP_ROLE


def test_a_target_whose_role_update_collides_is_migrated_anyway() -> None:
    template = next(t for t in migrate.database_targets() if t.kind == "template")
    head = migrate.head_revision()
    rival = create_engine(owner_url(), poolclass=pool.NullPool)
    outcome: list[migrate.Outcome] = []
    try:
        with rival.connect() as conn:
            # Another worker's role update, not committed yet: the target's own waits for it.
            conn.execute(text(f"ALTER ROLE {APP_ROLE} LOGIN"))
            worker = threading.Thread(
                target=lambda: outcome.append(migrate._worker(template, "head"))
            )
            worker.start()
            time.sleep(1.0)
            conn.commit()  # now the waiting update finds the row changed under it
        worker.join(timeout=60)
    finally:
        rival.dispose()
    assert not worker.is_alive()
    assert outcome[0].ok, outcome[0].error
    assert outcome[0].after == head
