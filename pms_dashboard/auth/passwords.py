"""Password hashing with Argon2id (argon2-cffi), with equal work for unknown accounts."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# The rules a password a person chooses must follow (an invite's temporary one is longer).
MIN_PASSWORD = 12
MAX_PASSWORD = 200

_hasher = PasswordHasher()  # library defaults follow RFC 9106's recommended profile
# Verified against when the account does not exist, so both paths cost one Argon2 run.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-burns-time")


def hash_password(password: str) -> str:
    """Argon2id hash for storage."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; always spends one Argon2 verification."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
