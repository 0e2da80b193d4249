"""The platform console: its own sign-in (password and authenticator code), the overview of
every tenant (counts only), break-glass reads, the cross-tenant audit search (metadata
only) and the queue of flagged events to review."""

from __future__ import annotations

from typing import Any

import reflex as rx

from pms_dashboard.audit.grants import JUSTIFICATIONS
from pms_dashboard.ui.components.feedback import error_callout, notice_callout
from pms_dashboard.ui.components.native_form import native_form
from pms_dashboard.ui.states.console import ConsoleSignInState, ConsoleState
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
                        _field("Password", "password", type="password",
                               auto_complete="current-password"),
                        _field("Authenticator code", "code", input_mode="numeric",
                               auto_complete="one-time-code", max_length=6, pattern="[0-9 ]{6,7}"),
                        rx.button("Sign in", type="submit", size="3", width="100%",
                                  color_scheme="gray", high_contrast=True, id="console-sign-in"),
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
    )  # fmt: skip


def _stat(label: str, key: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.heading(ConsoleState.totals[key], size="7", id=f"console-total-{key}"),
            spacing="1",
        ),
        width="100%",
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
                rx.button(rx.icon("log-out", size=16), "Sign out", variant="soft",
                          color_scheme="gray", type="submit", id="console-sign-out"),
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
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Organisation", "Slug", "Tier", "Region", "People", "Goals",
                                  "Last activity")
                    ]
                )
            ),
            rx.table.body(
                rx.foreach(
                    ConsoleState.tenants,
                    lambda t: rx.table.row(
                        rx.table.row_header_cell(t["name"]),
                        rx.table.cell(rx.code(t["slug"])),
                        rx.table.cell(rx.badge(t["isolation_tier"], variant="soft")),
                        rx.table.cell(t["region"]),
                        rx.table.cell(t["users"]),
                        rx.table.cell(t["goals"]),
                        rx.table.cell(t["last_activity"]),
                        class_name="console-tenant-row",
                    ),
                )
            ),
            variant="surface",
            width="100%",
            id="console-tenants",
        ),
        error_callout(ConsoleState.error, "console-page-error"),
        notice_callout(ConsoleState.notice, "console-page-notice"),
        _grant_form(),
        _grants(),
        _read_panel(),
        _audit_search(),
        _flagged_queue(),
        padding="1.5rem 2rem",
        spacing="4",
        width="100%",
    )  # fmt: skip


def _grant_form() -> rx.Component:
    select_style = SELECT_STYLE
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Break-glass access", size="3"),
                rx.text(
                    "Reading an organisation's data needs a reason, a ticket and an end time "
                    "(at most four hours). The organisation sees all of it.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.hstack(
                    rx.el.select(
                        rx.foreach(
                            ConsoleState.tenants,
                            lambda t: rx.el.option(t["name"], value=t["slug"]),
                        ),
                        name="tenant",
                        id="grant-tenant",
                        style=select_style,
                    ),
                    rx.el.select(
                        *[rx.el.option(label, value=key) for key, label in JUSTIFICATIONS.items()],
                        name="justification",
                        id="grant-justification",
                        style=select_style,
                    ),
                    rx.input(name="ticket", placeholder="Ticket (e.g. SUP-1234)", id="grant-ticket",
                             required=True, min_length=3, max_length=100),
                    rx.el.select(
                        *[rx.el.option(f"{h} h", value=str(h)) for h in (1, 2, 4)],
                        name="hours",
                        id="grant-hours",
                        style=select_style,
                    ),
                    rx.button("Open access", type="submit", color_scheme="amber", id="grant-open"),
                    spacing="3",
                    wrap="wrap",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=ConsoleState.open_grant,
            reset_on_submit=True,
        ),
        width="100%",
    )  # fmt: skip


