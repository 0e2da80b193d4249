"""How dates, times and numbers read on a page: the one place that decides it.

Services return plain values (`date`, `datetime`, `Decimal`); states turn them into the
strings and numbers their vars hold with these functions (`display` does a whole service
result at once). CSV exports have their own, fixed formats (`db.csvsafe`).
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Fields holding a share of 100 (a goal's or key result's progress): whole percents on a page.
PERCENT_FIELDS = frozenset({"progress"})


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


def percent(value: Decimal | float | int | None) -> int:
    """A share of 100 as a whole percent, halves rounded up: 62.5 -> 63."""
    return int(Decimal(str(value or 0)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def display(result: Any) -> Any:
    """A service result (a dataclass, or lists and dicts of them) as plain var values: dates
    and times as `day` and `moment` text, percents (`PERCENT_FIELDS`) as whole numbers,
    other decimals as `number` text; everything else as it is."""
    if is_dataclass(result) and not isinstance(result, type):
        return display(asdict(result))
    if isinstance(result, dict):
        return {
            key: percent(value)
            if key in PERCENT_FIELDS and isinstance(value, Decimal | float | int)
            else display(value)
            for key, value in result.items()
        }
    if isinstance(result, list | tuple):
        return [display(item) for item in result]
    if isinstance(result, datetime):
        return moment(result)
    if isinstance(result, date):
        return day(result)
    if isinstance(result, Decimal):
        return number(result)
    return result
