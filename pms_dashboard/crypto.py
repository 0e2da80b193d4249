"""Secrets the app must read back later (TOTP seeds, identity-provider client secrets) are
stored encrypted with a key derived from SECRET_KEY and the secret's purpose, so a leaked
database row alone reveals nothing and one purpose's key never opens another's."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from pms_dashboard.settings import get_settings


def _fernet(purpose: str) -> Fernet:
    digest = hashlib.sha256(f"pms-{purpose}:".encode() + get_settings().secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt(purpose: str, secret: str) -> str:
    return _fernet(purpose).encrypt(secret.encode()).decode()


def decrypt(purpose: str, stored: str) -> str | None:
    """The secret, or None if `stored` was not encrypted for `purpose` with this key."""
    try:
        return _fernet(purpose).decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        return None
