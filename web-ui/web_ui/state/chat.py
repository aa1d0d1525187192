"""The open conversation: sending a message and streaming the reply, Stop and Retry, the
user's limits, and feedback on replies; regenerating or editing the last turn (turns.py)
streams the same way."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import reflex as rx

from ..chat_api import ApiError
from ..cognito import AuthError
from ..usage import DEFAULT_WAIT_SECONDS, limit_message, usage_summary
from . import services, turns
from .api import access_token, call_api
from .history import HistoryState
from .models import ChatMessage, message_from_api, now_iso
from .moods import MoodState
from .services import SIGN_IN_ROUTE, SessionExpired, user_message

# Deltas are sent to the browser at most this often; fewer, larger updates keep the websocket
# and the state store calm while a long reply streams.
STREAM_FLUSH_SECONDS = 0.05

# Opens the chat API's event stream of one reply with an access token.
OpenStream = Callable[[str], AsyncIterator[tuple[str, dict[str, Any]]]]

# The chat API's code for a reply its content guardrail blocked; the message is the refusal.
GUARDRAIL_INTERVENED = "guardrail_intervened"


class ChatState(rx.State):
    """The open conversation, streaming, the user's limits and feedback."""

    conversation_id: str = ""
    messages: list[ChatMessage] = []
    streaming: bool = False
    error: str = ""
    can_retry: bool = False
    safety_notice: bool = False
    feedback_error: str = ""
    # The reply whose comment box is open, and its draft.
    feedback_for: str = ""
    # The reply whose text was just copied (its button says so).
    copied_id: str = ""
    # The last user message while its edit form is open.
    editing_id: str = ""
    sidebar_open: bool = False
    # The user's usage in one line (from GET /usage), and the sentence shown while a limit
    # holds back new messages.
    usage_summary: str = ""
    limit_notice: str = ""

    _retry_text: str = ""
    # The Idempotency-Key of the message being sent, kept for its Retry until it is stored.
    _send_key: str = ""
    _stop_requested: bool = False
    # The last GET /usage answer, the refused limit's code, and when sending may resume: the
    # app sends nothing before the Retry-After of a refusal has passed.
    _usage: dict[str, Any] = {}
    _limit_code: str = ""
    _limited_until: float = 0.0

    def _session_ended(self):
        self.reset()
        return rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    async def load_usage(self):
        """The usage line: after sign-in, after each reply and after a refusal. The chat works
        without it, so a failure only hides the line."""
        outcome = await call_api(self, "get_usage")
        if outcome.error or outcome.session_ended:
            self.usage_summary = ""
            return
        usage = outcome.result
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
        yield HistoryState.load_history
        yield MoodState.load_strip
        # Last: the usage line appearing tells a reader (and the tests) the page's calls are done.
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
        outcome = await call_api(self, "get_conversation", conversation_id)
        if outcome.session_ended:
            return self._session_ended()
        if outcome.error:
            if outcome.not_found:
                self.conversation_id = ""
                self.messages = []
            self.error = user_message(outcome.error)
            return None
        self.conversation_id = conversation_id
        self._send_key = self.editing_id = ""
        self.messages = [message_from_api(m) for m in outcome.result.get("messages", [])]
        self.safety_notice = any(m.safety_flagged for m in self.messages)
        return None

    @rx.event
    def new_conversation(self):
        if self.streaming:
            return
        self.conversation_id = self.copied_id = self._send_key = self.editing_id = ""
        self.messages = []
        self.error = self.feedback_error = ""
        self.can_retry = False
        self.safety_notice = False
        self.sidebar_open = False

    @rx.var
    def last_user_id(self) -> str:
        """The user message that can be edited (the last turn's), "" while none can."""
        return "" if self.streaming else turns.last_turn_ids(self.messages)[0]

    @rx.var
    def last_reply_id(self) -> str:
        """The reply that can be regenerated (the last turn's), "" while none can."""
        return "" if self.streaming else turns.last_turn_ids(self.messages)[1]

    @rx.event(background=True)
    async def regenerate(self):
        async for event in turns.replace_last_turn(self, None):
            yield event

    @rx.event(background=True)
    async def edit_last(self, form_data: dict[str, Any]):
        text = (form_data.get("text") or "").strip()
        async for event in turns.replace_last_turn(self, text):
            yield event

    @rx.event
    def start_edit(self, message_id: str):
        if not self.streaming and message_id == self.last_user_id:
            self.editing_id = message_id
            self.error = ""

    @rx.event
    def cancel_edit(self):
        self.editing_id = ""

    @rx.event
    def mark_copied(self, message_id: str):
        """After the browser copied a reply (rx.set_clipboard): say so next to its button."""
        self.copied_id = message_id

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
            if text != self._retry_text or not self._send_key:
                # A new message gets a new key; Retry of the same words keeps it, so a turn the
                # API stored before the stream broke is answered again, not stored twice.
                self._send_key = secrets.token_urlsafe(18)
            self._retry_text, key = text, self._send_key
            sent_at = now_iso()
            self.messages.append(ChatMessage(role="user", text=text, created_at=sent_at))
            self.messages.append(ChatMessage(role="assistant", streaming=True, created_at=sent_at))
            conversation_id = self.conversation_id

        def open_stream(token: str):
            return services.chat_api().stream_chat(
                token, text, conversation_id, idempotency_key=key
            )

        outcome = await self._run_stream(open_stream, conversation_id)
        if outcome == "signed_out":
            yield rx.redirect(SIGN_IN_ROUTE)
            return
        if outcome == "done":
            async with self:
                self._send_key = ""  # stored: the next message is a new request
        if outcome == "limited":  # not sent: the words go back into the input
            yield rx.set_value("message", text)
        # The input was disabled while the reply streamed, which took the focus away from it.
        yield rx.set_focus("message")
        if outcome == "done":
            yield HistoryState.load_history
            yield MoodState.load_strip
        if outcome in ("done", "limited"):
            yield ChatState.load_usage

    async def _run_stream(self, open_stream: OpenStream, conversation_id: str) -> str:
        """Streams one reply (`open_stream(token)`: a message, a regenerated or an edited
        reply) with the user's token, refreshed once on a 401, and ends the streaming state
        whatever happens. `conversation_id`: the open one before the stream. The outcome of
        _stream_reply, or "signed_out"."""
        outcome = "failed"
        try:
            async with self:
                token, outcome = await self._token_or_outcome()
            if token:
                outcome = await self._stream_reply(open_stream(token))
            if outcome == "unauthorized":  # revoked or expired early: refresh once
                async with self:
                    token, outcome = await self._token_or_outcome(force_refresh=True)
                if token:
                    outcome = await self._stream_reply(open_stream(token))
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
        return outcome

    async def _token_or_outcome(self, *, force_refresh: bool = False) -> tuple[str, str]:
        """(token, "") or ("", outcome) when there is none; call it holding the state."""
        try:
            return await access_token(self, force_refresh=force_refresh), ""
        except SessionExpired:
            return "", "signed_out"
        except AuthError as error:
            self._fail(error.message)
            return "", "failed"

    async def _stream_reply(self, stream: AsyncIterator[tuple[str, dict[str, Any]]]) -> str:
        """Streams one reply (`stream`: the chat API's events) into the last message: "done"
        (the API stored the turn), "stopped", "limited", "refused", "failed" or
        "unauthorized"."""
        pending = ""
        last_flush = time.monotonic()
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
        refusal = ChatMessage(role="assistant", text=message, created_at=now_iso())
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
        outcome = await call_api(
            self, "send_feedback", self.conversation_id, message_id, reply.rating, comment
        )
        if outcome.session_ended:
            return self._session_ended()
        if outcome.error:
            self.feedback_error = user_message(outcome.error)
            return None
        self._set_rating(message_id, reply.rating, sent=True)
        self.feedback_for = ""
        return None

    def _set_rating(self, message_id: str, rating: str, *, sent: bool) -> None:
        for index, message in enumerate(self.messages):
            if message.message_id == message_id:
                self.messages[index] = dataclasses.replace(message, rating=rating, rating_sent=sent)
