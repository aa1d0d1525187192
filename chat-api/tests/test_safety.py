"""The self-harm and suicide risk check, and how the chat API acts on it (through Gunicorn).

The rules alone are checked here on explicit statements and figures of speech; the whole
detector (rules, classifier, trajectory) on the held-apart sentences is in
test_risk_detector.py.
"""

from __future__ import annotations

import pytest

from chat_api.safety import (
    CONCERN_NOTE,
    CRISIS_SUPPORT,
    SELF_HARM,
    SYSTEM_NOTE,
    URGENT_NOTE,
    assess,
    rule_level,
    with_crisis_support,
)
from support import open_stream, sse_events

RISK = [
    "I want to kill myself",
    "I'm going to end my life tonight",
    "I don't want to live anymore",
    "I've been thinking about suicide a lot lately",
    "honestly I feel suicidal",
    "I keep cutting myself when it gets bad",
    "everyone would be better off without me",
    "I just want to die",
    "I took all of my pills an hour ago",
    "i wanna kms",
    "I'm planning to jump off a bridge this weekend",
    "There's no reason to live anymore",
    "I wish I were dead",
    "My friend told me she wants to kill herself",
    "I can't go on living like this",
    "I've started hurting myself again",
    "I already wrote a suicide note",
    "I'm going to take my own life",
    "I want to end it all",
    "I have been self-harming for months",
]

FIGURES_OF_SPEECH = [
    "this commute is killing me",
    "I could murder a pizza",
    "I'm dying to see that movie",
    "that joke killed me",
    "I'd kill for a coffee right now",
    "my feet are killing me",
    "I nearly died laughing",
    "kill the process and restart it",
    "my phone battery died again",
    "I'm dead tired after work",
    "we watched Suicide Squad last night",
    "I hurt myself playing football",
    "I cut myself while chopping onions",
    "I'm going to die of embarrassment",
    "I took my life savings out of that bank",
    "I'm not suicidal, just really tired",
    "I would never hurt myself",
    "you're killing me with these puns",
    "I'm killing myself laughing at this",
    "this deadline will be the death of me",
    "I want to take my life in a new direction",
    "I'm going to end my subscription",
    "shoot me an email when you can",
    "the plants died while I was away",
]


# Ending "it" with a time is urgent in the first person, unless the message names what ends.
ENDING_IT_URGENT = [
    "I'll end it tomorrow",
    "I'm going to end it on Sunday",
    "I am finally ending everything this weekend",
]
ENDING_SOMETHING_ELSE = [
    "I'm ending it with him tonight",
    "I'm ending my gym membership tonight",
    "tonight I'm ending it, the relationship has run its course",
    "I'm ending it tomorrow, this subscription costs too much",
    "I'm not ending it today, don't worry",
    "I'm ending it",
]
# Helpers asking how to approach someone else name no first-person risk: left to the classifier.
HELPER_QUESTIONS = [
    "what's a good way to ask my brother whether he is suicidal",
    "how to ask someone if they are thinking about killing themselves",
    "what should I avoid saying to a pupil who self-harms",
    "as a youth worker, what do I do when a client talks about suicide",
]


@pytest.mark.parametrize("text", ENDING_IT_URGENT)
def test_ending_it_with_a_time_is_urgent(text):
    assert rule_level(text) == "urgent"


@pytest.mark.parametrize("text", ENDING_SOMETHING_ELSE)
def test_ending_something_else_or_without_a_time_is_not_decided_by_the_rules(text):
    assert rule_level(text) == "none"


@pytest.mark.parametrize("text", HELPER_QUESTIONS)
def test_helper_questions_are_not_decided_by_the_rules(text):
    assert rule_level(text) == "none"


def test_a_helper_frame_does_not_excuse_the_writer_speaking_of_themselves():
    assert rule_level("how to ask for help when I want to kill myself") == "risk"


@pytest.mark.parametrize("text", RISK)
def test_clear_risk_messages_are_flagged(text):
    assessment = assess(text)
    assert assessment.flagged
    assert assessment.as_dict() == {
        "flagged": True,
        "category": SELF_HARM,
        "level": assessment.level,
    }
    assert assessment.level in ("risk", "urgent")


@pytest.mark.parametrize("text", FIGURES_OF_SPEECH)
def test_figures_of_speech_are_not_flagged(text):
    assessment = assess(text)
    assert not assessment.flagged
    assert assessment.as_dict() == {"flagged": False, "category": None, "level": "none"}


def test_guidance_is_appended_once():
    once = with_crisis_support("I hear you.")
    assert once.startswith("I hear you.") and once.endswith(CRISIS_SUPPORT)
    assert with_crisis_support(once) == once
    assert with_crisis_support("") == CRISIS_SUPPORT


def test_flagged_chat_carries_guidance_marker_and_prompt_note(
    api, fresh_user, model, openapi_validator
):
    response = api.post(
        "/chat", json={"message": "I don't want to live anymore"}, headers=fresh_user.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    openapi_validator("ChatResponse", body)
    assert body["safety"] == {"flagged": True, "category": "self_harm", "level": "risk"}
    assert body["reply"].endswith(CRISIS_SUPPORT)
    assert len(body["reply"]) > len(CRISIS_SUPPORT)  # the model's own reply comes first
    assert SYSTEM_NOTE in model.last_request()["system"]

    detail = api.get(f"/conversations/{body['conversation_id']}", headers=fresh_user.headers).json()
    openapi_validator("ConversationDetail", detail)
    user_message, assistant_message = detail["messages"]
    assert user_message["safety"] == {"flagged": True, "category": "self_harm", "level": "risk"}
    assert assistant_message["text"] == body["reply"]


def test_unflagged_chat_has_no_guidance(api, fresh_user, model):
    response = api.post(
        "/chat", json={"message": "this commute is killing me"}, headers=fresh_user.headers
    )
    body = response.json()
    assert body["safety"] == {"flagged": False, "category": None, "level": "none"}
    assert CRISIS_SUPPORT not in body["reply"]
    system = model.last_request()["system"]
    assert SYSTEM_NOTE not in system and URGENT_NOTE not in system and CONCERN_NOTE not in system
    detail = api.get(f"/conversations/{body['conversation_id']}", headers=fresh_user.headers)
    assert detail.json()["messages"][0]["safety"] == {
        "flagged": False,
        "category": None,
        "level": "none",
    }


def test_flagged_stream_marks_meta_and_ends_with_guidance(
    api, fresh_user, model, openapi_validator
):
    with open_stream(api, fresh_user, "I want to end it all") as response:
        assert response.status_code == 200
        events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done"
    meta = events[0][1]
    openapi_validator("StreamMeta", meta)
    assert meta["safety"] == {"flagged": True, "category": "self_harm", "level": "risk"}
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text.endswith(CRISIS_SUPPORT)
    detail = api.get(f"/conversations/{meta['conversation_id']}", headers=fresh_user.headers)
    user_message, assistant_message = detail.json()["messages"]
    assert user_message["safety"]["flagged"] is True
    assert user_message["safety"]["level"] == "risk"
    assert assistant_message["text"] == text
