"""Charts of counts by name (goal health, a cycle's status funnel and rating distribution) and
the overview's share ring, drawn with HTML and CSS: a few bars of counts need no charting
library. Recharts was a 700 KB script that every page of the shell loaded: without it the
overview renders in about 530 ms instead of 790 (bench/page_render.py). The bars draw at
once, without an entry animation, and their names and numbers are real text that wraps,
scales with the reader's font size and is read out by a screen reader as a list.

Each row carries its `share`: the bar's length as a percentage of the longest bar (a count
chart) or of the whole (the ring); the states compute it (`states.rows.count_rows`). The
rules that draw them are `styles.CHART_CSS`."""

from __future__ import annotations

from typing import Any

import reflex as rx


def count_bar_chart(
    data: Any,
    *,
    color: Any = None,
    value_key: str = "count",
    label: str = "People",
    linked: bool = False,
) -> rx.Component:
    """A bar per row of `data` (`name`, `value_key` and `share`): its name, its bar and its
    count on a line of their own, so long names (rating labels are up to 40 characters) wrap
    beside their bar; in `color`, or (None) each bar in its row's own `fill`. `label`: what
    is counted, for assistive technology. `linked`: each row is a link to its `href` (the
    list it counts)."""

    def row(d: Any) -> rx.Component:
        fill = color if color is not None else d["fill"]
        parts = (
            rx.el.span(d["name"], class_name="bar-name"),
            rx.el.span(
                rx.el.span(
                    class_name="bar-fill", style={"width": f"{d['share']}%", "background": fill}
                ),
                class_name="bar-track",
                aria_hidden="true",
            ),
            rx.el.span(d[value_key], class_name="bar-value"),
        )
        if linked:
            return rx.el.li(
                rx.link(*parts, href=d["href"], underline="none", class_name="bar-row bar-link")
            )
        return rx.el.li(*parts, class_name="bar-row")

    return rx.el.ul(rx.foreach(data, row), class_name="bar-chart", aria_label=label)


def share_ring(data: Any, band: Any, middle: Any, caption: str) -> rx.Component:
    """A ring of the shares of `data` (`name`, `value`, `share` of the whole and `fill`),
    drawn by the CSS gradient `band`, with `middle` over `caption` inside it and a legend of
    each part's count and share beside it."""
    return rx.box(
        rx.box(
            rx.box(class_name="ring-band", style={"background": band}),
            rx.box(rx.el.strong(middle), rx.el.span(caption), class_name="ring-total"),
            class_name="ring",
            aria_hidden="true",
        ),
        rx.el.ul(
            rx.foreach(
                data,
                lambda d: rx.el.li(
                    rx.el.span(class_name="swatch", style={"background": d["fill"]}),
                    rx.el.span(d["name"], ": ", d["value"], " (", d["share"], "%)"),
                ),
            ),
            class_name="ring-legend",
        ),
        class_name="ring-chart",
    )
