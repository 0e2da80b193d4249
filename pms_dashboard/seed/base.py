"""What every kind of seeding shares: its refusal, and the refusal to run in production."""

from __future__ import annotations

from pms_dashboard.settings import get_settings


class SeedError(RuntimeError):
    """Seeding was refused; the message is safe to show."""


def refuse_in_production() -> None:
    """Every seeded account's password is the demo password, which the README publishes."""
    if get_settings().env == "production":
        raise SeedError(
            "refusing to seed accounts with the published demo password when PMS_ENV=production"
        )
