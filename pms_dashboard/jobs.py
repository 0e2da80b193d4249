"""Background work a page starts in the app process, each step its own transaction (an entry
point, like the command line): sealing an organisation's free text after it opted in to
encryption from its Encryption page.

The pass itself is recorded in the organisation's key configuration (`keys.rotation`), so a
restart loses nothing: `cli keys rotate` (or the next opt-in from the page) resumes it.
Batches run as the owner at the organisation's placement: the app role may not rewrite
history tables such as calibration changes.
"""

from __future__ import annotations

import logging
import threading
import uuid

from pms_dashboard.keys import rotation
from pms_dashboard.tenancy.session import owner_session

logger = logging.getLogger(__name__)

_sealing: set[uuid.UUID] = set()
_sealing_guard = threading.Lock()


def seal_pending(tenant_id: uuid.UUID) -> bool:
    """Carry out the organisation's sealing or rotation pass under way, in a thread of this
    process (one per organisation), batch by batch; whether one was started. Call after the
    transaction that started the pass has committed."""
    with _sealing_guard:
        if tenant_id in _sealing:
            return False
        _sealing.add(tenant_id)
    threading.Thread(target=_seal, args=(tenant_id,), name="seal", daemon=True).start()
    return True


def _seal(tenant_id: uuid.UUID) -> None:
    try:
        while True:
            with owner_session(tenant_id) as s:
                done = rotation.rotate_batch(session=s, tenant_id=tenant_id).finished
            if done:
                return
    except Exception:  # the pass stays recorded: `cli keys rotate` resumes it
        logger.exception("sealing the free text of %s stopped", tenant_id)
    finally:
        with _sealing_guard:
            _sealing.discard(tenant_id)
