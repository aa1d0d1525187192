"""The consumer validates with the chat API's own feedback message definition."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import jsonschema
import pytest
from conftest import PROJECT_DIR, REPO_ROOT, feedback_body

from chalicelib import feedback, feedback_message

PRODUCER_MODULE = REPO_ROOT / "chat-api" / "chat_api" / "feedback_message.py"
PRODUCER_SCHEMA = REPO_ROOT / "chat-api" / "chat_api" / "feedback-message.schema.json"


def test_chalicelib_holds_a_link_to_the_chat_api_definition_not_a_copy():
    link = PROJECT_DIR / "chalicelib" / "feedback_message.py"
    assert link.is_symlink()
    assert not os.path.isabs(os.readlink(link))  # valid in any checkout
    assert os.path.samefile(feedback_message.__file__, PRODUCER_MODULE)


def test_the_published_json_schema_is_the_consumers_schema():
    published = json.loads(PRODUCER_SCHEMA.read_text())
    assert feedback_message.FeedbackMessage.model_json_schema() == published


def _schema_accepts(body: str) -> bool:
    schema = json.loads(PRODUCER_SCHEMA.read_text())
    try:
        jsonschema.validate(json.loads(body), schema)
    except jsonschema.ValidationError:
        return False
    return True


def _consumer_accepts(body: str) -> bool:
    try:
        feedback.parse(body)
    except feedback.Poison:
        return False
    return True


@pytest.mark.parametrize(
    "body",
    [
        feedback_body(),
        feedback_body(comment="fine", emotion=None, model_id=None, request_id=None),
        json.dumps({k: v for k, v in json.loads(feedback_body()).items() if k != "comment"}),
        feedback_body(rating="sideways"),
        feedback_body(schema_version=2),
        feedback_body(feedback_id=""),
        feedback_body(user_id="u" * 129),
        feedback_body(comment="c" * 1001),
        feedback_body(unexpected=True),
        json.dumps({k: v for k, v in json.loads(feedback_body()).items() if k != "message_id"}),
    ],
)
def test_consumer_and_published_schema_agree_on_each_message(body):
    assert _consumer_accepts(body) == _schema_accepts(body)


def test_a_message_built_by_the_producer_model_is_accepted():
    message = feedback_message.FeedbackMessage(
        feedback_id="f-1",
        user_id="u-1",
        conversation_id="c-1",
        message_id="m-1",
        rating="down",
        created_at=datetime.now(UTC),
    )
    assert feedback.parse(message.to_body()) == message
