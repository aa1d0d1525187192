"""The Reflex app: routes, the session endpoints, the security headers and start-up."""

import reflex as rx
from reflex import constants
from reflex.environment import environment
from reflex.utils import prerequisites

from . import federated, security_headers, sessions
from .components.browser import session_sync
from .components.layout import CRISIS_ROUTE
from .pages import auth, chat, crisis, moods, security
from .state import AuthState, check_settings
from .state.moods import MOODS_ROUTE, MoodState


def session_wrap(stateful: bool) -> rx.Component | None:
    """Around every page, for the whole life of the tab: exchanges a sign-in's ticket for the
    session cookie, clears it at sign-out, and keeps the other tabs in step (sessions.py). The
    endpoints are on the backend, beside the websocket (REFLEX_API_URL when the pages are
    built)."""
    if not stateful:
        return None
    return session_sync(
        ticket=AuthState.session_ticket,
        ended=AuthState.session_ended,
        endpoint=rx.config.get_config().api_url.rstrip("/") + sessions.ROUTE_PREFIX,
    )


# The session endpoints come before the Reflex app; every HTTP response of the server (pages,
# assets, /ping, the session endpoints) carries the security headers.
app = rx.App(
    stylesheets=["/styles.css"],
    api_transformer=[sessions.routes(), security_headers.from_environment],
    extra_app_wraps={(3, "SessionSync"): session_wrap},
)


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


app.add_page(chat.chat_page, route="/", title="Chat", on_load=AuthState.require_sign_in)
app.add_page(
    auth.sign_in_page, route="/signin", title="Sign in", on_load=AuthState.skip_sign_in_form
)
app.add_page(auth.sign_up_page, route="/signup", title="Create an account")
app.add_page(auth.confirm_page, route="/confirm", title="Confirm your account")
app.add_page(auth.reset_page, route="/reset", title="Reset your password")
app.add_page(
    security.security_page,
    route="/security",
    title="Security",
    on_load=AuthState.require_sign_in_for_security,
)
app.add_page(crisis.crisis_page, route=CRISIS_ROUTE, title="If you are in crisis")
app.add_page(
    moods.moods_page, route=MOODS_ROUTE, title="Your mood timeline", on_load=MoodState.load_page
)
app.add_page(
    federated.callback_page,
    route=federated.CALLBACK_ROUTE,
    title="Signing in",
    on_load=federated.FederatedState.finish,
)
