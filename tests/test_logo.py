"""A logo address must load as an image before it is saved: paths among the app's assets,
https addresses on the public internet answering with an image (no network needed for
the refusals tested here)."""

from __future__ import annotations

import pytest

from pms_dashboard.organisation.logo import check_logo_loads
from pms_dashboard.organisation.schemas import CustomizationError


@pytest.mark.parametrize("url", ["", "/favicon.ico", "/logo.svg", "/favicon.svg?v=2"])
def test_images_among_the_assets_and_no_logo_are_accepted(url: str) -> None:
    check_logo_loads(url)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("/nope.png", "There is no file at /nope.png on this site"),
        ("/screenshots", "There is no file at /screenshots"),  # a folder
        ("/../pyproject.toml", "There is no file at /../pyproject.toml"),  # outside the assets
        ("/%2e%2e/README.md", "There is no file"),
        ("https://localhost/logo.png", "must be on the public internet"),
        ("https://127.0.0.1:8443/logo.png", "must be on the public internet"),
        ("https://[::1]/logo.png", "must be on the public internet"),
        ("https://10.1.2.3/logo.png", "must be on the public internet"),
        ("https://no-such-host.invalid/logo.png", "could not be found"),
    ],
)
def test_an_address_that_does_not_load_as_an_image_is_refused(url: str, said: str) -> None:
    with pytest.raises(CustomizationError) as refused:
        check_logo_loads(url)
    assert said in str(refused.value) and refused.value.field == "logo_url"
