"""State classes: authentication (Cognito) and chat (the chat API).

Tokens live only in backend vars (names starting with `_`): Reflex keeps those in its
server-side state store (on disk, or Redis with several workers) and never sends them to the
browser. The browser holds only Reflex's random client token in its session storage, so a page
reload finds the same server-side state and the user stays signed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import reflex as rx

from .chat_api import ApiError, ChatApi
from .cognito import (
    PASSWORD_RULES,
    AuthError,
    CognitoClient,
    MfaChallenge,
    Tokens,
    UserContext,
    email_is_valid,
    otpauth_uri,
    password_checks,
    token_username,
)
from .settings import Settings, SettingsError, load_settings
from .token_seal import token_seal
from .usage import DEFAULT_WAIT_SECONDS, limit_message, usage_summary

# Refresh the access token this long before it expires, so no call is made with a token that
# expires on the way.
REFRESH_MARGIN_SECONDS = 120
# Deltas are sent to the browser at most this often; fewer, larger updates keep the websocket
# and the state store calm while a long reply streams.
STREAM_FLUSH_SECONDS = 0.05

# The chat API's code for a reply its content guardrail blocked; the message is the refusal.
GUARDRAIL_INTERVENED = "guardrail_intervened"

SIGN_IN_ROUTE = "/signin"
CHAT_ROUTE = "/"
SECURITY_ROUTE = "/security"

# One answer for an address with or without an account (sign-up and resend).
SIGN_UP_NOTICE = (
    "We sent a confirmation code to {email}, unless it already has an account: then sign in, "
    "or reset the password. Enter the code below."
)
RESEND_NOTICE = "If {email} is waiting for confirmation, a new code is on its way."
RESET_NOTICE = "If {email} has an account, a reset code is on its way. Enter it below."


@functools.cache
def settings() -> Settings:
    return load_settings()


@functools.cache
def cognito() -> CognitoClient:
    return CognitoClient(settings())


@functools.cache
def chat_api() -> ChatApi:
    return ChatApi(settings())


def check_settings() -> None:
    """Called when the backend starts: a bad configuration stops it with one line."""
    try:
        settings()
    except SettingsError as error:
        print(f"web-ui: configuration error: {error}", file=sys.stderr, flush=True)
        # Straight out, without a traceback from the server's lifespan handler.
        os._exit(2)


class SessionExpired(Exception):
    """The user has to sign in again (refresh token revoked or expired)."""


class AuthState(rx.State):
    """Who is signed in, the sign-in forms' errors, and the tokens (server side only)."""

    user_email: str = ""
    # The e-mail address carried from sign-up to confirmation, and through a password reset.
    pending_email: str = ""
    # What the e-mail fields of the sign-in, confirmation and reset forms show. They are
    # controlled inputs (value and on_change): a carried address replaces the field's content.
    # As a default value that arrived with the state after hydration, it could be merged with
    # text typed meanwhile.
    email_field: str = ""
    reset_code_sent: bool = False
    busy: bool = False
    notice: str = ""  # a success message shown above a form (e.g. "account confirmed")
    form_error: str = ""
    email_error: str = ""
    password_error: str = ""
    code_error: str = ""

    # Sign-in waits for the authenticator app's code (SOFTWARE_TOKEN_MFA).
    mfa_step: bool = False

    _access_token: str = ""
    _refresh_token: str = ""
    _expires_at: float = 0.0
    # The pool's own name for the user (the access token's `username` claim).
    _cognito_username: str = ""
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

    def _show(self, error: AuthError) -> None:
        target = {
            "email": "email_error",
            "password": "password_error",
            "code": "code_error",
        }.get(error.field, "form_error")
        setattr(self, target, error.message)

    def _store(self, tokens: Tokens) -> None:
        # Sealed (token_seal.py): the state store never holds a usable token.
        self._access_token = token_seal().seal(tokens.access_token)
        self._refresh_token = token_seal().seal(tokens.refresh_token)
        self._expires_at = tokens.expires_at
        self._cognito_username = token_username(tokens.access_token) or self._cognito_username

    def _forget(self) -> None:
        self._access_token = self._refresh_token = self._cognito_username = ""
        self._expires_at = 0.0
        self.user_email = ""
        self._end_mfa_step()

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

    async def _cognito(self, call: Callable[..., Any], *args: Any) -> tuple[Any, AuthError | None]:
        """Runs one Cognito call in a thread (boto3 blocks); `busy` ends either way, and a
        refusal is shown next to its field. Returns (result, None) or (None, the refusal)."""
        try:
            return await asyncio.to_thread(call, *args), None
        except AuthError as error:
            self._show(error)
            return None, error
        finally:
            self.busy = False

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
            cognito().sign_in, email, password, self._user_context(form_data)
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
        self._signed_in(result, email)
        yield rx.redirect(CHAT_ROUTE)

    def _signed_in(self, tokens: Tokens, email: str) -> None:
        self._end_mfa_step()
        self._store(tokens)
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
            cognito().answer_mfa, challenge, code, self._user_context(form_data)
        )
        if error:
            if error.code == "NotAuthorizedException":  # the challenge's session expired
                self._end_mfa_step()
            return
        self._signed_in(tokens, self._mfa_email)
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
            cognito().sign_up, email, password, self._user_context(form_data)
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
            cognito().confirm_sign_up, email, code, self._user_context(form_data)
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
        _, error = await self._cognito(cognito().resend_code, email, self._user_context())
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
            cognito().forgot_password, email, self._user_context(form_data)
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
            cognito().confirm_forgot_password, email, code, password, self._user_context(form_data)
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
        access_token = token_seal().open(self._access_token)
        self._forget()
        chat = await self.get_state(ChatState)
        chat.reset()
        security = await self.get_state(SecurityState)
        security.reset()
        if access_token:
            # Revokes the refresh token everywhere; signing out here succeeds either way.
            with contextlib.suppress(AuthError):
                await asyncio.to_thread(cognito().global_sign_out, access_token)
        self.notice = "You are signed out."
        return rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    def require_sign_in(self):
        """on_load of the chat page: send visitors who are not signed in to the sign-in form."""
        if not self._refresh_token:
            self._forget()
            return rx.redirect(SIGN_IN_ROUTE)
        return ChatState.restore

    @rx.event
    def skip_sign_in_form(self):
        """on_load of the sign-in form: a signed-in user goes straight to the chat."""
        if self._refresh_token:
            return rx.redirect(CHAT_ROUTE)
        return None

    @rx.event
    def require_sign_in_for_security(self):
        """on_load of the security page."""
        if not self._refresh_token:
            self._forget()
            return rx.redirect(SIGN_IN_ROUTE)
        return SecurityState.load

    async def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token, refreshed (REFRESH_TOKEN_AUTH) when it is about to expire."""
        if not self._refresh_token:
            raise SessionExpired
        if force_refresh or self._expires_at - time.time() < REFRESH_MARGIN_SECONDS:
            try:
                refresh_token = token_seal().open(self._refresh_token)
                if not refresh_token:  # sealed under a rotated secret
                    raise AuthError("form", "session ended", "NotAuthorizedException")
                tokens = await asyncio.to_thread(
                    cognito().refresh, refresh_token, self._cognito_username, self.user_email
                )
            except AuthError as error:
                if error.code == "NotAuthorizedException":
                    self._forget()
                    raise SessionExpired from error
                raise
            self._store(tokens)
        return token_seal().open(self._access_token)


class SecurityState(rx.State):
    """The security page: two-step sign-in with an authenticator app (TOTP)."""

    loaded: bool = False
    totp_enabled: bool = False
    # While enrolling: the new secret, as text and as the otpauth:// URI apps read.
    totp_secret: str = ""
    totp_uri: str = ""
    busy: bool = False
    notice: str = ""
    error: str = ""
    code_error: str = ""

    async def _run(self, call: Callable[..., Any], *args: Any) -> tuple[Any, bool]:
        """One Cognito call with the user's access token; (result, ok). A refusal is shown."""
        auth = await self.get_state(AuthState)
        try:
            token = await auth.access_token()
            return await asyncio.to_thread(call, token, *args), True
        except SessionExpired:
            self.reset()
            return rx.redirect(SIGN_IN_ROUTE), False
        except AuthError as error:
            if error.field == "code":
                self.code_error = error.message
            else:
                self.error = error.message
            return None, False
        finally:
            self.busy = False

    def _clear(self) -> None:
        self.notice = self.error = self.code_error = ""

    @rx.event
    async def load(self):
        self._clear()
        self.totp_secret = self.totp_uri = ""
        enabled, ok = await self._run(cognito().totp_enabled)
        if not ok:
            return enabled  # a redirect when the session ended
        self.totp_enabled = bool(enabled)
        self.loaded = True
        return None

    @rx.event
    async def start_totp(self):
        self._clear()
        self.busy = True
        secret, ok = await self._run(cognito().start_totp)
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
        result, ok = await self._run(cognito().verify_totp, code)
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
        result, ok = await self._run(functools.partial(cognito().set_totp, enabled=False))
        if not ok:
            return result
        self.totp_enabled = False
        self.notice = "Two-step sign-in is off."
        return None


