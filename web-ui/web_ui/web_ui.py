"""The Reflex app: routes, the security headers and start-up."""

import reflex as rx
from reflex import constants
from reflex.environment import environment
from reflex.utils import prerequisites

from . import pages, security_headers
from .state import AuthState, check_settings

# Every HTTP response of the server (pages, assets, /ping) carries the security headers.
app = rx.App(stylesheets=["/styles.css"], api_transformer=security_headers.from_environment)


@app.register_lifespan_task
def validate_configuration():
    # Only the backend needs the settings; the static export builds without them.
    check_settings()


@app.register_lifespan_task
def externalize_inline_scripts():
    # When this server serves the built pages itself (prod, one port), they must run under the
    # policy's `script-src 'self'`, as the static export does: move their inline scripts out
    # before the first request.
    if environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.get():
        build = prerequisites.get_web_dir() / constants.Dirs.STATIC
        if build.is_dir():
            security_headers.externalize_build(build)


app.add_page(pages.chat_page, route="/", title="Chat", on_load=AuthState.require_sign_in)
app.add_page(
    pages.sign_in_page, route="/signin", title="Sign in", on_load=AuthState.skip_sign_in_form
)
app.add_page(pages.sign_up_page, route="/signup", title="Create an account")
app.add_page(pages.confirm_page, route="/confirm", title="Confirm your account")
app.add_page(pages.reset_page, route="/reset", title="Reset your password")
app.add_page(
    pages.security_page,
    route="/security",
    title="Security",
    on_load=AuthState.require_sign_in_for_security,
)
