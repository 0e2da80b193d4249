"""Signed session tokens (JWT, HS256).

Signed with joserfc, the JOSE implementation the Authlib project maintains and to which
Authlib's own `authlib.jose` module now defers. A token alone grants nothing: it names a
session, and its session id must also name an unrevoked, unexpired row of `auth_session`
(or `console_session`): the row is what makes it valid (see auth.service).

Every token carries the id of the key that signed it (`kid` in its header). New tokens are
signed with the keyring's current key; a token is verified with the key its kid names,
which must be the current key or one retired less than a session lifetime ago (so
`cli secrets rotate` ends no session early, and a retired key is useless once every token
it signed has expired). A token without a kid, or naming any other key, is refused.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import GuestProtocol, OctKey

from pms_dashboard import keyring
from pms_dashboard.settings import get_settings

ISSUER = "pms-dashboard"
ALGORITHM = "HS256"
CONSOLE_SESSION_HOURS = 2  # short: the console reaches across tenants


class _UnknownKey(JoseError):
    """The token names no key in force."""

    error = "unknown_key"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    expires_at: int


def session_lifetime() -> timedelta:
    """The longest any token lives: how long a retired key must still verify."""
    return timedelta(hours=max(get_settings().session_hours, CONSOLE_SESSION_HOURS))


def _sign(payload: dict) -> str:
    """The payload signed with the current key, its kid in the header."""
    current = keyring.signing_keys()[-1]
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": current.kid}
    key = OctKey.import_key(current.key.encode())
    return jwt.encode(header, payload, key, algorithms=[ALGORITHM])


def _key_for(lifetime: timedelta) -> Callable[[GuestProtocol], OctKey]:
    """Picks the verification key by the token's kid: the current key, or a key retired
    less than `lifetime` ago (every token it signed may still be live); else refuses."""

    def pick(token: GuestProtocol) -> OctKey:
        kid = token.headers().get("kid")
        now = datetime.now(UTC)
        for k in keyring.signing_keys():
            if k.kid == kid and (k.retired_at is None or now - k.retired_at < lifetime):
                return OctKey.import_key(k.key.encode())
        raise _UnknownKey()

    return pick


def issue(claims: TokenClaims) -> str:
    """Encode and sign the claims."""
    payload = {
        "iss": ISSUER,
        "sub": str(claims.user_id),
        "tid": str(claims.tenant_id),
        "role": claims.role,
        "sid": str(claims.session_id),
        "iat": int(time.time()),
        "exp": claims.expires_at,
    }
    return _sign(payload)


_REGISTRY = jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": ISSUER},
    sub={"essential": True},
    exp={"essential": True},
    tid={"essential": True},
    sid={"essential": True},
    role={"essential": True},
)


def _claims(token: str, registry: jwt.JWTClaimsRegistry, lifetime: timedelta) -> dict | None:
    """The validated claims of a token we signed, for one kind of token; None otherwise."""
    if not token or len(token) > 4096:
        return None
    try:
        decoded = jwt.decode(token, _key_for(lifetime), algorithms=[ALGORITHM])
        registry.validate(decoded.claims)
    except (JoseError, ValueError, TypeError):
        return None
    return decoded.claims


def verify(token: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token signed by us; None for anything else."""
    c = _claims(token, _REGISTRY, timedelta(hours=get_settings().session_hours))
    try:
        return (
            None
            if c is None
            else TokenClaims(
                user_id=uuid.UUID(c["sub"]),
                tenant_id=uuid.UUID(c["tid"]),
                role=str(c["role"]),
                session_id=uuid.UUID(c["sid"]),
                expires_at=int(c["exp"]),
            )
        )
    except (ValueError, TypeError, KeyError):
        return None


# Console tokens: another issuer, so a tenant token is never a console token or back.
CONSOLE_ISSUER = "pms-console"

_CONSOLE_REGISTRY = jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": CONSOLE_ISSUER},
    sub={"essential": True},
    exp={"essential": True},
    sid={"essential": True},
)


@dataclass(frozen=True, slots=True)
class ConsoleClaims:
    admin_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: int


def issue_console(claims: ConsoleClaims) -> str:
    payload = {
        "iss": CONSOLE_ISSUER,
        "sub": str(claims.admin_id),
        "sid": str(claims.session_id),
        "iat": int(time.time()),
        "exp": claims.expires_at,
    }
    return _sign(payload)


def verify_console(token: str) -> ConsoleClaims | None:
    """The claims of a valid console token; None for anything else (tenant tokens too)."""
    c = _claims(token, _CONSOLE_REGISTRY, timedelta(hours=CONSOLE_SESSION_HOURS))
    try:
        return (
            None
            if c is None
            else ConsoleClaims(
                admin_id=uuid.UUID(c["sub"]),
                session_id=uuid.UUID(c["sid"]),
                expires_at=int(c["exp"]),
            )
        )
    except (ValueError, TypeError, KeyError):
        return None
