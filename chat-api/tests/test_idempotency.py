"""Idempotency-Key on /chat and /chat/stream: a retry of a request whose turn was stored gets
that turn back (no second model call, no second turn); a retry of one that stored nothing runs
again; the same key with another message is refused."""

from __future__ import annotations

import threading

import pytest

from support import sse_events


def _messages(api, user, conversation_id: str) -> list[dict]:
    response = api.get(f"/conversations/{conversation_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def _with_key(user, key: str) -> dict:
    return {**user.headers, "Idempotency-Key": key}


def test_a_chat_retried_with_its_key_gets_the_stored_turn(
    api, fresh_user, model, openapi_validator
):
    body = {"message": "I passed my driving test!"}
    first = api.post("/chat", json=body, headers=_with_key(fresh_user, "turn-1"))
    retry = api.post("/chat", json=body, headers=_with_key(fresh_user, "turn-1"))
    assert (first.status_code, retry.status_code) == (200, 200), retry.text
    openapi_validator("ChatResponse", retry.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    same = ("conversation_id", "message_id", "user_message_id", "reply", "model_id", "usage")
    assert {k: retry.json()[k] for k in same} == {k: first.json()[k] for k in same}
    assert retry.json()["emotion"]["label"] == first.json()["emotion"]["label"]
    assert model.stats()["converse"] == 1
    assert len(_messages(api, fresh_user, first.json()["conversation_id"])) == 2


def test_a_stream_retried_with_its_key_gets_the_stored_turn(api, fresh_user, model):
    body = {"message": "Tell me something kind"}
    with api.stream(
        "POST", "/chat/stream", json=body, headers=_with_key(fresh_user, "s-1")
    ) as response:
        first = sse_events(response)
    with api.stream(
        "POST", "/chat/stream", json=body, headers=_with_key(fresh_user, "s-1")
    ) as response:
        assert response.headers["Idempotent-Replayed"] == "true"
        retry = sse_events(response)
    assert [name for name, _ in retry] == ["meta", "delta", "done"]
    assert retry[0][1] == first[0][1]  # the same conversation and message ids
    reply = "".join(data["text"] for name, data in first if name == "delta")
    assert retry[1][1]["text"] == reply
    assert model.stats()["converse_stream"] == 1
    assert len(_messages(api, fresh_user, first[0][1]["conversation_id"])) == 2


def test_a_retry_of_a_failed_stream_runs_again_and_stores_one_turn(api, fresh_user, model):
    model.configure(fault="mid_stream", fault_count=1)
    body = {"message": "hello again"}
    outcomes = []
    for _ in range(2):
        with api.stream(
            "POST", "/chat/stream", json=body, headers=_with_key(fresh_user, "again")
        ) as response:
            outcomes.append(sse_events(response))
    assert outcomes[0][-1][0] == "error" and outcomes[1][-1][0] == "done"
    assert model.stats()["converse_stream"] == 2
    conversation_id = outcomes[1][0][1]["conversation_id"]
    assert len(_messages(api, fresh_user, conversation_id)) == 2
    listing = api.get("/conversations", headers=fresh_user.headers).json()["conversations"]
    assert [c["conversation_id"] for c in listing] == [conversation_id]


@pytest.mark.parametrize("change", [{"message": "another text"}, {"conversation_id": "other"}])
def test_a_key_sent_again_with_another_request_is_422(api, fresh_user, model, change):
    body = {"message": "first words"}
    first = api.post("/chat", json=body, headers=_with_key(fresh_user, "k"))
    assert first.status_code == 200
    if "conversation_id" in change:
        other = api.post("/chat", json={"message": "x"}, headers=fresh_user.headers).json()
        change = {"conversation_id": other["conversation_id"]}
    response = api.post("/chat", json={**body, **change}, headers=_with_key(fresh_user, "k"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert len(_messages(api, fresh_user, first.json()["conversation_id"])) == 2


def test_a_key_is_per_user(api, alice, bob):
    body = {"message": "same words, same key"}
    mine = api.post("/chat", json=body, headers=_with_key(alice, "shared")).json()
    theirs = api.post("/chat", json=body, headers=_with_key(bob, "shared"))
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["conversation_id"] != mine["conversation_id"]


def test_the_retry_of_a_deleted_conversation_is_404(api, fresh_user):
    body = {"message": "soon gone"}
    first = api.post("/chat", json=body, headers=_with_key(fresh_user, "gone")).json()
    deleted = api.delete(f"/conversations/{first['conversation_id']}", headers=fresh_user.headers)
    assert deleted.status_code == 204
    retry = api.post("/chat", json=body, headers=_with_key(fresh_user, "gone"))
    assert retry.status_code == 404


def test_two_requests_at_once_with_one_key_store_one_turn(api, fresh_user, model):
    model.configure(ttft_ms=800)
    body = {"message": "are you there?"}
    answers = []

    def send():
        answers.append(api.post("/chat", json=body, headers=_with_key(fresh_user, "twice")))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["message_id"] == answers[1].json()["message_id"]
    conversations = api.get("/conversations", headers=fresh_user.headers).json()["conversations"]
    assert len(conversations) == 1
    assert len(_messages(api, fresh_user, conversations[0]["conversation_id"])) == 2


def test_a_malformed_key_is_400_before_anything_runs(api, fresh_user, model):
    response = api.post("/chat", json={"message": "hi"}, headers=_with_key(fresh_user, "a b"))
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert model.stats()["converse"] == 0
