"""Every list on a page: a table (a header, one row per item) or a plain list, and — when
there is nothing to show — a note saying so instead of an empty table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from pms_dashboard.ui.styles import card_labels


def empty_note(text: str, element_id: str | None = None) -> rx.Component:
    """What a list says when it has nothing to show."""
    return rx.callout(
        text, icon="info", color_scheme="gray", variant="surface", width="100%", id=element_id
    )


def placeholder(element_id: str, lines: int = 3) -> rx.Component:
    """Grey bars where a list will be, while its first rows are on their way (instead of a
    "nothing here" note that is not true yet)."""
    return rx.vstack(
        *[rx.skeleton(rx.box(height="1.75rem", width="100%")) for _ in range(lines)],
        width="100%",
        spacing="2",
        id=element_id,
        aria_busy="true",
    )


def _none(empty: str, element_id: str, loaded: Any) -> rx.Component:
    """The "nothing here" note, once the list has been read (`loaded`; None: always)."""
    note = empty_note(empty, element_id)
    return note if loaded is None else rx.cond(loaded, note, placeholder(f"{element_id}-loading"))


def data_table(
    columns: Sequence[str | rx.Component],
    rows: Any,
    row: Callable[[Any], rx.Component],
    *,
    empty: str,
    element_id: str,
    count: Any = None,
    labels: Sequence[str] | None = None,
    loaded: Any = None,
    **props: Any,
) -> rx.Component:
    """`rows` as the table #<element_id> (`row` draws one; a column is its title, or a
    header cell of its own), or the note `empty` (#<element_id>-empty) when there are none.
    `rows` (and `count`) are a state's vars; `count` decides "none" when it is not the rows'
    own length (a paged list's total). `labels` name the columns on a phone's cards when
    some columns are header cells of their own. With `loaded` (a state var), grey bars
    stand in for the note until the list has been read.
    """
    header = [c if isinstance(c, rx.Component) else rx.table.column_header_cell(c) for c in columns]
    # On a phone the rows are cards, each value led by its column's title; header cells of
    # their own (sort buttons) stay on as a strip above the cards.
    sortable = any(isinstance(c, rx.Component) for c in columns)
    titles: Sequence[str | None] = labels or [c if isinstance(c, str) else None for c in columns]
    return rx.cond(
        (count if count is not None else rows.length()) > 0,
        rx.fragment(
            card_labels(element_id, titles),
            rx.table.root(
                rx.table.header(rx.table.row(*header)),
                rx.table.body(rx.foreach(rows, row)),
                width="100%",
                id=element_id,
                class_name="pms-table pms-sortable" if sortable else "pms-table",
                **({"variant": "surface"} | props),
            ),
        ),
        _none(empty, f"{element_id}-empty", loaded),
    )


def item_list(
    rows: Any,
    item: Callable[[Any], rx.Component],
    *,
    empty: str,
    empty_id: str,
    loaded: Any = None,
    **props: Any,
) -> rx.Component:
    """`rows` one under the other (`item` draws one), or the note `empty` (#<empty_id>) when
    there are none (grey bars until `loaded`, if given); `props` go to the list."""
    return rx.cond(
        rows.length() > 0,
        rx.vstack(rx.foreach(rows, item), **({"width": "100%"} | props)),
        _none(empty, empty_id, loaded),
    )


def row_action(label: Any, on_click: Any, class_name: str, **props: Any) -> rx.Component:
    """A small button acting on one row of a list (browser tests find it by `class_name`)."""
    return rx.button(
        label,
        on_click=on_click,
        class_name=class_name,
        **({"size": "1", "variant": "soft"} | props),
    )


def scroll_into_view(
    element_id: str, block: str = "nearest", *, or_ids: tuple[str, ...] = ()
) -> EventSpec:
    """Bring #<element_id> (or the first of `or_ids` drawn instead, such as an error in
    place of a notice) into view once it is drawn (it may appear only with the state change
    the event before it made), e.g. a detail opened below or above its list."""
    selector = ", ".join(f"#{i}" for i in (element_id, *or_ids))
    return rx.call_script(
        f"(function f(n) {{ const e = document.querySelector({selector!r});"
        f" if (e) e.scrollIntoView({{block: {block!r}, behavior: 'instant'}});"
        " else if (n > 0) setTimeout(() => f(n - 1), 50); })(40)"
    )
