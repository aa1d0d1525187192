"""Conversations and messages in one DynamoDB table.

Keys and access patterns: a conversation is one partition, pk=USER#<user>#CONV#<conversation>.
- summary: sk=SUMMARY; gsi1pk=USER#<user>, gsi1sk=<updated_at>#<conversation> lists a user's
  conversations newest first (GSI `gsi1`).
- message: sk=MSG#<message ULID>; ULIDs sort by time, so a Query returns the messages in order.
  A rated reply carries its latest rating in a `feedback` map (set by UpdateItem).
  "SUMMARY" sorts after every "MSG#" key, so one descending Query returns the summary and then
  the newest messages: a continued chat reads its conversation in a single round trip.
The user id is part of every key, so one user's request can never address another user's items.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .emotion import Emotion
from .errors import Conflict, InvalidParameter, NotFound, StorageUnavailable
from .safety import NOT_FLAGGED, SafetyAssessment
from .titles import fallback_title

log = logging.getLogger(__name__)
SUMMARY_SK = "SUMMARY"
TURN_KEY_SK = "TURN_KEY"
# How long a chat request's idempotency key answers a retry with the turn it stored.
TURN_KEY_SECONDS = 24 * 3600
RECENT_EMOTIONS_KEPT = 8
MESSAGE_PAGE_MAX = 100
_DELETE_ATTEMPTS = 6
_DELETE_ROUNDS = 3
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def _conversation_pk(user_id: str, conversation_id: str) -> str:
    return f"USER#{user_id}#CONV#{conversation_id}"


def _turn_key(user_id: str, idempotency_key: str) -> dict[str, Any]:
    return _to_item({"pk": f"USER#{user_id}#TURN_KEY#{idempotency_key}", "sk": TURN_KEY_SK})


def _message_key(user_id: str, conversation_id: str, message_id: str) -> dict[str, Any]:
    return _to_item({"pk": _conversation_pk(user_id, conversation_id), "sk": f"MSG#{message_id}"})


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


def _emotion_attr(emotion: Emotion) -> dict[str, Any]:
    return {
        "label": emotion.label,
        "scores": {k: Decimal(str(v)) for k, v in emotion.scores.items()},
    }


class TurnAlreadyStored(Exception):
    """Another request with the same idempotency key stored its turn first."""


class FeedbackReplayed(Exception):
    """The reply's current rating was sent with the same idempotency key: a retry of it."""

    def __init__(self, reply: dict[str, Any], feedback: dict[str, Any]):
        super().__init__("rating already recorded under this idempotency key")
        self.reply = reply
        self.feedback = feedback


@dataclass(frozen=True)
class Turn:
    """One exchange to store: the user's message and the assistant's reply."""

    user_id: str
    conversation_id: str
    user_message_id: str
    user_text: str
    user_created_at: str
    emotion: Emotion
    assistant_message_id: str
    reply: str
    model_id: str
    usage: dict[str, int]
    stop_reason: str
    safety: SafetyAssessment = NOT_FLAGGED
    idempotency_key: str | None = None


