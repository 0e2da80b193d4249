"""Sign-in throttling that slows attackers without locking the owner out, shared by every
app process.

The attempts live in PostgreSQL (`signin_attempt`, a platform table the runtime roles cannot
read or write), reached only through two SECURITY DEFINER functions (migrations 0009, 0013):

* `begin` checks the limits and, if the attempt may go ahead, reserves it as *pending*, in
  one step serialised per account and per address, so a parallel burst from many processes
  still gets at most the limit through. A throttled attempt is refused before any password
  is checked.
* `end` settles the reserved attempt as a success or a failure (call it in the same
  transaction as the sign-in's own writes).

Rules (the settings `PMS_SIGNIN_*` hold the numbers). An account is the tenant slug and the
normalised email, stored only as a sha256. Failures count within the window:

* per account and address pair: after `pair_free_failures` failures, each further attempt
  from the pair waits a growing delay after its latest failure (`pair_delay_seconds`,
  doubling with each failure, at most `pair_max_delay_minutes`); a success from the pair
  clears its failures. An attacker hammering an account from one address slows only
  that pair: the owner, from an address without failures, still signs in.
* per address, across accounts: `max_address_failures` failures lock the address until
  the oldest leaves the window; successes do not reset it (one known password must not
  let an address keep spraying other accounts).
* per account, across addresses: a high hard limit, `max_account_failures`, against
  attacks spread over many addresses; reaching it refuses everyone until the oldest
  failure leaves the window, and is logged and audited (flagged) by the caller.

Refused attempts are recorded but never counted, so hammering a throttled pair or account
does not extend its wait. Attempts older than a day are pruned by `begin`.

Addresses come from the connection's peer (`request.client.host`): behind a reverse proxy
run the server with its trusted-proxy setting so that is the real client, or every user
shares the proxy's address. Callers without a peer (CLI, tests) pass "": they are not
throttled per address, and share one pair per account.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from pms_dashboard.auth.models import normalize_email
from pms_dashboard.errors import UserError
from pms_dashboard.settings import get_settings

MAX_RETRY_MINUTES = 24 * 60

_BEGIN = text(
    "SELECT attempt_id, retry_after, scope, first_refusal"
    " FROM app.signin_attempt_begin(:account, :address, :window, :max_account, :max_address,"
    " :pair_free, :pair_delay, :pair_max_delay)"
)
_END = text("SELECT app.signin_attempt_end(:id, :success)")


@dataclass(frozen=True, slots=True)
class Attempt:
    """The throttle's answer for one sign-in attempt."""

    id: int | None  # the reserved attempt, to settle with `end`; None when refused
    retry_after: int  # seconds until the next attempt may go ahead; 0 when allowed
    # the refusing limits, of "account", "address", "pair", comma separated; "" if allowed
    scope: str
    # one of the refusing limits had not refused this account/address/pair within a minute
    first_refusal: bool

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0

    @property
    def retry_minutes(self) -> int:
        return retry_minutes(self.retry_after)


class Throttled(UserError):
    """A refused attempt (mixed into each sign-in path's own error): the message to show
    and the wait, in seconds and as the sign-in page's `retry` parameter."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        self.retry = retry_param(retry_after)
        self.retry_minutes = retry_minutes(retry_after)
        super().__init__(throttled_message(self.retry))


def account_key(slug: str, email: str) -> str:
    """sha256 (hex) of the normalised tenant slug and email: the account, without storing
    who it is."""
    normal = f"{slug.strip().lower()}\n{normalize_email(email)}"
    return hashlib.sha256(normal.encode()).hexdigest()


def begin(*, session: Session, account: str | None, ip: str) -> Attempt:
    """Check the limits for `account` (None: address only), `ip` ("": no address limit) and
    their pair, and reserve the attempt if allowed. Commit soon after: the per-account and
    per-address queue is held until the caller's transaction ends."""
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
            "pair_free": settings.signin_pair_free_failures,
            "pair_delay": settings.signin_pair_delay_seconds,
            "pair_max_delay": settings.signin_pair_max_delay_minutes * 60,
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


def retry_param(seconds: int) -> str:
    """The wait as the sign-in pages' `retry` parameter: whole minutes ("15"), or whole
    seconds under a minute ("4s": a pair's first delays are seconds, and "1 minute" would
    send the owner who mistyped three times away for nothing)."""
    if seconds < 60:
        return f"{max(1, seconds)}s"
    return str(retry_minutes(seconds))


def throttled_message(retry: int | str) -> str:
    """The message a refused person sees ("Try again in N minutes", or N seconds under a
    minute), from a `retry_param` (minutes, or seconds ending in "s") that may come from a
    URL: anything but a small positive number gives a generic wait."""
    value = str(retry).strip()
    in_seconds = value.endswith("s")
    try:
        n = int(value.removesuffix("s")) if value.isascii() else 0
    except ValueError:
        n = 0
    unit, limit = ("second", 59) if in_seconds else ("minute", MAX_RETRY_MINUTES)
    if not 1 <= n <= limit:
        return "Too many attempts. Try again later."
    return f"Too many attempts. Try again in {n} {unit}{'s' if n != 1 else ''}."
