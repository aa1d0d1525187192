"""A Server-Sent Events parser (the WHATWG event-stream format) over lines already split, as
httpx's `iter_lines()` gives them: the chat API's `/chat/stream` is read by the tests, the
load test and the benchmark through this one function."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    name: str
    data: str
    id: str | None = None

    def json(self):
        return json.loads(self.data)


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value[1:] if value.startswith(" ") else value


def iter_events(lines: Iterable[str]) -> Iterator[Event]:
    """Events as they complete (at each blank line). Comment lines (`:`) are skipped; an
    event without `event:` is a `message`; several `data:` lines join with newlines."""
    name, data, event_id = "", [], None
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield Event(name or "message", "\n".join(data), event_id)
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, value = _field(line)
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
    if data:
        yield Event(name or "message", "\n".join(data), event_id)


def json_events(lines: Iterable[str]) -> Iterator[tuple[str, object]]:
    """(event name, decoded JSON data) pairs: the chat API sends JSON in every event."""
    for event in iter_events(lines):
        yield event.name, event.json()
