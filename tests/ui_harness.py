"""The state driver, under the name the tests use (it lives in the package so the
benchmarks share it)."""

from pms_dashboard.ui.driver import (
    call,
    download_url,
    redirects_to,
    state_for,
    token_for,
    vars_text,
)

__all__ = ["call", "download_url", "redirects_to", "state_for", "token_for", "vars_text"]
