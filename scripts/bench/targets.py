"""The targets, judged from a run's figures."""

from __future__ import annotations

import shlex
import sys

from .plan import (
    TARGET_ADDED_P99_MS,
    TARGET_CPU_MS_PER_CHAT,
    TARGET_HEALTH_RATIO,
    TARGET_MEMORY_MB,
    TARGET_STREAMS,
)
from .report import Report, say


def judge_targets(report: Report) -> None:
    targets = []
    ratio = report.health.get("ratio")
    if report.health and "skipped" not in report.health:  # part 3 ran
        targets.append(
            {
                "target": f"health req/s: chat API >= {TARGET_HEALTH_RATIO} x bare Flask",
                "value": ratio,
                "pass": ratio is not None and ratio >= TARGET_HEALTH_RATIO,
            }
        )
    peak = report.memory.get("peak")
    if peak:
        measure = "pss_mb" if peak["pss_mb"] is not None else "rss_mb"
        targets.append(
            {
                "target": f"memory at peak <= {TARGET_MEMORY_MB:.0f} MB ({measure[:3].upper()})",
                "value": peak[measure],
                "pass": peak[measure] <= TARGET_MEMORY_MB,
            }
        )
        targets.append(
            {
                "target": f"memory at peak <= {TARGET_MEMORY_MB:.0f} MB (RSS, upper bound)",
                "value": peak["rss_mb"],
                "pass": peak["rss_mb"] <= TARGET_MEMORY_MB,
            }
        )
    report.targets = targets
    say("\nTargets")
    for t in targets:
        say(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['value']}")
    largest = report.streams.get("largest_n_without_errors")
    streams_target = {
        "target": f"simultaneous streams without errors >= {TARGET_STREAMS}",
        "value": largest,
        "pass": largest is not None and largest >= TARGET_STREAMS,
    }
    targets.append(streams_target)
    say(f"  {'PASS' if streams_target['pass'] else 'FAIL'}  {streams_target['target']}: {largest}")
    for name in ("/chat", "/chat/stream"):  # the keys of the largest level of part 1
        s = report.latency.get(name)
        if s is None:
            continue
        users = s["virtual_users"]
        own, added, cpu = s["own_ms"]["p99"], s["added_ms"]["p99"], s["api_cpu_ms_per_request"]
        judged = (
            (
                f"{name} API's own time p99 <= {TARGET_ADDED_P99_MS:.0f} ms, {users} users",
                own,
                own is not None and own <= TARGET_ADDED_P99_MS,
            ),
            (
                f"{name} CPU per request <= {TARGET_CPU_MS_PER_CHAT:.0f} ms, {users} users",
                cpu,
                cpu is not None and cpu <= TARGET_CPU_MS_PER_CHAT,
            ),
            (
                f"{name} added latency (local DynamoDB included) p99 <= "
                f"{TARGET_ADDED_P99_MS:.0f} ms, {users} users",
                added,
                added is not None and added <= TARGET_ADDED_P99_MS,
            ),
        )
        for label, value, passed in judged:
            targets.append({"target": label, "value": value, "pass": passed})
            say(f"  {'PASS' if passed else 'FAIL'}  {label}: {_value(value)}")


def _value(value) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def scaling_inputs(report: Report) -> dict:
    """The figures scripts/scaling.py derives the Copilot auto-scaling from, with their origin."""
    chat, stream = report.latency.get("/chat", {}), report.latency.get("/chat/stream", {})
    largest = report.streams.get("largest_n_without_errors")
    level = report.streams.get("levels", {}).get(str(largest), {})
    peak = report.memory.get("peak") or {}
    return {
        # The command as a maintainer types it in the repository root, not this checkout's paths.
        "measured": (
            f"{report.started_at}, {report.machine['cpu_count']} cores, load average "
            f"{report.machine.get('load_average_1m')} at start: python -m bench "
            f"{shlex.join(sys.argv[1:])}"
        ),
        # The dearer of the two endpoints, at the largest level of part 1.
        "cpu_ms_per_chat": max(
            value
            for value in (chat.get("api_cpu_ms_per_request"), stream.get("api_cpu_ms_per_request"))
            if value is not None
        ),
        "streams_per_instance": largest,
        "stream_duration_s": round(level["elapsed_ms"]["p50"] / 1000, 1),
        "memory_pss_mb_at_peak": peak.get("pss_mb"),
        "own_ms_p99": {"/chat": chat["own_ms"]["p99"], "/chat/stream": stream["own_ms"]["p99"]},
    }
