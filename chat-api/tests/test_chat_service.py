"""generate_conversation: bounded history, alternating roles, emotion-adapted system prompt."""

from __future__ import annotations

from chat_api.chat_service import generate_conversation
from chat_api.emotion import Emotion
from chat_api.prompts import TONE

SAD = Emotion("sadness", {"sadness": 1.0})


def _history(turns: int, size: int = 10) -> list[dict]:
    messages = []
    for n in range(turns):
        messages.append({"role": "user", "text": f"u{n}".ljust(size, ".")})
        messages.append({"role": "assistant", "text": f"a{n}".ljust(size, ".")})
    return messages


def _texts(request) -> list[str]:
    return [m["content"][0]["text"] for m in request.messages]


def test_bounded_by_turns_keeping_the_newest():
    request = generate_conversation(
        _history(8), "now", SAD, trajectory=[], max_turns=3, max_chars=10_000
    )
    assert [t[:2] for t in _texts(request)] == ["u5", "a5", "u6", "a6", "u7", "a7", "no"]
    roles = [m["role"] for m in request.messages]
    assert roles == ["user", "assistant"] * 3 + ["user"]


def test_bounded_by_characters():
    request = generate_conversation(
        _history(8, size=100), "now", SAD, trajectory=[], max_turns=10, max_chars=450
    )
    assert [t[:2] for t in _texts(request)] == ["u6", "a6", "u7", "a7", "no"]


def test_stray_messages_are_dropped_to_keep_alternation():
    history = [{"role": "assistant", "text": "orphan"}, *_history(1), {"role": "user", "text": "x"}]
    request = generate_conversation(history, "now", SAD, trajectory=[], max_turns=5, max_chars=999)
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


def test_system_prompt_carries_emotion_tone_and_trajectory():
    request = generate_conversation(
        [], "hi", SAD, trajectory=["anger", "fear"], max_turns=5, max_chars=999
    )
    assert "Detected emotion of the user's latest message: sadness" in request.system
    assert TONE["sadness"] in request.system
    assert "Recent emotional trajectory: anger, fear, sadness" in request.system
    assert "distressed for several messages" in request.system
