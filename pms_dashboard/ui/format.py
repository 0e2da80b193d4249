"""How dates, times and numbers read on a page: the one place that decides it.

Services return plain values (`date`, `datetime`, `Decimal`); states turn them into the
strings and numbers their vars hold with these functions (the row converters of
`ui.states.rows` call them). CSV exports have their own, fixed formats (`db.csvsafe`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal


def day(value: date | None) -> str:
    """A calendar date: 2026-11-27."""
    return value.isoformat() if value is not None else ""


def moment(value: datetime | None, *, seconds: bool = False) -> str:
    """A point in time, in UTC and saying so: 2026-11-27 07:01 UTC (with seconds for audit
    trails: 2026-11-27 07:01:23 UTC)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} UTC")


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
