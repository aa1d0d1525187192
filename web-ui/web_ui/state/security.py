"""The security page: two-step sign-in with an authenticator app (TOTP)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import reflex as rx

from ..cognito import AuthError, otpauth_uri
from . import services
from .auth import AuthState
from .cognito_forms import CognitoForms
from .services import SIGN_IN_ROUTE, SessionExpired


class SecurityState(CognitoForms, rx.State):
    """The security page: two-step sign-in with an authenticator app (TOTP)."""

    loaded: bool = False
    totp_enabled: bool = False
    # While enrolling: the new secret, as text and as the otpauth:// URI apps read.
    totp_secret: str = ""
    totp_uri: str = ""

    async def _run(self, call: Callable[..., Any], *args: Any) -> tuple[Any, bool]:
        """One Cognito call with the user's access token; (result, ok). A refusal is shown."""
        auth = await self.get_state(AuthState)
        try:
            token = await auth.access_token()
        except SessionExpired:
            self.reset()
            return rx.redirect(SIGN_IN_ROUTE), False
        except AuthError as refused:
            self.busy = False
            self._show(refused)
            return None, False
        result, error = await self._cognito(call, token, *args)
        return (None, False) if error else (result, True)

    def _clear(self) -> None:
        self.notice = self.form_error = self.code_error = ""

    @rx.event
    async def load(self):
        self._clear()
        self.totp_secret = self.totp_uri = ""
        enabled, ok = await self._run(services.cognito().totp_enabled)
        if not ok:
            return enabled  # a redirect when the session ended
        self.totp_enabled = bool(enabled)
        self.loaded = True
        return None

    @rx.event
    async def start_totp(self):
        self._clear()
        self.busy = True
        secret, ok = await self._run(services.cognito().start_totp)
        if not ok:
            return secret
        auth = await self.get_state(AuthState)
        self.totp_secret = secret
        self.totp_uri = otpauth_uri(secret, auth.user_email)
        return None

    @rx.event
    async def verify_totp(self, form_data: dict[str, Any]):
        self._clear()
        code = (form_data.get("totp_code") or "").strip().replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            self.code_error = "Enter the 6-digit code from your authenticator app."
            return None
        self.busy = True
        result, ok = await self._run(services.cognito().verify_totp, code)
        if not ok:
            return result
        self.totp_enabled = True
        self.totp_secret = self.totp_uri = ""
        self.notice = "Two-step sign-in is on. From now on, signing in asks for the app's code."
        return None

    @rx.event
    def cancel_totp(self):
        self._clear()
        self.totp_secret = self.totp_uri = ""

    @rx.event
    async def disable_totp(self):
        self._clear()
        self.busy = True
        result, ok = await self._run(functools.partial(services.cognito().set_totp, enabled=False))
        if not ok:
            return result
        self.totp_enabled = False
        self.notice = "Two-step sign-in is off."
        return None
