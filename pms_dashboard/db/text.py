"""Text that goes into SQL patterns (always as a bound parameter, never spliced)."""

from __future__ import annotations


def escape_like(text: str) -> str:
    """`text` matched literally by LIKE/ILIKE ... ESCAPE '\\' (its % and _ are not wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
