"""Key providers: where a tenant's data key is wrapped (encrypted) and unwrapped.

One small interface, three providers:

- `platform`: the data key wrapped with a key derived from the installation's data key
  (`keyring.data_key()`, purpose "tenant-data-key", as `crypto` derives its purposes):
  encryption at rest, and crypto-shredding when the tenant's key rows are deleted, without
  a customer KMS.
- `openbao`: the customer's OpenBao / HashiCorp Vault transit engine (client `hvac`):
  wrap = transit encrypt of the data key, unwrap = transit decrypt. The customer's key
  version is the `vault:vN:` prefix of the wrapped key.
- `aws-kms`: AWS KMS through boto3 (GenerateDataKey, Encrypt, Decrypt, with the tenant id
  as encryption context). AWS is not reachable from the test environment: this provider is
  tested only with botocore's Stubber, never against the real service.

Every failure becomes ProviderError with a reason safe to show and log (never a key or a
credential).
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pms_dashboard import keyring
from pms_dashboard.keys.envelope import KEY_BYTES
from pms_dashboard.keys.errors import ProviderError

PROVIDERS = ("platform", "openbao", "aws-kms")
_TIMEOUT_S = 5


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach a tenant's key: provider, address, key name, credential (decrypted)."""

    provider: str
    address: str = ""
    key_name: str = ""
    credential: str = field(default="", repr=False)
    region: str = ""


class KeyProvider(Protocol):
    """Wraps and unwraps a tenant's data keys."""

    name: str

    def new_data_key(self, *, tenant_id: uuid.UUID) -> tuple[bytes, str]:
        """A fresh data key and its wrapped form."""
        ...

    def wrap(self, data_key: bytes, *, tenant_id: uuid.UUID) -> str: ...

    def unwrap(self, wrapped: str, *, tenant_id: uuid.UUID) -> bytes: ...

    def key_version(self, wrapped: str) -> str:
        """The provider's key version a wrapped key was made with (shown, audited)."""
        ...


