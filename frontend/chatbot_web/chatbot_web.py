"""The Reflex app: routes and start-up."""

import reflex as rx

from . import pages
from .state import AuthState, check_settings

app = rx.App(stylesheets=["/styles.css"])


@app.register_lifespan_task
def validate_configuration():
    # Only the backend needs the settings; the static export builds without them.
    check_settings()


app.add_page(pages.chat_page, route="/", title="Chat", on_load=AuthState.require_sign_in)
app.add_page(
    pages.sign_in_page, route="/signin", title="Sign in", on_load=AuthState.skip_sign_in_form
)
app.add_page(pages.sign_up_page, route="/signup", title="Create an account")
app.add_page(pages.confirm_page, route="/confirm", title="Confirm your account")
app.add_page(pages.reset_page, route="/reset", title="Reset your password")