def _grants() -> rx.Component:
    return rx.cond(
        ConsoleState.my_grants.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h)
                      for h in ("Organisation", "Justification", "Ticket", "Ends", "", "")]
                )
            ),
            rx.table.body(
                rx.foreach(
                    ConsoleState.my_grants,
                    lambda g: rx.table.row(
                        rx.table.cell(rx.code(g["tenant_slug"])),
                        rx.table.cell(g["justification"]),
                        rx.table.cell(g["ticket"]),
                        rx.table.cell(g["expires_at"]),
                        rx.table.cell(rx.cond(g["active"], rx.badge("active", color_scheme="amber"),
                                              rx.badge("ended", variant="soft"))),
                        rx.table.cell(
                            rx.cond(
                                g["active"],
                                rx.hstack(
                                    rx.button("Read goals", size="1", variant="soft",
                                              on_click=ConsoleState.read_goals(g["tenant_slug"]),
                                              class_name="grant-read"),
                                    rx.button("Read reviews", size="1", variant="soft",
                                              on_click=ConsoleState.read_reviews(g["tenant_slug"]),
                                              class_name="grant-read-reviews"),
                                    rx.button("End access", size="1", color_scheme="red",
                                              variant="soft", on_click=ConsoleState.revoke(g["id"]),
                                              class_name="grant-revoke"),
                                    spacing="2",
                                ),
                            )
                        ),
                        class_name="grant-row",
                    ),
                )
            ),
            width="100%",
            id="console-grants",
        ),
    )  # fmt: skip


def _read_panel() -> rx.Component:
    goal_row = lambda r: rx.hstack(  # noqa: E731
        rx.text(r["title"], weight="medium"),
        rx.text(r["owner"], color_scheme="gray", size="2"),
        rx.spacer(),
        rx.badge(r["status"], variant="soft"),
        rx.text(r["progress"], "%", size="2"),
        width="100%",
        class_name="console-goal-row",
    )
    review_row = lambda r: rx.hstack(  # noqa: E731
        rx.text(r["reviewee"], weight="medium"),
        rx.text("by ", r["reviewer"], " (", r["kind"], ")", color_scheme="gray", size="2"),
        rx.text(r["cycle"], size="2"),
        rx.spacer(),
        rx.badge(r["status"], variant="soft"),
        rx.text(r["score"], size="2"),
        width="100%",
        class_name="console-review-row",
    )
    return rx.cond(
        ConsoleState.read_rows.length() > 0,
        rx.card(
            rx.vstack(
                rx.heading(
                    rx.cond(ConsoleState.read_what == "reviews", "Reviews of ", "Goals of "),
                    rx.code(ConsoleState.read_tenant), " (logged read)", size="3",
                ),
                rx.cond(
                    ConsoleState.read_what == "reviews",
                    rx.foreach(ConsoleState.read_rows, review_row),
                    rx.foreach(ConsoleState.read_rows, goal_row),
                ),
                width="100%",
            ),
            width="100%",
        ),
    )  # fmt: skip


SELECT_STYLE = {"padding": "6px", "border": "1px solid var(--gray-7)", "border-radius": "6px"}


def _pager(page: rx.Var, pages: rx.Var, goto, prefix: str) -> rx.Component:
    return rx.hstack(
        rx.button("Previous", size="1", variant="soft", disabled=page <= 1,
                  on_click=goto(page - 1), id=f"{prefix}-prev"),
        rx.text("Page ", page, " of ", pages, size="2", id=f"{prefix}-page"),
        rx.button("Next", size="1", variant="soft", disabled=page >= pages,
                  on_click=goto(page + 1), id=f"{prefix}-next"),
        spacing="3",
        align="center",
    )  # fmt: skip


