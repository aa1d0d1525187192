"""Per-user limits: messages per minute, tokens per day and simultaneous streams, per tier.

The counters live in DynamoDB (the conversations table, partition `USAGE#<sub>`), so every
Gunicorn worker of every task sees the same numbers, and each change is one atomic conditional
write:

- `MINUTE#<yyyy-mm-ddThh:mm>`: `count`, added to with `ADD` on the condition that it is below the
  limit. A refused request adds nothing.
- `DAY#<yyyy-mm-dd>`: `tokens`, the input + output tokens Bedrock reported for the day's
  replies. A request is refused once the day's tokens reach the limit (a reply in progress may
  take the total past it; the next request is refused).
- `STREAMS`: `leases`, a map of stream id -> expiry (epoch seconds), and `version`. A stream
  takes a lease with a write conditioned on the version it read (optimistic locking) and gives
  it back when it ends, also on a client disconnect. A worker killed mid-stream cannot give it
  back, so a lease lapses on its own after STREAM_LEASE_SECONDS.

Every counter carries `expires_at` (the table's TTL attribute), so they clean themselves up.
Windows are UTC calendar minutes and days.
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
_LEASE_ATTEMPTS = 8
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

    def _windows(self) -> dict[str, Any]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        minute = now.replace(second=0, microsecond=0)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        next_minute, next_day = minute + timedelta(minutes=1), day + timedelta(days=1)
        return {
            "now": now,
            "minute_sk": f"MINUTE#{minute:%Y-%m-%dT%H:%M}",
            "day_sk": f"DAY#{day:%Y-%m-%d}",
            "next_minute": next_minute,
            "next_day": next_day,
            # Counters outlive their window a little, then DynamoDB's TTL removes them.
            "minute_expires": int(next_minute.timestamp()) + 3600,
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
        windows = self._windows()
        day = self._get(user_id, windows["day_sk"])
        if int(day.get("tokens", {}).get("N", "0")) >= limits.tokens_per_day:
            raise QuotaExceeded(
                f"Today's {limits.tokens_per_day} tokens are used up; the quota resets at "
                f"{_iso(windows['next_day'])}.",
                retry_after=self._seconds_until(windows["next_day"], windows["now"]),
            )
        admission = Admission(user_id, self)
        if stream:
            admission.lease_id = self._take_stream(user_id, limits.concurrent_streams)
        try:
            self._call(
                "update_item",
                Key={"pk": self._pk(user_id), "sk": {"S": windows["minute_sk"]}},
                UpdateExpression="ADD #count :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limits.messages_per_minute)},
                    ":expires": {"N": str(windows["minute_expires"])},
                },
            )
        except ClientError:  # only a failed condition gets through _call
            admission.release()
            raise RateLimited(
                f"At most {limits.messages_per_minute} messages a minute; retry after the "
                "indicated delay.",
                retry_after=self._seconds_until(windows["next_minute"], windows["now"]),
            ) from None
        except BaseException:
            admission.release()
            raise
        return admission

    def _take_stream(self, user_id: str, limit: int) -> str:
        lease_id = uuid.uuid4().hex
        key = {"pk": self._pk(user_id), "sk": {"S": "STREAMS"}}
        for attempt in range(_LEASE_ATTEMPTS):
            now = self._clock()
            item = self._get(user_id, "STREAMS")
            version = int(item.get("version", {}).get("N", "0"))
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
            condition = "attribute_not_exists(#version)" if not item else "#version = :version"
            values: dict[str, Any] = {":version": {"N": str(version)}} if item else {}
            try:
                self._call(
                    "put_item",
                    Item={
                        **key,
                        "leases": {"M": live},
                        "version": {"N": str(version + 1)},
                        "expires_at": {"N": str(expiry + 3600)},
                    },
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#version": "version"},
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
                return lease_id
            except ClientError:
                # Another stream of this user changed the slots meanwhile: read them again.
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter
        raise StorageUnavailable("The stream slots are busy; try again.")

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
        windows = self._windows()
        try:
            self._call(
                "update_item",
                Key={"pk": self._pk(user_id), "sk": {"S": windows["day_sk"]}},
                UpdateExpression="ADD tokens :tokens SET expires_at = :expires",
                ExpressionAttributeValues={
                    ":tokens": {"N": str(tokens)},
                    ":expires": {"N": str(windows["day_expires"])},
                },
            )
        except StorageUnavailable:
            # The reply is already written to the user; losing one count beats failing it.
            log.error("tokens not counted", extra={"tokens": tokens})

    # --- usage ---------------------------------------------------------------------------------

    def usage(self, user_id: str, claimed_tier: str | None) -> dict[str, Any]:
        name, limits = self.tier(claimed_tier)
        windows = self._windows()
        now = self._clock()
        minute = self._get(user_id, windows["minute_sk"])
        day = self._get(user_id, windows["day_sk"])
        streams = self._get(user_id, "STREAMS")
        open_streams = sum(
            1
            for value in streams.get("leases", {}).get("M", {}).values()
            if float(value["N"]) > now
        )
        return {
            "tier": name,
            "limits": limits.as_dict(),
            "used": {
                "messages_this_minute": int(minute.get("count", {}).get("N", "0")),
                "tokens_today": int(day.get("tokens", {}).get("N", "0")),
                "streams_open": open_streams,
            },
            "resets": {"minute": _iso(windows["next_minute"]), "day": _iso(windows["next_day"])},
        }
