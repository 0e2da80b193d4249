"""Form pieces every form uses: a labelled control, a refusal's words beside the input they
are about, and a native <select>."""

from __future__ import annotations

from typing import Any

import reflex as rx

# Native <select>: its value reaches the form's submit data like any input, and browser
# tests drive it with select_option.
# Styled as Radix's own text fields (height, radius, border, font), and never wider than
# its box: a long option (a goal's title) is cut, not spilled out of a dialog.
SELECT_STYLE = {
    "height": "var(--space-6)",
    "padding": "0 var(--space-2)",
    "border": "1px solid var(--gray-a7)",
    "border-radius": "var(--radius-2)",
    "background": "var(--color-surface)",
    "color": "var(--gray-12)",
    "font-family": "inherit",
    "font-size": "var(--font-size-2)",
    "max-width": "100%",
    "min-width": "0",
    "text-overflow": "ellipsis",
}


def options(choices: dict[str, str]) -> list[rx.Component]:
    """The <option>s of a native select: value -> label."""
    return [rx.el.option(label, value=value) for value, label in choices.items()]


def native_select(
    *options: rx.Component, style: dict[str, str] | None = None, **props: Any
) -> rx.Component:
    """A plain <select> of `options` (`style` adds to or overrides the common look)."""
    return rx.el.select(*options, style=SELECT_STYLE | (style or {}), **props)


def labelled(label: str, control: rx.Component, hint: str = "", **props: Any) -> rx.Component:
    """A control with its label above it (and a hint below, if given)."""
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1",
        **({"width": "100%"} | props),
    )


def field_message(message: Any, show: Any, element_id: str = "", **props: Any) -> rx.Component:
    """A refusal's words beside the input they are about, shown while `show` holds."""
    return rx.cond(
        show,
        rx.text(
            message,
            size="1",
            color_scheme="red",
            role="alert",
            **({"id": element_id} if element_id else {}),
            **props,
        ),
    )


Refusal = tuple[Any, Any]  # (message var, field var) of a form's state


def refusal_beside(refusal: Refusal, field: str, element_id: str) -> rx.Component:
    """The refusal's words, shown while they are about `field`."""
    message, about = refusal
    return field_message(message, about == field, element_id)


def refused_field(
    refusal: Refusal, label: str, field: str, control: rx.Component, **props: Any
) -> rx.Component:
    """A labelled control with the refusal about `field` under it (#<control id>-error)."""
    beside = refusal_beside(refusal, field, f"{control.id}-error")  # type: ignore[attr-defined]
    return labelled(label, rx.fragment(control, beside), **props)