@dataclasses.dataclass
class ChatMessage:
    message_id: str = ""
    role: str = "user"  # "user" or "assistant"
    text: str = ""
    emotion: str = ""  # set on user messages
    safety_flagged: bool = False  # set on user messages the API marked
    streaming: bool = False
    stopped: bool = False
    rating: str = ""  # "up", "down" or "" on assistant replies
    rating_sent: bool = False


@dataclasses.dataclass
class ConversationItem:
    conversation_id: str
    title: str
    updated_at: str
    last_emotion: str = ""


class ChatState(rx.State):
    """The open conversation, the history list, streaming and feedback."""

    conversation_id: str = ""
    messages: list[ChatMessage] = []
    conversations: list[ConversationItem] = []
    streaming: bool = False
    error: str = ""
    history_error: str = ""
    can_retry: bool = False
    safety_notice: bool = False
    feedback_error: str = ""
    # The reply whose comment box is open, and its draft.
    feedback_for: str = ""
    sidebar_open: bool = False
    # The user's usage in one line (from GET /usage), and the sentence shown while a limit
    # holds back new messages.
    usage_summary: str = ""
    limit_notice: str = ""

    _retry_text: str = ""
    _stop_requested: bool = False
    # The last GET /usage answer, the refused limit's code, and when sending may resume: the
    # app sends nothing before the Retry-After of a refusal has passed.
    _usage: dict[str, Any] = {}
    _limit_code: str = ""
    _limited_until: float = 0.0

    async def _token(self, *, force_refresh: bool = False) -> str:
        auth = await self.get_state(AuthState)
        return await auth.access_token(force_refresh=force_refresh)

    async def _call(self, method: str, *args):
        """A chat API call with the user's token; one refresh and retry on a 401."""
        api = chat_api()
        try:
            return await getattr(api, method)(await self._token(), *args)
        except ApiError as error:
            if error.status != 401:
                raise
        return await getattr(api, method)(await self._token(force_refresh=True), *args)

    def _session_ended(self):
        self.reset()
        return rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    async def load_history(self):
        """The sidebar's list of conversations, most recently active first."""
        self.history_error = ""
        try:
            items = await self._call("list_conversations")
        except SessionExpired:
            return self._session_ended()
        except (ApiError, AuthError) as error:
            self.history_error = _user_message(error)
            return None
        self.conversations = [
            ConversationItem(
                conversation_id=item["conversation_id"],
                title=item.get("title") or "Untitled",
                updated_at=item.get("updated_at", ""),
                last_emotion=item.get("last_emotion") or "",
            )
            for item in items
        ]
        return None

    @rx.event
    async def load_usage(self):
        """The usage line: after sign-in, after each reply and after a refusal. The chat works
        without it, so a failure only hides the line."""
        try:
            usage = await self._call("get_usage")
        except (SessionExpired, ApiError, AuthError):
            self.usage_summary = ""
            return
        if not isinstance(usage, dict):
            return
        self._usage = usage
        self.usage_summary = usage_summary(usage)
        if self._limit_wait() > 0:  # the refusal's sentence can now name the limit
            self.limit_notice = limit_message(self._limit_code, self._limit_wait(), usage)

    def _limit_wait(self) -> int:
        """Whole seconds until a refused user may send again; 0 when nothing holds them."""
        return max(0, math.ceil(self._limited_until - time.time()))

    def _hold_for_limit(self, error: ApiError) -> None:
        """The API refused the message for one of the user's limits: it stored nothing, so the
        message leaves the conversation (it goes back into the input), and nothing is sent
        again before the server's Retry-After."""
        self._limit_code = error.code
        self._limited_until = time.time() + (error.retry_after or DEFAULT_WAIT_SECONDS)
        self.limit_notice = limit_message(error.code, self._limit_wait(), self._usage)
        self.error = ""
        self.can_retry = False
        if self.messages and self.messages[-1].role == "assistant":
            self.messages.pop()
        if self.messages and self.messages[-1].role == "user":
            self.messages.pop()

    @rx.event
    async def restore(self):
        """on_load of the chat page: the history list, and the open conversation again."""
        yield ChatState.load_history
        yield ChatState.load_usage
        if self.conversation_id and not self.streaming:
            yield ChatState.open_conversation(self.conversation_id)
        yield rx.set_focus("message")

    @rx.event
    async def open_conversation(self, conversation_id: str):
        if self.streaming:
            return None
        self.sidebar_open = False
        self.error = self.feedback_error = ""
        self.can_retry = False
        try:
            detail = await self._call("get_conversation", conversation_id)
        except SessionExpired:
            return self._session_ended()
        except (ApiError, AuthError) as error:
            if isinstance(error, ApiError) and error.code == "not_found":
                self.conversation_id = ""
                self.messages = []
            self.error = _user_message(error)
            return None
        self.conversation_id = conversation_id
        self.messages = [_from_api(message) for message in detail.get("messages", [])]
        self.safety_notice = any(m.safety_flagged for m in self.messages)
        return None

    @rx.event
    def new_conversation(self):
        if self.streaming:
            return
        self.conversation_id = ""
        self.messages = []
        self.error = self.feedback_error = ""
        self.can_retry = False
        self.safety_notice = False
        self.sidebar_open = False

    @rx.event
    async def delete_conversation(self, conversation_id: str):
        if self.streaming:
            return None
        try:
            await self._call("delete_conversation", conversation_id)
        except SessionExpired:
            return self._session_ended()
        except (ApiError, AuthError) as error:
            if not (isinstance(error, ApiError) and error.code == "not_found"):
                self.history_error = _user_message(error)
                return None
        self.conversations = [c for c in self.conversations if c.conversation_id != conversation_id]
        if self.conversation_id == conversation_id:
            self.new_conversation()
        return None

    @rx.event
    def toggle_sidebar(self):
        self.sidebar_open = not self.sidebar_open

    @rx.event
    def stop(self):
        if self.streaming:
            self._stop_requested = True

    @rx.event
    def retry(self):
        if self.streaming or not self._retry_text:
            return None
        text = self._retry_text
        # The failed turn was not stored: take it off the screen and send it again.
        if self.messages and self.messages[-1].role == "assistant":
            self.messages.pop()
        if self.messages and self.messages[-1].role == "user":
            self.messages.pop()
        return ChatState.send({"message": text})

    @rx.event(background=True)
    async def send(self, form_data: dict[str, Any]):
        text = (form_data.get("message") or "").strip()
        async with self:
            if self.streaming or not text:
                return
            wait = self._limit_wait()
            if wait:
                # Still inside the refusal's Retry-After: say so again, send nothing.
                self.limit_notice = limit_message(self._limit_code, wait, self._usage)
        if wait:
            yield rx.set_value("message", text)
            return
        async with self:
            if self.streaming:
                return
            self.limit_notice = ""
            self.streaming = True
            self._stop_requested = False
            self.error = ""
            self.can_retry = False
            self._retry_text = text
            self.messages.append(ChatMessage(role="user", text=text))
            self.messages.append(ChatMessage(role="assistant", streaming=True))
            conversation_id = self.conversation_id
            token, outcome = await self._token_or_outcome()
        try:
            if token:
                outcome = await self._stream_reply(token, text, conversation_id)
            if outcome == "unauthorized":  # revoked or expired early: refresh once
                async with self:
                    token, outcome = await self._token_or_outcome(force_refresh=True)
                if token:
                    outcome = await self._stream_reply(token, text, conversation_id)
                if outcome == "unauthorized":
                    outcome = "signed_out"
        finally:
            async with self:
                self.streaming = False
                if self.messages and self.messages[-1].role == "assistant":
                    self.messages[-1] = dataclasses.replace(self.messages[-1], streaming=False)
                if outcome != "done":
                    # Only a completed reply is stored: a new conversation whose first turn
                    # failed, was refused or stopped does not exist, so the next message (or
                    # Retry) must not name the id its `meta` announced.
                    self.conversation_id = conversation_id
                if outcome == "signed_out":
                    self.reset()
        if outcome == "signed_out":
            yield rx.redirect(SIGN_IN_ROUTE)
            return
        if outcome == "limited":  # not sent: the words go back into the input
            yield rx.set_value("message", text)
        # The input was disabled while the reply streamed, which took the focus away from it.
        yield rx.set_focus("message")
        if outcome == "done":
            yield ChatState.load_history
        if outcome in ("done", "limited"):
            yield ChatState.load_usage

    async def _token_or_outcome(self, *, force_refresh: bool = False) -> tuple[str, str]:
        """(token, "") or ("", outcome) when there is none; call it holding the state."""
        try:
            return await self._token(force_refresh=force_refresh), ""
        except SessionExpired:
            return "", "signed_out"
        except AuthError as error:
            self._fail(error.message)
            return "", "failed"

    async def _stream_reply(self, token: str, text: str, conversation_id: str) -> str:
        """Streams one reply into the last message: "done" (the API stored the turn),
        "stopped", "limited", "refused", "failed" or "unauthorized"."""
        pending = ""
        last_flush = time.monotonic()
        stream = chat_api().stream_chat(token, text, conversation_id)
        try:
            async with contextlib.aclosing(stream) as events:
                async for event, data in events:
                    if event == "delta":
                        pending += data.get("text", "")
                        if time.monotonic() - last_flush < STREAM_FLUSH_SECONDS:
                            continue
                    async with self:
                        if pending:
                            self._append_reply(pending)
                            pending = ""
                        last_flush = time.monotonic()
                        if event == "done":
                            return "done"
                        if self._stop_requested:
                            self._mark_stopped()
                            return "stopped"
                        if event == "meta":
                            self._apply_meta(data)
                        elif event == "error":
                            return self._end_with(
                                ApiError(data.get("code", ""), data.get("message", ""))
                            )
        except ApiError as error:
            if error.status == 401:
                return "unauthorized"
            async with self:
                return self._end_with(error)
        async with self:
            if pending:
                self._append_reply(pending)
            # The API sends `done` once the turn is stored; a stream that ends without it broke.
            return self._end_with(ApiError("network", "The reply stream ended early."))

    def _append_reply(self, text: str) -> None:
        reply = self.messages[-1]
        self.messages[-1] = dataclasses.replace(reply, text=reply.text + text)

    def _apply_meta(self, meta: dict[str, Any]) -> None:
        self.conversation_id = meta.get("conversation_id", self.conversation_id)
        flagged = bool((meta.get("safety") or {}).get("flagged"))
        user = self.messages[-2]
        self.messages[-2] = dataclasses.replace(
            user,
            message_id=meta.get("user_message_id", ""),
            emotion=(meta.get("emotion") or {}).get("label", ""),
            safety_flagged=flagged,
        )
        self.messages[-1] = dataclasses.replace(
            self.messages[-1], message_id=meta.get("message_id", "")
        )
        if flagged:
            self.safety_notice = True

    def _end_with(self, error: ApiError) -> str:
        """A stream that ended with an error (before or after it started): "limited",
        "refused" or "failed"."""
        if error.is_limit:
            self._hold_for_limit(error)
            return "limited"
        if error.code == GUARDRAIL_INTERVENED:
            self._refuse(error.user_message)
            return "refused"
        self._fail(error.user_message)
        return "failed"

    def _refuse(self, message: str) -> None:
        """The guardrail blocked the reply: the text already shown belongs to that blocked
        reply, so it is discarded and the refusal takes its place. Not stored by the API, the
        refusal has no id and cannot be rated; sending the same words again would be refused
        again, so there is no Retry."""
        self.error = ""
        self.can_retry = False
        refusal = ChatMessage(role="assistant", text=message)
        if self.messages and self.messages[-1].role == "assistant":
            self.messages[-1] = refusal
        else:
            self.messages.append(refusal)

    def _mark_stopped(self) -> None:
        reply = self.messages[-1]
        self.messages[-1] = dataclasses.replace(reply, streaming=False, stopped=True)

    def _fail(self, message: str) -> None:
        self.error = message
        self.can_retry = True
        if self.messages and self.messages[-1].role == "assistant":
            reply = self.messages[-1]
            if reply.text:
                self.messages[-1] = dataclasses.replace(reply, streaming=False, stopped=True)
            else:
                self.messages.pop()

    @rx.event
    def choose_rating(self, message_id: str, rating: str):
        """Thumbs up or down: opens the optional comment box; nothing is sent yet."""
        self.feedback_error = ""
        self.feedback_for = message_id
        self._set_rating(message_id, rating, sent=False)

    @rx.event
    def cancel_feedback(self):
        self._set_rating(self.feedback_for, "", sent=False)
        self.feedback_for = ""

    @rx.event
    async def send_feedback(self, form_data: dict[str, Any]):
        message_id = self.feedback_for
        reply = next((m for m in self.messages if m.message_id == message_id), None)
        if reply is None or not reply.rating:
            return None
        comment = (form_data.get("comment") or "").strip() or None
        try:
            await self._call(
                "send_feedback", self.conversation_id, message_id, reply.rating, comment
            )
        except SessionExpired:
            return self._session_ended()
        except (ApiError, AuthError) as error:
            self.feedback_error = _user_message(error)
            return None
        self._set_rating(message_id, reply.rating, sent=True)
        self.feedback_for = ""
        return None

    def _set_rating(self, message_id: str, rating: str, *, sent: bool) -> None:
        for index, message in enumerate(self.messages):
            if message.message_id == message_id:
                self.messages[index] = dataclasses.replace(message, rating=rating, rating_sent=sent)


def _from_api(message: dict[str, Any]) -> ChatMessage:
    """A message of the history API; a rated reply comes with its stored rating."""
    rating = (message.get("feedback") or {}).get("rating", "")
    return ChatMessage(
        message_id=message["message_id"],
        role=message["role"],
        text=message.get("text", ""),
        emotion=(message.get("emotion") or {}).get("label", ""),
        safety_flagged=bool((message.get("safety") or {}).get("flagged")),
        rating=rating,
        rating_sent=bool(rating),
    )


def _user_message(error: Exception) -> str:
    if isinstance(error, ApiError):
        return error.user_message
    if isinstance(error, AuthError):
        return error.message
    return "Something went wrong. Try again."
