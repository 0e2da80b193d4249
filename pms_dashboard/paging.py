"""Server-side paging shared by every list: a page never holds more than `page_size` rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows plus what a pager needs."""

    rows: list[Any] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 10

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)


def page_count(total: int, page_size: int) -> int:
    """Number of pages for `total` rows (at least one, so an empty list has page 1 of 1)."""
    return max(1, -(-total // page_size))
