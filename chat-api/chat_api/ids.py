"""ULIDs: 26-character ids that sort by creation time, so DynamoDB sort keys keep message order."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = (0, 0)


def new_id() -> str:
    """A ULID that is strictly greater than the previous one made by this process."""
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            # Same millisecond (or a clock step back): keep the order by counting up.
            millis, random = last_millis, last_random + 1
        else:
            random = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for the counter
        _last = (millis, random)
    value = (millis << 80) | random
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


def id_floor(moment) -> str:
    """The smallest ULID of `moment` (a datetime): every id made at or after it sorts at or
    after this one."""
    millis = int(moment.timestamp() * 1000)
    value = millis << 80
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
