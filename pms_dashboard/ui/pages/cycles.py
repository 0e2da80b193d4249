"""Review cycles: the list, HR's forms and buttons, and a cycle's status, charts, nine-box
and calibration dialog."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.reviews.schemas import MAX_PEERS
from pms_dashboard.ui.components.charts import count_bar_chart
from pms_dashboard.ui.components.confirm import cycle_confirm_dialog
from pms_dashboard.ui.components.export import export_menu
from pms_dashboard.ui.components.feedback import error_callout, feedback
from pms_dashboard.ui.components.fields import labelled, refusal_beside, refused_field
from pms_dashboard.ui.components.pager import list_total, pager
from pms_dashboard.ui.components.tables import data_table, row_action, scroll_into_view
from pms_dashboard.ui.states.cycles import KEEP, CyclesState
from pms_dashboard.ui.states.rows import shown
from pms_dashboard.ui.styles import CARD_COLUMNS
from pms_dashboard.ui.templates import ACCENT, template

CYCLE_COLORS = {"draft": "gray", "active": "blue", "calibration": "amber", "closed": "green"}
OUTCOME_COLORS = {
    "not_started": "gray",
    "self_done": "blue",
    "manager_done": "cyan",
    "calibrated": "amber",
    "shared": "green",
}
PERFORMANCE_LABELS = {
    "low": "Low performance",
    "mid": "Solid performance",
    "high": "High performance",
}
POTENTIAL_LABELS = {1: "Low potential", 2: "Medium potential", 3: "High potential"}
POTENTIAL_SHORT = {1: "Low", 2: "Medium", 3: "High"}


def _potential(value: rx.Var) -> rx.Component:
    """A potential as people say it ("High"), a dash while there is none."""
    return rx.match(value, *POTENTIAL_SHORT.items(), "–")


def _or_dash(value: rx.Var) -> rx.Component:
    """A rating, or a dash while there is none (not an empty cell before an arrow)."""
    return rx.cond(value.is_not_none(), value, "–")


def _badge(value: rx.Var, colors: dict[str, str]) -> rx.Component:
    return rx.match(
        value,
        *[(k, rx.badge(k.replace("_", " "), color_scheme=c)) for k, c in colors.items()],
        rx.badge(value),
    )


# ------------------------------------------------------------------------ admin forms


# The cycle form's refusal about one input (its words, its field), shown under that input.
CYCLE_REFUSAL = (CyclesState.cycle_error, CyclesState.cycle_field)


def _cycle_input(
    label: str, name: str, element_id: str, field: str = "", **props: Any
) -> rx.Component:
    """An input of the cycle form starting at the draft's value (what was typed, after a
    refusal), with the refusal about `field` (default: `name`) under it."""
    d = shown(CyclesState.draft)
    control = rx.input(name=name, id=element_id, default_value=d.get(name, ""), **props)
    return refused_field(CYCLE_REFUSAL, label, field or name, control)


def _date(label: str, name: str, element_id: str) -> rx.Component:
    return _cycle_input(label, name, element_id, type="date")


def _cycle_form_buttons(editing: Any) -> rx.Component:
    """Create (or, for a draft being edited, save) and a way out of the edit."""
    cancel = rx.button(
        "Cancel",
        type="button",
        variant="soft",
        on_click=CyclesState.cancel_edit,
        id="cycle-edit-cancel",
    )
    return rx.hstack(
        rx.button(
            rx.cond(editing, "Save cycle", "Create cycle"),
            type="submit",
            id="cycle-create-submit",
        ),
        rx.cond(editing, cancel),
        spacing="3",
    )


def _create_cycle_form() -> rx.Component:
    """A new cycle, or the draft being edited (its values in the inputs; a new key each
    time a draft is opened or the form is done)."""
    d, editing = shown(CyclesState.draft), CyclesState.editing_cycle_id != ""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(editing, "Edit draft cycle", "New cycle"), size="4"),
                _cycle_input("Name", "name", "cycle-name", required=True, max_length=200),
                labelled(
                    "Template",
                    rx.fragment(
                        rx.select.root(
                            rx.select.trigger(
                                placeholder="Choose a template", width="100%", id="cycle-template"
                            ),
                            rx.select.content(
                                rx.foreach(
                                    CyclesState.templates,
                                    lambda t: rx.select.item(t["name"], value=t["id"]),
                                )
                            ),
                            name="template_id",
                            default_value=d.get("template_id", ""),
                        ),
                        refusal_beside(CYCLE_REFUSAL, "template_id", "cycle-template-error"),
                    ),
                ),
                rx.hstack(
                    _date("Period start", "period_start", "cycle-period-start"),
                    _date("Period end", "period_end", "cycle-period-end"),
                    width="100%",
                ),
                rx.hstack(
                    _date("Self reviews due", "self_review_due", "cycle-self-due"),
                    _date("Manager reviews due", "manager_review_due", "cycle-manager-due"),
                    width="100%",
                ),
                rx.text(
                    "Participants (all empty means everyone active):",
                    size="2",
                    color_scheme="gray",
                ),
                _cycle_input(
                    "Departments (comma-separated)",
                    "departments",
                    "cycle-departments",
                    "participants.departments",
                ),
                _cycle_input(
                    "Teams (comma-separated)", "teams", "cycle-teams", "participants.teams"
                ),
                _cycle_input(
                    "Whole organisations of managers (emails, comma-separated)",
                    "manager_emails",
                    "cycle-managers",
                    "participants.manager_emails",
                ),
                _cycle_form_buttons(editing),
                spacing="3",
                width="100%",
            ),
            on_submit=CyclesState.create_cycle,
            reset_on_submit=False,
            key=CyclesState.form_key,
            id="cycle-create",
        ),
        width="100%",
    )


def _create_template_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("New template", size="4"),
                labelled(
                    "Name",
                    rx.input(
                        name="template_name", id="template-name", required=True, max_length=200
                    ),
                ),
                labelled(
                    "Criteria, one per line: name; weight",
                    rx.text_area(
                        name="criteria",
                        id="template-criteria",
                        placeholder="Delivery; 2\nCollaboration; 1",
                        min_height="160px",
                        width="100%",
                    ),
                ),
                rx.button("Create template", type="submit", id="template-create-submit"),
                spacing="3",
                width="100%",
            ),
            on_submit=CyclesState.create_template,
            id="template-create",
        ),
        width="100%",
    )


# ------------------------------------------------------------------------- cycle list


def _admin_buttons(c: ObjectVar) -> rx.Component:
    return rx.hstack(
        rx.cond(
            c["status"] == "draft",
            rx.hstack(
                row_action(
                    "Launch", CyclesState.ask("launch", c["id"]), "cycle-launch", variant="solid"
                ),
                row_action(
                    "Edit",
                    [CyclesState.edit_cycle(c["id"]), scroll_into_view("cycle-create", "start")],
                    "cycle-edit",
                ),
                row_action(
                    "Delete", CyclesState.ask("delete", c["id"]), "cycle-delete", color_scheme="red"
                ),
                spacing="2",
            ),
        ),
        rx.cond(
            c["status"] == "active",
            row_action(
                "Start calibration",
                CyclesState.ask("calibrate", c["id"]),
                "cycle-calibrate",
                color_scheme="amber",
                variant="solid",
            ),
        ),
        rx.cond(
            (c["status"] == "calibration") | (c["status"] == "closed"),
            row_action(
                "Share results",
                CyclesState.ask("share", c["id"]),
                "cycle-share",
                color_scheme="green",
                variant="solid",
            ),
        ),
        rx.cond(
            c["status"] == "calibration",
            rx.hstack(
                row_action("Reopen", CyclesState.ask("reopen", c["id"]), "cycle-reopen"),
                row_action("Close", CyclesState.ask("close", c["id"]), "cycle-close"),
                spacing="2",
            ),
        ),
        spacing="2",
    )


def _cycle_row(c: ObjectVar) -> rx.Component:
    """One cycle; the one whose detail is open is marked (colour, and aria-current for
    screen readers), and "View" brings its detail into view."""
    selected = CyclesState.cycle_id == c["id"]
    return rx.table.row(
        rx.table.row_header_cell(rx.text(c["name"], weight="medium")),
        rx.table.cell(c["template_name"]),
        rx.table.cell(c["period_start"], " – ", c["period_end"]),
        rx.table.cell(_badge(c["status"], CYCLE_COLORS)),
        rx.table.cell(rx.text(c["participants"], size="1")),
        rx.table.cell(
            rx.hstack(
                row_action(
                    rx.cond(selected, "Viewing", "View"),
                    [CyclesState.select_cycle(c["id"]), scroll_into_view("cycle-detail", "start")],
                    "cycle-view",
                    variant=rx.cond(selected, "solid", "soft"),
                ),
                rx.cond(CyclesState.can_manage, _admin_buttons(c)),
                spacing="2",
            )
        ),
        class_name=rx.cond(selected, "cycle-row cycle-selected", "cycle-row"),
        background=rx.cond(selected, rx.color(ACCENT, 3), "transparent"),
        custom_attrs={"aria-current": rx.cond(selected, "true", "false")},
    )


def _cycle_list() -> rx.Component:
    return data_table(
        ("Cycle", "Template", "Period", "Status", "Participants", ""),
        CyclesState.cycles,
        _cycle_row,
        empty="No review cycles yet.",
        element_id="cycles-table",
    )


# ----------------------------------------------------------------------- cycle detail


def _chart(title: str, data: rx.Var, chart_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(title, weight="medium"),
            count_bar_chart(data, color=rx.color(ACCENT, 9), label=title),
            width="100%",
        ),
        width="100%",
        id=chart_id,
    )


def _status_row(r: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(r["reviewee_name"]),
        rx.table.cell(r["manager_name"]),
        rx.table.cell(_badge(r["status"], OUTCOME_COLORS)),
        rx.table.cell(r["computed_score"]),
        rx.table.cell(rx.cond(r["final_label"] != "", r["final_label"], "—")),
        rx.table.cell(_potential(r["potential"])),
        rx.table.cell(
            rx.cond(
                shown(CyclesState.cycle)["status"] == "calibration",
                row_action("Calibrate", CyclesState.open_adjust(r["outcome_id"]), "status-adjust"),
            ),
            rx.cond(
                (shown(CyclesState.cycle)["status"] == "active") & r["can_nominate"].to(bool),
                row_action(
                    "Nominate peers", CyclesState.open_nominate(r["outcome_id"]), "status-nominate"
                ),
            ),
        ),
        class_name="status-row",
    )


def _status_table() -> rx.Component:
    return rx.vstack(
        data_table(
            ("Person", "Manager", "Status", "Score", "Final", "Potential", ""),
            CyclesState.status_rows,
            _status_row,
            empty="Nobody takes part in this cycle.",
            element_id="status-table",
            count=CyclesState.status_total,
        ),
        pager(
            page=CyclesState.status_page,
            pages=CyclesState.status_pages,
            on_previous=CyclesState.status_prev,
            on_next=CyclesState.status_next,
            prefix="status",
            summary=list_total(CyclesState.status_total, "people", one="person"),
        ),
        width="100%",
    )


def _ninebox_cell(cell: ObjectVar) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(
                    rx.match(cell["performance"], *PERFORMANCE_LABELS.items(), ""),
                    " · ",
                    rx.match(cell["potential"], *POTENTIAL_LABELS.items(), ""),
                    size="1",
                    color_scheme="gray",
                ),
                rx.spacer(),
                rx.badge(cell["count"], size="2", class_name="ninebox-count"),
                width="100%",
            ),
            rx.flex(
                rx.foreach(
                    cell["people"].to(list[dict[str, Any]]),
                    lambda p: rx.button(
                        p["name"],
                        size="1",
                        variant="surface",
                        on_click=CyclesState.open_adjust(p["outcome_id"]),
                        class_name="ninebox-person",
                    ),
                ),
                wrap="wrap",
                gap="1",
            ),
            spacing="2",
            width="100%",
        ),
        min_height="110px",
        class_name="ninebox-cell",
    )


def _ninebox() -> rx.Component:
    return rx.vstack(
        rx.heading("Nine-box", size="4"),
        rx.text(
            "Potential (rows, high at the top) by performance (columns, low to high). ",
            CyclesState.unplaced,
            " people are not placed yet (no score or potential).",
            size="2",
            color_scheme="gray",
        ),
        rx.grid(
            rx.foreach(CyclesState.ninebox, _ninebox_cell),
            columns="3",
            spacing="3",
            width="100%",
            id="ninebox",
        ),
        width="100%",
    )


def _detail() -> rx.Component:
    c = shown(CyclesState.cycle)
    return rx.vstack(
        rx.hstack(
            rx.heading(c["name"], size="5"),
            _badge(c["status"], CYCLE_COLORS),
            rx.spacer(),
            export_menu(
                CyclesState.export_csv,
                [
                    ("reviews", "Reviews with ratings"),
                    ("summary-department", "Summary by department"),
                    ("summary-manager", "Summary by manager"),
                ],
                "cycle",
            ),
            rx.button(
                "Close view",
                variant="ghost",
                on_click=CyclesState.close_cycle_detail,
                id="cycle-detail-close",
            ),
            width="100%",
            align="center",
            wrap="wrap",  # on a phone the buttons go under the name
        ),
        rx.text(
            c["period_start"],
            " – ",
            c["period_end"],
            " · self reviews due ",
            c["self_review_due"],
            " · manager reviews due ",
            c["manager_review_due"],
            size="2",
            color_scheme="gray",
        ),
        rx.grid(
            _chart("Status funnel", CyclesState.funnel, "cycle-funnel"),
            _chart("Rating distribution", CyclesState.distribution, "cycle-distribution"),
            columns=CARD_COLUMNS,
            spacing="3",
            width="100%",
        ),
        _status_table(),
        _ninebox(),
        width="100%",
        spacing="4",
        id="cycle-detail",
    )


# --------------------------------------------------------------------- adjust dialog


def _history_row(h: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.cell(h["created_at"].to(str)),
        rx.table.cell(h["actor_name"]),
        rx.table.cell(_or_dash(h["old_rating"]), " → ", _or_dash(h["new_rating"])),
        rx.table.cell(_potential(h["old_potential"]), " → ", _potential(h["new_potential"])),
        rx.table.cell(h["reason"]),
        class_name="calibration-history-row",
    )


def _keep_or(name: str, element_id: str, *items: rx.Component) -> rx.Component:
    """A menu that starts at "Keep as is" (no change), then `items`."""
    return rx.select.root(
        rx.select.trigger(width="100%"),
        rx.select.content(rx.select.item("Keep as is", value=KEEP), *items),
        name=name,
        default_value=KEEP,
        id=element_id,
    )


def _adjust_form() -> rx.Component:
    """A new final rating and/or potential, with the reason the history keeps."""
    return rx.form(
        rx.vstack(
            labelled(
                "Final rating",
                _keep_or(
                    "final_rating",
                    "calibrate-rating",
                    rx.foreach(
                        CyclesState.scale_options,
                        lambda o: rx.select.item(o["label"], value=o["value"]),
                    ),
                ),
            ),
            labelled(
                "Potential",
                _keep_or(
                    "potential",
                    "calibrate-potential",
                    *[
                        rx.select.item(f"{p} · {label}", value=str(p))
                        for p, label in POTENTIAL_LABELS.items()
                    ],
                ),
            ),
            labelled(
                "Reason (required, kept in the history)",
                rx.text_area(
                    name="reason",
                    id="calibrate-reason",
                    required=True,
                    min_length=3,
                    max_length=2000,
                    width="100%",
                ),
            ),
            error_callout(CyclesState.error, "calibrate-error"),
            rx.hstack(
                rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                rx.button("Save", type="submit", id="calibrate-save"),
                justify="end",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=CyclesState.save_adjust,
    )


def _adjust_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Calibrate ", CyclesState.adjust_name),
            rx.cond(
                CyclesState.adjust_scores.length() > 0,
                rx.hstack(
                    rx.foreach(
                        CyclesState.adjust_scores,
                        lambda line: rx.vstack(
                            rx.text(line["source"], size="1", color_scheme="gray"),
                            rx.text(line["score"], " · ", line["label"], size="2", weight="medium"),
                            spacing="0",
                            class_name="calibrate-score",
                        ),
                    ),
                    spacing="5",
                    wrap="wrap",
                    padding_y="0.5rem",
                    id="calibrate-scores",
                ),
                rx.text(
                    "No submitted review scores yet.",
                    size="2",
                    color_scheme="gray",
                    id="calibrate-scores",
                ),
            ),
            data_table(
                ("When", "Who", "Rating", "Potential", "Why"),
                CyclesState.history,
                _history_row,
                empty="No calibration changes yet.",
                element_id="calibration-history",
                size="1",
                variant="ghost",
            ),
            _adjust_form(),
            max_width="720px",
            id="calibrate-dialog",
        ),
        open=CyclesState.adjust_open,
        on_open_change=CyclesState.adjust_open_change,
    )


# -------------------------------------------------------------------- nominate dialog


def _nominate_option(p: ObjectVar) -> rx.Component:
    return rx.checkbox(
        p["name"],
        value=p["id"],
        checked=CyclesState.nominate_selected.contains(p["id"]),
        on_change=lambda checked: CyclesState.set_peer(p["id"], checked),
        class_name="nominate-option",
    )


def _nominate_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Nominate peers for ", CyclesState.nominate_name),
            rx.dialog.description(
                f"Choose up to {MAX_PEERS} colleagues to write a peer review. Their answers "
                "are shown to the person only averaged, and only from two responses on.",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.cond(
                    CyclesState.nominate_candidates.length() > 0,
                    rx.scroll_area(
                        rx.vstack(
                            rx.foreach(CyclesState.nominate_candidates, _nominate_option),
                            spacing="2",
                        ),
                        type="auto",
                        scrollbars="vertical",
                        max_height="320px",
                        id="nominate-options",
                    ),
                    rx.text("There is nobody left to nominate.", size="2", color_scheme="gray"),
                ),
                rx.text(
                    CyclesState.nominate_selected.length(),
                    " chosen",
                    size="2",
                    color_scheme="gray",
                    id="nominate-count",
                ),
                error_callout(CyclesState.error, "nominate-error"),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                    rx.button(
                        "Request peer reviews",
                        on_click=CyclesState.save_nominate,
                        disabled=CyclesState.nominate_selected.length() == 0,
                        id="nominate-save",
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
                padding_top="0.75rem",
            ),
            max_width="520px",
            id="nominate-dialog",
        ),
        open=CyclesState.nominate_open,
        on_open_change=CyclesState.nominate_open_change,
    )


@template(route="/cycles", title="Review cycles", on_load=CyclesState.load)
def cycles_page() -> rx.Component:
    return rx.vstack(
        feedback(CyclesState, "cycles"),
        rx.cond(
            CyclesState.can_manage,
            rx.grid(
                _create_cycle_form(),
                _create_template_form(),
                columns=CARD_COLUMNS,
                spacing="4",
                width="100%",
            ),
        ),
        _cycle_list(),
        rx.cond(CyclesState.cycle_id != "", _detail()),
        _adjust_dialog(),
        _nominate_dialog(),
        cycle_confirm_dialog(),
        width="100%",
        spacing="4",
    )
