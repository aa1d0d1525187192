"""The user's limits in words: the usage line under the chat and the sentence shown when the
chat API refuses a message for a limit (`GET /api/v1/usage` and its 429 answers)."""

from __future__ import annotations

import math
from typing import Any

RATE_LIMITED = "rate_limited"
QUOTA_EXCEEDED = "quota_exceeded"
# When a refusal comes without Retry-After, the app still waits before sending again.
DEFAULT_WAIT_SECONDS = 60


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _section(usage: Any, key: str) -> dict[str, Any]:
    section = usage.get(key) if isinstance(usage, dict) else None
    return section if isinstance(section, dict) else {}


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def format_wait(seconds: int) -> str:
    """'45 seconds', '3 minutes', '5 hours': rounded up, so the user never comes back early."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return _plural(seconds, "second")
    if seconds < 2 * 3600:
        return _plural(math.ceil(seconds / 60), "minute")
    return _plural(math.ceil(seconds / 3600), "hour")


def usage_summary(usage: dict[str, Any]) -> str:
    """'3 of 10 messages this minute · 1,234 of 200,000 tokens today', or '' when the answer
    does not have the figures."""
    limits, used = _section(usage, "limits"), _section(usage, "used")
    parts = []
    messages, per_minute = (
        _number(used.get("messages_this_minute")),
        _number(limits.get("messages_per_minute")),
    )
    if messages is not None and per_minute is not None:
        parts.append(f"{messages:,} of {_plural(per_minute, 'message')} this minute")
    tokens, per_day = _number(used.get("tokens_today")), _number(limits.get("tokens_per_day"))
    if tokens is not None and per_day is not None:
        parts.append(f"{tokens:,} of {_plural(per_day, 'token')} today")
    return " · ".join(parts)


def limit_message(code: str, wait_seconds: int, usage: dict[str, Any]) -> str:
    """The plain sentence for a refusal: which limit, and when to try again."""
    return f"{_limit_reached(code, usage)}; try again in {format_wait(wait_seconds)}."


def _limit_reached(code: str, usage: dict[str, Any]) -> str:
    """Which limit held the message back, with its figure where the usage has it."""
    limits, used = _section(usage, "limits"), _section(usage, "used")
    if code == QUOTA_EXCEEDED:
        per_day = _number(limits.get("tokens_per_day"))
        if per_day is None:
            return "You have used today's allowance"
        return f"You have used today's allowance of {_plural(per_day, 'token')}"
    streams, open_streams = (
        _number(limits.get("concurrent_streams")),
        _number(used.get("streams_open")),
    )
    if streams is not None and open_streams is not None and open_streams >= streams:
        in_progress = _plural(streams, "reply", "replies")
        return f"You already have {in_progress} in progress, the most at one time"
    per_minute = _number(limits.get("messages_per_minute"))
    if per_minute is None:
        return "You are sending messages too quickly"
    return f"You have reached your limit of {_plural(per_minute, 'message')} a minute"
