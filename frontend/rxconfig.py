"""Reflex configuration. The app's own settings (API URL, Cognito ids) come from the
environment at start: see chatbot_web/settings.py."""

import reflex as rx

config = rx.Config(
    app_name="chatbot_web",
    telemetry_enabled=False,
    # The sitemap needs a public URL at build time; one build serves every environment.
    disable_plugins=[rx.plugins.SitemapPlugin],
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="iris", radius="large"))],
)
