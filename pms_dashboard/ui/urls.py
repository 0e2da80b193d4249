"""Addresses of backend routes as the browser must use them."""

from __future__ import annotations

import reflex as rx
from reflex.utils.exec import is_prod_mode


def backend_url(path: str) -> str:
    """Relative in production mode (one port serves pages and API); the backend's own
    address in dev mode, where the frontend dev server does not proxy `/api`."""
    if is_prod_mode():
        return path
    return rx.config.get_config().api_url.rstrip("/") + path
