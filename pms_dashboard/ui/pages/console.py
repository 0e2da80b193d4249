"""The platform console: its own sign-in (password and authenticator code), the overview of
every tenant (counts only, with where it lives and its last move), a new organisation, an
online move with its progress, break-glass reads, the cross-tenant audit search (metadata
only) and the queue of flagged events to review."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from pms_dashboard.console.grants import JUSTIFICATIONS
from pms_dashboard.console.moves import STEPS
from pms_dashboard.console.organisations import MAX_REASON, MIN_REASON, tier_choices
from pms_dashboard.ui.components.feedback import error_callout, notice_callout
from pms_dashboard.ui.components.fields import labelled, native_select, options
from pms_dashboard.ui.components.native_form import native_form
from pms_dashboard.ui.components.pager import list_total, pager
from pms_dashboard.ui.components.tables import data_table, row_action
from pms_dashboard.ui.states.console import ConsoleSignInState, ConsoleState
from pms_dashboard.ui.states.rows import shown
from pms_dashboard.ui.urls import backend_url


def _field(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=f"console-{name}", size="2", weight="medium"),
        rx.input(name=name, id=f"console-{name}", size="3", width="100%", required=True, **props),
        spacing="1",
        width="100%",
    )


@rx.page(
    route="/console/signin", title="Platform console · PMS", on_load=ConsoleSignInState.on_load
)
def console_signin() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("shield-check", size=28),
                    rx.heading("Platform console", size="6"),
                    align="center",
                    spacing="3",
                ),
                rx.text(
                    "For platform super-admins. Every access to an organisation's data is "
                    "justified, logged and shown to that organisation.",
                    color_scheme="gray",
                    size="2",
                ),
                error_callout(ConsoleSignInState.error, "console-error"),
                notice_callout(ConsoleSignInState.notice, "console-notice"),
                native_form(
                    rx.vstack(
                        _field("Email", "email", type="email", auto_complete="username"),
                        _field(
                            "Password",
                            "password",
                            type="password",
                            auto_complete="current-password",
                        ),
                        _field(
                            "Authenticator code",
                            "code",
                            input_mode="numeric",
                            auto_complete="one-time-code",
                            max_length=6,
                            pattern="[0-9 ]{6,7}",
                        ),
                        rx.button(
                            "Sign in",
                            type="submit",
                            size="3",
                            width="100%",
                            color_scheme="gray",
                            high_contrast=True,
                            id="console-sign-in",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    action=backend_url("/api/console/signin"),
                    method="post",
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
            size="4",
            width="420px",
        ),
        height="100vh",
        background=rx.color("gray", 3),
    )


def _stat(label: str, key: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.heading(ConsoleState.totals[key], size="7", id=f"console-total-{key}"),
            spacing="1",
        ),
        width="100%",
    )


def _tenant_row(t: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(t["name"]),
        rx.table.cell(rx.code(t["slug"])),
        rx.table.cell(rx.badge(t["isolation_tier"], variant="soft")),
        rx.table.cell(t["region"]),
        rx.table.cell(t["users"]),
        rx.table.cell(t["goals"]),
        rx.table.cell(t["last_activity"]),
        rx.table.cell(_last_move(t)),
        class_name="console-tenant-row",
    )


MOVE_COLOURS = {"done": "green", "rolled_back": "red"}


def _last_move(t: ObjectVar) -> rx.Component:
    """The organisation's last move: its state, when, from -> to (nothing if never moved)."""
    return rx.cond(
        t["move_state"] != "",
        rx.vstack(
            rx.hstack(
                rx.match(
                    t["move_state"],
                    *[(k, rx.badge(k, color_scheme=c)) for k, c in MOVE_COLOURS.items()],  # type: ignore[arg-type]
                    rx.badge(t["move_state"], color_scheme="amber"),
                ),
                rx.text(t["move_at"], size="1", color_scheme="gray"),
                spacing="2",
                align="center",
            ),
            rx.text(t["move_route"], size="1"),
            spacing="1",
            class_name="console-last-move",
        ),
        rx.text("—", color_scheme="gray"),
    )


