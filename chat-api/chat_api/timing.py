"""Where a request's time goes: named spans sent as a `Server-Timing` header and logged.

Spans (milliseconds, summed over every call of that kind during the request):

- `auth`: verifying the access token (the JWKS fetch included when one is due);
- `emotion`: the emotion model and the self-harm risk assessment (one encoder pass);
- `storage`: the DynamoDB and SQS calls, measured by botocore event hooks on those clients
  (signing, the round trip, retries and parsing the answer);
- `model`: waiting on Bedrock (a Converse call, or opening a stream and each wait for its next
  event);
- `total`: from the first byte of the request being handled to the response, or for a stream to
  the moment the spans are read.

total - storage - model is the API's own time: what this code spends, including waiting for a
core, independent of how fast its dependencies answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from flask import g, has_app_context

SPANS = ("auth", "emotion", "storage", "model")
HEADER = "Server-Timing"
_STARTED = "chat_api_timing_started"  # key in botocore's per-call context


class RequestTiming:
    """The spans of one request. Spans never nest, so they add up to at most the total."""

    __slots__ = ("started", "seconds")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds = dict.fromkeys(SPANS, 0.0)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds

    def snapshot(self) -> dict[str, float]:
        """Every span and the total so far, in milliseconds (two decimals)."""
        spans = {name: round(value * 1000, 2) for name, value in self.seconds.items()}
        spans["total"] = round((time.perf_counter() - self.started) * 1000, 2)
        return spans

    def header(self, *, partial: bool = False) -> str:
        """The Server-Timing value; `partial` marks a total read before the body was sent."""
        parts = [f"{name};dur={value:.2f}" for name, value in self.snapshot().items()]
        if partial:
            parts[-1] += ';desc="until headers"'
        return ", ".join(parts)


def current() -> RequestTiming | None:
    if not has_app_context():
        return None
    return g.get("timing")


@contextmanager
def span(name: str) -> Iterator[None]:
    """Adds the time spent in the block to span `name` of the current request, if any."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timing = current()
        if timing is not None:
            timing.add(name, time.perf_counter() - started)


def timed_items(items: Iterable, name: str) -> Iterator:
    """Yields from `items`, adding each wait for the next item to span `name`."""
    iterator = iter(items)
    while True:
        with span(name):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item


def _call_started(context: dict, **_) -> None:
    context[_STARTED] = time.perf_counter()


def _call_ended(context: dict, **_) -> None:
    started = context.pop(_STARTED, None)
    timing = current()
    if started is not None and timing is not None:
        timing.add("storage", time.perf_counter() - started)


def time_storage_calls(client) -> None:
    """Counts every call of a boto3 client into the `storage` span of the request making it."""
    events = client.meta.events
    events.register("before-call", _call_started)
    events.register("after-call", _call_ended)
    events.register("after-call-error", _call_ended)  # no answer, the time still counts
