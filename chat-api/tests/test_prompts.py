"""The system prompt: tone guidance per emotion and the emotional trajectory, checked in the
prompt the local model server actually received (through Gunicorn)."""

from __future__ import annotations

import pytest

from chat_api.emotion import LABELS
from chat_api.prompts import TONE, system_prompt

# One message per label that the detector must classify as that label (see test_emotion.py).
MESSAGES = {
    "anger": "I am so angry, this is completely unfair!",
    "disgust": "Ugh, that is disgusting and gross.",
    "fear": "I'm scared and anxious about the results.",
    "joy": "This is wonderful, thank you so much!",
    "neutral": "The meeting moved to 3 pm on Thursday.",
    "sadness": "I feel so lonely and sad tonight.",
    "surprise": "Wow, I did not expect that at all!",
}


def test_every_label_has_its_own_guidance():
    assert set(TONE) == set(LABELS)
    assert len(set(TONE.values())) == len(LABELS)
    for label in LABELS:
        prompt = system_prompt(label, [])
        assert f"Detected emotion of the user's latest message: {label}" in prompt
        assert f"Tone guidance: {TONE[label]}" in prompt
        assert "trajectory" not in prompt


@pytest.mark.parametrize(
    ("label", "cue"),
    [
        ("sadness", "slow down"),
        ("sadness", "quick fixes"),
        ("anger", "calm"),
        ("anger", "defensive"),
        ("fear", "reassuring"),
        ("joy", "celebrate"),
        ("disgust", "understandable"),
        ("surprise", "curiosity"),
        ("neutral", "directly"),
    ],
)
def test_guidance_says_what_each_emotion_needs(label, cue):
    assert cue in TONE[label]


def test_a_distress_streak_asks_for_a_check_in():
    prompt = system_prompt("sadness", ["fear", "anger"])
    assert "Recent emotional trajectory: fear, anger, sadness" in prompt
    assert "check in" in prompt


def test_a_shift_into_distress_is_pointed_out():
    prompt = system_prompt("anger", ["joy"])
    assert "shifted from joy to anger" in prompt
    assert "shifted" not in system_prompt("joy", ["anger"])


@pytest.mark.parametrize("label", LABELS)
def test_tone_guidance_reaches_the_model_server(api, fresh_user, model, label):
    response = api.post("/chat", json={"message": MESSAGES[label]}, headers=fresh_user.headers)
    assert response.status_code == 200, response.text
    assert response.json()["emotion"]["label"] == label
    system = model.last_request()["system"]
    assert f"Detected emotion of the user's latest message: {label}" in system
    assert f"Tone guidance: {TONE[label]}" in system
    for other in set(LABELS) - {label}:
        assert TONE[other] not in system


def test_trajectory_reaches_the_model_server(api, fresh_user, model):
    first = api.post("/chat", json={"message": MESSAGES["joy"]}, headers=fresh_user.headers)
    conversation_id = first.json()["conversation_id"]
    for label in ("fear", "sadness"):
        api.post(
            "/chat",
            json={"message": MESSAGES[label], "conversation_id": conversation_id},
            headers=fresh_user.headers,
        )
    system = model.last_request()["system"]
    assert "Recent emotional trajectory: joy, fear, sadness" in system
    detail = api.get(f"/conversations/{conversation_id}", headers=fresh_user.headers).json()
    stored = [m["emotion"]["label"] for m in detail["messages"] if m["role"] == "user"]
    assert stored == ["joy", "fear", "sadness"]
    assert detail["last_emotion"] == "sadness"
