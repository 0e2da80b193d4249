"""Charts of counts by name (goal health, a cycle's status funnel and rating distribution):
horizontal bars, so each name has a line of its own beside its bar and long names (rating
labels are up to 40 characters) wrap instead of running into their neighbours."""

from __future__ import annotations

from typing import Any

import reflex as rx

# Room for the names; a name wider than the axis less its tick marks wraps onto lines.
NAME_WIDTH = 120
# The names' size, drawn and measured alike (Recharts measures a name's words with its style
# to decide where to wrap it).
TICK = {"fontSize": 12, "style": {"fontSize": 12}}
NAME_TICK = TICK | {"width": NAME_WIDTH - 16}


def count_bar_chart(
    data: Any,
    *,
    color: Any = None,
    value_key: str = "count",
    label: str = "People",
    height: int = 240,
) -> rx.Component:
    """A bar per row of `data` (`name` and `value_key`), names down the left, counts along
    the bottom; in `color`, or (None) each bar in its row's own `fill`."""
    bar_children = (
        [] if color is not None else [rx.foreach(data, lambda d: rx.recharts.cell(fill=d["fill"]))]
    )
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
        rx.recharts.x_axis(type_="number", allow_decimals=False, tick=TICK),
        rx.recharts.y_axis(
            data_key="name", type_="category", interval=0, width=NAME_WIDTH, tick=NAME_TICK
        ),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(
            *bar_children,
            data_key=value_key,
            name=label,
            radius=[0, 4, 4, 0],
            **({"fill": color} if color is not None else {}),
        ),
        data=data,
        layout="vertical",
        # room above the first bar and below the last for a name wrapped onto lines
        margin={"top": 16, "right": 12, "bottom": 4, "left": 4},
        width="100%",
        height=height,
    )
