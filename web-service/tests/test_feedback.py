"""POST /feedback puts one schema-valid message on the real SQS queue."""

from __future__ import annotations

import json

import boto3
import pytest

from chat_api.feedback_message import SCHEMA_PATH, FeedbackMessage, json_schema


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
def test_bad_feedback_is_422_and_queues_nothing(api, alice, queue, change):
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


def test_feedback_on_someone_elses_reply_is_404(api, alice, bob, queue):
    turn = api.post("/chat", json={"message": "hello"}, headers=alice.headers).json()
    body = {
        "conversation_id": turn["conversation_id"],
        "message_id": turn["message_id"],
        "rating": "down",
    }
    assert api.post("/feedback", json=body, headers=bob.headers).status_code == 404
    # Rating one's own message (not a reply) is refused too.
    own = {**body, "message_id": turn["user_message_id"]}
    assert api.post("/feedback", json=own, headers=alice.headers).status_code == 404
    assert queue() == []


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