@rx.page(route="/console", title="Platform console · PMS", on_load=ConsoleState.load)
def console() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("shield-check", size=24),
            rx.heading("Platform console", size="6"),
            rx.spacer(),
            rx.text(ConsoleState.admin_name, weight="medium", id="console-admin"),
            native_form(
                rx.button(
                    rx.icon("log-out", size=16),
                    "Sign out",
                    variant="soft",
                    color_scheme="gray",
                    type="submit",
                    id="console-sign-out",
                ),
                action=backend_url("/api/console/signout"),
                method="post",
            ),
            width="100%",
            align="center",
            spacing="3",
        ),
        rx.text(
            "Counts only: reading an organisation's goals or reviews takes a justified, "
            "time-boxed access grant.",
            color_scheme="gray",
            size="2",
        ),
        rx.grid(
            _stat("Organisations", "tenants"),
            _stat("People", "users"),
            _stat("Goals", "goals"),
            columns="3",
            spacing="4",
            width="100%",
        ),
        data_table(
            TENANT_COLUMNS,
            ConsoleState.tenants,
            _tenant_row,
            empty="No organisations yet.",
            element_id="console-tenants",
        ),
        error_callout(ConsoleState.error, "console-page-error"),
        notice_callout(ConsoleState.notice, "console-page-notice"),
        _create_form(),
        _move_form(),
        _move_progress(),
        _grant_form(),
        _grants(),
        _read_panel(),
        _audit_search(),
        _flagged_queue(),
        padding="1.5rem 2rem",
        spacing="4",
        width="100%",
    )


def _form_card(title: str, blurb: str, on_submit: Any, *controls: rx.Component) -> rx.Component:
    """One of the console's actions: a card with a title, what it does, and one row of
    controls ending in its button."""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(title, size="3"),
                rx.text(blurb, size="2", color_scheme="gray"),
                rx.hstack(*controls, spacing="3", wrap="wrap"),
                spacing="3",
                width="100%",
            ),
            on_submit=on_submit,
            reset_on_submit=True,
        ),
        width="100%",
    )


def _text(name: str, hint: str, element_id: str, low: int, high: int, **props) -> rx.Component:
    """A required text input of `low` to `high` characters."""
    return rx.input(
        name=name, placeholder=hint, id=element_id, required=True, min_length=low,
        max_length=high, **props,
    )  # fmt: skip


def _organisation_select(name: str, element_id: str) -> rx.Component:
    """A choice of every organisation listed (by name; its slug sent)."""
    return native_select(
        rx.foreach(ConsoleState.tenants, lambda t: rx.el.option(t["name"], value=t["slug"])),
        name=name,
        id=element_id,
    )


def _region_select(element_id: str) -> rx.Component:
    """A choice of the regions (the home region first)."""
    return native_select(
        rx.foreach(ConsoleState.regions, lambda r: rx.el.option(r, value=r)),
        name="region",
        id=element_id,
    )


def _create_form() -> rx.Component:
    """A new organisation in a tier and region, with the reason (a platform event)."""
    return _form_card(
        "New organisation",
        "Its data lives in the region chosen: in the shared pool, a schema of its own or a "
        "database of its own.",
        ConsoleState.create_organisation,
        _text("slug", "Slug (e.g. initech)", "create-slug", 2, 63, pattern="[a-z0-9][a-z0-9-]+"),
        _text("name", "Name", "create-name", 1, 200),
        native_select(*options(tier_choices()), name="tier", id="create-tier"),
        _region_select("create-region"),
        _text(
            "justification",
            "Reason (order or ticket)",
            "create-justification",
            MIN_REASON,
            MAX_REASON,
        ),
        rx.button("Create organisation", type="submit", id="create-submit"),
    )


TENANT_COLUMNS = (
    "Organisation", "Slug", "Tier", "Region", "People", "Goals", "Last activity", "Last move",
)  # fmt: skip


