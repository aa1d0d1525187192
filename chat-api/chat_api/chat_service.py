"""The chat turn: emotion, history, prompt, Bedrock, storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from .bedrock import BedrockChat, Reply
from .emotion import Emotion
from .prompts import system_prompt


@dataclass(frozen=True)
class ConversationRequest:
    system: str
    messages: list[dict]


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
