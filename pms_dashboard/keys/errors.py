"""What people read when a tenant's key cannot be used, and the refusals that carry it."""

from __future__ import annotations

from typing import Any

from pms_dashboard.errors import UserError
from pms_dashboard.tenancy.context import AuditedRefusal

# Shown in place of an encrypted field whose key is unavailable (a contract: keep the words).
UNAVAILABLE_TEXT = "Encrypted with your organisation's key, which is unavailable"
# Shown in place of a ciphertext that does not belong where it was found (never its content).
MISPLACED_TEXT = "This text cannot be shown: it was not written here (reported)"


class KeyConfigError(UserError):
    """A key configuration that cannot be used as given; nothing was changed."""


class KeyUnavailable(AuditedRefusal):
    """The tenant's data key could not be unwrapped (key disabled, deleted, access revoked,
    KMS unreachable). Raised by writes and exports; the failed unwrap is audited even
    though the request's own work was rolled back."""

    def __init__(
        self, message: str, *, provider: str = "", version: int | None = None, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.provider, self.version, self.reason = provider, version, reason

    def audit_refusal(self, session: Any) -> None:
        from pms_dashboard.keys.trail import record_unwrap

        record_unwrap(
            session=session,
            provider=self.provider,
            version=self.version,
            ok=False,
            reason=self.reason,
        )


class ProviderError(RuntimeError):
    """A key provider refused or failed; the message names the provider's reason, never a
    key or a credential."""
