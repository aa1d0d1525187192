"""Parts 1, 2 and 4: latency over the model's own, simultaneous streams, memory."""

from __future__ import annotations

import asyncio
import time

from .client import post_chat, post_stream, simultaneous_streams, virtual_users
from .figures import _mb, fmt_ms, summarize
from .plan import Plan
from .report import Report, say
from .resources import CpuMeter, MemoryPeak, _size, api_cpu_ms, cpu_line, memory_of, process_tree
from .servers import ModelServer


def part_latency(report: Report, plan: Plan, api_url: str, tokens, parties: dict) -> None:
    say(
        f"\n1. Latency the API adds over the model's own: per endpoint and level of concurrency "
        f"({', '.join(map(str, plan.latency_levels))} virtual users) x "
        f"{plan.requests_per_user} requests, {plan.users} Cognito users (shared round-robin), "
        f"starting spread over {plan.ttft_ms} ms; each virtual user's first request starts a "
        f"conversation, the next {plan.requests_per_user - 1} continue it (history read + "
        f"written). Model: TTFT {plan.ttft_ms} ms, no per-token delay. added = client-measured "
        f"elapsed - model_latency_ms (stream: until the `done` event); own = the API's own time, "
        f"its Server-Timing total - storage - model (the local DynamoDB's queue is not in it); "
        f"CPU/req = the chat API's CPU time per request. The 1-user rows are the floor."
    )
    say(
        f"  {'endpoint, users':<19}{'ok/req':>9}{'model p50':>10}{'added p50':>10}"
        f"{'p95':>8}{'p99':>8}{'own p50':>9}{'p95':>8}{'p99':>8}{'storage':>9}{'CPU/req':>9}"
    )
    for name, call in (("/chat", post_chat), ("/chat/stream", post_stream)):
        for users in plan.latency_levels:
            with CpuMeter(parties) as cpu:
                outcomes = asyncio.run(virtual_users(api_url, tokens, plan, call, users))
            summary = summarize(outcomes)
            summary["cpu"] = cpu.result
            summary["virtual_users"] = users
            summary["api_cpu_ms_per_request"] = api_cpu_ms(cpu.result, len(outcomes))
            plural = "s" if users > 1 else ""
            key = name if users == plan.virtual_users else f"{name} ({users} user{plural})"
            report.latency[key] = summary
            m, a, o = summary["model_latency_ms"], summary["added_ms"], summary["own_ms"]
            storage = summary["spans_p50_ms"]["storage"]
            say(
                f"  {name + ', ' + str(users):<19}{summary['ok']:>5}/{summary['requests']:<3}"
                f"{_ms(m['p50']):>10}{_ms(a['p50']):>10}{_ms(a['p95']):>8}{_ms(a['p99']):>8}"
                f"{_ms(o['p50']):>9}{_ms(o['p95']):>8}{_ms(o['p99']):>8}{_ms(storage):>9}"
                f"{_ms(summary['api_cpu_ms_per_request'], 1):>9}"
            )
            if summary["errors"]:
                say(f"    errors: {summary['error_kinds']}")
    say("  (ms; storage = p50 of the Server-Timing storage span)")
    for name, summary in report.latency.items():
        if summary["virtual_users"] == plan.virtual_users:
            say(f"  {name}, {plan.virtual_users} users:")
            say(cpu_line(summary["cpu"]))


