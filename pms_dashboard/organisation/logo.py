"""A logo address must load as an image before it is saved: a path on this site must be an
image among the app's assets; an https:// address must be on the public internet and answer
at once (a short timeout) with an image. Checked with no transaction open (it may wait on
the network); the settings service still checks the address's form when saving."""

from __future__ import annotations

import ipaddress
import mimetypes
import socket
from urllib.parse import unquote, urlsplit

import httpx

from pms_dashboard.organisation.schemas import CustomizationError
from pms_dashboard.settings import PROJECT_ROOT

ASSETS = PROJECT_ROOT / "assets"
FETCH_TIMEOUT = 3.0  # seconds: a logo that slow would slow every page


def _refuse(message: str) -> CustomizationError:
    return CustomizationError(message, field="logo_url")


def _site_image(path: str) -> None:
    """The asset `path` names must exist and be an image."""
    assets = ASSETS.resolve()
    found = (assets / unquote(urlsplit(path).path).lstrip("/")).resolve()
    kind = mimetypes.guess_type(found.name)[0] or ""
    if not found.is_relative_to(assets) or not found.is_file():
        raise _refuse(f"There is no file at {path} on this site: give the address of an image.")
    if not kind.startswith("image/"):
        raise _refuse(f"{path} is not an image: give the address of a PNG, SVG, JPEG or ICO.")


def _public_host(host: str) -> None:
    """Every address `host` resolves to is on the public internet (never this server's
    own network: the check must not reach inside it)."""
    try:
        infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except OSError:
        raise _refuse(f"{host} could not be found: check the logo address.") from None
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_global:
            raise _refuse("The logo address must be on the public internet.")


def _remote_image(url: str) -> None:
    _public_host(urlsplit(url).hostname or "")
    try:
        with httpx.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=False) as answer:
            status, kind = answer.status_code, answer.headers.get("content-type", "")
    except httpx.HTTPError:
        raise _refuse("The logo address did not answer in time: check it and try again.") from None
    if status != 200:
        raise _refuse(f"The logo address answered {status}, not an image: check the address.")
    if not kind.lower().startswith("image/"):
        shown = kind.split(";")[0] or "no type"
        raise _refuse(f"The logo address gives {shown}, not an image.")


def check_logo_loads(url: str) -> None:
    """CustomizationError (about the logo field) unless `url` is empty or loads as an
    image; an address of the wrong form is left to the settings service's own check."""
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        _site_image(url)
    elif url.startswith("https://"):
        _remote_image(url)
