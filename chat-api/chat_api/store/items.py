"""The items of the conversations table: keys, (de)serialization, and the shapes served.

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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..emotion import Emotion
from ..errors import InvalidParameter, StorageUnavailable

log = logging.getLogger("chat_api.store")
SUMMARY_SK = "SUMMARY"
TURN_KEY_SK = "TURN_KEY"
# How long a chat request's idempotency key answers a retry with the turn it stored.
TURN_KEY_SECONDS = 24 * 3600
RECENT_EMOTIONS_KEPT = 8
MESSAGE_PAGE_MAX = 100
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def iso(moment: datetime) -> str:
    """The stored timestamps' form: UTC to the millisecond with a Z."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def conversation_pk(user_id: str, conversation_id: str) -> str:
    return f"USER#{user_id}#CONV#{conversation_id}"


def turn_key(user_id: str, idempotency_key: str) -> dict[str, Any]:
    return to_item({"pk": f"USER#{user_id}#TURN_KEY#{idempotency_key}", "sk": TURN_KEY_SK})


def message_key(user_id: str, conversation_id: str, message_id: str) -> dict[str, Any]:
    return to_item({"pk": conversation_pk(user_id, conversation_id), "sk": f"MSG#{message_id}"})


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: plain(_deserializer.deserialize(value)) for key, value in item.items()}


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain(inner) for inner in value]
    return value


def emotion_attr(emotion: Emotion) -> dict[str, Any]:
    return {
        "label": emotion.label,
        "scores": {k: Decimal(str(v)) for k, v in emotion.scores.items()},
    }


def unavailable(operation: str, exc: Exception, *, service: str = "dynamodb") -> StorageUnavailable:
    """Logs what actually failed (throttling, timeout, connection) before the generic 503."""
    code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else None
    log.error(
        f"{service} call failed",
        extra={"operation": operation, "error_type": type(exc).__name__, "error_code": code},
    )
    return StorageUnavailable()


def summary_of(item: dict[str, Any]) -> dict[str, Any]:
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


def message_of(item: dict[str, Any]) -> dict[str, Any]:
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


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps(from_item(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, user_pk: str) -> dict[str, Any]:
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
    return to_item(key)
