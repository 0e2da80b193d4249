"""Secrets the app must read back later (TOTP seeds, identity-provider client secrets) are
stored encrypted with a key derived from the installation's data key (SECRET_KEY when set,
else the keyring's; rotating the signing keys never changes it) and the secret's purpose,
so a leaked database row alone reveals nothing and one purpose's key never opens another's."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from pms_dashboard import keyring


def _fernet(purpose: str) -> Fernet:
    digest = hashlib.sha256(f"pms-{purpose}:".encode() + keyring.data_key())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt(purpose: str, secret: str) -> str:
    return _fernet(purpose).encrypt(secret.encode()).decode()


def decrypt(purpose: str, stored: str) -> str | None:
    """The secret, or None if `stored` was not encrypted for `purpose` with this key."""
    try:
        return _fernet(purpose).decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        return None
