"""What a page says back after an action: one red error callout, one green notice."""

from __future__ import annotations

from typing import Any

import reflex as rx


def error_callout(message: Any, element_id: str) -> rx.Component:
    """A red callout shown while `message` (a state's var) is not empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", width="100%", id=element_id),
    )


def notice_callout(message: Any, element_id: str) -> rx.Component:
    """A green callout shown while `message` (a state's var) is not empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="check", color_scheme="green", width="100%", id=element_id),
    )


def feedback(state: type[rx.State], prefix: str) -> rx.Component:
    """The error and notice of `state` (vars `error`, `notice`) as #<prefix>-error and
    #<prefix>-notice."""
    return rx.fragment(
        error_callout(state.error, f"{prefix}-error"),  # type: ignore[attr-defined]
        notice_callout(state.notice, f"{prefix}-notice"),  # type: ignore[attr-defined]
    )
