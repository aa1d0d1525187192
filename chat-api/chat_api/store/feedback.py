"""Ratings on replies: the `feedback` map of an assistant message."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..errors import NotFound
from .base import StoreBase
from .items import from_item, message_key, to_item, without_none


class FeedbackReplayed(Exception):
    """The reply's current rating was sent with the same idempotency key: a retry of it."""

    def __init__(self, reply: dict[str, Any], feedback: dict[str, Any]):
        super().__init__("rating already recorded under this idempotency key")
        self.reply = reply
        self.feedback = feedback


class Feedback(StoreBase):
    def record_feedback(
        self,
        user_id: str,
        conversation_id: str,
        message_id: str,
        feedback: dict[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Sets a reply's `feedback` map, replacing an earlier rating; returns the reply as it
        was before. Only an existing assistant message of the caller's can be rated.

        With an `idempotency_key`, a reply whose current rating was sent with the same key is
        left as it is and FeedbackReplayed carries that rating: the request is a retry."""
        condition = "attribute_exists(pk) AND #role = :assistant"
        values: dict[str, Any] = {":feedback": without_none(feedback), ":assistant": "assistant"}
        if idempotency_key is not None:
            condition += " AND NOT #feedback.idempotency_key = :key"
            values[":key"] = idempotency_key
        try:
            response = self._call(
                "update_item",
                Key=message_key(user_id, conversation_id, message_id),
                UpdateExpression="SET #feedback = :feedback",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#feedback": "feedback", "#role": "role"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:  # _call lets only a failed condition through
            item = from_item(exc.response.get("Item") or {})
            earlier = item.get("feedback") or {}
            if (
                idempotency_key is not None
                and item.get("role") == "assistant"
                and earlier.get("idempotency_key") == idempotency_key
            ):
                raise FeedbackReplayed(item, earlier) from None
            raise NotFound("No such reply in your conversations.") from exc
        return from_item(response["Attributes"])

    def withdraw_feedback(
        self,
        user_id: str,
        conversation_id: str,
        message_id: str,
        feedback_id: str,
        previous: dict[str, Any] | None,
    ) -> None:
        """Puts back the reply's earlier feedback (or none), unless a later rating has already
        replaced the one with `feedback_id`."""
        values: dict[str, Any] = {":id": feedback_id}
        if previous:
            values[":previous"] = without_none(previous)
        try:
            self._call(
                "update_item",
                Key=message_key(user_id, conversation_id, message_id),
                UpdateExpression="SET #feedback = :previous" if previous else "REMOVE #feedback",
                ConditionExpression="#feedback.feedback_id = :id",
                ExpressionAttributeNames={"#feedback": "feedback"},
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError:
            return  # a later rating is recorded: it stays