def _audit_search() -> rx.Component:
    def labelled(label: str, control: rx.Component) -> rx.Component:
        return rx.vstack(rx.text(label, size="1", color_scheme="gray"), control, spacing="1")

    columns = ("When", "Organisation", "#", "Actor", "Action", "Entity", "Flagged", "IP")
    return rx.card(
        rx.vstack(
            rx.heading("Audit search", size="3"),
            rx.text(
                "Who did what and when, across organisations: metadata only, never the "
                "content. Each organisation shown is told that you searched its trail.",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.hstack(
                    labelled("Organisation (slug)",
                             rx.input(name="tenant", placeholder="any", id="search-tenant")),
                    labelled("Actor id",
                             rx.input(name="actor_id", placeholder="any", id="search-actor")),
                    labelled("Action or prefix",
                             rx.input(name="action", placeholder="e.g. access.",
                                      id="search-action")),
                    labelled("Flagged", rx.el.select(
                        rx.el.option("All", value="all"),
                        rx.el.option("Flagged only", value="only"),
                        rx.el.option("Not flagged", value="unflagged"),
                        name="flagged", id="search-flagged", style=SELECT_STYLE,
                    )),
                    labelled("Since", rx.input(name="since", type="date", id="search-since")),
                    labelled("Until", rx.input(name="until", type="date", id="search-until")),
                    rx.button("Search", type="submit", id="search-submit"),
                    spacing="3",
                    wrap="wrap",
                    align="end",
                ),
                on_submit=ConsoleState.search_audit,
            ),
            rx.cond(
                ConsoleState.searched,
                rx.vstack(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(*[rx.table.column_header_cell(h) for h in columns])
                        ),
                        rx.table.body(
                            rx.foreach(
                                ConsoleState.search_rows,
                                lambda r: rx.table.row(
                                    *_event_cells(r),
                                    rx.table.cell(rx.cond(r["flagged"],
                                                          rx.badge("flagged", color_scheme="red"),
                                                          "")),
                                    rx.table.cell(r["ip"]),
                                    class_name="search-row",
                                ),
                            )
                        ),
                        width="100%",
                        size="1",
                        id="search-results",
                    ),
                    rx.hstack(
                        rx.text(ConsoleState.search_total, " events", size="2"),
                        rx.button(rx.icon("download", size=14), "Export CSV", size="1",
                                  variant="soft", on_click=ConsoleState.export_search,
                                  id="search-export"),
                        rx.spacer(),
                        _pager(ConsoleState.search_page, ConsoleState.search_pages,
                               ConsoleState.search_goto, "search"),
                        width="100%",
                    ),
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )  # fmt: skip


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


def _flagged_queue() -> rx.Component:
    columns = ("When", "Organisation", "#", "Actor", "Action", "Entity", "IP",
               "Id belongs to", "Review")  # fmt: skip
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
                    rx.input(name="tenant", placeholder="Organisation (slug), or all",
                             id="flagged-tenant"),
                    rx.button("Show queue", type="submit", variant="soft", id="flagged-load"),
                    spacing="3",
                ),
                on_submit=ConsoleState.load_flagged,
            ),
            rx.cond(
                ConsoleState.flagged_loaded,
                rx.vstack(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(*[rx.table.column_header_cell(h) for h in columns])
                        ),
                        rx.table.body(
                            rx.foreach(
                                ConsoleState.flagged_rows,
                                lambda r: rx.table.row(
                                    *_event_cells(r),
                                    rx.table.cell(r["ip"]),
                                    # a cross-tenant attempt: whose id it was
                                    rx.table.cell(rx.code(r["other_tenant"])),
                                    rx.table.cell(
                                        rx.form(
                                            rx.hstack(
                                                rx.el.input(type="hidden", name="event_id",
                                                            value=r["event_id"]),
                                                rx.input(name="note", placeholder="Note",
                                                         required=True, max_length=500,
                                                         size="1"),
                                                rx.button("Mark reviewed", type="submit",
                                                          size="1", class_name="flag-review"),
                                                spacing="2",
                                            ),
                                            on_submit=ConsoleState.mark_reviewed,
                                            reset_on_submit=True,
                                        )
                                    ),
                                    class_name="flagged-row",
                                ),
                            )
                        ),
                        width="100%",
                        size="1",
                        id="flagged-events",
                    ),
                    rx.hstack(
                        rx.text(ConsoleState.flagged_total, " to review", size="2"),
                        rx.spacer(),
                        _pager(ConsoleState.flagged_page, ConsoleState.flagged_pages,
                               ConsoleState.flagged_goto, "flagged"),
                        width="100%",
                    ),
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )  # fmt: skip
