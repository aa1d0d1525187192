"""Authentication: the sign-in, sign-up, confirmation and reset forms, the MFA step, sign-out,
and the user's tokens.

The tokens live in the browser's server-side session (sessions.py), shared by its tabs; a tab's
state holds only the session's key (a backend var, never sent to the browser). A new tab, or
the browser after a restart, adopts the session its HttpOnly cookie names.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import reflex as rx

from ..cognito import (
    PASSWORD_RULES,
    AuthError,
    MfaChallenge,
    Tokens,
    UserContext,
    email_is_valid,
    password_checks,
    token_username,
)
from ..oauth import federation
from ..sessions import (
    SessionRecord,
    key_of,
    new_secret,
    origin_allowed,
    secure_cookies,
    session_days,
    session_id_from_cookies,
    session_store,
    start_session,
)
from ..token_seal import token_seal
from . import services
from .cognito_forms import CognitoForms
from .services import CHAT_ROUTE, SIGN_IN_ROUTE, SessionExpired

# Refresh the access token this long before it expires, so no call is made with a token that
# expires on the way.
REFRESH_MARGIN_SECONDS = 120

# One answer for an address with or without an account (sign-up and resend).
SIGN_UP_NOTICE = (
    "We sent a confirmation code to {email}, unless it already has an account: then sign in, "
    "or reset the password. Enter the code below."
)
RESEND_NOTICE = "If {email} is waiting for confirmation, a new code is on its way."
RESET_NOTICE = "If {email} has an account, a reset code is on its way. Enter it below."


def _per_user_states() -> tuple[type[rx.State], ...]:
    """The states that hold a signed-in user's data; sign-out empties them."""
    from .account import AccountState
    from .chat import ChatState
    from .conversation_tools import ConversationToolsState
    from .history import HistoryState
    from .moods import MoodState
    from .security import SecurityState

    return (
        AccountState,
        ChatState,
        ConversationToolsState,
        HistoryState,
        MoodState,
        SecurityState,
    )


