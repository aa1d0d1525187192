"""What belongs to the user as a whole: settings (on their profile), the mood timeline, the
export of everything and the deletion of everything.

- The profile is one item of the profiles table (key `user_id`, the Cognito sub); the
  sign-up trigger creates it, and the user's settings live on it (`mood_timeline`).
- Ratings are kept twice: on the rated reply (conversations table) and, once ingested from the
  feedback queue, as rows of the feedback table, found by its `user_id` index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from .emotion import LABELS
from .errors import Conflict, NotFound
from .ids import id_floor
from .store import TURN_KEY_SECONDS, ConversationStore, plain
from .store.items import iso, unavailable

FEEDBACK_USER_INDEX = "user_id"
NEGATIVE_EMOTIONS = ("anger", "disgust", "fear", "sadness")
DEFAULT_SETTINGS = {"mood_timeline": True}
# The mood timeline reads user messages of the window, and stops (complete: false) past this
# many messages read in one request, so a very active user cannot make one request unbounded.
MOODS_MAX_MESSAGES = 20_000
MOODS_MAX_DAYS = 90
_deserializer = TypeDeserializer()


def _plain_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: plain(_deserializer.deserialize(value)) for key, value in item.items()}


class Account:
    def __init__(
        self,
        *,
        dynamodb,
        cognito,
        store: ConversationStore,
        profiles_table: str,
        feedback_table: str,
        user_pool_id: str,
    ) -> None:
        self._db = dynamodb
        self._cognito = cognito
        self._store = store
        self._profiles = profiles_table
        self._feedback = feedback_table
        self._pool = user_pool_id

    def _call(self, operation: str, **kwargs) -> dict[str, Any]:
        try:
            return getattr(self._db, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise unavailable(operation, exc) from exc

    # --- profile and settings -------------------------------------------------------------------

    def profile(self, user_id: str) -> dict[str, Any]:
        item = self._call(
            "get_item",
            TableName=self._profiles,
            Key={"user_id": {"S": user_id}},
            ConsistentRead=True,
        ).get("Item")
        return _plain_item(item) if item else {}

    def settings(self, user_id: str) -> dict[str, Any]:
        profile = self.profile(user_id)
        return {name: profile.get(name, default) for name, default in DEFAULT_SETTINGS.items()}

    def update_settings(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Sets the given settings on the profile (created if the sign-up trigger has not)."""
        names = {f"#s{n}": name for n, name in enumerate(changes)}
        values = {f":s{n}": {"BOOL": value} for n, value in enumerate(changes.values())}
        response = self._call(
            "update_item",
            TableName=self._profiles,
            Key={"user_id": {"S": user_id}},
            UpdateExpression="SET " + ", ".join(f"#s{n} = :s{n}" for n in range(len(changes))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        profile = _plain_item(response["Attributes"])
        return {name: profile.get(name, default) for name, default in DEFAULT_SETTINGS.items()}

    def require_mood_timeline(self, user_id: str) -> None:
        if not self.settings(user_id)["mood_timeline"]:
            raise Conflict(
                "The mood timeline is turned off; turn it on with PATCH /me/settings "
                '{"mood_timeline": true}.',
                code="mood_timeline_off",
            )

    # --- ratings in the feedback table ----------------------------------------------------------

    def iter_rating_rows(self, user_id: str) -> Iterator[dict[str, Any]]:
        start: dict | None = None
        while True:
            response = self._call(
                "query",
                TableName=self._feedback,
                IndexName=FEEDBACK_USER_INDEX,
                KeyConditionExpression="user_id = :user",
                ExpressionAttributeValues={":user": {"S": user_id}},
                **({"ExclusiveStartKey": start} if start else {}),
            )
            for item in response["Items"]:
                yield _plain_item(item)
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    # --- moods ----------------------------------------------------------------------------------

    def moods(self, user_id: str, days: int, *, today: date | None = None) -> dict[str, Any]:
        """The user's emotions per UTC day over the last `days` days (today included)."""
        today = today or datetime.now(UTC).date()
        first = today - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        start_iso = iso(start)
        per_day: dict[str, Counter] = {}
        last_seen: dict[str, dict[str, str]] = {}
        read, complete = 0, True
        for item in self._messages_since(user_id, start, ("role", "created_at", "emotion")):
            if read == MOODS_MAX_MESSAGES:
                complete = False
                break
            read += 1
            if item.get("role") != "user" or "emotion" not in item:
                continue
            created = item.get("created_at", "")
            day = created[:10]
            label = item["emotion"].get("label")
            if created < start_iso or label not in LABELS:
                continue
            per_day.setdefault(day, Counter())[label] += 1
            seen = last_seen.setdefault(day, {})
            if created >= seen.get(label, ""):
                seen[label] = created
        daily = []
        totals: Counter = Counter()
        for offset in range(days):
            day = (first + timedelta(days=offset)).isoformat()
            counts = per_day.get(day, Counter())
            totals.update(counts)
            daily.append({"date": day, **_day_figures(counts, last_seen.get(day, {}))})
        total = _day_figures(totals, {})
        return {
            "days": days,
            "from": first.isoformat(),
            "to": today.isoformat(),
            "timezone": "UTC",
            "complete": complete,
            "totals": total,
            "daily": daily,
        }

    # --- deletion -------------------------------------------------------------------------------

    def delete_everything(self, user_id: str, username: str) -> dict[str, int]:
        """Conversations (messages and their ratings), usage counters, rating rows, profile,
        then the Cognito user. Each step finds what is left, so a retried call finishes what
        an interrupted one began; the sign-in goes last, so the user can retry until then."""
        counts = {
            "conversations": 0,
            "turn_keys": 0,
            "usage_items": 0,
            "rating_rows": 0,
            "profile": 0,
        }
        counts["turn_keys"] = self._delete_turn_keys(user_id)
        for _ in range(3):  # a conversation written meanwhile is caught by another round
            summaries = [summary for summary, _ in self._store.iter_summaries(user_id)]
            if not summaries:
                break
            for summary in summaries:
                try:
                    self._store.delete_conversation(user_id, summary["conversation_id"])
                    counts["conversations"] += 1
                except NotFound:
                    continue  # deleted meanwhile
        counts["usage_items"] = self._store.delete_partition(f"USAGE#{user_id}")
        for row in list(self.iter_rating_rows(user_id)):
            self._call(
                "delete_item",
                TableName=self._feedback,
                Key={"feedback_id": {"S": row["feedback_id"]}},
            )
            counts["rating_rows"] += 1
        deleted = self._call(
            "delete_item",
            TableName=self._profiles,
            Key={"user_id": {"S": user_id}},
            ReturnValues="ALL_OLD",
        )
        counts["profile"] = 1 if deleted.get("Attributes") else 0
        try:
            self._cognito.admin_delete_user(UserPoolId=self._pool, Username=username)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UserNotFoundException":
                raise unavailable("admin_delete_user", exc, service="cognito") from exc
        except BotoCoreError as exc:
            raise unavailable("admin_delete_user", exc, service="cognito") from exc
        return counts

    def _messages_since(
        self, user_id: str, since: datetime, fields: tuple[str, ...]
    ) -> Iterator[dict[str, Any]]:
        """The user's messages created since `since`, conversation by conversation."""
        since_iso = iso(since)
        for summary, _ in self._store.iter_summaries(user_id):
            # Newest activity first: a conversation last active before `since` holds no message
            # after it, and neither does any conversation after it.
            if summary["updated_at"] < since_iso:
                return
            yield from self._store.iter_messages(
                user_id, summary["conversation_id"], since_id=id_floor(since), fields=fields
            )

    def _delete_turn_keys(self, user_id: str) -> int:
        """Turn keys live in their own partitions and lapse after TURN_KEY_SECONDS: those of
        the user messages of that window are deleted (read before the conversations go)."""
        since = datetime.now(UTC) - timedelta(seconds=TURN_KEY_SECONDS + 3600)
        deleted = 0
        for item in self._messages_since(user_id, since, ("idempotency_key",)):
            if item.get("idempotency_key"):
                self._store.delete_turn_key(user_id, item["idempotency_key"])
                deleted += 1
        return deleted


def _day_figures(counts: Counter, last_seen: dict[str, str]) -> dict[str, Any]:
    total = sum(counts.values())
    dominant = None
    if total:
        # The most frequent label; a tie goes to the label the user showed latest that day.
        dominant = max(counts, key=lambda label: (counts[label], last_seen.get(label, "")))
    negative = sum(counts[label] for label in NEGATIVE_EMOTIONS)
    return {
        "messages": total,
        "counts": {label: counts.get(label, 0) for label in LABELS},
        "dominant": dominant,
        "negative_share": round(negative / total, 3) if total else None,
    }
