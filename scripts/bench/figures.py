"""Figures of a run: percentiles, one request's outcome, and their summary."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: list[float]) -> dict[str, float | None]:
    def rounded(value):
        return None if value is None else round(value, 1)

    return {
        "p50": rounded(percentile(values, 50)),
        "p95": rounded(percentile(values, 95)),
        "p99": rounded(percentile(values, 99)),
        "max": rounded(max(values) if values else None),
    }


def fmt_ms(value) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _num(value, unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def _mb(value) -> str:
    return "-" if value is None else f"{value:,.0f} MB"


@dataclass
class Outcome:
    ok: bool
    elapsed_ms: float
    model_ms: float | None = None
    first_delta_ms: float | None = None
    conversation_id: str | None = None
    error: str | None = None
    # The chat API's Server-Timing spans (ms): the header of /chat, the `done` event of a stream.
    spans: dict[str, float] | None = None

    @property
    def added_ms(self) -> float | None:
        if not self.ok or self.model_ms is None:
            return None
        return self.elapsed_ms - self.model_ms

    @property
    def own_ms(self) -> float | None:
        """The API's own time: its total minus its waits on storage and on the model."""
        if not self.ok or not self.spans or "total" not in self.spans:
            return None
        s = self.spans
        return s["total"] - s.get("storage", 0.0) - s.get("model", 0.0)


SPANS = ("auth", "emotion", "storage", "model", "total")


def parse_server_timing(value: str) -> dict[str, float]:
    """`name;dur=1.2;desc="..."` entries, comma-separated (RFC 8941-style parameters)."""
    spans = {}
    for entry in value.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip() == "dur" and name:
                spans[name] = float(raw.strip().strip('"'))
    return spans


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def summarize(outcomes: list[Outcome]) -> dict:
    ok = [o for o in outcomes if o.ok]
    return {
        "requests": len(outcomes),
        "ok": len(ok),
        "errors": len(outcomes) - len(ok),
        "error_kinds": dict(Counter(o.error for o in outcomes if not o.ok)),
        "elapsed_ms": spread([o.elapsed_ms for o in ok]),
        "model_latency_ms": spread([o.model_ms for o in ok if o.model_ms is not None]),
        "added_ms": spread([o.added_ms for o in ok if o.added_ms is not None]),
        "first_delta_ms": spread([o.first_delta_ms for o in ok if o.first_delta_ms is not None]),
        "own_ms": spread([o.own_ms for o in ok if o.own_ms is not None]),
        "spans_p50_ms": {
            name: percentile([o.spans[name] for o in ok if o.spans and name in o.spans], 50)
            for name in SPANS
        },
    }