class AuthState(CognitoForms, rx.State):
    """Who is signed in, the sign-in forms' errors, and this tab's session."""

    user_email: str = ""
    # The e-mail address carried from sign-up to confirmation, and through a password reset.
    pending_email: str = ""
    # What the e-mail fields of the sign-in, confirmation and reset forms show. They are
    # controlled inputs (value and on_change): a carried address replaces the field's content.
    # As a default value that arrived with the state after hydration, it could be merged with
    # text typed meanwhile.
    email_field: str = ""
    reset_code_sent: bool = False
    email_error: str = ""
    password_error: str = ""

    # Sign-in waits for the authenticator app's code (SOFTWARE_TOKEN_MFA).
    mfa_step: bool = False

    # The signed-in browser's session (sessions.py): the tokens live in its record, shared by
    # the browser's tabs; this tab's state holds only the record's key.
    _session_key: str = ""
    # For the browser (components/browser.js): a sign-in's one-time ticket, exchanged for the
    # session cookie, and a value set by sign-out, which clears it and tells the other tabs.
    session_ticket: str = ""
    session_ended: str = ""
    _mfa_session: str = ""
    _mfa_username: str = ""
    _mfa_email: str = ""

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.user_email)

    @rx.var
    def password_rules(self) -> list[str]:
        return [text for _, text in PASSWORD_RULES]

    def _clear_errors(self) -> None:
        self.form_error = self.email_error = self.password_error = self.code_error = ""

    def _forget(self) -> None:
        self._session_key = ""
        self.user_email = ""
        self._end_mfa_step()

    async def _session(self) -> SessionRecord | None:
        """This tab's session record; a tab without one (a new tab, a restarted browser)
        adopts the session its cookie names, when the websocket came from the app's origin."""
        store = session_store()
        record = await store.load(self._session_key)
        if record is None:
            headers = self.router.headers
            session_id = session_id_from_cookies(headers.cookie, secure_cookies())
            deploy_url = os.environ.get("REFLEX_DEPLOY_URL")
            if session_id and origin_allowed(headers.origin, headers.host, deploy_url):
                record = await store.load(key_of(session_id))
                self._session_key = key_of(session_id) if record else ""
        if record is None:
            self._session_key = self.user_email = ""
        else:
            self.user_email = record.email
        return record

    def _end_mfa_step(self) -> None:
        self.mfa_step = False
        self._mfa_session = self._mfa_username = self._mfa_email = ""

    def _user_context(self, form_data: dict[str, Any] | None = None) -> UserContext:
        """The browser's address (the websocket's peer, or the trusted proxies' X-Forwarded-For
        entry: rxconfig's trusted_proxy_hops) and any device data the page collected."""
        encoded = ((form_data or {}).get("user_context_data") or "").strip()
        return UserContext(ip_address=self.router.session.client_ip, encoded_data=encoded)

    def _check_email(self, email: str) -> bool:
        if not email_is_valid(email):
            self.email_error = "Enter an e-mail address such as name@example.com."
            return False
        return True

    def _check_password(self, password: str) -> bool:
        missing = [text for key, text in PASSWORD_RULES if not password_checks(password)[key]]
        if missing:
            self.password_error = "The password needs: " + "; ".join(m.lower() for m in missing)
            return False
        return True

    @rx.event
    def clear_messages(self):
        self._clear_errors()
        self.notice = ""
        self.busy = False

    @rx.event
    def type_email(self, value: str):
        """on_change of the e-mail fields: the state holds what the field shows."""
        self.email_field = value

    def _carry_email(self, email: str) -> None:
        """Keeps an address for the next form (confirmation, sign-in, reset code)."""
        self.pending_email = self.email_field = email

    @rx.event
    async def sign_in(self, form_data: dict[str, Any]):
        self._clear_errors()
        self.notice = ""
        email = (form_data.get("email") or "").strip()
        password = form_data.get("password") or ""
        if not self._check_email(email):
            return
        if not password:
            self.password_error = "Enter your password."  # noqa: S105 - a message, no secret
            return
        self.busy = True
        yield
        result, error = await self._cognito(
            services.cognito().sign_in, email, password, self._user_context(form_data)
        )
        if error:
            if error.code == "UserNotConfirmedException":
                self._carry_email(email)
            return
        if isinstance(result, MfaChallenge):
            # The password was right; the authenticator app's code completes the sign-in.
            self.mfa_step = True
            self._mfa_session, self._mfa_username = result.session, result.username
            self._mfa_email = email
            return
        await self._signed_in(result, email)
        yield rx.redirect(CHAT_ROUTE)

    async def _signed_in(self, tokens: Tokens, email: str, *, federated: bool = False) -> None:
        """A new session for every sign-in (an earlier one of this tab ends): its record holds
        the sealed tokens (token_seal.py), so no store holds a usable token."""
        self._end_mfa_step()
        if self._session_key:
            await session_store().delete(self._session_key)
        record = SessionRecord(
            email=email,
            cognito_username=token_username(tokens.access_token),
            access_token=token_seal().seal(tokens.access_token),
            refresh_token=token_seal().seal(tokens.refresh_token),
            expires_at=tokens.expires_at,
            ends_at=time.time() + session_days() * 86400,
            federated=federated,
        )
        self._session_key, self.session_ticket = await start_session(record)
        self.user_email = email

    @rx.event
    async def sign_in_with_code(self, form_data: dict[str, Any]):
        """The second step of a sign-in with TOTP MFA."""
        self._clear_errors()
        code = (form_data.get("mfa_code") or "").strip().replace(" ", "")
        if not self._mfa_session:
            self._end_mfa_step()
            self.form_error = "Enter your e-mail address and password again."
            return
        if not (code.isdigit() and len(code) == 6):
            self.code_error = "Enter the 6-digit code from your authenticator app."
            return
        self.busy = True
        yield
        challenge = MfaChallenge(session=self._mfa_session, username=self._mfa_username)
        tokens, error = await self._cognito(
            services.cognito().answer_mfa, challenge, code, self._user_context(form_data)
        )
        if error:
            if error.code == "NotAuthorizedException":  # the challenge's session expired
                self._end_mfa_step()
            return
        await self._signed_in(tokens, self._mfa_email)
        yield rx.redirect(CHAT_ROUTE)

    @rx.event
    def cancel_mfa_step(self):
        self._clear_errors()
        self._end_mfa_step()

    @rx.event
    async def sign_up(self, form_data: dict[str, Any]):
        self._clear_errors()
        email = (form_data.get("email") or "").strip()
        password = form_data.get("password") or ""
        ok_email = self._check_email(email)
        if not (self._check_password(password) and ok_email):
            return
        self.busy = True
        yield
        needs_code, error = await self._cognito(
            services.cognito().sign_up, email, password, self._user_context(form_data)
        )
        if error:
            return
        self._carry_email(email)
        if needs_code:
            self.notice = SIGN_UP_NOTICE.format(email=email)
            yield rx.redirect("/confirm")
        else:
            self.notice = "Your account is ready. Sign in."
            yield rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    async def confirm(self, form_data: dict[str, Any]):
        self._clear_errors()
        email = (form_data.get("email") or "").strip()
        code = (form_data.get("code") or "").strip()
        if not self._check_email(email):
            return
        if not code:
            self.code_error = "Enter the code from the e-mail."
            return
        self.busy = True
        yield
        _, error = await self._cognito(
            services.cognito().confirm_sign_up, email, code, self._user_context(form_data)
        )
        if error:
            return
        self._carry_email(email)
        self.notice = "Your account is confirmed. Sign in to start chatting."
        yield rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    async def resend_code(self, email: str):
        self._clear_errors()
        email = email.strip()
        if not self._check_email(email):
            return
        _, error = await self._cognito(services.cognito().resend_code, email, self._user_context())
        if error:
            return
        self.notice = RESEND_NOTICE.format(email=email)

    @rx.event
    async def request_reset(self, form_data: dict[str, Any]):
        self._clear_errors()
        self.notice = ""
        email = (form_data.get("email") or "").strip()
        if not self._check_email(email):
            return
        self.busy = True
        yield
        _, error = await self._cognito(
            services.cognito().forgot_password, email, self._user_context(form_data)
        )
        if error:
            return
        self._carry_email(email)
        self.reset_code_sent = True
        self.notice = RESET_NOTICE.format(email=email)

    @rx.event
    async def reset_password(self, form_data: dict[str, Any]):
        self._clear_errors()
        email = self.pending_email
        code = (form_data.get("code") or "").strip()
        password = form_data.get("password") or ""
        if not code:
            self.code_error = "Enter the code from the e-mail."
            return
        if not self._check_password(password):
            return
        self.busy = True
        yield
        _, error = await self._cognito(
            services.cognito().confirm_forgot_password,
            email,
            code,
            password,
            self._user_context(form_data),
        )
        if error:
            return
        self.reset_code_sent = False
        self.notice = "Your password is changed. Sign in with the new one."
        yield rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    def restart_reset(self):
        self._clear_errors()
        self.reset_code_sent = False
        self.notice = ""

    @rx.event
    async def sign_out(self):
        return await self.end_session("You are signed out.")

    async def end_session(self, notice: str):
        """Signs this browser out everywhere (sign-out, or after the account was deleted): the
        session record goes, the refresh token is revoked, every tab leaves for the sign-in
        page, which shows `notice`. Returns the redirect."""
        # A current access token (refreshed if it expired while the tab was idle), so that
        # GlobalSignOut can revoke the refresh token.
        try:
            access_token = await self.access_token()
        except (SessionExpired, AuthError):
            access_token = ""
        record = await self._session()
        if self._session_key:
            # Every tab of this browser shares the record: their next call finds none.
            await session_store().delete(self._session_key)
        self._forget()
        for state_class in _per_user_states():
            (await self.get_state(state_class)).reset()
        if access_token:
            # Revokes the refresh token everywhere; signing out here succeeds either way.
            with contextlib.suppress(AuthError):
                await asyncio.to_thread(services.cognito().global_sign_out, access_token)
        self.session_ticket = ""
        self.session_ended = new_secret()  # the browser clears the cookie, tells the tabs
        self.notice = notice
        client = federation() if record is not None and record.federated else None
        if client is not None:
            refresh_token = token_seal().open(record.refresh_token)
            if refresh_token:
                # Best effort, like the global sign-out: signing out here succeeds either way.
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(client.revoke, refresh_token)
            # End the managed login's session too; it sends the browser back to sign-in.
            return rx.redirect(client.logout_url())
        return rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    async def require_sign_in(self):
        """on_load of the chat page: send visitors who are not signed in to the sign-in form."""
        if await self._session() is None:
            return rx.redirect(SIGN_IN_ROUTE)
        from .chat import ChatState

        return ChatState.restore

    @rx.event
    async def skip_sign_in_form(self):
        """on_load of the sign-in form: a signed-in user goes straight to the chat."""
        if await self._session() is not None:
            return rx.redirect(CHAT_ROUTE)
        return None

    @rx.event
    async def require_sign_in_for_security(self):
        """on_load of the security page."""
        if await self._session() is None:
            return rx.redirect(SIGN_IN_ROUTE)
        from .security import SecurityState

        return SecurityState.load

    async def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token, refreshed (REFRESH_TOKEN_AUTH) when it is about to expire.
        The session's record is read on every call: a sign-out in another tab ends this one."""
        record = await self._session()
        if record is None:
            raise SessionExpired
        if force_refresh or record.expires_at - time.time() < REFRESH_MARGIN_SECONDS:
            try:
                refresh_token = token_seal().open(record.refresh_token)
                if not refresh_token:  # sealed under a rotated secret
                    raise AuthError("form", "session ended", "NotAuthorizedException")
                tokens = await asyncio.to_thread(
                    services.cognito().refresh,
                    refresh_token,
                    record.cognito_username,
                    record.email,
                )
            except AuthError as error:
                if error.code == "NotAuthorizedException":
                    await session_store().delete(self._session_key)
                    self._forget()
                    raise SessionExpired from error
                raise
            record.access_token = token_seal().seal(tokens.access_token)
            record.expires_at = tokens.expires_at
            record.cognito_username = token_username(tokens.access_token) or (
                record.cognito_username
            )
            await session_store().save(self._session_key, record)
        return token_seal().open(record.access_token)
