"""The refusals a person is shown, and how input errors become words.

Every domain's refusal (a goal change, a sign-in, an export, a permission) derives from
`UserError`: its message is safe to show and nothing was written. The UI shows exactly these
and nothing else; any other exception is a bug, logged and never shown. This module imports
nothing of the project, so every package (the tenancy room included) may use it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError


class UserError(ValueError):
    """A refusal meant for the person asking; `str(err)` says what to fix. A ValueError, so
    a pydantic validator may raise it and the person still sees which field it is about."""


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
        text = str(problem["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        text = text.rstrip(".")
        sentences.append(f"{label[:1].upper()}{label[1:]}: {text}." if label else f"{text}.")
    return " ".join(sentences) or "Invalid input."
