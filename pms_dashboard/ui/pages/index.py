"""The root address sends people to their goals (or, without a session, to sign-in)."""

import reflex as rx

from pms_dashboard.ui.states.base import event
from pms_dashboard.ui.states.session import SessionState


class IndexState(SessionState):
    @event
    def route(self):
        """Signed in: on to the overview (else `_signed_in` sends the browser to sign-in)."""
        with self._signed_in():
            pass
        return rx.redirect("/overview", replace=True)


@rx.page(route="/", title="PMS", on_load=IndexState.route)
def index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")