def _move_form() -> rx.Component:
    """Move an organisation online to another tier and/or region, with the reason."""
    return _form_card(
        "Move an organisation",
        "Online: its rows are copied while it works, then writes pause for about a second "
        "while the rest is carried over and verified, and it continues at the new place.",
        ConsoleState.move_organisation,
        _organisation_select("slug", "move-tenant"),
        native_select(*options(tier_choices()), name="tier", id="move-tier"),
        _region_select("move-region"),
        _text("reason", "Reason (order or ticket)", "move-reason", MIN_REASON, MAX_REASON),
        rx.button(
            "Move organisation",
            type="submit",
            color_scheme="amber",
            disabled=ConsoleState.move_running,
            loading=ConsoleState.move_running,
            id="move-submit",
        ),
    )


def _move_step(step: str) -> rx.Component:
    """One step of the move: reached (green), the current one (blue, while it runs) or not
    yet (grey)."""
    current = ConsoleState.move_running & (ConsoleState.move_step == step)
    return rx.badge(
        rx.cond(current, rx.spinner(size="1"), rx.cond(
            ConsoleState.move_steps.contains(step), rx.icon("check", size=12), rx.fragment()
        )),
        step,
        color_scheme=rx.cond(
            current, "blue", rx.cond(ConsoleState.move_steps.contains(step), "green", "gray")
        ),
        variant=rx.cond(current, "solid", "soft"),
        id=f"move-step-{step}",
        class_name="move-step",
    )  # fmt: skip


def _move_progress() -> rx.Component:
    """The move this page started: its steps and copy while it runs, then its outcome."""
    return rx.cond(
        ConsoleState.move_slug != "",
        rx.card(
            rx.vstack(
                rx.heading(
                    rx.cond(ConsoleState.move_running, "Moving ", "Move of "),
                    rx.code(ConsoleState.move_slug),
                    " to ",
                    ConsoleState.move_target,
                    size="3",
                ),
                rx.hstack(*[_move_step(s) for s in STEPS], spacing="2", wrap="wrap"),
                rx.progress(value=ConsoleState.move_percent, max=100, width="100%"),
                rx.text(ConsoleState.move_counts, size="2", id="move-counts"),
                notice_callout(ConsoleState.move_outcome, "move-outcome"),
                error_callout(ConsoleState.move_error, "move-error"),
                spacing="3",
                width="100%",
            ),
            width="100%",
            id="move-progress",
        ),
    )


def _grant_form() -> rx.Component:
    return _form_card(
        "Break-glass access",
        "Reading an organisation's data needs a reason, a ticket and an end time (at most four "
        "hours). The organisation sees all of it.",
        ConsoleState.open_grant,
        _organisation_select("tenant", "grant-tenant"),
        native_select(*options(JUSTIFICATIONS), name="justification", id="grant-justification"),
        _text("ticket", "Ticket (e.g. SUP-1234)", "grant-ticket", 3, 100),
        native_select(
            *options({str(h): f"{h} h" for h in (1, 2, 4)}), name="hours", id="grant-hours"
        ),
        rx.button("Open access", type="submit", color_scheme="amber", id="grant-open"),
    )


def _grant_row(g: ObjectVar) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(g["tenant_slug"])),
        rx.table.cell(g["justification"]),
        rx.table.cell(g["ticket"]),
        rx.table.cell(g["expires_at"]),
        rx.table.cell(
            rx.cond(
                g["active"],
                rx.badge("active", color_scheme="amber"),
                rx.badge("ended", variant="soft"),
            )
        ),
        rx.table.cell(rx.cond(g["active"], _grant_actions(g))),
        class_name="grant-row",
    )


def _grant_actions(g: ObjectVar) -> rx.Component:
    """Read the organisation's goals or reviews under the grant, or end it."""
    slug = g["tenant_slug"]
    return rx.hstack(
        row_action("Read goals", ConsoleState.read_goals(slug), "grant-read"),
        row_action("Read reviews", ConsoleState.read_reviews(slug), "grant-read-reviews"),
        row_action("End access", ConsoleState.revoke(g["id"]), "grant-revoke", color_scheme="red"),
        spacing="2",
    )