def _checked(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ProviderError("the key provider returned a data key of the wrong size")
    return key


class PlatformProvider:
    """The data key wrapped by the installation's master key (derived per purpose)."""

    name = "platform"

    def _master(self) -> AESGCM:
        return AESGCM(hashlib.sha256(b"pms-tenant-data-key:" + keyring.data_key()).digest())

    def new_data_key(self, *, tenant_id: uuid.UUID) -> tuple[bytes, str]:
        key = os.urandom(KEY_BYTES)
        return key, self.wrap(key, tenant_id=tenant_id)

    def wrap(self, data_key: bytes, *, tenant_id: uuid.UUID) -> str:
        nonce = os.urandom(12)
        body = self._master().encrypt(nonce, data_key, str(tenant_id).encode())
        return "platform:v1:" + base64.urlsafe_b64encode(nonce + body).decode()

    def unwrap(self, wrapped: str, *, tenant_id: uuid.UUID) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(wrapped.removeprefix("platform:v1:").encode())
            key = self._master().decrypt(raw[:12], raw[12:], str(tenant_id).encode())
        except (InvalidTag, ValueError):
            raise ProviderError("the platform key does not open this data key") from None
        return _checked(key)

    def key_version(self, wrapped: str) -> str:
        return "v1"


class OpenBaoProvider:
    """The customer's OpenBao (or Vault) transit key."""

    name = "openbao"

    def __init__(self, config: ProviderConfig, *, mount_point: str = "transit") -> None:
        import hvac

        self._key = config.key_name
        self._mount = mount_point
        self._client = hvac.Client(url=config.address, token=config.credential, timeout=_TIMEOUT_S)

    def _call(self, what: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
        import hvac.exceptions
        import requests

        try:
            reply: dict[str, Any] = fn(name=self._key, mount_point=self._mount, **kwargs)
        except hvac.exceptions.VaultError as err:
            reason = type(err).__name__
            raise ProviderError(f"OpenBao refused to {what} ({reason})") from None
        except requests.RequestException as err:
            raise ProviderError(f"OpenBao is unreachable ({type(err).__name__})") from None
        return reply["data"]

    def new_data_key(self, *, tenant_id: uuid.UUID) -> tuple[bytes, str]:
        key = os.urandom(KEY_BYTES)
        return key, self.wrap(key, tenant_id=tenant_id)

    def wrap(self, data_key: bytes, *, tenant_id: uuid.UUID) -> str:
        plain = base64.b64encode(data_key).decode()
        transit = self._client.secrets.transit
        return str(self._call("encrypt", transit.encrypt_data, plaintext=plain)["ciphertext"])

    def unwrap(self, wrapped: str, *, tenant_id: uuid.UUID) -> bytes:
        transit = self._client.secrets.transit
        data = self._call("decrypt", transit.decrypt_data, ciphertext=wrapped)
        return _checked(base64.b64decode(data["plaintext"]))

    def key_version(self, wrapped: str) -> str:
        parts = wrapped.split(":")
        return parts[1] if len(parts) > 2 else "?"


class AwsKmsProvider:
    """An AWS KMS key (tested with botocore's Stubber only: AWS is not reachable here)."""

    name = "aws-kms"

    def __init__(self, config: ProviderConfig, *, client: Any = None) -> None:
        self._key = config.key_name
        self._client = client if client is not None else _kms_client(config)

    def _call(self, what: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply: dict[str, Any] = getattr(self._client, what)(**kwargs)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "error")
            raise ProviderError(f"AWS KMS refused {what} ({code})") from None
        except BotoCoreError as err:
            raise ProviderError(f"AWS KMS is unreachable ({type(err).__name__})") from None
        return reply

    def _context(self, tenant_id: uuid.UUID) -> dict[str, str]:
        return {"pms-tenant": str(tenant_id)}

    def new_data_key(self, *, tenant_id: uuid.UUID) -> tuple[bytes, str]:
        reply = self._call(
            "generate_data_key",
            KeyId=self._key,
            KeySpec="AES_256",
            EncryptionContext=self._context(tenant_id),
        )
        wrapped = base64.b64encode(reply["CiphertextBlob"]).decode()
        return _checked(reply["Plaintext"]), f"{reply.get('KeyId', self._key)}|{wrapped}"

    def wrap(self, data_key: bytes, *, tenant_id: uuid.UUID) -> str:
        ctx = self._context(tenant_id)
        reply = self._call("encrypt", KeyId=self._key, Plaintext=data_key, EncryptionContext=ctx)
        blob = base64.b64encode(reply["CiphertextBlob"]).decode()
        return f"{reply.get('KeyId', self._key)}|{blob}"

    def unwrap(self, wrapped: str, *, tenant_id: uuid.UUID) -> bytes:
        _, _, blob = wrapped.rpartition("|")
        reply = self._call(
            "decrypt",
            KeyId=self._key,
            CiphertextBlob=base64.b64decode(blob),
            EncryptionContext=self._context(tenant_id),
        )
        return _checked(reply["Plaintext"])

    def key_version(self, wrapped: str) -> str:
        """The key ARN that wrapped it (KMS rotates key material behind one ARN)."""
        return wrapped.rpartition("|")[0] or "?"


def _kms_client(config: ProviderConfig) -> Any:
    import boto3

    access, _, secret = config.credential.partition(":")
    kwargs: dict[str, Any] = {"region_name": config.region or None}
    if config.address:
        kwargs["endpoint_url"] = config.address
    if access and secret:
        kwargs |= {"aws_access_key_id": access, "aws_secret_access_key": secret}
    return boto3.client("kms", **kwargs)


def provider_for(config: ProviderConfig) -> KeyProvider:
    """The provider a tenant's configuration names."""
    if config.provider == "platform":
        return PlatformProvider()
    if config.provider == "openbao":
        return OpenBaoProvider(config)
    if config.provider == "aws-kms":
        return AwsKmsProvider(config)
    raise ProviderError(f"unknown key provider {config.provider!r}")
