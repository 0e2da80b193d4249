"""People page: a server-paged, searchable directory, the reports-to tree, one person's card
and, for tenant admins, invite / deactivate / role / manager / profile actions."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.people.schemas import ROLES
from pms_dashboard.ui.components.export import export_menu
from pms_dashboard.ui.components.feedback import error_callout, feedback
from pms_dashboard.ui.components.fields import native_select, options
from pms_dashboard.ui.components.pager import paged_pager
from pms_dashboard.ui.components.tables import data_table, item_list, scroll_into_view
from pms_dashboard.ui.states.people import PeopleState
from pms_dashboard.ui.states.rows import shown
from pms_dashboard.ui.states.session import ROLE_LABELS
from pms_dashboard.ui.templates import ACCENT, template

ROLE_CHOICES = {r: ROLE_LABELS[r] for r in ROLES}
WIDE = {"min-width": "10rem"}  # the people menus
ROLE_COLORS = {"employee": "gray", "manager": "blue", "hr_admin": "amber", "tenant_admin": "red"}


def _role_badge(role: rx.Var) -> rx.Component:
    return rx.match(
        role,
        *[
            (r, rx.badge(ROLE_LABELS[r], color_scheme=c, variant="soft"))
            for r, c in ROLE_COLORS.items()
        ],
        rx.badge(role),
    )


def _status(active: rx.Var) -> rx.Component:
    return rx.cond(
        active,
        rx.badge("Active", color_scheme="green", variant="soft"),
        rx.badge("Deactivated", color_scheme="gray", variant="outline"),
    )


def _filter_select(items: rx.Var | list[str], value: rx.Var, on_change, label: str, id_: str):
    return rx.select.root(
        rx.select.trigger(placeholder=label),
        rx.select.content(
            rx.select.item(f"All {label.lower()}", value="all"),
            rx.foreach(items, lambda v: rx.select.item(v, value=v)),
        ),
        value=value,
        on_change=on_change,
        id=id_,
    )


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.segmented_control.root(
            rx.segmented_control.item("Table", value="table"),
            rx.segmented_control.item("Tree", value="tree"),
            value=PeopleState.view,
            on_change=PeopleState.show_view,
            id="people-view",
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="search",
                    placeholder="Search name or email",
                    default_value="",
                    max_length=100,
                    id="people-search",
                ),
                rx.button(rx.icon("search", size=16), variant="soft", type="submit"),
                spacing="2",
            ),
            on_submit=PeopleState.search_people,
        ),
        _filter_select(
            PeopleState.departments,
            PeopleState.department,
            PeopleState.filter_department,
            "Departments",
            "people-department",
        ),
        _filter_select(
            PeopleState.teams, PeopleState.team, PeopleState.filter_team, "Teams", "people-team"
        ),
        rx.select.root(
            rx.select.trigger(),
            rx.select.content(
                rx.select.item("All roles", value="all"),
                *[rx.select.item(ROLE_LABELS[r], value=r) for r in ROLES],
            ),
            value=PeopleState.role_filter,
            on_change=PeopleState.filter_role,
            id="people-role",
        ),
        rx.select.root(
            rx.select.trigger(),
            rx.select.content(
                rx.select.item("Active", value="active"),
                rx.select.item("Deactivated", value="inactive"),
                rx.select.item("Everyone", value="all"),
            ),
            value=PeopleState.active_filter,
            on_change=PeopleState.filter_active,
            id="people-active",
        ),
        rx.spacer(),
        export_menu(PeopleState.export_csv, [("people", "People")], "people"),
        rx.cond(
            PeopleState.can_manage,
            rx.button(
                rx.icon("user-plus", size=16),
                "Invite",
                on_click=PeopleState.open_invite,
                id="invite-open",
            ),
        ),
        width="100%",
        align="center",
        wrap="wrap",
        spacing="3",
    )


def _open(person_id: rx.Var) -> list:
    """Open a person's card and bring it into view (above the list in a narrow window)."""
    return [
        PeopleState.select_person(person_id),
        scroll_into_view("person-card"),
    ]


def _row(person: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(
                    person["display_name"],
                    on_click=_open(person["id"]),
                    cursor="pointer",
                    weight="medium",
                    class_name="person-name",
                ),
                rx.text(person["email"], size="1", color_scheme="gray", class_name="person-email"),
                spacing="0",
            )
        ),
        rx.table.cell(person["job_title"]),
        rx.table.cell(_role_badge(person["role"]), class_name="person-role"),
        rx.table.cell(person["department"]),
        rx.table.cell(person["team"]),
        rx.table.cell(person["manager_name"], class_name="person-manager"),
        rx.table.cell(person["direct_reports"]),
        rx.table.cell(_status(person["is_active"]), class_name="person-status"),
        class_name="person-row",
        custom_attrs={"data-person-id": person["id"]},
    )


PEOPLE_COLUMNS = ("Name", "Title", "Role", "Department", "Team", "Manager", "Reports", "Status")


