"""What the backend's form routes share: the app's own origins (login CSRF), where the
pages are served, the client's address, and how a session cookie is set."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from pms_dashboard.settings import get_settings


def _allowed_origins(request: Request) -> set[str]:
    import reflex as rx

    cfg = rx.config.get_config()
    own = f"{request.url.scheme}://{request.url.netloc}"
    return {o.rstrip("/") for o in (get_settings().public_url, cfg.deploy_url or "", own) if o}


def frontend(request: Request) -> str:
    """Where the browser's pages are served (dev mode: another port than this route)."""
    origin = request.headers.get("origin", "").rstrip("/")
    return origin if origin and origin in _allowed_origins(request) else ""


def origin_ok(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin.rstrip("/") in _allowed_origins(request)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def set_session_cookie(response: Response, name: str, token: str, max_age: int) -> None:
    """HttpOnly (page scripts never see it), SameSite=Lax, Secure over https."""
    response.set_cookie(
        name,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
        path="/",
    )
