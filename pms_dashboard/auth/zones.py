"""The time zones a person may choose for the dates and times they read (IANA names, as
`zoneinfo` knows them), and which one is in force for them."""

from __future__ import annotations

import zoneinfo
from typing import Any

# Every IANA zone but the machine's own ("localtime") and the placeholder "Factory".
TIME_ZONES: tuple[str, ...] = tuple(
    sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
)
_KNOWN = frozenset(TIME_ZONES)
DEFAULT_ZONE = "UTC"


def known_zone(name: Any) -> bool:
    """Whether `name` is a zone a person may choose (text, one of `TIME_ZONES`)."""
    return isinstance(name, str) and name in _KNOWN


def zone_in_force(own: Any, organisation: Any) -> str:
    """The zone a person's dates are shown in: their own, else their organisation's, else
    UTC (a stored name no longer known counts as none)."""
    return next((z for z in (own, organisation) if known_zone(z)), DEFAULT_ZONE)
