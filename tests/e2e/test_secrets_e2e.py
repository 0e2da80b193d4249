"""The production server (`reflex run --env prod`, what `make run` starts) refuses session
tokens signed with the development defaults this project once published, for a real
session, whatever key id they name; the token it issued itself works."""

from __future__ import annotations

import httpx
import pytest

from pms_dashboard.auth import routes as auth_routes
from pms_dashboard.auth.cookies import SESSION_COOKIE
from tests.conftest import TEST_PASSWORD
from tests.test_secrets import PUBLISHED, forge, tenant_payload, token_kid

pytestmark = pytest.mark.e2e


def test_the_production_server_refuses_tokens_signed_with_published_defaults(
    app_url, make_tenant
) -> None:
    t = make_tenant()
    signed = auth_routes.sign_in_with_password(
        slug=t.slug, email=f"admin@{t.slug}.test", password=TEST_PASSWORD
    )
    paths = ("/api/auth/me", "/api/export/audit.csv", "/api/export/people.csv")

    def status(path: str, token: str) -> int:
        return httpx.get(f"{app_url}{path}", cookies={SESSION_COOKIE: token}).status_code

    assert [status(p, signed.token) for p in paths] == [200] * len(paths)
    payload = tenant_payload(signed)
    for value in PUBLISHED:
        for kid in (None, token_kid(signed.token)):
            assert [status(p, forge(payload, value, kid)) for p in paths] == [401] * len(paths)
