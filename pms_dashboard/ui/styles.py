"""The shell's responsive rules, in one place: below PHONE_MAX the sidebar folds into a menu
button, padding shrinks, switches and tables fit the width (tables turn into cards), and the
goal form's dates and key-result rows wrap; and the rules that draw the charts."""

from __future__ import annotations

from collections.abc import Sequence

import reflex as rx

PHONE_MAX = "900px"  # at most this wide: the phone layout
# Cards side by side (two a row) on a wide window, one a row on a narrow one.
CARD_COLUMNS = {"initial": "1", "md": "2"}

SHELL_CSS = f"""
.pms-shell {{ display: flex; width: 100%; min-height: 100vh; align-items: flex-start; }}
.pms-main {{ flex: 1 1 auto; min-width: 0; padding: 1.5rem 2rem; }}
.pms-main > * {{ min-width: 0; max-width: 100%; }}
.pms-header {{ display: flex; flex-wrap: wrap; align-items: center; gap: var(--space-4);
  width: 100%; padding-bottom: 1rem; border-bottom: 1px solid var(--gray-5); }}
.pms-header-title {{ display: flex; align-items: center; gap: var(--space-3);
  flex: 1 1 auto; min-width: 0; }}
.pms-header-user {{ display: flex; align-items: center; gap: var(--space-4); }}
.pms-menu-button, .pms-backdrop {{ display: none; }}
.pms-people {{ display: flex; align-items: flex-start; gap: var(--space-4); width: 100%; }}
.pms-people-list {{ flex: 1 1 auto; min-width: 0; }}
.pms-person-card {{ flex: 0 0 340px; width: 340px; }}
.pms-goal-layout {{ grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); }}
@media (max-width: 1100px) {{
  .pms-people {{ flex-direction: column; }}
  .pms-people-list {{ width: 100%; }}
  .pms-person-card {{ order: -1; flex: 0 0 auto; width: 100%; }}
}}
@media (max-width: {PHONE_MAX}) {{
  .pms-main {{ padding: 0.75rem 1rem; }}
  .pms-menu-button {{ display: inline-flex; }}
  .pms-sidebar {{ position: fixed !important; left: 0; top: 0; z-index: 50;
    height: 100dvh !important; overflow-y: auto; box-shadow: var(--shadow-5);
    transform: translateX(-100%); visibility: hidden;
    transition: transform 0.2s ease, visibility 0s linear 0.2s; }}
  .pms-shell[data-nav-open] .pms-sidebar {{ transform: none; visibility: visible;
    transition: transform 0.2s ease; }}
  .pms-shell[data-nav-open] .pms-backdrop {{ display: block; position: fixed; inset: 0;
    z-index: 40; background: var(--black-a6); }}
  .pms-header {{ gap: var(--space-2) var(--space-3); }}
  .pms-header-title .rt-Heading {{ font-size: var(--font-size-5); }}
  .pms-header-user {{ width: 100%; justify-content: space-between; gap: var(--space-2);
    white-space: nowrap; }}
  .pms-goal-layout {{ grid-template-columns: minmax(0, 1fr); }}
  .pms-goal-schedule {{ flex-wrap: wrap; }}
  .pms-goal-schedule > * {{ flex: 1 1 40%; min-width: 0; }}
  .pms-goal-schedule input[type=date] {{ width: 100%; }}
  .pms-kr-headings {{ display: none; }}
  .pms-kr-row {{ flex-wrap: wrap; row-gap: var(--space-1); }}
  .pms-kr-row > .rt-TextFieldRoot {{ width: calc(25% - 6px) !important; min-width: 0; }}
  .pms-kr-row > .rt-TextFieldRoot:first-of-type {{ width: 100% !important; }}
  .pms-grow-phone {{ width: 100%; }}
  .pms-main .rt-SegmentedControlRoot {{ min-width: 0; max-width: 100%; height: auto;
    min-height: var(--space-6); }}
  .pms-main .rt-SegmentedControlItemLabel {{ white-space: normal; line-height: 1.2;
    padding: var(--space-1) var(--space-2); }}
  .pms-table .rt-TableRootTable, .pms-table .rt-TableBody, .pms-table .rt-TableRow,
  .pms-table .rt-TableBody .rt-TableCell {{ display: block; width: 100%; height: auto; }}
  .pms-table .rt-TableHeader {{ display: none; }}
  .pms-table.pms-sortable .rt-TableHeader {{ display: block; }}
  .pms-table.pms-sortable .rt-TableHeader .rt-TableRow {{ display: flex; flex-wrap: wrap;
    gap: var(--space-1) var(--space-3); padding: var(--space-2) var(--space-3); }}
  .pms-table.pms-sortable .rt-TableHeader .rt-TableCell {{ display: block; padding: 0;
    height: auto; box-shadow: none; font-size: var(--font-size-1); }}
  .pms-table .rt-TableRow {{ padding: var(--space-2) 0;
    box-shadow: inset 0 -1px var(--gray-a5); }}
  .pms-table .rt-TableBody .rt-TableCell {{ box-shadow: none; display: flex;
    align-items: center; gap: var(--space-2); padding: var(--space-1) var(--space-3); }}
  .pms-table .rt-TableBody .rt-TableCell:empty {{ display: none; }}
}}
"""