class ConversationStore:
    def __init__(self, client, table: str, *, retention_days: int = 365, sleep=time.sleep) -> None:
        self._db = client
        self._table = table
        self._retention_seconds = retention_days * 86400
        self._sleep = sleep

    def _expires_at(self) -> int:
        """The TTL of an item written now: DynamoDB removes it after the retention period."""
        return int(time.time()) + self._retention_seconds

    def _call(self, operation: str, **kwargs) -> dict[str, Any]:
        try:
            return getattr(self._db, operation)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise
            raise _unavailable(operation, exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(operation, exc) from exc

    def get_conversation(self, user_id: str, conversation_id: str) -> dict[str, Any]:
        response = self._call(
            "get_item",
            Key=_to_item({"pk": _conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK}),
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise NotFound("No such conversation.")
        return _summary(_from_item(response["Item"]))

    def conversation_with_recent(
        self, user_id: str, conversation_id: str, limit: int
    ) -> tuple[dict[str, Any], list[dict]]:
        """The summary and the newest `limit` messages (oldest first), in one Query."""
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_to_item({":pk": _conversation_pk(user_id, conversation_id)}),
            ScanIndexForward=False,
            Limit=limit + 1,
            ConsistentRead=True,
        )
        items = [_from_item(item) for item in response["Items"]]
        if not items or items[0]["sk"] != SUMMARY_SK:
            raise NotFound("No such conversation.")
        return _summary(items[0]), [_message(item) for item in reversed(items[1:])]

    def messages_page(
        self, user_id: str, conversation_id: str, *, limit: int, before: str | None = None
    ) -> tuple[list[dict], str | None]:
        """The newest `limit` messages older than message `before` (all when None), oldest
        first, and the id to pass as `before` for the page before them (None at the start)."""
        extra: dict[str, Any] = {}
        pk = _conversation_pk(user_id, conversation_id)
        if before:
            extra["ExclusiveStartKey"] = _to_item({"pk": pk, "sk": f"MSG#{before}"})
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
            ExpressionAttributeValues=_to_item({":pk": pk, ":msg": "MSG#"}),
            ScanIndexForward=False,
            Limit=min(limit, MESSAGE_PAGE_MAX),
            ConsistentRead=True,
            **extra,
        )
        items = [_from_item(item) for item in response["Items"]]
        messages = [_message(item) for item in reversed(items)]
        more = bool(response.get("LastEvaluatedKey")) and bool(messages)
        return messages, (messages[0]["message_id"] if more else None)

    def _message_key_pages(self, user_id: str, conversation_id: str):
        """The keys of a conversation's messages, one bounded page at a time."""
        start: dict | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            response = self._call(
                "query",
                KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
                ExpressionAttributeValues=_to_item(
                    {":pk": _conversation_pk(user_id, conversation_id), ":msg": "MSG#"}
                ),
                ProjectionExpression="pk, sk",
                Limit=MESSAGE_PAGE_MAX,
                ConsistentRead=True,
                **extra,
            )
            if response["Items"]:
                yield response["Items"]
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def list_conversations(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict], str | None]:
        extra: dict[str, Any] = {}
        if cursor:
            extra["ExclusiveStartKey"] = _decode_cursor(cursor, _user_pk(user_id))
        response = self._call(
            "query",
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_to_item({":pk": _user_pk(user_id)}),
            ScanIndexForward=False,
            Limit=limit,
            **extra,
        )
        items = [_summary(_from_item(item)) for item in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return items, (_encode_cursor(last) if last else None)

    def save_turn(self, turn: Turn, existing: dict[str, Any] | None) -> None:
        """Store both messages and the conversation's summary in one transaction."""
        now = now_iso()
        expires_at = self._expires_at()
        recent = (existing or {}).get("recent_emotions", []) + [turn.emotion.label]
        recent = recent[-RECENT_EMOTIONS_KEPT:]
        messages_pk = _conversation_pk(turn.user_id, turn.conversation_id)
        user_message = {
            "pk": messages_pk,
            "sk": f"MSG#{turn.user_message_id}",
            "message_id": turn.user_message_id,
            "role": "user",
            "text": turn.user_text,
            "created_at": turn.user_created_at,
            "emotion": _emotion_attr(turn.emotion),
            "safety": turn.safety.as_dict(),
            # Account deletion finds the turn key (its own partition) through it.
            "idempotency_key": turn.idempotency_key,
            "expires_at": expires_at,
        }
        assistant_message = {
            "pk": messages_pk,
            "sk": f"MSG#{turn.assistant_message_id}",
            "message_id": turn.assistant_message_id,
            "role": "assistant",
            "text": turn.reply,
            "created_at": now,
            "model_id": turn.model_id,
            "usage": turn.usage,
            "stop_reason": turn.stop_reason,
            "reply_to": turn.user_message_id,
            "reply_to_emotion": turn.emotion.label,
            "expires_at": expires_at,
        }
        summary_update = {
            "TableName": self._table,
            "Key": _to_item(
                {"pk": _conversation_pk(turn.user_id, turn.conversation_id), "sk": SUMMARY_SK}
            ),
            "UpdateExpression": (
                "SET conversation_id = :cid, title = if_not_exists(title, :title), "
                "created_at = if_not_exists(created_at, :now), updated_at = :now, "
                "gsi1pk = :gsi1pk, gsi1sk = :gsi1sk, last_emotion = :label, "
                "recent_emotions = :recent, expires_at = :expires ADD message_count :two"
            ),
            "ExpressionAttributeValues": _to_item(
                {
                    ":cid": turn.conversation_id,
                    ":title": fallback_title(turn.user_text),
                    ":now": now,
                    ":gsi1pk": _user_pk(turn.user_id),
                    ":gsi1sk": f"{now}#{turn.conversation_id}",
                    ":label": turn.emotion.label,
                    ":recent": recent,
                    ":two": 2,
                    ":expires": expires_at,
                }
            ),
            # A conversation deleted while its reply was being written stays deleted.
            "ConditionExpression": (
                "attribute_exists(pk)" if existing is not None else "attribute_not_exists(pk)"
            ),
        }
        new_item = "attribute_not_exists(pk)"
        items = [
            {"Update": summary_update},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _to_item(user_message),
                    "ConditionExpression": new_item,
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _to_item(assistant_message),
                    "ConditionExpression": new_item,
                }
            },
        ]
        if turn.idempotency_key is not None:
            # Written with the turn, or not at all: a retry finds either both or neither.
            marker = {
                "conversation_id": turn.conversation_id,
                "user_message_id": turn.user_message_id,
                "assistant_message_id": turn.assistant_message_id,
                "expires_at": int(time.time()) + TURN_KEY_SECONDS,
            }
            key = _turn_key(turn.user_id, turn.idempotency_key)
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {**key, **_to_item(marker)},
                        "ConditionExpression": new_item,
                    }
                }
            )
        try:
            self._db.transact_write_items(
                # botocore retries a transaction whose answer was lost; the token makes that
                # retry a no-op instead of a failed condition check on the items just written.
                ClientRequestToken=turn.assistant_message_id,
                TransactItems=items,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons", [])
                if len(reasons) > 3 and reasons[3].get("Code") == "ConditionalCheckFailed":
                    raise TurnAlreadyStored() from exc
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    if self._turn_stored(turn):
                        # A retry of this same transaction whose first answer was lost, where
                        # the store did not honour ClientRequestToken (the local endpoint does
                        # not): the turn's own messages are there, so the turn is stored.
                        return
                    raise NotFound("The conversation was deleted.") from exc
            raise _unavailable("transact_write_items", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("transact_write_items", exc) from exc

    def _turn_stored(self, turn: Turn) -> bool:
        """Whether both messages of `turn` are stored (their ids are new for every turn, so
        only this turn's own transaction can have written them)."""
        for message_id in (turn.user_message_id, turn.assistant_message_id):
            item = self._call(
                "get_item",
                Key=_message_key(turn.user_id, turn.conversation_id, message_id),
                ConsistentRead=True,
            ).get("Item")
            if item is None:
                return False
        return True

    def find_turn(self, user_id: str, idempotency_key: str) -> dict[str, Any] | None:
        """The turn stored by a request with this idempotency key, as {"conversation_id",
        "user", "reply"} (the two stored messages); None when no turn was stored with it.
        NotFound when its conversation was deleted since."""
        marker = self._call(
            "get_item", Key=_turn_key(user_id, idempotency_key), ConsistentRead=True
        ).get("Item")
        if marker is None:
            return None
        marker = _from_item(marker)
        if marker.get("expires_at", 0) < time.time():
            return None  # expired, not yet removed by the TTL
        conversation_id = marker["conversation_id"]
        found = {}
        for role, message_id in (
            ("user", marker["user_message_id"]),
            ("reply", marker["assistant_message_id"]),
        ):
            item = self._call(
                "get_item",
                Key=_message_key(user_id, conversation_id, message_id),
                ConsistentRead=True,
            ).get("Item")
            if item is None:
                raise NotFound("The conversation of this request was deleted.")
            found[role] = _from_item(item)
        return {"conversation_id": conversation_id, **found}

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
        values: dict[str, Any] = {":feedback": _without_none(feedback), ":assistant": "assistant"}
        if idempotency_key is not None:
            condition += " AND NOT #feedback.idempotency_key = :key"
            values[":key"] = idempotency_key
        try:
            response = self._call(
                "update_item",
                Key=_message_key(user_id, conversation_id, message_id),
                UpdateExpression="SET #feedback = :feedback",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#feedback": "feedback", "#role": "role"},
                ExpressionAttributeValues=_to_item(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:  # _call lets only a failed condition through
            item = _from_item(exc.response.get("Item") or {})
            earlier = item.get("feedback") or {}
            if (
                idempotency_key is not None
                and item.get("role") == "assistant"
                and earlier.get("idempotency_key") == idempotency_key
            ):
                raise FeedbackReplayed(item, earlier) from None
            raise NotFound("No such reply in your conversations.") from exc
        return _from_item(response["Attributes"])

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
            values[":previous"] = _without_none(previous)
        try:
            self._call(
                "update_item",
                Key=_message_key(user_id, conversation_id, message_id),
                UpdateExpression="SET #feedback = :previous" if previous else "REMOVE #feedback",
                ConditionExpression="#feedback.feedback_id = :id",
                ExpressionAttributeNames={"#feedback": "feedback"},
                ExpressionAttributeValues=_to_item(values),
            )
        except ClientError:
            return  # a later rating is recorded: it stays

    def delete_conversation(self, user_id: str, conversation_id: str) -> None:
        """Deletes the messages first and the summary last, so a delete cut short leaves the
        conversation listed and a retried DELETE finishes the job. Raises StorageUnavailable
        (never a silent success) when something could not be deleted."""
        summary_key = _to_item({"pk": _conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK})
        for _ in range(_DELETE_ROUNDS):
            summary = self._call("get_item", Key=summary_key, ConsistentRead=True).get("Item")
            if summary is None:
                raise NotFound("No such conversation.")
            for page in self._message_key_pages(user_id, conversation_id):
                for start in range(0, len(page), 25):
                    self._delete_batch(page[start : start + 25])
            try:
                # A turn written meanwhile changed message_count: its messages are deleted in
                # another round before the summary goes, so none is left without a summary.
                self._call(
                    "delete_item",
                    Key=summary_key,
                    ConditionExpression="message_count = :seen",
                    ExpressionAttributeValues={":seen": summary["message_count"]},
                )
                return
            except ClientError:
                continue
        raise _unavailable("delete_item", RuntimeError("conversation kept changing"))

    # --- titles ---------------------------------------------------------------------------------

    def rename(self, user_id: str, conversation_id: str, title: str) -> dict[str, Any]:
        """Sets the user's title (kept from then on: a generated title never replaces it)."""
        try:
            response = self._call(
                "update_item",
                Key=_to_item({"pk": _conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK}),
                UpdateExpression="SET title = :title, title_source = :user",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_to_item({":title": title, ":user": "user"}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:  # _call lets only a failed condition through
            raise NotFound("No such conversation.") from exc
        return _summary(_from_item(response["Attributes"]))

    def set_generated_title(
        self, user_id: str, conversation_id: str, title: str, *, replacing: str
    ) -> bool:
        """Replaces the fallback title `replacing` with the model's; False (and nothing
        changed) when the conversation was renamed or deleted meanwhile."""
        try:
            self._call(
                "update_item",
                Key=_to_item({"pk": _conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK}),
                UpdateExpression="SET title = :title, title_source = :model",
                ConditionExpression=(
                    "attribute_exists(pk) AND title = :fallback "
                    "AND attribute_not_exists(title_source)"
                ),
                ExpressionAttributeValues=_to_item(
                    {":title": title, ":model": "model", ":fallback": replacing}
                ),
            )
        except ClientError:
            return False
        return True

    # --- reading whole conversations and histories, page by page --------------------------------

    def iter_summaries(self, user_id: str, *, page_size: int = 100, cursor: str | None = None):
        """Every conversation of the user, most recently active first, one page at a time:
        yields (summary, cursor of the position just after it)."""
        start = _decode_cursor(cursor, _user_pk(user_id)) if cursor else None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            response = self._call(
                "query",
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues=_to_item({":pk": _user_pk(user_id)}),
                ScanIndexForward=False,
                Limit=page_size,
                **extra,
            )
            for item in response["Items"]:
                plain = _from_item(item)
                position = {k: plain[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}
                yield _summary(plain), _encode_cursor(_to_item(position))
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def iter_messages(
        self,
        user_id: str,
        conversation_id: str,
        *,
        newest_first: bool = False,
        since_id: str | None = None,
        fields: tuple[str, ...] | None = None,
    ):
        """A conversation's messages (oldest first unless `newest_first`), read in pages of
        MESSAGE_PAGE_MAX; `since_id` keeps those whose id is at least it (ULIDs sort by time);
        `fields` reads only those attributes (a projection) and yields them raw."""
        pk = _conversation_pk(user_id, conversation_id)
        condition = "pk = :pk AND begins_with(sk, :msg)"
        values: dict[str, Any] = {":pk": pk, ":msg": "MSG#"}
        if since_id:
            condition = "pk = :pk AND sk BETWEEN :from AND :to"
            values = {":pk": pk, ":from": f"MSG#{since_id}", ":to": "MSG#~"}
        extra: dict[str, Any] = {}
        if fields:
            extra["ProjectionExpression"] = ", ".join(f"#f{n}" for n in range(len(fields)))
            extra["ExpressionAttributeNames"] = {f"#f{n}": f for n, f in enumerate(fields)}
        start: dict | None = None
        while True:
            response = self._call(
                "query",
                KeyConditionExpression=condition,
                ExpressionAttributeValues=_to_item(values),
                ScanIndexForward=not newest_first,
                Limit=MESSAGE_PAGE_MAX,
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
                **extra,
            )
            for item in response["Items"]:
                plain = _from_item(item)
                yield plain if fields else _message(plain)
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def get_message(self, user_id: str, conversation_id: str, message_id: str) -> dict | None:
        response = self._call(
            "get_item", Key=_message_key(user_id, conversation_id, message_id), ConsistentRead=True
        )
        return _from_item(response["Item"]) if "Item" in response else None

    # --- replacing the last turn (regenerate, edit) ---------------------------------------------

    def replace_last_reply(
        self,
        user_id: str,
        conversation_id: str,
        *,
        seen_count: int,
        old_reply_id: str,
        reply: Turn,
        edited_user_message: dict[str, Any] | None = None,
        recent_emotions: list[str] | None = None,
    ) -> None:
        """One transaction: the old reply (and its rating) is deleted, the new reply written,
        the edited user message (when given) replaces the stored one, and the summary is
        updated; refused (409) if another turn, edit or regeneration got there first."""
        now = now_iso()
        expires_at = self._expires_at()
        pk = _conversation_pk(user_id, conversation_id)
        assistant_message = {
            "pk": pk,
            "sk": f"MSG#{reply.assistant_message_id}",
            "message_id": reply.assistant_message_id,
            "role": "assistant",
            "text": reply.reply,
            "created_at": now,
            "model_id": reply.model_id,
            "usage": reply.usage,
            "stop_reason": reply.stop_reason,
            "reply_to": reply.user_message_id,
            "reply_to_emotion": reply.emotion.label,
            "expires_at": expires_at,
        }
        sets = "updated_at = :now, gsi1sk = :gsi1sk, expires_at = :expires"
        values: dict[str, Any] = {
            ":now": now,
            ":gsi1sk": f"{now}#{conversation_id}",
            ":expires": expires_at,
            ":seen": seen_count,
        }
        if recent_emotions is not None:
            sets += ", last_emotion = :label, recent_emotions = :recent"
            values[":label"] = reply.emotion.label
            values[":recent"] = recent_emotions
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _to_item({"pk": pk, "sk": SUMMARY_SK}),
                    "UpdateExpression": "SET " + sets,
                    "ConditionExpression": "message_count = :seen",
                    "ExpressionAttributeValues": _to_item(values),
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _message_key(user_id, conversation_id, old_reply_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _to_item(assistant_message),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if edited_user_message is not None:
            user_item = {
                **edited_user_message,
                "pk": pk,
                "sk": f"MSG#{edited_user_message['message_id']}",
                "expires_at": expires_at,
            }
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _to_item(user_item),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        try:
            self._db.transact_write_items(
                ClientRequestToken=reply.assistant_message_id, TransactItems=items
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(
                    "The conversation changed meanwhile (a new message, edit or regeneration); "
                    "reload it and try again."
                ) from exc
            raise _unavailable("transact_write_items", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("transact_write_items", exc) from exc

    # --- a user's items outside their conversations ---------------------------------------------

    def delete_turn_key(self, user_id: str, idempotency_key: str) -> None:
        self._call("delete_item", Key=_turn_key(user_id, idempotency_key))

    def delete_partition(self, pk: str) -> int:
        """Deletes every item of partition `pk` (the usage counters); returns how many."""
        deleted = 0
        while True:
            response = self._call(
                "query",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=_to_item({":pk": pk}),
                ProjectionExpression="pk, sk",
                Limit=MESSAGE_PAGE_MAX,
                ConsistentRead=True,
            )
            keys = response["Items"]
            if not keys:
                return deleted
            for start in range(0, len(keys), 25):
                self._delete_batch(keys[start : start + 25])
            deleted += len(keys)

    def _delete_batch(self, keys: list[dict[str, Any]]) -> None:
        pending = {self._table: [{"DeleteRequest": {"Key": key}} for key in keys]}
        for attempt in range(_DELETE_ATTEMPTS):
            if attempt:
                # Unprocessed items mean throttling: back off (exponential, full jitter).
                self._sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter
            try:
                response = self._db.batch_write_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as exc:
                raise _unavailable("batch_write_item", exc) from exc
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
        left = sum(len(requests) for requests in pending.values())
        log.error("messages left after delete", extra={"unprocessed": left})
        raise StorageUnavailable("The conversation could not be deleted completely; try again.")


def _unavailable(operation: str, exc: Exception) -> StorageUnavailable:
    """Logs what actually failed (throttling, timeout, connection) before the generic 503."""
    code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else None
    log.error(
        "dynamodb call failed",
        extra={"operation": operation, "error_type": type(exc).__name__, "error_code": code},
    )
    return StorageUnavailable()


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": item["conversation_id"],
        "title": item.get("title", ""),
        "created_at": item.get("created_at", ""),
        "updated_at": item.get("updated_at", ""),
        "message_count": item.get("message_count", 0),
        "last_emotion": item.get("last_emotion"),
        "recent_emotions": item.get("recent_emotions", []),
        "title_source": item.get("title_source", "first_message"),
    }


def _message(item: dict[str, Any]) -> dict[str, Any]:
    message = {
        "message_id": item["message_id"],
        "role": item["role"],
        "text": item["text"],
        "created_at": item["created_at"],
    }
    if "emotion" in item:
        message["emotion"] = item["emotion"]
    if "safety" in item:
        message["safety"] = item["safety"]
    if "model_id" in item:
        message["model_id"] = item["model_id"]
    if "edited_at" in item:
        message["edited_at"] = item["edited_at"]
    if "feedback" in item:
        message["feedback"] = {
            "rating": item["feedback"]["rating"],
            "comment": item["feedback"].get("comment"),
        }
    return message


def _encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps(_from_item(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, user_pk: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        valid = (
            isinstance(key, dict)
            and set(key) == {"pk", "sk", "gsi1pk", "gsi1sk"}
            and all(isinstance(v, str) for v in key.values())
            and key["gsi1pk"] == user_pk
            and key["pk"].startswith(user_pk + "#CONV#")
            and key["sk"] == SUMMARY_SK
        )
    except (ValueError, binascii.Error, UnicodeError):
        valid = False
    if not valid:
        raise InvalidParameter("cursor", "The cursor is not one this listing gave you.")
    return _to_item(key)
