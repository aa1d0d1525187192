"""Reflex configuration. The app's own settings (API URL, Cognito ids) come from the
environment at start: see web_ui/settings.py."""

import os

import reflex as rx

config = rx.Config(
    app_name="web_ui",
    telemetry_enabled=False,
    # The sitemap needs a public URL at build time; one build serves every environment.
    disable_plugins=[rx.plugins.SitemapPlugin],
    show_built_with_reflex=False,
    # The browser's address (State.router.session.client_ip, sent to Cognito's threat
    # protection): in AWS the websocket arrives through the load balancer, which appends the
    # peer it saw to X-Forwarded-For; that last entry is the one to trust. Locally the browser
    # connects directly. REFLEX_TRUSTED_PROXY_HOPS overrides it.
    trusted_proxy_hops=0 if (os.environ.get("APP_ENV") or "local") == "local" else 1,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="iris", radius="large"))],
)
