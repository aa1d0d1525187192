"""The federated sign-in in the web app: the buttons, the redirect and the callback page.

The flow's secrets (`state`, `nonce`, the PKCE verifier) live only in backend vars, like the
tokens; the browser carries `state` and the code through the managed login and back. The
navigation to the managed login is a plain `window.location` change (not a form post), which
the page's Content-Security-Policy (`form-action 'none'`) allows.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from .oauth import BUTTON_LABELS, FederationRefused, PendingSignIn, federation
from .settings import SettingsError
from .state import AuthState
from .state.services import CHAT_ROUTE

CALLBACK_ROUTE = "/oauth/callback"

log = logging.getLogger("web_ui.federated")


def _offered(button: str) -> bool:
    # The static export compiles the initial state without any settings: nothing is offered
    # there until the backend, which has them, answers.
    try:
        client = federation()
    except SettingsError:
        return False
    return bool(client and client.settings.provider_for(button))


class FederatedState(rx.State):
    """A federated sign-in between the redirect and the callback."""

    refusal: str = ""
    _pending_state: str = ""
    _pending_nonce: str = ""
    _pending_verifier: str = ""
    _pending_started_at: float = 0.0

    @rx.var
    def google_offered(self) -> bool:
        return _offered("google")

    @rx.var
    def organisation_offered(self) -> bool:
        return _offered("organisation")

    def _take_pending(self) -> PendingSignIn | None:
        """The pending sign-in, forgotten as it is read: a second callback finds nothing."""
        pending = None
        if self._pending_state:
            pending = PendingSignIn(
                self._pending_state,
                self._pending_nonce,
                self._pending_verifier,
                self._pending_started_at,
            )
        self._pending_state = self._pending_nonce = self._pending_verifier = ""
        self._pending_started_at = 0.0
        return pending

    @rx.event
    def start(self, button: str):
        """Go to the managed login for the provider behind `button` ("google", "organisation")."""
        client = federation()
        provider = client.settings.provider_for(button) if client else None
        if provider is None:
            self.refusal = "That sign-in option is not available."
            return None
        url, pending = client.begin(provider)
        self.refusal = ""
        self._pending_state, self._pending_nonce = pending.state, pending.nonce
        self._pending_verifier, self._pending_started_at = pending.code_verifier, pending.started_at
        return rx.redirect(url)

    @rx.event
    async def finish(self):
        """on_load of the callback page: check it, exchange the code, sign the user in."""
        params = dict(self.router.url.query_parameters)
        pending = self._take_pending()
        client = federation()
        if client is None:
            self.refusal = "Federated sign-in is not available here."
            return None
        try:
            result = await asyncio.to_thread(client.finish, pending, params)
        except FederationRefused as refused:
            log.warning("federated sign-in refused: %s", refused.reason)
            self.refusal = refused.message
            return None
        auth = await self.get_state(AuthState)
        await auth._signed_in(result.tokens, result.email, federated=True)
        auth._clear_errors()
        auth.notice = ""
        self.refusal = ""
        return rx.redirect(CHAT_ROUTE, replace=True)


def _provider_button(offered, provider: str) -> rx.Component:
    """The button of one identity provider, shown where the deployment offers it."""
    return rx.cond(
        offered,
        rx.button(
            BUTTON_LABELS[provider],
            type="button",
            variant="outline",
            size="3",
            width="100%",
            on_click=FederatedState.start(provider),
        ),
    )


def federated_buttons() -> rx.Component:
    """The sign-in page's federated options; only those the deployment offers appear."""
    return rx.vstack(
        _provider_button(FederatedState.google_offered, "google"),
        _provider_button(FederatedState.organisation_offered, "organisation"),
        rx.cond(
            FederatedState.refusal != "",
            rx.callout(FederatedState.refusal, color_scheme="red", role="alert", width="100%"),
        ),
        spacing="2",
        width="100%",
    )


def callback_page() -> rx.Component:
    """Where the managed login sends the browser back: a short wait, or why it was refused."""
    return rx.center(
        rx.card(
            rx.vstack(
                rx.text("Emotion-aware chat", size="3", weight="bold", color_scheme="gray"),
                rx.cond(
                    FederatedState.refusal != "",
                    rx.vstack(
                        rx.heading("Sign-in refused", size="6", as_="h1"),
                        rx.callout(
                            FederatedState.refusal, color_scheme="red", role="alert", width="100%"
                        ),
                        rx.link("Back to sign-in", href="/signin"),
                        spacing="3",
                        width="100%",
                    ),
                    rx.heading("Signing you in ...", size="6", as_="h1"),
                ),
                spacing="4",
                width="100%",
            ),
            class_name="auth-card",
        ),
        class_name="auth-page",
    )
