"""The pager under every server-paged list: what the list counts on the left, then
Previous, "Page n of m" and Next."""

from __future__ import annotations

from typing import Any

import reflex as rx


def list_total(
    total: Any, noun: str, element_id: str | None = None, *, one: str | None = None
) -> rx.Component:
    """How many rows the whole list has ("42 goals"; with `one`, "1 goal")."""
    word = noun if one is None else rx.cond(total == 1, one, noun)
    return rx.text(total, " ", word, color_scheme="gray", size="2", id=element_id)


def pager(
    *,
    page: Any,
    pages: Any,
    on_previous: Any,
    on_next: Any,
    prefix: str,
    summary: rx.Component | None = None,
) -> rx.Component:
    """Previous, "Page n of m" and Next as #<prefix>-prev, #<prefix>-page and #<prefix>-next
    (browser tests find them by these ids), after `summary` (usually `list_total`). `page`,
    `pages` and `total` are a state's vars; the handlers only ask for the page before or
    after: the state re-reads and clamps it."""
    return rx.hstack(
        summary if summary is not None else rx.fragment(),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            disabled=page <= 1,
            on_click=on_previous,
            id=f"{prefix}-prev",
        ),
        rx.text("Page ", page, " of ", pages, size="2", id=f"{prefix}-page"),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            disabled=page >= pages,
            on_click=on_next,
            id=f"{prefix}-next",
        ),
        width="100%",
        align="center",
        spacing="3",
    )


def paged_pager(
    state: Any, *, prefix: str, noun: str, one: str, total_id: str | None = None
) -> rx.Component:
    """The pager of a `Paged` state (`ui.states.base`): its page, pages and total, and its
    previous_page / next_page handlers."""
    return pager(
        page=state.page,
        pages=state.pages,
        on_previous=state.previous_page,
        on_next=state.next_page,
        prefix=prefix,
        summary=list_total(state.total, noun, total_id, one=one),
    )
