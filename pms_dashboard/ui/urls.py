"""Addresses of backend routes as the browser must use them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import reflex as rx
from reflex.event import EventSpec
from reflex.utils.exec import is_prod_mode
from sqlalchemy.orm import Session

from pms_dashboard.exports import service as export_service
from pms_dashboard.organisation.schemas import LOGO_PATH
from pms_dashboard.tenancy.context import TenantContext

MAX_ADDRESS_PAGE = 100_000  # a page number from the address above this is no page at all


def page_in_address(params: Mapping[str, Any], key: str = "page") -> int:
    """The page a reload or a shared link asks for (`key` of the address's query): a whole
    number from 1 to MAX_ADDRESS_PAGE, anything else page 1; the list then clamps it to its
    last page or says it is past the end."""
    text = str(params.get(key, ""))
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ADDRESS_PAGE else 1


def texts_in_address(
    params: Mapping[str, Any], keys: Iterable[str], limit: int = 100
) -> dict[str, str]:
    """The address's values for `keys` (those given), as text cut to `limit` characters:
    what a filter form would send, judged by the list's own checks like any filter."""
    return {key: str(params[key])[:limit] for key in keys if params.get(key)}


def show_in_address(path: str, values: dict[str, str]) -> EventSpec:
    """Put a list's filters, sort and page (`values`, those at their default left empty)
    into the address the browser shows, without navigating or loading again: a reload or
    a shared link shows the same list."""
    query = urlencode({k: v for k, v in values.items() if v})
    address = json.dumps(path + (f"?{query}" if query else ""))
    return rx.call_script(f"window.history.replaceState(window.history.state, '', {address})")


def backend_url(path: str) -> str:
    """Relative in production mode (one port serves pages and API); the backend's own
    address in dev mode, where the frontend dev server does not proxy `/api`."""
    if is_prod_mode():
        return path
    return rx.config.get_config().api_url.rstrip("/") + path


def logo_src(url: str) -> str:
    """A logo address as the browser loads it: an uploaded logo is served by the backend."""
    return backend_url(url) if url.startswith(LOGO_PATH) else url


def export_url(name: str, filters: dict[str, Any]) -> str:
    """The streaming export route for `name` with the list's filters (defaults left out)."""
    query = _query(filters)
    return backend_url(f"/api/export/{name}.csv" + (f"?{query}" if query else ""))


def export_download(name: str, filters: dict[str, Any]) -> EventSpec:
    """Let the browser download an export: a plain GET the browser streams to disk (never
    the file through the websocket); the server's Content-Disposition names the file."""
    return download(export_url(name, filters))


def checked_export_download(
    *, session: Session, actor: TenantContext, name: str, filters: dict[str, Any]
) -> EventSpec:
    """The browser download of export `name`, checked first in the event's transaction:
    what the route would refuse now (a filter, no permission, the tenant's export slots
    all in use) is raised here as the refusal, for the page to show."""
    export_service.check(
        session=session, actor=actor, name=name, filters=dict(parse_qsl(_query(filters)))
    )
    return export_download(name, filters)


def download(url: str, filters: dict[str, Any] | None = None) -> EventSpec:
    """A browser download of a backend route (with `filters` as its query string)."""
    if filters:
        url += "?" + _query(filters)
    # rx.download insists on a path for plain strings; dev mode needs the backend's address.
    return rx.download(url=url if url.startswith("/") else rx.Var.create(url), filename="")


def _query(filters: dict[str, Any]) -> str:
    wanted = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in filters.items()
        if value not in (None, "", False)
    }
    return urlencode(sorted(wanted.items()))
