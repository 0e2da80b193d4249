"""How dates, times and numbers read on a page: the one place that decides it.

Services return plain values (`date`, `datetime`, `Decimal`); states turn them into the
strings and numbers their vars hold with these functions (the row converters of
`ui.states.rows` call them). A point in time reads in the zone of the person looking (their
profile's, else their organisation's, else UTC: `auth.zones`), which the signed-in state
reads with the session check of each event and hands to `moment` and `day`. CSV exports
keep their own, fixed formats in UTC (`db.csvsafe`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from pms_dashboard.auth.zones import DEFAULT_ZONE, known_zone


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    """The zone named (UTC for a name no one may choose)."""
    return ZoneInfo(name) if known_zone(name) and name != DEFAULT_ZONE else UTC


def day(value: date | None, *, zone: str = DEFAULT_ZONE) -> str:
    """A calendar date: 2026-11-27; of a point in time, its day in `zone`."""
    if isinstance(value, datetime):
        value = value.astimezone(_zone(zone)).date()
    return value.isoformat() if value is not None else ""


def moment(value: datetime | None, *, zone: str = DEFAULT_ZONE, seconds: bool = False) -> str:
    """A point in time in the reader's `zone`, saying which by its abbreviation:
    2026-11-27 08:01 CET (with seconds for audit trails: 2026-11-27 08:01:23 CET)."""
    if value is None:
        return ""
    return value.astimezone(_zone(zone)).strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} %Z")


def number(value: Decimal | float | int | None) -> str:
    """A quantity as typed, without trailing zeros: 200, 12.5, -5."""
    if value is None:
        return ""
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def fixed(value: Decimal | float | None, *, places: int) -> str:
    """A number to a fixed count of places (a review score as the console lists it: 3.00);
    empty when there is none."""
    if value is None:
        return ""
    return f"{Decimal(str(value)):.{places}f}"


def percent(value: Decimal | float | int | None) -> int:
    """A share of 100 as a whole percent, halves rounded up: 62.5 -> 63."""
    return int(Decimal(str(value or 0)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