def _table() -> rx.Component:
    return rx.fragment(
        data_table(
            PEOPLE_COLUMNS,
            PeopleState.rows,
            _row,
            empty="Nobody matches.",
            element_id="people-table",
            count=PeopleState.total,
        ),
        paged_pager(
            PeopleState, prefix="people", noun="people", one="person", total_id="people-total"
        ),
    )


def _tree_line(line: ObjectVar) -> rx.Component:
    return rx.hstack(
        rx.cond(
            line["direct_reports"].to(int) > 0,
            rx.icon("users", size=16, color=rx.color("gray", 10)),
            rx.icon("user", size=16, color=rx.color("gray", 10)),
        ),
        rx.link(
            line["name"],
            on_click=_open(line["id"]),
            cursor="pointer",
            weight="medium",
            class_name="tree-name",
        ),
        rx.text(line["title"], size="1", color_scheme="gray"),
        _role_badge(line["role"]),
        rx.cond(
            line["direct_reports"].to(int) > 0,
            rx.text(
                line["direct_reports"],
                " direct · ",
                line["total_reports"],
                " total",
                size="1",
                color_scheme="gray",
                class_name="tree-counts",
            ),
        ),
        padding_left=line["indent"],
        padding_y="0.2rem",
        align="center",
        spacing="2",
        border_left=f"2px solid {rx.color(ACCENT, 4)}",
        class_name="tree-node",
        custom_attrs={"data-person-id": line["id"], "data-depth": line["depth"]},
    )


def _tree() -> rx.Component:
    return rx.card(
        item_list(
            PeopleState.tree,
            _tree_line,
            empty="Nobody to show.",
            empty_id="people-tree-empty",
            spacing="0",
        ),
        width="100%",
        id="people-tree",
    )


def _role_and_manager() -> list[rx.Component]:
    """Menus that change the selected person's role and manager at once."""
    p = shown(PeopleState.selected)
    return [
        rx.hstack(
            rx.text("Role", size="2", width="5rem"),
            native_select(
                *options(ROLE_CHOICES),
                style=WIDE,
                value=p["role"],
                on_change=lambda v: PeopleState.change_role(p["id"], v),
                id="person-role",
            ),
            align="center",
        ),
        rx.hstack(
            rx.text("Manager", size="2", width="5rem"),
            native_select(
                rx.el.option("(nobody: top level)", value=""),
                _manager_options(),
                style=WIDE,
                value=p["manager_id"],
                on_change=lambda v: PeopleState.change_manager(p["id"], v),
                id="person-manager",
            ),
            align="center",
        ),
    ]


def _manager_options() -> rx.Component:
    return rx.foreach(
        PeopleState.manager_options, lambda o: rx.el.option(o["label"], value=o["id"])
    )


def _profile_form() -> rx.Component:
    """Department, team and job title of the selected person."""
    p = shown(PeopleState.selected)
    fields = (
        ("department", "Department", 100, "person-department", "-d"),
        ("team", "Team", 100, "person-team", "-t"),
        ("job_title", "Job title", 200, "person-title", "-j"),
    )
    return rx.form(
        rx.vstack(
            rx.el.input(type="hidden", name="person_id", value=p["id"]),
            *[
                rx.input(
                    name=name,
                    placeholder=placeholder,
                    default_value=p[name],
                    max_length=max_length,
                    id=element_id,
                    key=p["id"].to(str) + key,  # a new person's values, not the last one's
                )
                for name, placeholder, max_length, element_id, key in fields
            ],
            rx.button("Save details", type="submit", variant="soft", id="person-save"),
            spacing="2",
            width="100%",
        ),
        on_submit=PeopleState.save_profile,
        width="100%",
    )


def _deactivate_button() -> rx.Component:
    """Deactivate (after a confirmation) an active person; reactivate one who is not."""
    p = shown(PeopleState.selected)
    return rx.cond(
        p["is_active"],
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(
                rx.button("Deactivate", color_scheme="red", variant="soft", id="person-deactivate")
            ),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Deactivate ", p["display_name"], "?"),
                rx.alert_dialog.description(
                    "They are signed out everywhere at once and cannot sign in until "
                    "reactivated. Their goals and reviews are kept."
                ),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft")),
                    rx.alert_dialog.action(
                        rx.button(
                            "Deactivate",
                            color_scheme="red",
                            on_click=PeopleState.deactivate(p["id"]),
                            id="person-deactivate-confirm",
                        )
                    ),
                    justify="end",
                    spacing="3",
                ),
            ),
        ),
        rx.button(
            "Reactivate",
            variant="soft",
            on_click=PeopleState.reactivate(p["id"]),
            id="person-reactivate",
        ),
    )


def _person_actions() -> rx.Component:
    return rx.vstack(
        rx.divider(),
        rx.text("Admin actions", weight="bold", size="2"),
        *_role_and_manager(),
        _profile_form(),
        _deactivate_button(),
        spacing="3",
        width="100%",
    )


