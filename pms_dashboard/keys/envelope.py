"""The stored form of an encrypted field:
`pmsenc:1:<data-key version>:<base64url(nonce | ciphertext)>`.

AES-256-GCM with a random 96-bit nonce. The associated data binds the value to where it was
written (tenant, table, column, row id), never to where it lives (schema, database, region),
so a move copies it unchanged while a ciphertext copied to another row, column or tenant
fails its tag check and is reported instead of shown.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pmsenc:1:"
KEY_BYTES = 32
_NONCE_BYTES = 12


class Misplaced(ValueError):
    """A ciphertext that does not open here: copied from another row, column or tenant, or
    altered (or a stored value that only looks like one)."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value belongs: its associated data."""

    tenant_id: uuid.UUID
    table: str
    column: str
    row_id: uuid.UUID

    def aad(self) -> bytes:
        return f"pms|{self.tenant_id}|{self.table}|{self.column}|{self.row_id}".encode()


def is_sealed(stored: str | None) -> bool:
    """Whether a stored value is in the envelope format (else it is plain text)."""
    return bool(stored) and str(stored).startswith(PREFIX)


def version_of(stored: str) -> int:
    """The data-key version a sealed value was written with (Misplaced if unreadable)."""
    head, _, _ = stored[len(PREFIX) :].partition(":")
    if not head.isdigit():
        raise Misplaced("not an encrypted value")
    return int(head)


def seal(*, key: bytes, version: int, place: Place, plaintext: str) -> str:
    """`plaintext` encrypted for `place` with data key `key` (of `version`)."""
    nonce = os.urandom(_NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, plaintext.encode(), place.aad())
    return f"{PREFIX}{version}:{base64.urlsafe_b64encode(nonce + body).decode()}"


def open_sealed(*, key: bytes, place: Place, stored: str) -> str:
    """The plaintext of a sealed value written for `place`; Misplaced otherwise."""
    return _open(AESGCM(key), place.aad(), stored)


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _open(aes: AESGCM, aad: bytes, stored: str, encoded: str | None = None) -> str:
    if encoded is None:
        _, _, encoded = stored[len(PREFIX) :].partition(":")
    try:
        raw = binascii.a2b_base64(encoded.encode().translate(_FROM_URLSAFE))
        plain = aes.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
    except (InvalidTag, ValueError, binascii.Error) as err:
        raise Misplaced("the value was not written for this place") from err
    return plain.decode()


class ColumnOpener:
    """Opens many sealed values of one tenant's table column (an export's): one cipher per
    data-key version (`key_for(version)` asked once each), the associated data built from
    the row id as PostgreSQL prints it (the same text as `str(uuid)`)."""

    def __init__(
        self, *, tenant_id: uuid.UUID, table: str, column: str, key_for: Callable[[int], bytes]
    ) -> None:
        self._aad = Place(tenant_id, table, column, uuid.UUID(int=0)).aad()[:-36]
        self._key_for = key_for
        self._ciphers: dict[str, AESGCM] = {}  # by the version as written

    def open(self, stored: str, row_id: str) -> str:
        """The plaintext of `stored`, found in row `row_id`; Misplaced if not written there."""
        head, _, encoded = stored[len(PREFIX) :].partition(":")
        aes = self._ciphers.get(head)
        if aes is None:
            if not head.isdigit():
                raise Misplaced("not an encrypted value")
            aes = self._ciphers[head] = AESGCM(self._key_for(int(head)))
        return _open(aes, self._aad + row_id.encode(), stored, encoded)
