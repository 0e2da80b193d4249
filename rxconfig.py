"""Reflex configuration. App settings come from pms_dashboard.settings; telemetry is off."""

import os

import reflex as rx

# With the state in Redis (REFLEX_REDIS_URL, several workers), a worker keeps the state of a
# tab it serves in memory while it holds that tab's lock (Reflex's opportunistic lock), and
# writes it back to Redis as soon as another worker asks for the tab, or after half the lock's
# lifetime. Without it every event read and wrote the tab's states in Redis: about 40% more
# worker CPU per event (`python -m bench.load`). The state manager reads this when a worker
# creates it, after this file. REFLEX_OPLOCK_ENABLED=false in the environment turns it off.
os.environ.setdefault("REFLEX_OPLOCK_ENABLED", "true")

config = rx.Config(
    app_name="pms_dashboard",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="light", accent_color="indigo", radius="medium")
        ),
        rx.plugins.SitemapPlugin(),
    ],
)