def _grants() -> rx.Component:
    return data_table(
        ("Organisation", "Justification", "Ticket", "Ends", "", ""),
        ConsoleState.my_grants,
        _grant_row,
        empty="You have no access grants.",
        element_id="console-grants",
        variant="ghost",
    )


def _goal_read(r: ObjectVar) -> rx.Component:
    return rx.hstack(
        rx.text(r["title"], weight="medium"),
        rx.text(r["owner"], color_scheme="gray", size="2"),
        rx.spacer(),
        rx.badge(r["status"], variant="soft"),
        rx.text(r["progress"], "%", size="2"),
        width="100%",
        class_name="console-goal-row",
    )


def _review_read(r: ObjectVar) -> rx.Component:
    return rx.hstack(
        rx.text(r["reviewee"], weight="medium"),
        rx.text("by ", r["reviewer"], " (", r["kind"], ")", color_scheme="gray", size="2"),
        rx.text(r["cycle"], size="2"),
        rx.spacer(),
        rx.badge(r["status"], variant="soft"),
        rx.text(r["score"], size="2"),
        width="100%",
        class_name="console-review-row",
    )


def _read_panel() -> rx.Component:
    reviews = ConsoleState.read_what == "reviews"
    return rx.cond(
        ConsoleState.read_rows.length() > 0,
        rx.card(
            rx.vstack(
                rx.heading(
                    rx.cond(reviews, "Reviews of ", "Goals of "),
                    rx.code(ConsoleState.read_tenant),
                    " (logged read)",
                    size="3",
                ),
                rx.cond(
                    reviews,
                    rx.foreach(ConsoleState.read_rows, _review_read),
                    rx.foreach(ConsoleState.read_rows, _goal_read),
                ),
                width="100%",
            ),
            width="100%",
        ),
    )


def _search_form() -> rx.Component:
    def field(label: str, control: rx.Component) -> rx.Component:
        return labelled(label, control, width="auto")

    def text(label: str, name: str, element_id: str, **props: Any) -> rx.Component:
        """A filter's input, starting from the search shown (a reload's, from the address)."""
        start = shown(ConsoleState.search_shown)[name]
        return field(label, rx.input(name=name, id=element_id, default_value=start, **props))

    return rx.form(
        rx.hstack(
            text("Organisation (slug)", "tenant", "search-tenant", placeholder="any"),
            text("Actor id", "actor_id", "search-actor", placeholder="any"),
            text("Action or prefix", "action", "search-action", placeholder="e.g. access."),
            field(
                "Flagged",
                native_select(
                    *options({"all": "All", "only": "Flagged only", "unflagged": "Not flagged"}),
                    name="flagged",
                    id="search-flagged",
                    default_value=shown(ConsoleState.search_shown)["flagged"],
                ),
            ),
            text("Since", "since", "search-since", type="date"),
            text("Until", "until", "search-until", type="date"),
            rx.button("Search", type="submit", id="search-submit"),
            spacing="3",
            wrap="wrap",
            align="end",
        ),
        on_submit=ConsoleState.search_audit,
        key=ConsoleState.form_key,  # a new key: the inputs start from the search shown
    )


def _search_row(r: ObjectVar) -> rx.Component:
    return rx.table.row(
        *_event_cells(r),
        rx.table.cell(rx.cond(r["flagged"], rx.badge("flagged", color_scheme="red"), "")),
        rx.table.cell(r["ip"]),
        class_name="search-row",
    )


