"""POST /chat and /chat/stream through Gunicorn, the local model server and the local AWS."""

from __future__ import annotations

import pytest

from chat_api.emotion import LABELS
from support import open_stream, sse_events


def test_chat_returns_reply_emotion_and_usage(api, alice, model, openapi_validator):
    model.configure(ttft_ms=60)
    response = api.post(
        "/chat", json={"message": "I am so happy today, we won!"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    openapi_validator("ChatResponse", body)
    assert body["emotion"]["label"] == "joy"
    assert set(body["emotion"]["scores"]) == set(LABELS)
    assert sum(body["emotion"]["scores"].values()) == pytest.approx(1, abs=1e-3)
    assert body["reply"].strip()
    assert body["model_id"] == "local.emotion-aware-responder-v1"
    assert body["usage"]["output_tokens"] > 0
    assert (
        body["usage"]["total_tokens"]
        == body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    )
    assert response.headers["X-Request-ID"]
    assert body["model_latency_ms"] >= 60  # the model's own time, as Bedrock reports it


def test_reply_tone_follows_the_emotion(api, alice):
    sad = api.post(
        "/chat", json={"message": "I feel so lonely and sad since she left"}, headers=alice.headers
    )
    angry = api.post(
        "/chat", json={"message": "I am furious, this is so unfair!"}, headers=alice.headers
    )
    assert sad.json()["emotion"]["label"] == "sadness"
    assert angry.json()["emotion"]["label"] == "anger"
    assert sad.json()["reply"] != angry.json()["reply"]


def test_conversation_continues_with_history(api, alice):
    first = api.post("/chat", json={"message": "Hello there"}, headers=alice.headers).json()
    second = api.post(
        "/chat",
        json={"message": "I am scared about tomorrow", "conversation_id": first["conversation_id"]},
        headers=alice.headers,
    )
    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == first["conversation_id"]
    detail = api.get(f"/conversations/{first['conversation_id']}", headers=alice.headers).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 2
    assert [m["text"] for m in detail["messages"][::2]] == [
        "Hello there",
        "I am scared about tomorrow",
    ]
    assert detail["messages"][2]["emotion"]["label"] == "fear"
    assert detail["messages"][3]["message_id"] == second.json()["message_id"]
    assert detail["message_count"] == 4


def test_stream_sends_meta_deltas_then_done(api, alice, model, openapi_validator):
    model.configure(ttft_ms=40, inter_token_ms=5)
    with open_stream(api, alice, "wow, I did not expect that!") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done"
    assert names.count("delta") >= 5 and set(names[1:-1]) == {"delta"}
    meta, done = events[0][1], events[-1][1]
    openapi_validator("StreamMeta", meta)
    openapi_validator("StreamDone", done)
    assert meta["emotion"]["label"] == "surprise"
    assert done["model_latency_ms"] >= 40
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert done["usage"]["output_tokens"] == names.count("delta")
    stored = api.get(f"/conversations/{meta['conversation_id']}", headers=alice.headers).json()
    assert stored["messages"][-1]["text"] == text
    assert stored["messages"][-1]["message_id"] == meta["message_id"]


def test_stream_and_plain_chat_give_the_same_reply(api, fresh_user):
    message = {"message": "Could you tell me about tide pools?"}
    plain = api.post("/chat", json=message, headers=fresh_user.headers).json()
    with open_stream(api, fresh_user, message) as response:
        events = sse_events(response)
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed == plain["reply"]


def test_stream_error_event_when_the_model_breaks_mid_stream(
    api, fresh_user, model, openapi_validator
):
    model.configure(fault="mid_stream")
    with open_stream(api, fresh_user, "tell me a story") as response:
        assert response.status_code == 200
        events = sse_events(response)
    assert events[0][0] == "meta"
    assert events[-1][0] == "error"
    openapi_validator("StreamError", events[-1][1])
    assert events[-1][1]["code"] in {"model_throttled", "model_unavailable", "model_error"}
    assert events[-1][1]["request_id"] == response.headers["X-Request-ID"]
    # A broken reply is not stored: the user can simply send the message again.
    listing = api.get("/conversations", headers=fresh_user.headers).json()
    assert listing["conversations"] == []
    assert model.stats()["converse_stream"] == 1  # never retried once streaming started
