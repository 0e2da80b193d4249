"""Reflex configuration. App settings come from pms_dashboard.settings; telemetry is off."""

import reflex as rx

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
