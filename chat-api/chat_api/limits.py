"""Per-user limits: messages per minute, tokens per day and simultaneous streams, per tier.

The counters live in DynamoDB (the conversations table), so every Gunicorn worker of every task
sees the same numbers: one item per user, pk=`USAGE#<sub>`, sk=`COUNTERS`, whose attributes are

- `msg_<n>`: the messages admitted in the 10-second bucket n (epoch seconds // 10);
- `tokens_<yyyymmdd>`: the input + output tokens Bedrock reported for the day's replies (UTC);
- `lease_<stream id>`: a stream's lease, its expiry (epoch seconds), and `streams_version`, bumped
  whenever a lease is taken or given back;
- `expires_at`, the table's TTL attribute, so an idle user's counters clean themselves up.

One item, because every DynamoDB call costs the API CPU (botocore builds, signs and parses each
one): admitting a message is one conditional UpdateItem that checks and counts everything at
once (plus a read when this process has not seen the item), where separate items took three
calls (five for a stream). The decision is taken on the item as this process last read or wrote
it; the write's condition checks every value the decision used, so a stale copy costs a retry,
never a wrong count, and a refusal is only given on the item as it is.

- A message is admitted by `ADD` on its bucket, on the condition that the bucket's count stays
  within the limit less what the six buckets before it hold, and that those hold what the
  decision saw. "Per minute" thus means in any 60 seconds (counted over the last 60-70 s), with
  no burst at a window's edge. A refused message writes nothing.
- The same write checks that the day's tokens are below the quota (a reply in progress may
  take the total past it; the next request is refused).
- A stream's lease is set by the same write, on the condition that `streams_version` is still
  the one read (optimistic locking: the leases counted are the leases there). When the write's
  condition fails, DynamoDB returns the item as it is (ReturnValuesOnConditionCheckFailure), so
  the decision is taken again without another read. A stream gives its lease back when it ends
  (with its tokens, in one write) or when the client goes away. A worker killed mid-stream
  cannot give it back, so a lease lapses after STREAM_LEASE_SECONDS.
- Buckets out of the window, earlier days and lapsed leases seen in the read are removed by
  the same write, so the item stays small.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from .errors import QuotaExceeded, RateLimited, StorageUnavailable
from .store.base import call_table

log = logging.getLogger(__name__)
BUCKET_SECONDS = 10
BUCKETS = 7  # the current bucket and six before it: always at least the last 60 seconds
COUNTERS_SK = {"S": "COUNTERS"}
MESSAGES, TOKENS, LEASE = "msg_", "tokens_", "lease_"  # the attributes' prefixes
VERSION = "streams_version"
# Each failed optimistic write means another stream of the same user was taken or given back
# meanwhile; past this many attempts the user is sending a burst, and the request is refused.
_MAX_ATTEMPTS = 12
# Stale attributes removed by one write: enough for any real item, within DynamoDB's limits.
_MAX_REMOVED = 24
_SEEN_MAX = 10_000  # users whose counters a process remembers
# A refused stream cannot know when another ends; a short wait is the honest hint.
STREAM_RETRY_AFTER = 5
_ONE = {"N": "1"}


@dataclass(frozen=True)
class TierLimits:
    messages_per_minute: int
    tokens_per_day: int
    concurrent_streams: int


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

    def record_tokens(self, usage: dict[str, Any]) -> None:
        """Counts a reply's tokens; a stream's slot is given back by the same write."""
        if self._released or self.lease_id is None:
            self.limiter.record_tokens(self.user_id, usage)
            return
        if self.limiter.record_tokens(self.user_id, usage, lease_id=self.lease_id):
            self._released = True


@dataclass(frozen=True)
class _Day:
    now: datetime
    attribute: str  # tokens_<yyyymmdd>
    next_day: datetime
    expires_at: int  # the counters outlive the day a little, then DynamoDB's TTL removes them


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value else 0


def _bucket_attribute(bucket: int) -> str:
    return f"{MESSAGES}{bucket}"


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
        # user id -> the counters item as this process last read or wrote it
        self._seen: dict[str, dict[str, Any]] = {}

    # --- tiers and windows ---------------------------------------------------------------------

    def tier(self, claimed: str | None) -> tuple[str, TierLimits]:
        """The tier whose limits apply: the token's `tier` claim when it names a configured
        tier, otherwise the default tier (never unlimited)."""
        if claimed in self._tiers:
            return claimed, self._tiers[claimed]
        return self._default_tier, self._tiers[self._default_tier]

    def _day(self, now: float) -> _Day:
        moment = datetime.fromtimestamp(now, UTC)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        next_day = day + timedelta(days=1)
        return _Day(
            moment, f"{TOKENS}{day:%Y%m%d}", next_day, int(next_day.timestamp()) + 2 * 86400
        )

    @staticmethod
    def _seconds_until(moment: datetime, now: datetime) -> int:
        return max(1, int((moment - now).total_seconds() + 0.999))

    @staticmethod
    def _leaves_window(bucket: int) -> float:
        """When messages counted in `bucket` stop counting."""
        return (bucket + BUCKETS) * BUCKET_SECONDS

    @staticmethod
    def _buckets(item: dict[str, Any], current: int) -> dict[int, int]:
        """The counts of the window's buckets (the current one and the six before it) that
        hold messages."""
        counts = {}
        for bucket in range(current - BUCKETS + 1, current + 1):
            count = _number(item, _bucket_attribute(bucket))
            if count > 0:
                counts[bucket] = count
        return counts

    @staticmethod
    def _live_leases(item: dict[str, Any], now: float) -> int:
        return sum(
            1 for name, value in item.items() if name.startswith(LEASE) and float(value["N"]) > now
        )

    # --- DynamoDB ------------------------------------------------------------------------------

    @staticmethod
    def _key(user_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"USAGE#{user_id}"}, "sk": COUNTERS_SK}

    def _call(self, operation: str, **kwargs) -> dict[str, Any]:
        return call_table(self._db, self._table, operation, **kwargs)

    def _get(self, user_id: str) -> dict[str, Any]:
        response = self._call("get_item", Key=self._key(user_id), ConsistentRead=True)
        item = response.get("Item") or {}
        self._remember(user_id, item)
        return item

    def _update(self, user_id: str, **request: Any) -> None:
        """One write to the user's counters; the item as it leaves it is remembered."""
        response = self._call(
            "update_item", Key=self._key(user_id), ReturnValues="ALL_NEW", **request
        )
        self._remember(user_id, response.get("Attributes") or {})

    def _remember(self, user_id: str, item: dict[str, Any]) -> None:
        if len(self._seen) >= _SEEN_MAX and user_id not in self._seen:
            self._seen.clear()  # a crude bound: the next requests read their items again
        self._seen[user_id] = item

    # --- admission -----------------------------------------------------------------------------

    def admit(self, user_id: str, claimed_tier: str | None, *, stream: bool) -> Admission:
        """Counts one message against the caller's limits, or refuses it (429) having changed
        nothing. A stream also takes one of the caller's stream slots."""
        _, limits = self.tier(claimed_tier)
        lease_id = uuid.uuid4().hex if stream else None
        # The item as this process last saw it saves the read when it is still right; the write's
        # condition checks every value the decision used, so a stale one only costs a retry.
        item = self._seen.get(user_id)
        read = item is None  # whether `item` is the item as it was just read
        if read:
            item = self._get(user_id)
        for attempt in range(_MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 - jitter
            try:
                update = self._admission_update(item, limits, lease_id)
            except (QuotaExceeded, RateLimited):
                if read:
                    raise
                # Refused on what this process saw last: only the item as it is now refuses.
                item, read = self._get(user_id), True
                update = self._admission_update(item, limits, lease_id)
            try:
                self._update(user_id, ReturnValuesOnConditionCheckFailure="ALL_OLD", **update)
            except ClientError as exc:  # only a failed condition gets through _call
                # The item as it is now: decide again (a refusal raises) without another read.
                item, read = exc.response.get("Item") or {}, True
                self._remember(user_id, item)
                continue
            return Admission(user_id, self, lease_id)
        # Another request of this user won every time: the user is sending a burst.
        raise RateLimited(
            "Too many requests at once; retry after the indicated delay.", retry_after=1
        )

    def _admission_update(
        self, item: dict[str, Any], limits: TierLimits, lease_id: str | None
    ) -> dict[str, Any]:
        """The conditional write that admits one message given the counters `item` as read,
        or the refusal (raised): the day's tokens, then a stream slot, then the message count."""
        now = self._clock()
        day = self._day(now)
        if _number(item, day.attribute) >= limits.tokens_per_day:
            raise QuotaExceeded(
                f"Today's {limits.tokens_per_day} tokens are used up; the quota resets at "
                f"{_iso(day.next_day)}.",
                retry_after=self._seconds_until(day.next_day, day.now),
            )
        if lease_id is not None and self._live_leases(item, now) >= limits.concurrent_streams:
            limit = limits.concurrent_streams
            raise RateLimited(
                f"At most {limit} replies can stream at once; retry after the indicated delay.",
                retry_after=STREAM_RETRY_AFTER,
            )
        limit = limits.messages_per_minute
        current = int(now // BUCKET_SECONDS)
        counts = self._buckets(item, current)
        allowed = limit - sum(n for bucket, n in counts.items() if bucket < current)
        if allowed - counts.get(current, 0) <= 0:
            raise RateLimited(
                f"At most {limit} messages a minute; retry after the indicated delay.",
                retry_after=int(self._leaves_window(min(counts)) - now + 0.999),
            )
        names = {"#m": _bucket_attribute(current), "#t": day.attribute}
        values = {
            ":one": _ONE,
            ":allowed": {"N": str(allowed)},
            ":tokens": {"N": str(limits.tokens_per_day)},
            ":expires": {"N": str(day.expires_at)},
        }
        adds, sets = ["#m :one"], ["expires_at = :expires"]
        condition = (
            "(attribute_not_exists(#m) OR #m < :allowed) "
            "AND (attribute_not_exists(#t) OR #t < :tokens)"
        )
        # `allowed` holds only while the earlier buckets hold what the decision saw.
        for n, bucket in enumerate(range(current - BUCKETS + 1, current)):
            name = names[f"#o{n}"] = _bucket_attribute(bucket)
            if name in item:
                values[f":o{n}"] = item[name]
                condition += f" AND #o{n} = :o{n}"
            else:
                condition += f" AND attribute_not_exists(#o{n})"
        if lease_id is not None:
            names["#lease"], names["#version"] = f"{LEASE}{lease_id}", VERSION
            values[":lease"] = {"N": str(int(now) + self._lease_seconds)}
            adds.append("#version :one")
            sets.append("#lease = :lease")
            if VERSION in item:
                values[":version"] = item[VERSION]
                condition += " AND #version = :version"
            else:
                condition += " AND attribute_not_exists(#version)"
        expression = f"ADD {', '.join(adds)} SET {', '.join(sets)}"
        stale = self._stale(item, now, current, day.attribute)
        if stale:
            for n, name in enumerate(stale):
                names[f"#r{n}"] = name
            expression += " REMOVE " + ", ".join(f"#r{n}" for n in range(len(stale)))
        return {
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _stale(self, item: dict[str, Any], now: float, current: int, today: str) -> list[str]:
        """Attributes that no longer count: buckets out of the window, earlier days' tokens
        and lapsed leases."""
        first = current - BUCKETS + 1
        stale = []
        for name, value in item.items():
            if (
                (name.startswith(MESSAGES) and int(name[len(MESSAGES) :]) < first)
                or (name.startswith(TOKENS) and name != today)
                or (name.startswith(LEASE) and float(value["N"]) <= now)
            ):
                stale.append(name)
        return stale[:_MAX_REMOVED]

    def release_stream(self, user_id: str, lease_id: str) -> None:
        # Bumping the version makes a concurrent taker, who read the lease still held, read again.
        try:
            self._update(
                user_id,
                UpdateExpression="REMOVE #lease ADD #version :one",
                ConditionExpression="attribute_exists(#lease)",
                ExpressionAttributeNames={"#lease": f"{LEASE}{lease_id}", "#version": VERSION},
                ExpressionAttributeValues={":one": _ONE},
            )
        except ClientError:
            pass  # already gone (lapsed and removed)
        except StorageUnavailable:
            log.warning("stream slot not released; it lapses on its own", extra={"user": user_id})

    def record_tokens(
        self, user_id: str, usage: dict[str, Any], *, lease_id: str | None = None
    ) -> bool:
        """Adds a reply's input + output tokens, as Bedrock reported them, to today's total;
        with `lease_id`, gives that stream slot back in the same write. True when written."""
        tokens = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
        if tokens <= 0 and lease_id is None:
            return True
        day = self._day(self._clock())
        names = {"#t": day.attribute}
        values = {":tokens": {"N": str(max(tokens, 0))}, ":expires": {"N": str(day.expires_at)}}
        expression = "ADD #t :tokens SET expires_at = :expires"
        if lease_id is not None:
            names["#lease"], names["#version"] = f"{LEASE}{lease_id}", VERSION
            values[":one"] = _ONE
            expression = "ADD #t :tokens, #version :one SET expires_at = :expires REMOVE #lease"
        try:
            self._update(
                user_id,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except StorageUnavailable:
            # The reply is already written to the user; losing one count beats failing it.
            log.error("tokens not counted", extra={"tokens": tokens})
            return False
        return True

    # --- usage ---------------------------------------------------------------------------------

    def usage(self, user_id: str, claimed_tier: str | None) -> dict[str, Any]:
        name, limits = self.tier(claimed_tier)
        now = self._clock()
        day = self._day(now)
        item = self._get(user_id)
        counts = self._buckets(item, int(now // BUCKET_SECONDS))
        # The count drops when its oldest bucket leaves the window.
        minute_reset = self._leaves_window(min(counts)) if counts else now
        return {
            "tier": name,
            "limits": asdict(limits),
            "used": {
                "messages_this_minute": sum(counts.values()),
                "tokens_today": _number(item, day.attribute),
                "streams_open": self._live_leases(item, now),
            },
            "resets": {
                "minute": _iso(datetime.fromtimestamp(int(minute_reset + 0.999), UTC)),
                "day": _iso(day.next_day),
            },
        }
