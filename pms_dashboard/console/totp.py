"""The super-admin's second factor: time-based one-time passwords (RFC 6238, 30 s steps).

Secrets are stored encrypted (Fernet, `pms_dashboard.crypto`), and each accepted code
moves the admin's last-used step forward, so a code is good once: an intercepted or
shoulder-surfed code cannot be replayed.
"""

from __future__ import annotations

import hmac
import time

import pyotp

from pms_dashboard import crypto

ISSUER_NAME = "PMS platform console"
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt(secret: str) -> str:
    return crypto.encrypt("console-totp", secret)


def decrypt(stored: str) -> str | None:
    return crypto.decrypt("console-totp", stored)


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app scans (or takes as text)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER_NAME)


def accepted_step(
    secret: str, code: str, *, last_step: int, now: float | None = None
) -> int | None:
    """The time step `code` belongs to (this one or one either side, for clock drift) if it
    is right and later than `last_step`; None otherwise."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None