def _search_results() -> rx.Component:
    return rx.vstack(
        data_table(
            ("When", "Organisation", "#", "Actor", "Action", "Entity", "Flagged", "IP"),
            ConsoleState.search_rows,
            _search_row,
            empty="No events match.",
            element_id="search-results",
            size="1",
            variant="ghost",
        ),
        pager(
            page=ConsoleState.search_page,
            pages=ConsoleState.search_pages,
            on_previous=ConsoleState.search_goto(ConsoleState.search_page - 1),
            on_next=ConsoleState.search_goto(ConsoleState.search_page + 1),
            prefix="search",
            summary=rx.hstack(
                list_total(ConsoleState.search_total, "events", one="event"),
                rx.button(
                    rx.icon("download", size=14),
                    "Export CSV",
                    size="1",
                    variant="soft",
                    on_click=ConsoleState.export_search,
                    id="search-export",
                ),
                align="center",
                spacing="3",
            ),
        ),
        width="100%",
    )


def _audit_search() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Audit search", size="3"),
            rx.text(
                "Who did what and when, across organisations: metadata only, never the "
                "content. Each organisation shown is told that you searched its trail.",
                size="2",
                color_scheme="gray",
            ),
            _search_form(),
            rx.cond(ConsoleState.searched, _search_results()),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _event_cells(r: Any) -> list[rx.Component]:
    """When, organisation, #, actor, action, entity: the cells an audit event row starts
    with, in the search results and in the flagged queue."""
    return [
        rx.table.cell(r["occurred_at"]),
        rx.table.cell(rx.code(r["tenant"])),
        rx.table.cell(r["seq"]),
        rx.table.cell(rx.code(r["actor_id"], size="1")),
        rx.table.cell(r["action"]),
        rx.table.cell(r["entity_type"]),
    ]


def _flagged_row(r: ObjectVar) -> rx.Component:
    return rx.table.row(
        *_event_cells(r),
        rx.table.cell(r["ip"]),
        rx.table.cell(rx.code(r["other_tenant"])),  # a cross-tenant attempt: whose id it was
        rx.table.cell(
            rx.form(
                rx.hstack(
                    rx.el.input(type="hidden", name="event_id", value=r["event_id"]),
                    rx.input(
                        name="note", placeholder="Note", required=True, max_length=500, size="1"
                    ),
                    rx.button("Mark reviewed", type="submit", size="1", class_name="flag-review"),
                    spacing="2",
                ),
                on_submit=ConsoleState.mark_reviewed,
                reset_on_submit=True,
            )
        ),
        class_name="flagged-row",
    )


FLAGGED_COLUMNS = (
    "When",
    "Organisation",
    "#",
    "Actor",
    "Action",
    "Entity",
    "IP",
    "Id belongs to",
    "Review",
)


def _flagged_list() -> rx.Component:
    return rx.vstack(
        data_table(
            FLAGGED_COLUMNS,
            ConsoleState.flagged_rows,
            _flagged_row,
            empty="Nothing to review.",
            element_id="flagged-events",
            size="1",
            variant="ghost",
        ),
        pager(
            page=ConsoleState.flagged_page,
            pages=ConsoleState.flagged_pages,
            on_previous=ConsoleState.flagged_goto(ConsoleState.flagged_page - 1),
            on_next=ConsoleState.flagged_goto(ConsoleState.flagged_page + 1),
            prefix="flagged",
            summary=list_total(ConsoleState.flagged_total, "to review"),
        ),
        width="100%",
    )


def _flagged_queue() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Flagged events to review", size="3"),
            rx.text(
                "Refused and cross-organisation attempts of ordinary users, oldest first, "
                "until a super-admin marks them reviewed. A cross-organisation attempt names "
                "the organisation whose id was asked for (its own trail says only "
                "'not found').",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="tenant",
                        placeholder="Organisation (slug), or all",
                        id="flagged-tenant",
                        default_value=ConsoleState.flagged_shown,
                    ),
                    rx.button("Show queue", type="submit", variant="soft", id="flagged-load"),
                    spacing="3",
                ),
                on_submit=ConsoleState.load_flagged,
                key=ConsoleState.form_key,
            ),
            rx.cond(ConsoleState.flagged_loaded, _flagged_list()),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )
