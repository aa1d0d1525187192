"""Unit tests of the conversation store's turn transaction, on moto's in-process DynamoDB."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chat_api.emotion import Emotion
from chat_api.errors import NotFound
from chat_api.ids import new_id
from chat_api.store import ConversationStore, Turn
from local_stack import aws_bootstrap
from local_stack.harness import offline_aws

REGION = "us-east-1"


@pytest.fixture
def store():
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        offline_aws(patch, REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        tables = aws_bootstrap._ensure_tables(dynamodb, "unit")
        yield ConversationStore(dynamodb, tables["CONVERSATIONS_TABLE"])


def _turn(conversation_id: str) -> Turn:
    return Turn(
        user_id="user-1",
        conversation_id=conversation_id,
        user_message_id=new_id(),
        user_text="Hello there",
        user_created_at="2026-12-02T00:00:00Z",
        emotion=Emotion("joy", {"joy": 1.0}),
        assistant_message_id=new_id(),
        reply="Hi!",
        model_id="model",
        usage={"inputTokens": 1, "outputTokens": 1},
        stop_reason="end_turn",
    )


def test_a_transaction_retried_after_its_answer_was_lost_stores_the_turn_once(store):
    """moto ignores ClientRequestToken, so the retry of a new conversation's first turn fails
    its condition; the store sees its own messages and answers as DynamoDB would."""
    turn = _turn(new_id())
    store.save_turn(turn, None)
    store.save_turn(turn, None)  # the same transaction again
    summary = store.get_conversation("user-1", turn.conversation_id)
    assert summary["message_count"] == 2


def test_a_turn_for_a_conversation_deleted_meanwhile_is_refused(store):
    first = _turn(new_id())
    store.save_turn(first, None)
    existing = store.get_conversation("user-1", first.conversation_id)
    store.delete_conversation("user-1", first.conversation_id)
    with pytest.raises(NotFound, match="deleted"):
        store.save_turn(_turn(first.conversation_id), existing)


def test_a_new_conversation_whose_id_is_taken_is_refused(store):
    """Another turn's messages in the same conversation do not count as this turn's."""
    first = _turn(new_id())
    store.save_turn(first, None)
    with pytest.raises(NotFound):
        store.save_turn(_turn(first.conversation_id), None)