def _ms(value, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def stream_row(n: int, s: dict) -> str:
    e, f = s["elapsed_ms"], s["first_delta_ms"]
    return (
        f"  {n:>5}{s['ok']:>6}{s['errors']:>8}{fmt_ms(e['p50']):>11}{fmt_ms(e['p99']):>11}"
        f"{fmt_ms(e['max']):>11}{fmt_ms(f['p50']):>12}{fmt_ms(f['p99']):>12}"
        f"{s.get('model_peak_in_flight', '-'):>9}"
    )


STREAM_HEADER = (
    f"  {'N':>5}{'ok':>6}{'errors':>8}{'dur p50':>11}{'dur p99':>11}{'dur max':>11}"
    f"{'1st delta':>12}{'1st d p99':>12}{'at model':>9}"
)


def stream_level(api_url, tokens, n, plan, model: ModelServer, api, parties) -> dict:
    model.wait_idle()
    model.reset_stats()
    with MemoryPeak(api) as memory, CpuMeter(parties) as cpu:
        outcomes = asyncio.run(simultaneous_streams(api_url, tokens, n, plan))
    summary = summarize(outcomes)
    summary["model_peak_in_flight"] = model.stats()["peak_in_flight"]
    summary["memory_peak"] = memory.peak
    summary["cpu"] = cpu.result
    summary["api_cpu_ms_per_request"] = api_cpu_ms(cpu.result, n)
    return summary


def part_streams(report, plan, api_url, tokens, model: ModelServer, api, parties) -> None:
    model.configure(ttft_ms=plan.ttft_ms, inter_token_ms=plan.stream_inter_token_ms)
    say(
        f"\n2. Simultaneous streams on one instance: N new conversations on /chat/stream at "
        f"once, model TTFT {plan.ttft_ms} ms + {plan.stream_inter_token_ms} ms per token (~50 "
        f"tokens); ok = ended with `done`. Stops at the first N with errors. 'at model' = peak "
        f"streams open at the model server."
    )
    say(STREAM_HEADER)
    time.sleep(1)
    report.memory["idle_before"] = memory_of(process_tree(api))
    levels = {}
    largest_ok = None
    for n in plan.stream_levels:
        summary = stream_level(api_url, tokens, n, plan, model, api, parties)
        levels[str(n)] = summary
        say(stream_row(n, summary))
        if summary["errors"]:
            say(f"    errors at N={n}: {summary['error_kinds']}")
            break
        largest_ok = n
    report.streams = {
        "ttft_ms": plan.ttft_ms,
        "inter_token_ms": plan.stream_inter_token_ms,
        "levels": levels,
        "largest_n_without_errors": largest_ok,
        "tested_up_to": max(plan.stream_levels),
    }
    first_failing = next((n for n, s in levels.items() if s["errors"]), None)
    report.streams["first_failing_n"] = int(first_failing) if first_failing else None
    say(
        f"  largest N with zero errors: {largest_ok if largest_ok else 'none'} "
        f"(levels tried: {', '.join(levels)}; cap {max(plan.stream_levels)})"
    )
    shown = largest_ok or int(next(iter(levels)))
    say(
        f"  at N={shown} the chat API used {levels[str(shown)]['api_cpu_ms_per_request']} ms "
        f"of CPU per stream"
    )
    say(cpu_line(levels[str(shown)]["cpu"]))
    model.wait_idle()
    time.sleep(2)
    report.memory["idle_after"] = memory_of(process_tree(api))
    peaks = [s["memory_peak"] for s in levels.values() if s["memory_peak"]]
    report.memory["peak"] = max(peaks, key=_size, default=None)


def part_memory(report: Report, workers: int) -> None:
    memory = report.memory
    say(
        f"\n4. Memory of the chat API instance (Gunicorn master + {workers} workers, summed; RSS "
        f"counts pages shared between them once per process, PSS shares them out, USS = private)"
    )
    say(f"  {'when':<34}{'RSS':>10}{'PSS':>10}{'USS':>10}")
    rows = (
        ("idle, before part 2", memory.get("idle_before")),
        ("peak during part 2", memory.get("peak")),
        ("idle, 2 s after part 2", memory.get("idle_after")),
    )
    for label, sample in rows:
        if sample:
            say(
                f"  {label:<34}{_mb(sample['rss_mb']):>10}{_mb(sample['pss_mb']):>10}"
                f"{_mb(sample['uss_mb']):>10}"
            )
