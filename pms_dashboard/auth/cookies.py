"""The session cookie: its name and how a raw Cookie header is read."""

from __future__ import annotations

SESSION_COOKIE = "pms_session"
CONSOLE_COOKIE = "pms_console"  # the super-admin console's own session (never a tenant's)


def token_from_cookie_header(header: str | None, name: str = SESSION_COOKIE) -> str | None:
    """The session token in a raw `Cookie:` header, if any.

    Parsed by hand: `http.cookies` gives up on the whole header at the first cookie of
    another site that it finds malformed, which would sign the user out.
    """
    if not header:
        return None
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            return value.strip('"')
    return None