def _person_card() -> rx.Component:
    p = shown(PeopleState.selected)
    return rx.cond(
        shown(PeopleState.selected).contains("id"),
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading(p["display_name"], size="4", id="person-name"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("x", size=16),
                        variant="ghost",
                        on_click=PeopleState.close_person,
                        id="person-close",
                    ),
                    width="100%",
                ),
                rx.text(p["email"], size="2", color_scheme="gray"),
                rx.hstack(_role_badge(p["role"]), _status(p["is_active"]), spacing="2"),
                rx.text(p["job_title"], size="2"),
                rx.text(p["department"], " · ", p["team"], size="2", color_scheme="gray"),
                rx.cond(
                    PeopleState.selected_chain.length() > 0,
                    rx.text(
                        "Reports to: ",
                        rx.foreach(
                            PeopleState.selected_chain,
                            lambda c, i: rx.fragment(
                                rx.cond(i > 0, rx.text.span(" → ")),
                                rx.link(
                                    c["display_name"],
                                    on_click=PeopleState.select_person(c["id"]),
                                    cursor="pointer",
                                ),
                            ),
                        ),
                        size="2",
                        id="person-chain",
                    ),
                ),
                rx.cond(
                    PeopleState.selected_reports.length() > 0,
                    rx.vstack(
                        rx.text("Direct reports", weight="bold", size="2"),
                        rx.foreach(
                            PeopleState.selected_reports,
                            lambda r: rx.link(
                                r["display_name"],
                                on_click=PeopleState.select_person(r["id"]),
                                cursor="pointer",
                                size="2",
                                class_name="person-report",
                            ),
                        ),
                        spacing="1",
                    ),
                ),
                rx.cond(p["can_manage"], _person_actions()),
                spacing="2",
                width="100%",
            ),
            class_name="pms-person-card",
            id="person-card",
        ),
    )


def _invite_password() -> rx.Component:
    """After saving: the temporary password, shown this once."""
    return rx.vstack(
        rx.callout.root(
            rx.callout.icon(rx.icon("key-round")),
            rx.callout.text(
                "Hand this temporary password to ",
                PeopleState.invited_email,
                " in person or over a trusted channel. It is shown only now; "
                "only its hash is stored. Ask them to change it after signing in.",
            ),
            color_scheme="amber",
        ),
        rx.code(PeopleState.temp_password, size="5", id="invite-password"),
        rx.button("Done", on_click=PeopleState.close_invite, id="invite-done"),
        spacing="3",
    )


def _invite_fields() -> list[rx.Component]:
    """Email, name, role, manager, department, team and job title of the new person."""
    texts = (
        ("department", "Department", 100, "invite-department"),
        ("team", "Team", 100, "invite-team"),
        ("job_title", "Job title", 200, "invite-title"),
    )
    return [
        rx.input(
            name="email",
            placeholder="Email",
            type="email",
            id="invite-email",
            max_length=320,
            required=True,
        ),
        rx.input(
            name="display_name",
            placeholder="Full name",
            id="invite-name",
            max_length=200,
            required=True,
        ),
        native_select(
            *options(ROLE_CHOICES),
            name="role",
            default_value="employee",
            id="invite-role",
            style=WIDE,
        ),
        native_select(
            rx.el.option("(no manager)", value=""),
            _manager_options(),
            name="manager_id",
            default_value="",
            id="invite-manager",
            style=WIDE,
        ),
        *[
            rx.input(name=name, placeholder=placeholder, max_length=max_length, id=element_id)
            for name, placeholder, max_length, element_id in texts
        ],
    ]


def _invite_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                "The person is created active with a random temporary password, "
                "shown to you once after saving.",
                size="2",
                color_scheme="gray",
            ),
            *_invite_fields(),
            error_callout(PeopleState.invite_error, "invite-error"),
            rx.hstack(
                rx.button(
                    "Cancel",
                    variant="soft",
                    type="button",
                    on_click=PeopleState.close_invite,
                    id="invite-cancel",
                ),
                rx.button("Create person", type="submit", id="invite-save"),
                justify="end",
                spacing="3",
                width="100%",
            ),
            spacing="3",
        ),
        on_submit=PeopleState.invite,
        reset_on_submit=False,
    )


def _invite_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Invite a person"),
            rx.cond(PeopleState.temp_password != "", _invite_password(), _invite_form()),
            id="invite-dialog",
        ),
        open=PeopleState.invite_open,
        on_open_change=PeopleState.set_invite_open,
    )


@template(route="/people", title="People", on_load=PeopleState.load)
def people_page() -> rx.Component:
    return rx.vstack(
        _toolbar(),
        feedback(PeopleState, "people"),
        # The card beside the list, or above it in a narrower window (styles.py).
        rx.box(
            rx.vstack(
                rx.cond(PeopleState.view == "tree", _tree(), _table()),
                spacing="3",
                class_name="pms-people-list",
            ),
            _person_card(),
            class_name="pms-people",
        ),
        _invite_dialog(),
        width="100%",
        spacing="4",
    )
