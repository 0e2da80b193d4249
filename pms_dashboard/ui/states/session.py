"""The signed-in user, re-derived from the session cookie on every event, and the one
transaction every event of a signed-in page runs in.

Reflex event handlers are callable by any browser with any arguments, so no handler trusts
a state var for identity. Every handler of a signed-in page runs its work inside
`self._signed_in()`, one tenant transaction per event: the HttpOnly cookie is read from the
websocket's request headers, the token verified (it names the tenant whose transaction to
open), the session checked inside that transaction, then the page's services run in it and
it commits. No valid session: the page's vars are cleared and the browser goes to
/signin. A refusal (`errors.UserError`: a permission, an id not found, bad input, a busy
tenant) is rolled back, audited in a transaction of its own when it is one that leaves a
trace, and its words land in the page's `error`; anything else is a bug, logged and never
shown. Ids never reach vars.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import reflex as rx

from pms_dashboard.auth.cookies import token_from_cookie_header
from pms_dashboard.auth.resolve import IdKind, NotFoundHere
from pms_dashboard.auth.routes import signed_in
from pms_dashboard.auth.service import Principal
from pms_dashboard.auth.zones import DEFAULT_ZONE
from pms_dashboard.errors import UserError, field_in
from pms_dashboard.organisation.service import get_customization
from pms_dashboard.tenancy import limits
from pms_dashboard.tenancy.session import TenantSession
from pms_dashboard.ui.states.base import AppState, EndEvent, event, show_error
from pms_dashboard.ui.urls import logo_src

ROLE_LABELS = {
    "employee": "Employee",
    "manager": "Manager",
    "hr_admin": "HR admin",
    "tenant_admin": "Tenant admin",
}

Refused = Callable[[UserError], Any]


def form_refusal(
    err: UserError, fields: Collection[str], ids: Mapping[IdKind, str] | None = None
) -> tuple[str, str]:
    """A form's refusal: its words, and which of its `fields` they go beside (an id or a
    name not found: the input that sent that kind, `ids`); "" for the whole form, so a
    field the form does not have, forged or not, never picks an input."""
    field = (ids or {}).get(err.kind) if isinstance(err, NotFoundHere) else err.field
    return str(err), field_in(field, fields)


class SessionState(AppState):
    """Display-only facts about the signed-in user (never used for authorisation)."""

    user_name: str = ""
    user_email: str = ""
    role_label: str = ""
    role: str = ""  # only to choose which menu entries to offer; services decide access
    tenant_name: str = ""
    accent: str = "indigo"  # the tenant's look, from its settings (display only)
    logo_url: str = ""
    time_zone: str = DEFAULT_ZONE  # the zone their dates and times are shown in (`ui.format`)

    @contextmanager
    def _signed_in(
        self,
        refused: Refused | None = None,
        *,
        slot: limits.Kind | None = None,
        by_key: bool = False,
    ) -> Iterator[tuple[Principal, TenantSession]]:
        """The event's one tenant transaction, authenticated inside it: yields (principal,
        session) for the handler's work, which commits when the block ends.

        No valid session: the transaction commits what the check did (an idle session's
        end), the page's vars are cleared and the handler ends with the redirect to
        /signin. A `UserError` raised in the block rolls the work back (a refusal that
        leaves a trace is audited in a transaction of its own) and ends the handler with
        `refused(err)` (default: the words in the page's `error`). Only UserError: any other
        exception is a bug and goes on up. `slot`: the heavy work the handler does (a list),
        its slot tried in the set-up's round trip. `by_key`: the handler reads and writes rows
        by key only (one goal and what hangs on it), so its statements may reuse cached plans
        (`tenancy.session.CACHED_PLANS`)."""
        token = token_from_cookie_header(self.router.headers.cookie)
        found = None
        try:
            ip = self.router.session.client_ip or ""
            with signed_in(token, ip=ip, slot=slot, by_key=by_key) as found:
                if found is not None:
                    self._show(found[0])
                    self._look(found[1])
                    yield found
        except UserError as err:
            raise EndEvent((refused or self._refused)(err)) from err
        if found is None:
            raise EndEvent(self._signed_out())

    def _refused(self, err: UserError) -> Any:
        """A refusal's words on the page (its `error` line, else a toast)."""
        return show_error(self, str(err))

    def _signed_out(self) -> Any:
        """No valid session: nothing of the page stays in vars; back to sign-in."""
        self._forget()
        self._clear_page()
        return rx.redirect("/signin", replace=True)

    def _clear_page(self) -> None:
        """Forget everything the page shows (pages with more to forget say so)."""
        self.reset()

    def _show(self, principal: Principal) -> None:
        self.user_name = principal.display_name
        self.user_email = principal.email
        self.role_label = ROLE_LABELS.get(principal.role, principal.role)
        self.role = principal.role
        self.tenant_name = principal.tenant_name
        if self.time_zone != principal.time_zone:  # read with the session check: no statement
            self.time_zone = principal.time_zone

    def _look(self, session: TenantSession) -> None:
        """The tenant's look, as of this event (its settings came with the session check,
        so this costs no statement); a var is set only when it changes."""
        look = get_customization(session=session)
        if self.accent != look.accent:
            self.accent = look.accent
        if self.logo_url != logo_src(look.logo_url):
            self.logo_url = logo_src(look.logo_url)

    def _forget(self) -> None:
        self.user_name = self.user_email = self.role_label = self.role = self.tenant_name = ""
        self.time_zone = DEFAULT_ZONE

    @event
    def require_user(self):
        """on_load of a signed-in page without one of its own (theirs run in `_signed_in`
        too): no valid session, no page; the tenant's look."""
        with self._signed_in():
            pass
        return None
