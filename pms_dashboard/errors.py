"""The refusals a person is shown, and how input errors become words.

Every domain's refusal (a goal change, a sign-in, an export, a permission) derives from
`UserError`: its message is safe to show and nothing was written. The UI shows exactly these
and nothing else; any other exception is a bug, logged and never shown. This module imports
nothing of the project, so every package (the tenancy room included) may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def _number(value: object) -> object:
    """A bound as people write it: 100, not 1E+2 or 100.00."""
    if isinstance(value, Decimal):
        text = f"{value:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return value


def _plain(problem: Mapping[str, object]) -> str:
    """The problem in people's words where pydantic's are a developer's."""
    kind, ctx = str(problem["type"]), problem.get("ctx")
    if kind in _BOUNDS and isinstance(ctx, Mapping):
        key, words = _BOUNDS[kind]
        bound = ctx.get(key)
        return words.format(_number(bound))
    if kind in _NOT_A_NUMBER:
        return "must be a number"
    return str(problem["msg"])


def validation_field(err: ValidationError) -> str | None:
    """The input the first problem is about, as a dotted path ("key_results.0.title"), so a
    form can show the message beside it; None for a problem of the whole form."""
    for problem in err.errors()[:1]:
        return ".".join(str(p) for p in problem["loc"]) or None
    return None


def validation_message(
    err: ValidationError,
    labels: Mapping[str, str] | None = None,
    *,
    limit: int = 3,
    unknown: str = "field",
) -> str:
    """One readable sentence per problem (at most `limit`), named by the field as the form
    labels it ("Due date: Input should be a valid date."), so no developer's field name or
    pydantic prefix reaches the page; a field the form does not have is named as unknown."""
    sentences = []
    for problem in err.errors()[: max(limit, 1)]:
        names = [str(p) for p in problem["loc"] if not isinstance(p, int)]
        if problem["type"] == "extra_forbidden" and len(names) == 1:
            sentences.append(f"Unknown {unknown} {names[0]!r}.")
            continue
        known = [labels[n] for n in reversed(names) if labels and n in labels]
        label = known[0] if known else " ".join(names).replace("_", " ")
        text = _plain(problem).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        text = text.rstrip(".")
        sentences.append(f"{label[:1].upper()}{label[1:]}: {text}." if label else f"{text}.")
    return " ".join(sentences) or "Invalid input."
