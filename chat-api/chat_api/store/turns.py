"""Storing a chat turn (both messages and the summary, in one transaction), finding the turn a
request's idempotency key stored, and replacing the last reply (regenerate, edit)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..emotion import Emotion
from ..errors import Conflict, NotFound
from ..safety import NOT_FLAGGED, SafetyAssessment
from ..titles import fallback_title
from .base import StoreBase
from .items import (
    RECENT_EMOTIONS_KEPT,
    SUMMARY_SK,
    TURN_KEY_SECONDS,
    conversation_pk,
    emotion_attr,
    from_item,
    message_key,
    now_iso,
    to_item,
    turn_key,
    unavailable,
    user_pk,
)


class TurnAlreadyStored(Exception):
    """Another request with the same idempotency key stored its turn first."""


@dataclass(frozen=True, kw_only=True)
class UserMessage:
    """The user's side of a turn: the message, what was read in it, and the request's key."""

    user_id: str
    conversation_id: str
    user_message_id: str
    user_text: str
    user_created_at: str
    emotion: Emotion
    safety: SafetyAssessment = NOT_FLAGGED
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Turn(UserMessage):
    """One exchange to store: the user's message and the assistant's reply."""

    assistant_message_id: str
    reply: str
    model_id: str
    usage: dict[str, int]
    stop_reason: str


class Turns(StoreBase):
    def save_turn(self, turn: Turn, existing: dict[str, Any] | None) -> None:
        """Store both messages and the conversation's summary in one transaction."""
        now = now_iso()
        expires_at = self._expires_at()
        recent = (existing or {}).get("recent_emotions", []) + [turn.emotion.label]
        recent = recent[-RECENT_EMOTIONS_KEPT:]
        messages_pk = conversation_pk(turn.user_id, turn.conversation_id)
        user_message = {
            "pk": messages_pk,
            "sk": f"MSG#{turn.user_message_id}",
            "message_id": turn.user_message_id,
            "role": "user",
            "text": turn.user_text,
            "created_at": turn.user_created_at,
            "emotion": emotion_attr(turn.emotion),
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
            "Key": to_item(
                {"pk": conversation_pk(turn.user_id, turn.conversation_id), "sk": SUMMARY_SK}
            ),
            "UpdateExpression": (
                "SET conversation_id = :cid, title = if_not_exists(title, :title), "
                "created_at = if_not_exists(created_at, :now), updated_at = :now, "
                "gsi1pk = :gsi1pk, gsi1sk = :gsi1sk, last_emotion = :label, "
                "recent_emotions = :recent, expires_at = :expires ADD message_count :two"
            ),
            "ExpressionAttributeValues": to_item(
                {
                    ":cid": turn.conversation_id,
                    ":title": fallback_title(turn.user_text),
                    ":now": now,
                    ":gsi1pk": user_pk(turn.user_id),
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
                    "Item": to_item(user_message),
                    "ConditionExpression": new_item,
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(assistant_message),
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
            key = turn_key(turn.user_id, turn.idempotency_key)
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {**key, **to_item(marker)},
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
            raise unavailable("transact_write_items", exc) from exc
        except BotoCoreError as exc:
            raise unavailable("transact_write_items", exc) from exc

    def _turn_stored(self, turn: Turn) -> bool:
        """Whether both messages of `turn` are stored (their ids are new for every turn, so
        only this turn's own transaction can have written them)."""
        for message_id in (turn.user_message_id, turn.assistant_message_id):
            item = self._call(
                "get_item",
                Key=message_key(turn.user_id, turn.conversation_id, message_id),
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
            "get_item", Key=turn_key(user_id, idempotency_key), ConsistentRead=True
        ).get("Item")
        if marker is None:
            return None
        marker = from_item(marker)
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
                Key=message_key(user_id, conversation_id, message_id),
                ConsistentRead=True,
            ).get("Item")
            if item is None:
                raise NotFound("The conversation of this request was deleted.")
            found[role] = from_item(item)
        return {"conversation_id": conversation_id, **found}

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
        pk = conversation_pk(user_id, conversation_id)
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
                    "Key": to_item({"pk": pk, "sk": SUMMARY_SK}),
                    "UpdateExpression": "SET " + sets,
                    "ConditionExpression": "message_count = :seen",
                    "ExpressionAttributeValues": to_item(values),
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": message_key(user_id, conversation_id, old_reply_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(assistant_message),
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
                        "Item": to_item(user_item),
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
            raise unavailable("transact_write_items", exc) from exc
        except BotoCoreError as exc:
            raise unavailable("transact_write_items", exc) from exc