# The count charts and the share ring (`components.charts`): bars and a ring of CSS.
CHART_CSS = """
.bar-chart { list-style: none; margin: 0; padding: 0; width: 100%;
  display: grid; gap: var(--space-2); }
.bar-row { display: grid; grid-template-columns: minmax(5rem, 9rem) minmax(0, 1fr) auto;
  align-items: center; gap: var(--space-3); font-size: var(--font-size-1);
  line-height: var(--line-height-1); }
.bar-name { overflow-wrap: anywhere; color: var(--gray-11); }
.bar-link { color: inherit; border-radius: var(--radius-2); }
.bar-link:hover .bar-name { color: var(--accent-11); text-decoration: underline; }
.bar-link:hover .bar-track { background: var(--gray-4); }
.bar-track { height: 1.25rem; background: var(--gray-3); border-radius: 0 4px 4px 0; }
.bar-fill { display: block; height: 100%; border-radius: 0 4px 4px 0; }
.bar-value { min-width: 2ch; text-align: right; font-variant-numeric: tabular-nums;
  font-weight: 500; }
.ring-chart { display: flex; flex-wrap: wrap; align-items: center; gap: var(--space-5);
  width: 100%; min-height: 10rem; }
.ring { position: relative; width: 9rem; height: 9rem; flex: 0 0 auto; }
.ring-band { position: absolute; inset: 0; border-radius: 50%;
  -webkit-mask: radial-gradient(circle, transparent 56%, #000 57%);
  mask: radial-gradient(circle, transparent 56%, #000 57%); }
.ring-total { position: absolute; inset: 0; display: flex; flex-direction: column;
  align-items: center; justify-content: center; font-size: var(--font-size-1);
  color: var(--gray-11); }
.ring-total strong { font-size: var(--font-size-5); color: var(--gray-12); }
.ring-legend { list-style: none; margin: 0; padding: 0; display: grid; gap: var(--space-2);
  font-size: var(--font-size-2); }
.ring-legend li { display: flex; align-items: center; gap: var(--space-2); }
.swatch { width: 0.75rem; height: 0.75rem; border-radius: 2px; flex: 0 0 auto; }
"""


def shell_style() -> rx.Component:
    """The rules above as a <style> element of the page."""
    return rx.el.style(SHELL_CSS + CHART_CSS)


def card_labels(element_id: str, columns: Sequence[str | None]) -> rx.Component:
    """On a phone each row of table #element_id is a card; each cell is led by its
    column's title (a None or empty title: no label)."""
    rules = [
        f"#{element_id} .rt-TableBody .rt-TableCell:nth-child({i})::before"
        f" {{ content: {_css_string(title)}; flex: 0 0 6.5rem;"
        " color: var(--gray-11); font-size: var(--font-size-1); }"
        for i, title in enumerate(columns, start=1)
        if title and i > 1
    ]
    return rx.el.style(f"@media (max-width: {PHONE_MAX}) {{ {' '.join(rules)} }}")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
