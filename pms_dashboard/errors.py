"""The refusals a person is shown, and how input errors become words.

Every domain's refusal (a goal change, a sign-in, an export, a permission) derives from
`UserError`: its message is safe to show and nothing was written. The UI shows exactly these
and nothing else; any other exception is a bug, logged and never shown. This module imports
nothing of the project, so every package (the tenancy room included) may use it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal

from pydantic import ValidationError


class UserError(ValueError):
    """A refusal meant for the person asking; `str(err)` says what to fix. A ValueError, so
    a pydantic validator may raise it and the person still sees which field it is about.
    `field`, when known, names the input it is about, so a form shows it beside that input."""

    field: str | None = None

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        if field is not None:
            self.field = field


# Pydantic's words for a number out of bounds, as people say it (`{}`: the bound).
_BOUNDS = {
    "less_than_equal": ("le", "must be at most {}"),
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be greater than {}"),
    "less_than": ("lt", "must be less than {}"),
}
_NOT_A_NUMBER = {"decimal_parsing", "decimal_type", "float_parsing", "int_parsing"}
_NOT_A_DATE = {"date_parsing", "date_type", "date_from_datetime_parsing"}
# Text lengths (`{}`: the bound).
_LENGTHS = {
    "string_too_short": ("min_length", "needs at least {} characters"),
    "string_too_long": ("max_length", "may have at most {} characters"),
}


def _number(value: object) -> object:
    """A bound as people write it: 100, not 1E+2 or 100.00."""
    if isinstance(value, Decimal):
        text = f"{value:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return value


def _plain(problem: Mapping[str, object]) -> str:
    """The problem in people's words where pydantic's are a developer's."""
    kind, ctx = str(problem["type"]), problem.get("ctx")
    if kind in (_BOUNDS | _LENGTHS) and isinstance(ctx, Mapping):
        key, words = (_BOUNDS | _LENGTHS)[kind]
        bound = ctx.get(key)
        return words.format(_number(bound))
    if kind == "missing" or (problem.get("input") is None and kind in _NOT_A_NUMBER | _NOT_A_DATE):
        return "needs a value"
    if kind in _NOT_A_NUMBER:
        return "must be a number"
    if kind in _NOT_A_DATE:
        return "must be a date"
    if kind in ("literal_error", "enum"):
        return "is not one of the choices"
    return str(problem["msg"])


def _path(problem: Mapping[str, object]) -> list[str]:
    """Where a problem is, as parts ("key_results", "0", "title"): its place in the input,
    then the field a check of the whole model named by raising `UserError(field=...)`."""
    loc = problem["loc"]
    parts = [str(p) for p in loc] if isinstance(loc, tuple) else []
    ctx = problem.get("ctx")
    named = ctx.get("error") if isinstance(ctx, Mapping) else None
    if isinstance(named, UserError) and named.field:
        parts += named.field.split(".")
    return parts


def validation_field(err: ValidationError) -> str | None:
    """The input the first problem is about, as a dotted path ("key_results.0.title"), so a
    form can show the message beside it; None for a problem of the whole form."""
    for problem in err.errors()[:1]:
        return ".".join(_path(problem)) or None
    return None


def field_in(field: str | None, fields: Collection[str]) -> str:
    """Which of a form's `fields` a refusal about `field` (a dotted path) goes beside: the
    field itself or the one it lies in ("key_results.1" holds "key_results.1.title"); ""
    for anything else, so an unknown or forged name only ever reaches the form's own line."""
    parts = (field or "").split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in fields:
            return ".".join(parts[:n])
    return ""


def validation_message(
    err: ValidationError,
    labels: Mapping[str, str] | None = None,
    *,
    limit: int = 3,
    unknown: str = "field",
) -> str:
    """One readable sentence per problem (at most `limit`), named by the field as the form
    labels it ("Due date: must be a date."; `labels` by name or by dotted path), so no
    developer's field name or pydantic prefix reaches the page; a field the form does not
    have is named as unknown."""
    sentences = []
    for problem in err.errors()[: max(limit, 1)]:
        path = _path(problem)
        names = [p for p in path if not p.isdigit()]
        if problem["type"] == "extra_forbidden" and len(names) == 1:
            sentences.append(f"Unknown {unknown} {names[0]!r}.")
            continue
        keys = [".".join(path), *reversed(names)]
        known = [labels[n] for n in keys if labels and n in labels]
        label = known[0] if known else " ".join(names).replace("_", " ")
        text = _plain(problem).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        text = text.rstrip(".")
        sentences.append(f"{label[:1].upper()}{label[1:]}: {text}." if label else f"{text}.")
    return " ".join(sentences) or "Invalid input."
