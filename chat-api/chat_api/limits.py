"""Per-user limits: messages per minute, tokens per day and simultaneous streams, per tier.

The counters live in DynamoDB (the conversations table, partition `USAGE#<sub>`), so every
Gunicorn worker of every task sees the same numbers, and each change is one atomic conditional
write:

- `MESSAGES#<n>`: `count`, the messages admitted in the 10-second bucket n (epoch seconds // 10).
  A message is admitted by `ADD count 1` on its bucket, on the condition that the count stays
  within the limit less what the six buckets before it hold; those are in the past and no
  longer change, so the write is atomic. "Per minute" thus means in any 60 seconds (counted over
  the last 60-70 s), with no burst at a window's edge, and concurrent requests never contend.
  A refused message writes nothing.
- `DAY#<yyyy-mm-dd>`: `tokens`, the input + output tokens Bedrock reported for the day's
  replies (UTC). A request is refused once the day's tokens reach the limit (a reply in progress
  may take the total past it; the next request is refused).
- `STREAMS`: `leases`, a map of stream id -> expiry (epoch seconds), and `version`. A stream
  takes a lease with a PutItem on the condition that `version` is still the one it read
  (optimistic locking), and gives it back when it ends, also on a client disconnect.
  A worker killed mid-stream cannot give it back, so a lease lapses after STREAM_LEASE_SECONDS.

Every counter carries `expires_at` (the table's TTL attribute), so they clean themselves up.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import QuotaExceeded, RateLimited, StorageUnavailable

log = logging.getLogger(__name__)
BUCKET_SECONDS = 10
BUCKETS = 7  # the current bucket and six before it: always at least the last 60 seconds
# Each failed optimistic write means another stream of the same user was taken or given back
# meanwhile; past this many attempts the user is sending a burst, and the request is refused.
_MAX_ATTEMPTS = 12
# A refused stream cannot know when another ends; a short wait is the honest hint.
STREAM_RETRY_AFTER = 5


@dataclass(frozen=True)
class TierLimits:
    messages_per_minute: int
    tokens_per_day: int
    concurrent_streams: int

    def as_dict(self) -> dict[str, int]:
        return {
            "messages_per_minute": self.messages_per_minute,
            "tokens_per_day": self.tokens_per_day,
            "concurrent_streams": self.concurrent_streams,
        }


@dataclass
class Admission:
    """A request let through; `release` gives back its stream slot (if it took one) once."""

    user_id: str
    limiter: UsageLimiter
    lease_id: str | None = None
    _released: bool = field(default=False, repr=False)

    def release(self) -> None:
        if self._released or self.lease_id is None:
            return
        self._released = True
        self.limiter.release_stream(self.user_id, self.lease_id)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class UsageLimiter:
    def __init__(
        self,
        client,
        table: str,
        tiers: dict[str, dict[str, int]],
        default_tier: str,
        *,
        lease_seconds: int,
        clock=time.time,
    ) -> None:
        self._db = client
        self._table = table
        self._tiers = {name: TierLimits(**limits) for name, limits in tiers.items()}
        self._default_tier = default_tier
        self._lease_seconds = lease_seconds
        self._clock = clock

    # --- tiers and windows ---------------------------------------------------------------------

    def tier(self, claimed: str | None) -> tuple[str, TierLimits]:
        """The tier whose limits apply: the token's `tier` claim when it names a configured
        tier, otherwise the default tier (never unlimited)."""
        if claimed in self._tiers:
            return claimed, self._tiers[claimed]
        return self._default_tier, self._tiers[self._default_tier]

    def _day(self) -> dict[str, Any]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        next_day = day + timedelta(days=1)
        return {
            "now": now,
            "day_sk": f"DAY#{day:%Y-%m-%d}",
            "next_day": next_day,
            # The counter outlives its day a little, then DynamoDB's TTL removes it.
            "day_expires": int(next_day.timestamp()) + 2 * 86400,
        }

    @staticmethod
    def _seconds_until(moment: datetime, now: datetime) -> int:
        return max(1, int((moment - now).total_seconds() + 0.999))

    # --- DynamoDB ------------------------------------------------------------------------------

    @staticmethod
    def _pk(user_id: str) -> dict[str, str]:
        return {"S": f"USAGE#{user_id}"}

    def _call(self, operation: str, **kwargs) -> dict[str, Any]:
        try:
            return getattr(self._db, operation)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise
            log.error(
                "usage counter call failed",
                extra={"operation": operation, "error_code": exc.response["Error"]["Code"]},
            )
            raise StorageUnavailable() from exc
        except BotoCoreError as exc:
            log.error(
                "usage counter call failed",
                extra={"operation": operation, "error_type": type(exc).__name__},
            )
            raise StorageUnavailable() from exc

    def _get(self, user_id: str, sk: str) -> dict[str, Any]:
        response = self._call(
            "get_item", Key={"pk": self._pk(user_id), "sk": {"S": sk}}, ConsistentRead=True
        )
        return response.get("Item") or {}

    # --- admission -----------------------------------------------------------------------------

    def admit(self, user_id: str, claimed_tier: str | None, *, stream: bool) -> Admission:
        """Counts one message against the caller's limits, or refuses it (429) having changed
        nothing. A stream also takes one of the caller's stream slots."""
        _, limits = self.tier(claimed_tier)
        day = self._day()
        used = self._get(user_id, day["day_sk"])
        if int(used.get("tokens", {}).get("N", "0")) >= limits.tokens_per_day:
            raise QuotaExceeded(
                f"Today's {limits.tokens_per_day} tokens are used up; the quota resets at "
                f"{_iso(day['next_day'])}.",
                retry_after=self._seconds_until(day["next_day"], day["now"]),
            )
        admission = Admission(user_id, self)
        if stream:
            admission.lease_id = uuid.uuid4().hex
            try:
                self._optimistic(user_id, "STREAMS", self._take_lease(admission.lease_id, limits))
            except BaseException:
                admission.lease_id = None  # not taken
                raise
        try:
            self._add_message(user_id, limits)
        except BaseException:
            admission.release()
            raise
        return admission

    @staticmethod
    def _bucket_sk(bucket: int) -> str:
        return f"MESSAGES#{bucket:012d}"

    def _message_buckets(self, user_id: str, now: float) -> tuple[int, dict[int, int]]:
        """The current bucket, and the counts of the window's buckets (the current one and the
        six before it) that hold messages."""
        current = int(now // BUCKET_SECONDS)
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": self._pk(user_id),
                ":first": {"S": self._bucket_sk(current - BUCKETS + 1)},
                ":last": {"S": self._bucket_sk(current)},
            },
            ConsistentRead=True,
        )
        counts = {
            int(item["sk"]["S"].split("#")[1]): int(item.get("count", {}).get("N", "0"))
            for item in response["Items"]
        }
        return current, {bucket: n for bucket, n in counts.items() if n > 0}

    @staticmethod
    def _leaves_window(bucket: int) -> float:
        """When messages counted in `bucket` stop counting."""
        return (bucket + BUCKETS) * BUCKET_SECONDS

    def _add_message(self, user_id: str, limits: TierLimits) -> None:
        limit = limits.messages_per_minute
        now = self._clock()
        current, counts = self._message_buckets(user_id, now)
        older = {bucket: n for bucket, n in counts.items() if bucket < current}
        allowed = limit - sum(older.values())
        refusal = RateLimited(
            f"At most {limit} messages a minute; retry after the indicated delay.",
            retry_after=int(self._leaves_window(min(counts or {current: 0})) - now + 0.999),
        )
        if allowed <= 0:
            raise refusal
        try:
            self._call(
                "update_item",
                Key={"pk": self._pk(user_id), "sk": {"S": self._bucket_sk(current)}},
                UpdateExpression="ADD #count :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(#count) OR #count < :allowed",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":allowed": {"N": str(allowed)},
                    ":expires": {"N": str(int(self._leaves_window(current)) + 3600)},
                },
            )
        except ClientError:  # only a failed condition gets through _call
            raise refusal from None

    def _take_lease(self, lease_id: str, limits: TierLimits):
        limit = limits.concurrent_streams

        def decide(item: dict[str, Any], now: float) -> dict[str, Any]:
            live = {
                lid: value
                for lid, value in item.get("leases", {}).get("M", {}).items()
                if float(value["N"]) > now
            }
            if len(live) >= limit:
                raise RateLimited(
                    f"At most {limit} replies can stream at once; retry after the indicated delay.",
                    retry_after=STREAM_RETRY_AFTER,
                )
            expiry = int(now) + self._lease_seconds
            live[lease_id] = {"N": str(expiry)}
            return {"leases": {"M": live}, "expires_at": {"N": str(expiry + 3600)}}

        return decide

    def _optimistic(self, user_id: str, sk: str, decide) -> None:
        """Reads the item, lets `decide` refuse (raise) or give its new attributes, and writes
        them on the condition that no one else wrote it meanwhile; reads again if someone did."""
        key = {"pk": self._pk(user_id), "sk": {"S": sk}}
        for attempt in range(_MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 - jitter
            item = self._get(user_id, sk)
            attributes = decide(item, self._clock())
            version = int(item.get("version", {}).get("N", "0"))
            values = {":version": {"N": str(version)}} if item else {}
            try:
                self._call(
                    "put_item",
                    Item={**key, **attributes, "version": {"N": str(version + 1)}},
                    ConditionExpression=(
                        "#version = :version" if item else "attribute_not_exists(#version)"
                    ),
                    ExpressionAttributeNames={"#version": "version"},
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
                return
            except ClientError:  # only a failed condition gets through _call
                continue
        # Another request of this user won every time: the user is sending a burst.
        raise RateLimited(
            "Too many requests at once; retry after the indicated delay.", retry_after=1
        )

    def release_stream(self, user_id: str, lease_id: str) -> None:
        # Bumping the version makes a concurrent taker, who read the lease still held, read again.
        try:
            self._call(
                "update_item",
                Key={"pk": self._pk(user_id), "sk": {"S": "STREAMS"}},
                UpdateExpression="REMOVE leases.#lease ADD #version :one",
                ConditionExpression="attribute_exists(leases.#lease)",
                ExpressionAttributeNames={"#lease": lease_id, "#version": "version"},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except ClientError:
            pass  # already gone (lapsed and replaced)
        except StorageUnavailable:
            log.warning("stream slot not released; it lapses on its own", extra={"user": user_id})

    def record_tokens(self, user_id: str, usage: dict[str, Any]) -> None:
        """Adds a reply's input + output tokens, as Bedrock reported them, to today's total."""
        tokens = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
        if tokens <= 0:
            return
        day = self._day()
        try:
            self._call(
                "update_item",
                Key={"pk": self._pk(user_id), "sk": {"S": day["day_sk"]}},
                UpdateExpression="ADD tokens :tokens SET expires_at = :expires",
                ExpressionAttributeValues={
                    ":tokens": {"N": str(tokens)},
                    ":expires": {"N": str(day["day_expires"])},
                },
            )
        except StorageUnavailable:
            # The reply is already written to the user; losing one count beats failing it.
            log.error("tokens not counted", extra={"tokens": tokens})

    # --- usage ---------------------------------------------------------------------------------

    def usage(self, user_id: str, claimed_tier: str | None) -> dict[str, Any]:
        name, limits = self.tier(claimed_tier)
        day = self._day()
        now = self._clock()
        _, counts = self._message_buckets(user_id, now)
        used = self._get(user_id, day["day_sk"])
        streams = self._get(user_id, "STREAMS")
        open_streams = sum(
            1
            for value in streams.get("leases", {}).get("M", {}).values()
            if float(value["N"]) > now
        )
        # The count drops when its oldest bucket leaves the window.
        minute_reset = self._leaves_window(min(counts)) if counts else now
        return {
            "tier": name,
            "limits": limits.as_dict(),
            "used": {
                "messages_this_minute": sum(counts.values()),
                "tokens_today": int(used.get("tokens", {}).get("N", "0")),
                "streams_open": open_streams,
            },
            "resets": {
                "minute": _iso(datetime.fromtimestamp(int(minute_reset + 0.999), UTC)),
                "day": _iso(day["next_day"]),
            },
        }
