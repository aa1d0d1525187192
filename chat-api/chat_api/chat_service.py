"""The chat turn: emotion, history, prompt, Bedrock, storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from itertools import pairwise
from typing import Any

from .bedrock import BedrockChat, Done, Reply
from .emotion import Emotion
from .prompts import system_prompt
from .store import Turn, UserMessage


@dataclass(frozen=True)
class ConversationRequest:
    system: str
    messages: list[dict]


@dataclass(frozen=True, kw_only=True)
class PreparedTurn(UserMessage):
    """A user message ready for the model: where it goes, what was read in it, and the prompt.

    Built the same way for a new message, a regenerated reply (the stored message, its stored
    emotion) and an edited message; `turn()` gives what the store writes once the reply is in."""

    request: ConversationRequest
    # The conversation's stored summary; None when this message starts the conversation.
    existing: dict[str, Any] | None = None

    def turn(self, *, message_id: str, reply: str, model_id: str, ending: Reply | Done) -> Turn:
        """The turn to store once the reply is in; `ending` (a whole reply or a stream's last
        event) gives its usage and stop reason."""
        user_message = {field.name: getattr(self, field.name) for field in fields(UserMessage)}
        return Turn(
            **user_message,
            assistant_message_id=message_id,
            reply=reply,
            model_id=model_id,
            usage=ending.usage,
            stop_reason=ending.stop_reason,
        )


class StreamOutcome(StrEnum):
    """How a reply stream ended; the access log line's `stream_outcome`."""

    COMPLETED = "completed"  # `done` sent: the reply is stored
    FAILED = "failed"  # an `error` event (model, guardrail or storage): nothing stored
    CLIENT_GONE = "client_gone"  # the client left before the end: nothing stored
    REPLAYED = "replayed"  # a retry answered with the turn its idempotency key stored


def generate_conversation(
    history: Sequence[dict],
    user_text: str,
    emotion: Emotion,
    *,
    trajectory: Sequence[str],
    max_turns: int,
    max_chars: int,
) -> ConversationRequest:
    """Build Bedrock Converse messages from stored history (oldest first), bounded by turns and
    characters (the oldest turns go first), plus the system prompt for the detected emotion."""
    turns = _pair_turns(history)[-max_turns:]
    budget = max_chars - len(user_text)
    kept: list[tuple[dict, dict]] = []
    for user, assistant in reversed(turns):
        cost = len(user["text"]) + len(assistant["text"])
        if cost > budget:
            break
        budget -= cost
        kept.append((user, assistant))
    messages: list[dict] = []
    for user, assistant in reversed(kept):
        messages.append({"role": "user", "content": [{"text": user["text"]}]})
        messages.append({"role": "assistant", "content": [{"text": assistant["text"]}]})
    messages.append({"role": "user", "content": [{"text": user_text}]})
    return ConversationRequest(system=system_prompt(emotion.label, trajectory), messages=messages)


def _pair_turns(history: Sequence[dict]) -> list[tuple[dict, dict]]:
    """Pairs each user message with the assistant reply that follows it; strays are dropped so
    the messages always alternate as Bedrock requires."""
    pairs = []
    for first, second in pairwise(history):
        if first["role"] == "user" and second["role"] == "assistant":
            pairs.append((first, second))
    return pairs


def get_chatbot_response(bedrock: BedrockChat, conversation: ConversationRequest) -> Reply:
    return bedrock.converse(conversation.system, conversation.messages)
