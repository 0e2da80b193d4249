"""The Reflex app: pages (registered by importing them) and our backend HTTP routes."""

import reflex as rx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pms_dashboard.auth.http import SecurityHeaders, ServedBy, TrustedHosts
from pms_dashboard.auth.routes import routes as auth_routes
from pms_dashboard.console.routes import routes as console_routes
from pms_dashboard.exports.routes import routes as export_routes
from pms_dashboard.organisation.routes import routes as logo_routes
from pms_dashboard.sso.routes import routes as sso_routes
from pms_dashboard.tenancy.placement import PlacementUnavailable
from pms_dashboard.ui.pages import (  # noqa: F401  (registers pages)
    access_log,
    console,
    cycles,
    encryption,
    goal_detail,
    goals,
    index,
    not_found,
    overview,
    people,
    profile,
    reviews,
    settings,
    signin,
)
from pms_dashboard.ui.states.base import TabOwnerGuard


async def _being_moved(_request: Request, exc: Exception) -> Response:
    """An organisation in a move's write freeze (or mid-flip): try again shortly."""
    retry = str(getattr(exc, "retry_after_s", 60))
    return PlainTextResponse(str(exc), status_code=503, headers={"Retry-After": retry})


api = Starlette(
    routes=[*auth_routes, *console_routes, *export_routes, *logo_routes, *sso_routes],
    exception_handlers={PlacementUnavailable: _being_moved},
)

# Reflex mounts its own app (event websocket, uploads, prod-mode pages) inside `api`, then
# wraps the whole of it: unknown Host headers are refused, and every HTTP response (a
# refusal too) carries the security headers.
app = rx.App(api_transformer=[api, ServedBy, TrustedHosts, SecurityHeaders])
# Before every event (hydration included): a tab's states belong to one session at a time.
app.add_middleware(TabOwnerGuard())
