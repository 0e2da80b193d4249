"""A real OpenID Connect provider on loopback for the single sign-on tests: the PyPI package
`oidc-provider-mock` (Authlib's server side, authorization code + PKCE, RS256 ID tokens),
served by werkzeug in a thread of the test process, reachable from the app and a browser."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # noqa: F401  (its import adds an "always" filter; ours goes after it)
import flask
import httpx

with warnings.catch_warnings():  # the test provider still imports Authlib's older JOSE module
    warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")
    import oidc_provider_mock
import werkzeug.serving
from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Provider:
    issuer: str
    app: flask.Flask

    def set_user(self, sub: str, **claims: Any) -> None:
        """The claims the provider will assert for `sub` (email, name, email_verified...)."""
        response = httpx.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        response.raise_for_status()

    def signing_key(self) -> RSAKey:
        """The provider's own private signing key, to forge tokens the way only it could."""
        with self.app.test_request_context("/"):
            self.app.preprocess_request()
            storage = flask.g.oidc_provider_mock_storage
            return RSAKey.import_key(storage.jwk.as_dict(is_private=True))

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", key: Any = None) -> str:
        """An ID token with these claims, signed by the provider's key (or `key`)."""
        signer = key or self.signing_key()
        header: dict[str, Any] = {"alg": alg}
        if isinstance(signer, RSAKey) and signer.kid:
            header["kid"] = signer.kid
        return jwt.encode(header, claims, signer, algorithms=[alg])

    def claims(self, *, aud: str, nonce: str | None, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {"iss": self.issuer, "sub": "someone", "aud": aud,
                                "iat": now, "exp": now + 300}  # fmt: skip
        if nonce is not None:
            base["nonce"] = nonce
        return base | extra

    def authorize(self, authorization_url: str, sub: str) -> str:
        """Play the person at the provider's sign-in form: returns where it redirects."""
        response = httpx.post(authorization_url, data={"sub": sub}, timeout=10)
        assert response.status_code in (302, 303), response.text[:500]
        return response.headers["location"]


@contextmanager
def running_provider() -> Iterator[Provider]:
    app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("localhost", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield Provider(issuer=f"http://localhost:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
