"""Regenerate and edit: a new reply streamed in place of the conversation's last one (for an
edit, after the last user message is replaced), through the chat state's own streaming.

The chat API changes nothing until the new reply is complete (docs/chat-api.md): a reply that
fails, is refused, stopped or held back by a limit leaves the stored turn as it was, so the
screen shows that turn again."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import reflex as rx

from ..usage import limit_message
from . import services
from .history import HistoryState
from .models import ChatMessage, now_iso
from .moods import MoodState
from .services import SIGN_IN_ROUTE

if TYPE_CHECKING:
    from .chat import ChatState

EMPTY_EDIT = "Write the new message, or press Cancel to keep the one you sent."
KEPT_REPLY = "The earlier reply is kept."
KEPT_TURN = "Your message and its reply are unchanged."


def last_turn_ids(messages: list[ChatMessage]) -> tuple[str, str]:
    """(user message id, reply id) of the conversation's last turn when it is stored and
    complete, the turn regenerate and edit act on; ("", "") otherwise (a reply that failed,
    was stopped or refused was not stored)."""
    if len(messages) < 2:
        return "", ""
    user, reply = messages[-2], messages[-1]
    stored = (
        user.role == "user"
        and reply.role == "assistant"
        and user.message_id
        and reply.message_id
        and not (reply.streaming or reply.stopped)
    )
    return (user.message_id, reply.message_id) if stored else ("", "")


async def replace_last_turn(chat: ChatState, new_text: str | None) -> AsyncIterator[Any]:
    """Streams a new last reply: regenerated (`new_text` None) or to the edited message. The
    body of ChatState's background events `regenerate` and `edit_last`."""
    async with chat:
        user_id, reply_id = last_turn_ids(chat.messages)
        if chat.streaming or not (reply_id and chat.conversation_id):
            return
        if new_text is not None and not new_text:
            chat.error = EMPTY_EDIT
            return
        if wait := chat._limit_wait():
            chat.limit_notice = limit_message(chat._limit_code, wait, chat._usage)
            return
        stored_turn = list(chat.messages)
        chat.editing_id = chat.error = chat.limit_notice = ""
        chat.can_retry = chat._stop_requested = False
        chat.streaming = True
        user = chat.messages[-2]
        if new_text is not None:  # classified again: the new emotion comes with `meta`
            user = dataclasses.replace(user, text=new_text, emotion="", safety_flagged=False)
        reply = ChatMessage(role="assistant", streaming=True, created_at=now_iso())
        chat.messages = [*chat.messages[:-2], user, reply]
        conversation_id = chat.conversation_id

    def open_stream(token: str):
        api = services.chat_api()
        if new_text is None:
            return api.stream_regenerate(token, conversation_id)
        return api.stream_edit(token, conversation_id, user_id, new_text)

    outcome = await chat._run_stream(open_stream, conversation_id)
    if outcome == "signed_out":
        yield rx.redirect(SIGN_IN_ROUTE)
        return
    if outcome != "done":
        async with chat:
            kept_reply = chat.messages[-1] if chat.messages else None
            chat.messages = stored_turn
            chat.can_retry = False  # Retry sends a new message; here the old turn stands
            if outcome == "refused" and kept_reply is not None:
                chat.error = kept_reply.text  # the refusal, shown beside the kept reply
            if chat.error:
                chat.error += " " + (KEPT_REPLY if new_text is None else KEPT_TURN)
    yield rx.set_focus("message")
    if outcome == "done":
        yield HistoryState.load_history
        yield MoodState.load_strip  # the new reply's emotion may change the week's strip
    if outcome in ("done", "limited"):
        from .chat import ChatState

        yield ChatState.load_usage
