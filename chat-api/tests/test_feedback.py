"""POST /feedback records the rating on the reply (GET /conversations/{id} returns it) and puts
one schema-valid message on the real SQS queue; a refused or unqueued rating changes nothing."""

from __future__ import annotations

import json

import boto3
import httpx
import pytest

from chat_api.feedback_message import SCHEMA_PATH, FeedbackMessage, json_schema
from chat_api.ids import new_id


@pytest.fixture
def queue(stack):
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.aws_url,
        region_name=stack.config["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    url = stack.config["FEEDBACK_QUEUE_URL"]

    def receive(wait: int = 1) -> list[dict]:
        """Takes every message off the queue (PurgeQueue is limited to once a minute)."""
        messages = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages += batch
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    receive(wait=0)
    return receive


def _rate(api, user, turn: dict, rating: str, comment: str | None = None, **change):
    body = {
        "conversation_id": turn["conversation_id"],
        "message_id": turn["message_id"],
        "rating": rating,
        **({"comment": comment} if comment is not None else {}),
        **change,
    }
    return api.post("/feedback", json=body, headers=user.headers)


def _messages(api, user, turn: dict) -> tuple[dict, dict]:
    """The stored (user message, reply) of a one-turn conversation."""
    response = api.get(f"/conversations/{turn['conversation_id']}", headers=user.headers)
    assert response.status_code == 200, response.text
    user_message, reply = response.json()["messages"]
    return user_message, reply


def test_feedback_is_queued_and_read_back(api, fresh_user, queue, openapi_validator):
    turn = api.post(
        "/chat", json={"message": "thanks, that is great"}, headers=fresh_user.headers
    ).json()
    response = api.post(
        "/feedback",
        json={
            "conversation_id": turn["conversation_id"],
            "message_id": turn["message_id"],
            "rating": "up",
            "comment": "Nice tone",
        },
        headers=fresh_user.headers,
    )
    assert response.status_code == 202, response.text
    openapi_validator("FeedbackAccepted", response.json())
    (message,) = queue()
    parsed = FeedbackMessage.from_body(message["Body"])
    assert parsed.feedback_id == response.json()["feedback_id"]
    assert parsed.user_id == fresh_user.sub
    assert (parsed.conversation_id, parsed.message_id) == (
        turn["conversation_id"],
        turn["message_id"],
    )
    assert parsed.rating == "up" and parsed.comment == "Nice tone"
    assert parsed.emotion == "joy" and parsed.model_id == turn["model_id"]
    assert parsed.request_id == response.headers["X-Request-ID"]
    assert message["MessageAttributes"]["schema_version"]["StringValue"] == "1"

    detail = api.get(f"/conversations/{turn['conversation_id']}", headers=fresh_user.headers)
    openapi_validator("ConversationDetail", detail.json())
    user_message, reply = detail.json()["messages"]
    assert reply["feedback"] == {"rating": "up", "comment": "Nice tone"}
    assert "feedback" not in user_message


def test_a_later_rating_replaces_the_earlier_one(api, fresh_user, queue, openapi_validator):
    turn = api.post("/chat", json={"message": "hello"}, headers=fresh_user.headers).json()
    assert _rate(api, fresh_user, turn, "up", "Lovely").status_code == 202
    assert _rate(api, fresh_user, turn, "down").status_code == 202
    _, reply = _messages(api, fresh_user, turn)
    assert reply["feedback"] == {"rating": "down", "comment": None}
    ratings = [FeedbackMessage.from_body(m["Body"]).rating for m in queue()]
    assert sorted(ratings) == ["down", "up"]  # both reach the feedback table


@pytest.mark.parametrize(
    "change",
    [
        {"rating": "sideways"},
        {"rating": 1},
        {"comment": "x" * 1001},
        {"message_id": None},
        {"extra": True},
    ],
)
def test_bad_feedback_is_422_and_changes_nothing(api, alice, queue, change):
    turn = api.post("/chat", json={"message": "hello"}, headers=alice.headers).json()
    body = {
        "conversation_id": turn["conversation_id"],
        "message_id": turn["message_id"],
        "rating": "down",
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/feedback", json=body, headers=alice.headers)
    assert response.status_code == 422
    assert queue() == []
    assert "feedback" not in _messages(api, alice, turn)[1]


@pytest.mark.parametrize(
    "target",
    ["someone else's reply", "a user message", "an unknown message", "an unknown conversation"],
)
def test_only_ones_own_replies_can_be_rated(api, alice, bob, queue, openapi_validator, target):
    turn = api.post("/chat", json={"message": "hello"}, headers=alice.headers).json()
    assert _rate(api, alice, turn, "up", "Kind").status_code == 202
    queue()
    rater, change = {
        "someone else's reply": (bob, {}),
        "a user message": (alice, {"message_id": turn["user_message_id"]}),
        "an unknown message": (alice, {"message_id": new_id()}),
        "an unknown conversation": (alice, {"conversation_id": new_id()}),
    }[target]
    response = _rate(api, rater, turn, "down", "Rude", **change)
    assert response.status_code == 404, response.text
    openapi_validator("ErrorBody", response.json())
    assert response.json()["error"]["code"] == "not_found"
    assert queue() == []
    # Nothing changed: the reply keeps its rating, and no message or stray item was written.
    user_message, reply = _messages(api, alice, turn)
    assert reply["feedback"] == {"rating": "up", "comment": "Kind"}
    assert "feedback" not in user_message


@pytest.fixture
def api_without_queue(start_api, stack):
    """A chat API whose feedback queue does not exist: every SendMessage fails."""
    process = start_api(FEEDBACK_QUEUE_URL=stack.config["FEEDBACK_QUEUE_URL"] + "-missing")
    with httpx.Client(base_url=process.url + "/api/v1", timeout=30) as client:
        yield client


def test_an_unqueued_rating_is_withdrawn_and_can_be_sent_again(
    api, api_without_queue, fresh_user, queue, openapi_validator
):
    rated = api.post("/chat", json={"message": "hello"}, headers=fresh_user.headers).json()
    assert _rate(api, fresh_user, rated, "up", "Kind").status_code == 202
    unrated = api.post("/chat", json={"message": "hi"}, headers=fresh_user.headers).json()
    queue()

    for turn in (rated, unrated):
        response = _rate(api_without_queue, fresh_user, turn, "down", "Rude")
        assert response.status_code == 503, response.text
        openapi_validator("ErrorBody", response.json())
        assert response.json()["error"]["code"] == "feedback_unavailable"
    assert _messages(api, fresh_user, rated)[1]["feedback"] == {"rating": "up", "comment": "Kind"}
    assert "feedback" not in _messages(api, fresh_user, unrated)[1]
    assert queue() == []

    # Sent again once the queue is back: recorded and queued exactly once.
    assert _rate(api, fresh_user, unrated, "down", "Rude").status_code == 202
    assert _messages(api, fresh_user, unrated)[1]["feedback"] == {
        "rating": "down",
        "comment": "Rude",
    }
    (message,) = queue()
    assert FeedbackMessage.from_body(message["Body"]).message_id == unrated["message_id"]


def test_schema_file_matches_the_model():
    assert json.loads(SCHEMA_PATH.read_text()) == json_schema()


def test_message_model_refuses_unknown_fields_and_versions():
    valid = {
        "feedback_id": "f",
        "user_id": "u",
        "conversation_id": "c",
        "message_id": "m",
        "rating": "up",
        "created_at": "2026-01-01T00:00:00Z",
    }
    FeedbackMessage.model_validate(valid)
    for bad in ({"surprise": 1}, {"schema_version": 2}, {"rating": "meh"}):
        with pytest.raises(ValueError):
            FeedbackMessage.model_validate({**valid, **bad})


def test_a_retry_with_the_same_idempotency_key_queues_the_same_rating(api, fresh_user, queue):
    turn = api.post("/chat", json={"message": "thank you"}, headers=fresh_user.headers).json()
    body = {"conversation_id": turn["conversation_id"], "message_id": turn["message_id"]}
    key = {"Idempotency-Key": "rating-3f2a:1"}
    first = api.post(
        "/feedback", json={**body, "rating": "up"}, headers={**fresh_user.headers, **key}
    )
    retry = api.post(
        "/feedback", json={**body, "rating": "up"}, headers={**fresh_user.headers, **key}
    )
    assert (first.status_code, retry.status_code) == (202, 202), retry.text
    assert first.json()["feedback_id"] == retry.json()["feedback_id"]
    # Both messages are the same rating, field for field: the consumer's conditional put on
    # feedback_id stores it once and counts the second as a duplicate, not a conflict.
    bodies = [json.loads(m["Body"]) for m in queue()]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert bodies[0]["request_id"] == first.headers["X-Request-ID"]
    assert _messages(api, fresh_user, turn)[1]["feedback"] == {"rating": "up", "comment": None}

    # Without a key (or with another one) a rating is a new one, as before.
    other = api.post(
        "/feedback",
        json={**body, "rating": "up"},
        headers={**fresh_user.headers, "Idempotency-Key": "rating-3f2a:2"},
    )
    assert other.status_code == 202
    assert other.json()["feedback_id"] != first.json()["feedback_id"]


def test_an_idempotency_key_reused_with_another_rating_is_422_and_changes_nothing(
    api, fresh_user, queue, openapi_validator
):
    turn = api.post("/chat", json={"message": "thank you"}, headers=fresh_user.headers).json()
    key = {"Idempotency-Key": "k-1"}
    assert _rate_with(api, fresh_user, turn, "up", key).status_code == 202
    queue()
    reused = _rate_with(api, fresh_user, turn, "down", key)
    assert reused.status_code == 422, reused.text
    openapi_validator("ErrorBody", reused.json())
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert _messages(api, fresh_user, turn)[1]["feedback"] == {"rating": "up", "comment": None}
    assert queue() == []


@pytest.mark.parametrize("key", ["", "x" * 129, "two words", "a/b", "k\tey"])
def test_a_malformed_idempotency_key_is_400_and_changes_nothing(api, fresh_user, queue, key):
    turn = api.post("/chat", json={"message": "thank you"}, headers=fresh_user.headers).json()
    response = _rate_with(api, fresh_user, turn, "up", {"Idempotency-Key": key})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert "feedback" not in _messages(api, fresh_user, turn)[1]
    assert queue() == []


def test_an_unqueued_rating_sent_again_with_its_key_is_recorded_once(
    api, api_without_queue, fresh_user, queue
):
    turn = api.post("/chat", json={"message": "hello"}, headers=fresh_user.headers).json()
    queue()
    key = {"Idempotency-Key": "after-outage"}
    assert _rate_with(api_without_queue, fresh_user, turn, "up", key).status_code == 503
    assert "feedback" not in _messages(api, fresh_user, turn)[1]
    accepted = _rate_with(api, fresh_user, turn, "up", key)
    assert accepted.status_code == 202
    (message,) = queue()
    assert FeedbackMessage.from_body(message["Body"]).feedback_id == accepted.json()["feedback_id"]


def _rate_with(api, user, turn: dict, rating: str, headers: dict) -> httpx.Response:
    body = {
        "conversation_id": turn["conversation_id"],
        "message_id": turn["message_id"],
        "rating": rating,
    }
    return api.post("/feedback", json=body, headers={**user.headers, **headers})
