"""Deleting a conversation, a turn key, or a whole partition (the account's usage counters)."""

from __future__ import annotations

import random
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import NotFound, StorageUnavailable
from .base import StoreBase
from .items import (
    MESSAGE_PAGE_MAX,
    SUMMARY_SK,
    conversation_pk,
    log,
    to_item,
    turn_key,
    unavailable,
)

_DELETE_ATTEMPTS = 6
_DELETE_ROUNDS = 3


class Deletion(StoreBase):
    def delete_conversation(self, user_id: str, conversation_id: str) -> None:
        """Deletes the messages first and the summary last, so a delete cut short leaves the
        conversation listed and a retried DELETE finishes the job. Raises StorageUnavailable
        (never a silent success) when something could not be deleted."""
        summary_key = to_item({"pk": conversation_pk(user_id, conversation_id), "sk": SUMMARY_SK})
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
        raise unavailable("delete_item", RuntimeError("conversation kept changing"))

    def _message_key_pages(self, user_id: str, conversation_id: str):
        """The keys of a conversation's messages, one bounded page at a time."""
        start: dict | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            response = self._call(
                "query",
                KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
                ExpressionAttributeValues=to_item(
                    {":pk": conversation_pk(user_id, conversation_id), ":msg": "MSG#"}
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

    def delete_turn_key(self, user_id: str, idempotency_key: str) -> None:
        self._call("delete_item", Key=turn_key(user_id, idempotency_key))

    def delete_partition(self, pk: str) -> int:
        """Deletes every item of partition `pk` (the usage counters); returns how many."""
        deleted = 0
        while True:
            response = self._call(
                "query",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_item({":pk": pk}),
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
                raise unavailable("batch_write_item", exc) from exc
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
        left = sum(len(requests) for requests in pending.values())
        log.error("messages left after delete", extra={"unprocessed": left})
        raise StorageUnavailable("The conversation could not be deleted completely; try again.")
