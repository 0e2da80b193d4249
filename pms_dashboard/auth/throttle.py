"""Sign-in throttling per account and per client address, shared by every app process.

The attempts live in PostgreSQL (`signin_attempt`, a platform table the runtime roles cannot
read or write), reached only through two SECURITY DEFINER functions (migration 0009):

* `begin` checks the limits and, if the attempt may go ahead, reserves it as *pending*, in
  one step serialised per account and per address, so a parallel burst from many processes
  still gets at most the limit through. A throttled attempt is refused before any password
  is checked.
* `end` settles the reserved attempt as a success or a failure (call it in the same
  transaction as the sign-in's own writes).

Rules (the settings `PMS_SIGNIN_*` hold the numbers): an account is the tenant slug and the
normalised email, stored only as a sha256; it is locked after `max_account_failures`
failures within the window, and a successful sign-in ends that lockout (failures before it
stop counting: the person who knows the password is back). An address is locked after
`max_address_failures` failures within the window across all accounts, and successes do not
reset it (one known password must not let an address keep spraying other accounts).
Refused attempts are recorded but not counted, so hammering a locked account does not
extend its lockout. Attempts older than a day are pruned by `begin`.

Addresses come from the connection's peer (`request.client.host`): behind a reverse proxy
run the server with its trusted-proxy setting so that is the real client, or every user
shares the proxy's address. Callers without a peer (CLI, tests) pass "" and are not
throttled per address.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from pms_dashboard.people.service import normalize_email
from pms_dashboard.settings import get_settings

MAX_RETRY_MINUTES = 24 * 60

_BEGIN = text(
    "SELECT attempt_id, retry_after, scope, first_refusal"
    " FROM app.signin_attempt_begin(:account, :address, :window, :max_account, :max_address)"
)
_END = text("SELECT app.signin_attempt_end(:id, :success)")


@dataclass(frozen=True, slots=True)
class Attempt:
    """The throttle's answer for one sign-in attempt."""

    id: int | None  # the reserved attempt, to settle with `end`; None when refused
    retry_after: int  # seconds until the next attempt may go ahead; 0 when allowed
    scope: str  # "account", "address" or "account,address" when refused; "" otherwise
    first_refusal: bool  # the first refusal of this account/address within a minute

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0

    @property
    def retry_minutes(self) -> int:
        return retry_minutes(self.retry_after)


def account_key(slug: str, email: str) -> str:
    """sha256 (hex) of the normalised tenant slug and email: the account, without storing
    who it is."""
    normal = f"{slug.strip().lower()}\n{normalize_email(email)}"
    return hashlib.sha256(normal.encode()).hexdigest()


def begin(*, session: Session, account: str | None, ip: str) -> Attempt:
    """Check the limits for `account` (None: address only) and `ip` ("" : no address limit)
    and reserve the attempt if allowed. Commit soon after: the per-account and per-address
    queue is held until the caller's transaction ends."""
    if account is None and not ip:
        return Attempt(id=None, retry_after=0, scope="", first_refusal=False)  # nothing to count
    settings = get_settings()
    row = session.execute(
        _BEGIN,
        {
            "account": account,
            "address": ip[:64],
            "window": settings.signin_window_minutes * 60,
            "max_account": settings.signin_max_account_failures,
            "max_address": settings.signin_max_address_failures if ip else 0,
        },
    ).one()
    return Attempt(
        id=row.attempt_id,
        retry_after=int(row.retry_after),
        scope=str(row.scope),
        first_refusal=bool(row.first_refusal),
    )


def end(*, session: Session, attempt: Attempt, success: bool) -> None:
    """Settle a reserved attempt (in the caller's transaction; a refused one has none)."""
    if attempt.id is not None:
        session.execute(_END, {"id": attempt.id, "success": success})


def retry_minutes(seconds: int) -> int:
    """Whole minutes to wait, rounded up, at least 1."""
    return max(1, min(MAX_RETRY_MINUTES, math.ceil(seconds / 60)))


def throttled_message(minutes: int | str) -> str:
    """The message a refused person sees ("Try again in N minutes"), from a number that may
    come from a URL (anything but a small positive number gives a generic wait)."""
    try:
        n = int(str(minutes).strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_RETRY_MINUTES:
        return "Too many attempts. Try again later."
    return f"Too many attempts. Try again in {n} minute{'s' if n != 1 else ''}."
