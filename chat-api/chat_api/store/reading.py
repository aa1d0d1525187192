"""Reading conversations and messages: one page for the API, or everything page by page for
exports and searches; and the conversation's title."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..errors import NotFound
from .base import StoreBase
from .items import (
    MESSAGE_PAGE_MAX,
    SUMMARY_SK,
    conversation_pk,
    decode_cursor,
    encode_cursor,
    from_item,
    message_key,
    message_of,
    summary_of,
    to_item,
    user_pk,
)


class Reading(StoreBase):
    def get_conversation(self, user_id: str, conversation_id: str) -> dict[str, Any]:
        response = self._call(
            "get_item",
            Key=to_item({"pk": conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK}),
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise NotFound("No such conversation.")
        return summary_of(from_item(response["Item"]))

    def conversation_with_recent(
        self, user_id: str, conversation_id: str, limit: int
    ) -> tuple[dict[str, Any], list[dict]]:
        """The summary and the newest `limit` messages (oldest first), in one Query."""
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": conversation_pk(user_id, conversation_id)}),
            ScanIndexForward=False,
            Limit=limit + 1,
            ConsistentRead=True,
        )
        items = [from_item(item) for item in response["Items"]]
        if not items or items[0]["sk"] != SUMMARY_SK:
            raise NotFound("No such conversation.")
        return summary_of(items[0]), [message_of(item) for item in reversed(items[1:])]

    def messages_page(
        self, user_id: str, conversation_id: str, *, limit: int, before: str | None = None
    ) -> tuple[list[dict], str | None]:
        """The newest `limit` messages older than message `before` (all when None), oldest
        first, and the id to pass as `before` for the page before them (None at the start)."""
        extra: dict[str, Any] = {}
        pk = conversation_pk(user_id, conversation_id)
        if before:
            extra["ExclusiveStartKey"] = to_item({"pk": pk, "sk": f"MSG#{before}"})
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
            ExpressionAttributeValues=to_item({":pk": pk, ":msg": "MSG#"}),
            ScanIndexForward=False,
            Limit=min(limit, MESSAGE_PAGE_MAX),
            ConsistentRead=True,
            **extra,
        )
        items = [from_item(item) for item in response["Items"]]
        messages = [message_of(item) for item in reversed(items)]
        more = bool(response.get("LastEvaluatedKey")) and bool(messages)
        return messages, (messages[0]["message_id"] if more else None)

    def _summaries_page(self, user_id: str, limit: int, start: dict | None) -> dict[str, Any]:
        """One page of the user's summaries from the index, most recently active first."""
        extra = {"ExclusiveStartKey": start} if start else {}
        return self._call(
            "query",
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_item({":pk": user_pk(user_id)}),
            ScanIndexForward=False,
            Limit=limit,
            **extra,
        )

    def list_conversations(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict], str | None]:
        start = decode_cursor(cursor, user_pk(user_id)) if cursor else None
        response = self._summaries_page(user_id, limit, start)
        items = [summary_of(from_item(item)) for item in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return items, (encode_cursor(last) if last else None)

    # --- titles ---------------------------------------------------------------------------------

    def rename(self, user_id: str, conversation_id: str, title: str) -> dict[str, Any]:
        """Sets the user's title (kept from then on: a generated title never replaces it)."""
        try:
            response = self._call(
                "update_item",
                Key=to_item({"pk": conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK}),
                UpdateExpression="SET title = :title, title_source = :user",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":title": title, ":user": "user"}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:  # _call lets only a failed condition through
            raise NotFound("No such conversation.") from exc
        return summary_of(from_item(response["Attributes"]))

    def set_generated_title(
        self, user_id: str, conversation_id: str, title: str, *, replacing: str
    ) -> bool:
        """Replaces the fallback title `replacing` with the model's; False (and nothing
        changed) when the conversation was renamed or deleted meanwhile."""
        try:
            self._call(
                "update_item",
                Key=to_item({"pk": conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK}),
                UpdateExpression="SET title = :title, title_source = :model",
                ConditionExpression=(
                    "attribute_exists(pk) AND title = :fallback "
                    "AND attribute_not_exists(title_source)"
                ),
                ExpressionAttributeValues=to_item(
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
        start = decode_cursor(cursor, user_pk(user_id)) if cursor else None
        while True:
            response = self._summaries_page(user_id, page_size, start)
            for item in response["Items"]:
                plain = from_item(item)
                position = {k: plain[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}
                yield summary_of(plain), encode_cursor(to_item(position))
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
        pk = conversation_pk(user_id, conversation_id)
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
                ExpressionAttributeValues=to_item(values),
                ScanIndexForward=not newest_first,
                Limit=MESSAGE_PAGE_MAX,
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
                **extra,
            )
            for item in response["Items"]:
                plain = from_item(item)
                yield plain if fields else message_of(plain)
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def get_message(self, user_id: str, conversation_id: str, message_id: str) -> dict | None:
        response = self._call(
            "get_item", Key=message_key(user_id, conversation_id, message_id), ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None
