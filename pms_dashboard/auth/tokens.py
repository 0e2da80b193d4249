"""Signed session tokens (JWT, HS256).

Signed with joserfc, the JOSE implementation the Authlib project maintains and to which
Authlib's own `authlib.jose` module now defers. A token alone grants nothing: its session
id must also name an unrevoked, unexpired row of `auth_session` (see auth.service).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from pms_dashboard.settings import get_settings

ISSUER = "pms-dashboard"
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    expires_at: int


def _key() -> OctKey:
    return OctKey.import_key(get_settings().secret_key.encode())


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
    return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, payload, _key(), algorithms=[ALGORITHM])


_REGISTRY = jwt.JWTClaimsRegistry(
    iss={"essential": True, "value": ISSUER},
    sub={"essential": True},
    exp={"essential": True},
    tid={"essential": True},
    sid={"essential": True},
    role={"essential": True},
)


def _claims(token: str, registry: jwt.JWTClaimsRegistry) -> dict | None:
    """The validated claims of a token we signed, for one kind of token; None otherwise."""
    if not token or len(token) > 4096:
        return None
    try:
        decoded = jwt.decode(token, _key(), algorithms=[ALGORITHM])
        registry.validate(decoded.claims)
    except (JoseError, ValueError, TypeError):
        return None
    return decoded.claims


def verify(token: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token signed by us; None for anything else."""
    c = _claims(token, _REGISTRY)
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
    return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, payload, _key(), algorithms=[ALGORITHM])


def verify_console(token: str) -> ConsoleClaims | None:
    """The claims of a valid console token; None for anything else (tenant tokens too)."""
    c = _claims(token, _CONSOLE_REGISTRY)
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
