"""How a value becomes a CSV cell: injection-safe text, ISO 8601 times, stable numbers.

Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return, which some
strip before looking) as a formula. OWASP's advice is to prefix such cells with a single
quote, which spreadsheets show but never run. Every column a person typed (titles, names,
comments, ticket numbers...) goes through `safe_text` in SQL, so the neutralising happens
inside PostgreSQL's COPY and the rows reach the browser without a Python pass over them;
`neutralize` is the same rule for the few files pandas builds. Numbers and dates are never
prefixed: a key result's "-5" must stay a number.

It lives with the database helpers, below every domain, because the domains build their own
export statements (reviews' reports) and the exports package reads the domains.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, literal

# Characters that make a spreadsheet treat a cell as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"


def neutralize(value: Any) -> Any:
    """The Python twin of `safe_text`, for cells built outside SQL (pandas summaries)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return PREFIX + value
    return value


def safe_text(expr: Any) -> ColumnElement[str]:
    """A text column whose cells can never start a spreadsheet formula."""
    text_expr = cast(expr, String)
    return case(
        (func.left(text_expr, 1).in_(FORMULA_TRIGGERS), literal(PREFIX) + text_expr),
        else_=text_expr,
    )


def iso_utc(expr: Any) -> ColumnElement[str]:
    """A timestamp as ISO 8601 in UTC (2026-11-27T07:01:23Z), whatever the session's zone."""
    return func.to_char(func.timezone("UTC", expr), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')


def iso_date(expr: Any) -> ColumnElement[str]:
    """A date as ISO 8601 (2026-11-27), whatever the session's DateStyle."""
    return func.to_char(expr, "YYYY-MM-DD")


def bool_text(condition: Any) -> ColumnElement[str]:
    """A boolean as `true` / `false` (COPY would write `t` / `f`)."""
    return case((condition, literal("true")), else_=literal("false"))
