"""The shapes the chat state holds: messages and the history's conversations (as Reflex sends
them to the browser), made from the chat API's answers."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any


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
    created_at: str = ""  # ISO 8601 (UTC), shown in the reader's time zone


@dataclasses.dataclass
class ConversationItem:
    conversation_id: str
    title: str
    updated_at: str
    last_emotion: str = ""


def message_from_api(message: dict[str, Any]) -> ChatMessage:
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
        created_at=message.get("created_at") or "",
    )


def conversation_from_api(item: dict[str, Any]) -> ConversationItem:
    """A row of the history list."""
    return ConversationItem(
        conversation_id=item["conversation_id"],
        title=item.get("title") or "Untitled",
        updated_at=item.get("updated_at", ""),
        last_emotion=item.get("last_emotion") or "",
    )


def now_iso() -> str:
    """Now, as the chat API writes its times (UTC, milliseconds, `Z`)."""
    now = datetime.datetime.now(datetime.UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
