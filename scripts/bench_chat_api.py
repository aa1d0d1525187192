"""Benchmark of the chat API under Gunicorn, against the local stack, on 127.0.0.1 only.

    make bench        # = .venv/bin/python scripts/bench_chat_api.py --compare-workers
    .venv/bin/python scripts/bench_chat_api.py --quick     # a smoke run of every part (< 1 min)

Starts its own local AWS endpoint (moto), local model server and chat API on free ports, signs
in a few Cognito users, then measures:

  1. the latency the API adds over the model's own (`model_latency_ms`), on POST /chat and
     POST /chat/stream, with many virtual users in parallel and a 2 s time to first token;
  2. how many simultaneous streams one instance completes without an error (N = 128, 256, ...,
     stopping at the first N with errors);
  3. requests per second on GET /api/v1/health with wrk, for the chat API and for a bare Flask
     app (scripts/bench_bare_app.py) served with the same gunicorn.conf.py;
  4. the instance's memory (Gunicorn master + workers), idle and at the peak of part 2;
  5. with --compare-workers, part 2 at one N again with Gunicorn's gthread worker.

Prints a table and writes the same figures as JSON (default .local/bench/chat-api.json). Every
process it starts is stopped before it exits, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import httpx
import psutil

from local_stack.aws_bootstrap import bootstrap, create_user, sign_in
from local_stack.processes import (
    REPO_ROOT,
    SCRIPTS_DIR,
    WEB_SERVICE_DIR,
    ManagedProcess,
    bedrock_process,
    chat_api_process,
    child_env,
    free_port,
    moto_process,
)

DEFAULT_OUTPUT = REPO_ROOT / ".local" / "bench" / "chat-api.json"
LOG_DIR = REPO_ROOT / ".local" / "bench" / "logs"
GUNICORN_CONF = WEB_SERVICE_DIR / "gunicorn.conf.py"
BENCH_PASSWORD = "Bench-Passw0rd!x"  # noqa: S105 - local throwaway users of the local pool

# Targets from the issue; the other figures are reported without a pass/fail.
TARGET_HEALTH_RATIO = 0.5  # chat API req/s >= 0.5 x the bare app's
TARGET_MEMORY_MB = 400.0  # whole instance, at the peak of part 2

# One message per emotion, so the emotion detector and the prompts see some variety.
MESSAGES = (
    "I am so angry that my train was cancelled again",
    "That meal was disgusting, I feel sick",
    "I am worried about my exam tomorrow",
    "Wow, I passed! I am so happy",
    "What time does the library open on Sundays?",
    "I miss my grandmother, she died last month",
    "I can't believe it, they gave me the job without an interview!",
)


@dataclass(frozen=True)
class Plan:
    users: int  # Cognito users signed in; virtual users share their tokens round-robin
    virtual_users: int
    requests_per_user: int
    ttft_ms: int
    stream_inter_token_ms: int  # part 2 only; part 1 runs with no per-token delay
    stream_levels: tuple[int, ...]
    compare_level: int
    wrk_threads: int
    wrk_connections: int
    wrk_seconds: int
    wrk_warmup_seconds: int
    request_deadline_s: float  # one request, from sending to its last byte


FULL = Plan(
    users=8,
    virtual_users=64,
    requests_per_user=5,
    ttft_ms=2000,
    stream_inter_token_ms=30,
    stream_levels=(128, 256, 384, 512),
    compare_level=256,
    wrk_threads=2,
    wrk_connections=64,
    wrk_seconds=10,
    wrk_warmup_seconds=2,
    request_deadline_s=90,
)
QUICK = Plan(
    users=2,
    virtual_users=4,
    requests_per_user=2,
    ttft_ms=200,
    stream_inter_token_ms=5,
    stream_levels=(8, 16),
    compare_level=16,
    wrk_threads=1,
    wrk_connections=8,
    wrk_seconds=1,
    wrk_warmup_seconds=0,
    request_deadline_s=30,
)


# --- figures ---------------------------------------------------------------------------------


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
        "p99": rounded(percentile(values, 99)),
        "max": rounded(max(values) if values else None),
    }


def fmt_ms(value) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


# --- one chat request ------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    elapsed_ms: float
    model_ms: float | None = None
    first_delta_ms: float | None = None
    conversation_id: str | None = None
    error: str | None = None

    @property
    def added_ms(self) -> float | None:
        if not self.ok or self.model_ms is None:
            return None
        return self.elapsed_ms - self.model_ms


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _error_code(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "?"


def _body(message: str, conversation_id: str | None) -> dict:
    body = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    return body


async def post_chat(client: httpx.AsyncClient, token: str, message: str, conversation_id, plan):
    started = time.perf_counter()
    try:
        async with asyncio.timeout(plan.request_deadline_s):
            response = await client.post(
                "/api/v1/chat",
                json=_body(message, conversation_id),
                headers={"Authorization": f"Bearer {token}"},
            )
    except (httpx.HTTPError, TimeoutError) as error:
        return Outcome(False, _since(started), error=type(error).__name__)
    elapsed = _since(started)
    if response.status_code != 200:
        return Outcome(False, elapsed, error=f"HTTP {response.status_code} {_error_code(response)}")
    data = response.json()
    return Outcome(
        True,
        elapsed,
        model_ms=data.get("model_latency_ms"),
        conversation_id=data.get("conversation_id"),
    )


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in raw.decode("utf-8", "replace").split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if name:
            try:
                events.append((name, json.loads("\n".join(data))))
            except ValueError:
                events.append((name, {}))
    return events


async def post_stream(client: httpx.AsyncClient, token: str, message: str, conversation_id, plan):
    """One POST /chat/stream; elapsed is until the `done` event arrived, ok only with `done`."""
    started = time.perf_counter()
    first_delta = done_at = None
    parts: list[bytes] = []
    try:
        async with (
            asyncio.timeout(plan.request_deadline_s),
            client.stream(
                "POST",
                "/api/v1/chat/stream",
                json=_body(message, conversation_id),
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            if response.status_code != 200:
                await response.aread()
                return Outcome(
                    False,
                    _since(started),
                    error=f"HTTP {response.status_code} {_error_code(response)}",
                )
            tail = b""
            async for chunk in response.aiter_bytes():
                window = tail + chunk  # an event name may straddle two chunks
                if first_delta is None and b"event: delta" in window:
                    first_delta = _since(started)
                if done_at is None and b"event: done" in window:
                    done_at = _since(started)
                parts.append(chunk)
                tail = window[-16:]
    except (httpx.HTTPError, TimeoutError) as error:
        kind = type(error).__name__
        return Outcome(False, _since(started), first_delta_ms=first_delta, error=kind)
    events = dict(parse_sse(b"".join(parts)))
    meta = events.get("meta", {})
    if "error" in events:
        error = f"SSE error {events['error'].get('code', '?')}"
    elif "done" not in events or done_at is None:
        error = "stream ended without done"
    else:
        return Outcome(
            True,
            done_at,
            model_ms=events["done"].get("model_latency_ms"),
            first_delta_ms=first_delta,
            conversation_id=meta.get("conversation_id"),
        )
    return Outcome(False, _since(started), first_delta_ms=first_delta, error=error)


def http_client(base_url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(60.0),
        trust_env=False,  # 127.0.0.1 only: no proxy from the environment
    )


# --- load shapes -----------------------------------------------------------------------------


async def virtual_users(base_url: str, tokens: list[str], plan: Plan, call) -> list[Outcome]:
    """Each virtual user starts a conversation, then continues it for the remaining requests."""

    async def one_user(index: int) -> list[Outcome]:
        token = tokens[index % len(tokens)]
        conversation_id, outcomes = None, []
        for turn in range(plan.requests_per_user):
            message = MESSAGES[(index + turn) % len(MESSAGES)]
            outcome = await call(client, token, message, conversation_id, plan)
            if outcome.ok:
                conversation_id = outcome.conversation_id
            outcomes.append(outcome)
        return outcomes

    async with http_client(base_url, plan.virtual_users) as client:
        nested = await asyncio.gather(*(one_user(i) for i in range(plan.virtual_users)))
    return [outcome for outcomes in nested for outcome in outcomes]


async def simultaneous_streams(base_url: str, tokens: list[str], n: int, plan) -> list[Outcome]:
    """N new conversations streamed at once, each on its own connection."""
    async with http_client(base_url, n) as client:
        calls = [
            post_stream(client, tokens[i % len(tokens)], MESSAGES[i % len(MESSAGES)], None, plan)
            for i in range(n)
        ]
        return await asyncio.gather(*calls)


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
    }


# --- processes and their resources -----------------------------------------------------------


def process_tree(process: ManagedProcess) -> list[psutil.Process]:
    """A Gunicorn master and its workers (or any process and its children)."""
    try:
        root = psutil.Process(process.pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, TypeError):
        return []


def memory_of(processes: list[psutil.Process]) -> dict | None:
    """Sum of RSS, and of PSS/USS where the kernel gives them, in MB."""
    totals = {"rss_mb": 0.0, "pss_mb": 0.0, "uss_mb": 0.0}
    full = True
    for proc in processes:
        try:
            try:
                info = proc.memory_full_info()
            except psutil.AccessDenied:
                info, full = proc.memory_info(), False
        except psutil.NoSuchProcess:
            continue
        totals["rss_mb"] += info.rss / 2**20
        totals["pss_mb"] += getattr(info, "pss", 0) / 2**20
        totals["uss_mb"] += getattr(info, "uss", 0) / 2**20
        full = full and hasattr(info, "pss")
    if not full:
        totals["pss_mb"] = totals["uss_mb"] = None
    totals = {k: (None if v is None else round(v, 1)) for k, v in totals.items()}
    return {**totals, "processes": len(processes)}


class MemoryPeak(threading.Thread):
    """Samples a process tree's memory in the background; keeps the sample with the largest PSS
    (RSS when PSS is unknown)."""

    def __init__(self, process: ManagedProcess, interval: float = 0.25):
        super().__init__(daemon=True)
        self._process, self._interval = process, interval
        self._stop_event = threading.Event()
        self.peak: dict | None = None
        self.samples = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            sample = memory_of(process_tree(self._process))
            self.samples += 1

            def size(s):
                return s["pss_mb"] if s["pss_mb"] is not None else s["rss_mb"]

            if sample["processes"] and (self.peak is None or size(sample) > size(self.peak)):
                self.peak = sample
            self._stop_event.wait(self._interval)

    def __enter__(self) -> MemoryPeak:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop_event.set()
        self.join()


class CpuMeter:
    """CPU seconds spent by each party while a part runs: who competes for the cores."""

    def __init__(self, parties: dict[str, ManagedProcess | None]):
        self._parties = parties

    @staticmethod
    def _cpu(process: ManagedProcess | None) -> float:
        total = 0.0
        for proc in process_tree(process) if process else []:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    @staticmethod
    def _own(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> CpuMeter:
        self._wall = time.perf_counter()
        self._client = self._own(resource.RUSAGE_SELF)
        self._tools = self._own(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        self._start = {name: self._cpu(p) for name, p in self._parties.items()}
        return self

    def __exit__(self, *exc_info) -> None:
        wall = time.perf_counter() - self._wall
        used = {
            "load generator (this script)": self._own(resource.RUSAGE_SELF) - self._client,
        }
        tools = self._own(resource.RUSAGE_CHILDREN) - self._tools
        if tools > 0.01:
            used["wrk"] = tools
        for name, process in self._parties.items():
            used[name] = self._cpu(process) - self._start[name]
        self.result = {
            "wall_s": round(wall, 2),
            "cores_used": {name: round(seconds / wall, 2) for name, seconds in used.items()},
        }


def cpu_line(cpu: dict) -> str:
    parts = ", ".join(f"{name} {cores:.2f}" for name, cores in cpu["cores_used"].items())
    return f"  CPU cores used over {cpu['wall_s']:.1f} s: {parts} (of {os.cpu_count()})"


class ModelServer:
    """The local model server's control endpoints."""

    def __init__(self, url: str):
        self._http = httpx.Client(base_url=url, timeout=10, trust_env=False)

    def configure(self, **settings) -> None:
        self._http.put("/_local/config", json=settings).raise_for_status()

    def reset_stats(self) -> None:
        self._http.post("/_local/stats/reset").raise_for_status()

    def stats(self) -> dict:
        return self._http.get("/_local/stats").json()

    def wait_idle(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.stats()["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        self._http.close()


class Stack:
    """The processes this run started; stop_all() stops each one by its pid."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []

    def start(self, process: ManagedProcess, timeout: float = 60) -> ManagedProcess:
        self.processes.append(process)
        return process.start(timeout)

    def stop(self, process: ManagedProcess) -> None:
        process.stop()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def gunicorn_process(name: str, app: str, port: int, env: dict, log_path) -> ManagedProcess:
    """Any WSGI app under the chat API's gunicorn.conf.py (whose on_starting checks `env`)."""
    merged = child_env({**env, "CHAT_API_BIND": f"127.0.0.1:{port}"})
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app]
    return ManagedProcess(
        name,
        argv,
        env=merged,
        cwd=SCRIPTS_DIR,
        ready_url=f"http://127.0.0.1:{port}/api/v1/health",
        log_path=log_path,
    )


def sign_in_users(aws_url: str, config: dict, count: int) -> list[str]:
    tokens = []
    for index in range(count):
        email = f"bench-user-{index}@example.com"
        region, pool = config["AWS_REGION"], config["COGNITO_USER_POOL_ID"]
        create_user(aws_url, region, pool, email, BENCH_PASSWORD)
        result = sign_in(aws_url, region, config["COGNITO_APP_CLIENT_ID"], email, BENCH_PASSWORD)
        tokens.append(result["AccessToken"])
    return tokens


# --- wrk -------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match[1]) * _UNITS_MS[match[2]] if match else None


def parse_wrk(output: str) -> dict:
    result: dict = {"requests_per_s": None, "latency_p50_ms": None, "latency_p99_ms": None}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result["requests_per_s"] = round(float(match[1]), 1)
    for label, key in (("50%", "latency_p50_ms"), ("99%", "latency_p99_ms")):
        if match := re.search(rf"^\s+{re.escape(label)}\s+(\S+)", output, re.M):
            value = _wrk_ms(match[1])
            result[key] = None if value is None else round(value, 2)
    if match := re.search(r"(\d+) requests in", output):
        result["requests"] = int(match[1])
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(match[1]) if match else 0
    match = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = match[1].strip() if match else None
    return result


def wrk_argv(plan: Plan, url: str, seconds: int) -> list[str]:
    c, t = plan.wrk_connections, plan.wrk_threads
    return ["wrk", f"-t{t}", f"-c{c}", f"-d{seconds}s", "--latency", url]


def run_wrk(plan: Plan, url: str, parties: dict) -> dict:
    if plan.wrk_warmup_seconds:
        subprocess.run(
            wrk_argv(plan, url, plan.wrk_warmup_seconds),
            capture_output=True,
            timeout=plan.wrk_warmup_seconds + 30,
            check=False,
        )
    argv = wrk_argv(plan, url, plan.wrk_seconds)
    with CpuMeter(parties) as cpu:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=plan.wrk_seconds + 30, check=False
        )
    result = parse_wrk(done.stdout)
    result["cpu"] = cpu.result
    if done.returncode != 0 or result["requests_per_s"] is None:
        result["failure"] = (done.stderr or done.stdout).strip()[-300:]
    return result


# --- the parts -------------------------------------------------------------------------------


@dataclass
class Report:
    command: str
    machine: dict
    plan: dict
    setup: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    streams: dict = field(default_factory=dict)
    health: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)
    targets: list = field(default_factory=list)
    started_pids: list = field(default_factory=list)


def say(text: str = "") -> None:
    print(text, flush=True)


def machine_facts() -> dict:
    versions = {}
    for package in ("gunicorn", "gevent", "flask", "boto3", "httpx"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    wrk = shutil.which("wrk")
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "wrk": wrk,
    }


def part_latency(report: Report, plan: Plan, api_url: str, tokens, parties: dict) -> None:
    say(
        f"\n1. Latency the API adds over the model's own: {plan.virtual_users} virtual users x "
        f"{plan.requests_per_user} requests per endpoint, {plan.users} Cognito users (shared "
        f"round-robin); each virtual user's first request starts a conversation, the next "
        f"{plan.requests_per_user - 1} continue it (history read + written). Model: TTFT "
        f"{plan.ttft_ms} ms, no per-token delay. added = client-measured elapsed - "
        f"model_latency_ms (stream: until the `done` event)."
    )
    say(
        f"  {'endpoint':<14}{'ok/requests':>12}{'elapsed p50':>13}{'elapsed p99':>13}"
        f"{'model p50':>11}{'added p50':>11}{'added p99':>11}{'added max':>11}"
    )
    for name, call in (("/chat", post_chat), ("/chat/stream", post_stream)):
        with CpuMeter(parties) as cpu:
            outcomes = asyncio.run(virtual_users(api_url, tokens, plan, call))
        summary = summarize(outcomes)
        summary["cpu"] = cpu.result
        report.latency[name] = summary
        e, m, a = summary["elapsed_ms"], summary["model_latency_ms"], summary["added_ms"]
        say(
            f"  {name:<14}{summary['ok']:>6}/{summary['requests']:<5}{fmt_ms(e['p50']):>13}"
            f"{fmt_ms(e['p99']):>13}{fmt_ms(m['p50']):>11}{fmt_ms(a['p50']):>11}"
            f"{fmt_ms(a['p99']):>11}{fmt_ms(a['max']):>11}"
        )
        if summary["errors"]:
            say(f"    errors: {summary['error_kinds']}")
    for name, summary in report.latency.items():
        say(f"  {name}:")
        say(cpu_line(summary["cpu"]))


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
    last = levels[str(largest_ok)] if largest_ok else next(iter(levels.values()))
    say(cpu_line(last["cpu"]))
    model.wait_idle()
    time.sleep(2)
    report.memory["idle_after"] = memory_of(process_tree(api))
    peaks = [s["memory_peak"] for s in levels.values() if s["memory_peak"]]
    report.memory["peak"] = max(peaks, key=lambda s: s["pss_mb"] or s["rss_mb"], default=None)


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


def _mb(value) -> str:
    return "-" if value is None else f"{value:,.0f} MB"


def part_health(report, plan, api_url, api_env, stack: Stack, api, parties) -> None:
    if not shutil.which("wrk"):
        say(
            "\n3. Requests per second on GET /api/v1/health: skipped, wrk is missing "
            "(Debian: `sudo apt-get install wrk`, or `make system-deps` as root)."
        )
        report.health = {"skipped": "wrk is not installed"}
        return
    argv = shlex.join(wrk_argv(plan, "<url>/api/v1/health", plan.wrk_seconds))
    say(
        f"\n3. Requests per second on GET /api/v1/health: `{argv}` against the chat API and "
        f"against a bare Flask app (scripts/bench_bare_app.py) under the same gunicorn.conf.py "
        f"(wrk runs on the same cores)."
    )
    results = {"wrk": argv}
    results["chat API"] = run_wrk(plan, f"{api_url}/api/v1/health", parties)
    port = free_port()
    bare = gunicorn_process(
        "bare-app", "bench_bare_app:create_app()", port, api_env, LOG_DIR / "bare-app.log"
    )
    stack.start(bare)
    report.started_pids.append(bare.pid)
    try:
        url = f"http://127.0.0.1:{port}/api/v1/health"
        results["bare Flask"] = run_wrk(plan, url, {**parties, "bare Flask app": bare})
    finally:
        stack.stop(bare)
    say(f"  {'server':<14}{'req/s':>10}{'p50':>10}{'p99':>10}{'non-2xx':>9}  socket errors")
    for name in ("chat API", "bare Flask"):
        r = results[name]
        rps = "-" if r["requests_per_s"] is None else f"{r['requests_per_s']:,.0f}"
        p50 = "-" if r["latency_p50_ms"] is None else f"{r['latency_p50_ms']:.1f} ms"
        p99 = "-" if r["latency_p99_ms"] is None else f"{r['latency_p99_ms']:.1f} ms"
        say(f"  {name:<14}{rps:>10}{p50:>10}{p99:>10}{r['non_2xx']:>9}  {r['socket_errors'] or 0}")
        if r.get("failure"):
            say(f"    wrk failed: {r['failure']}")
    chat, bare_rps = results["chat API"]["requests_per_s"], results["bare Flask"]["requests_per_s"]
    results["ratio"] = round(chat / bare_rps, 2) if chat and bare_rps else None
    say(f"  ratio chat API / bare: {results['ratio']}")
    for name in ("chat API", "bare Flask"):
        say(f"  during wrk on the {name}:")
        say(cpu_line(results[name]["cpu"]))
    report.health = results


def part_workers(report, plan, api_url_of, tokens, model, stack: Stack, api_env, parties) -> None:
    n = plan.compare_level
    say(
        f"\n5. Worker model: N={n} simultaneous streams (as in part 2) with the gthread worker "
        f"(GUNICORN_WORKER_CLASS=gthread GUNICORN_THREADS=32), against gevent from part 2."
    )
    port = free_port()
    env = {**api_env, "GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "32"}
    gthread = chat_api_process(port, env, log_path=LOG_DIR / "chat-api-gthread.log")
    stack.start(gthread)
    report.started_pids.append(gthread.pid)
    try:
        url = api_url_of(port)
        asyncio.run(simultaneous_streams(url, tokens, 4, plan))  # warm: JWKS, boto3 clients
        parties = {**parties, "chat API": gthread}
        summary = stream_level(url, tokens, n, plan, model, gthread, parties)
        workers = len(process_tree(gthread)) - 1
    finally:
        stack.stop(gthread)
    gevent = report.streams["levels"].get(str(n))
    report.workers = {
        "n": n,
        "gevent": gevent,
        "gthread": {**summary, "workers": workers, "threads_per_worker": 32},
    }
    say(STREAM_HEADER + "  worker")
    if gevent:
        say(stream_row(n, gevent) + "  gevent")
    else:
        say(f"  gevent was not measured at N={n} (part 2 stopped before it)")
    say(stream_row(n, summary) + f"  gthread ({workers} x 32 threads)")
    if summary["errors"]:
        say(f"    gthread errors: {summary['error_kinds']}")
    peak = summary["memory_peak"]
    if peak:
        say(f"  gthread memory peak: RSS {peak['rss_mb']:.0f} MB, PSS {peak['pss_mb'] or 0:.0f} MB")
    say(cpu_line(summary["cpu"]))


def judge_targets(report: Report) -> None:
    targets = []
    ratio = report.health.get("ratio")
    if "skipped" not in report.health:
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
    say(
        f"  info  simultaneous streams without errors: {largest} (tested up to "
        f"{report.streams.get('tested_up_to')}); no target set"
    )
    for name, s in report.latency.items():
        say(
            f"  info  {name} added latency p50 {fmt_ms(s['added_ms']['p50'])}, p99 "
            f"{fmt_ms(s['added_ms']['p99'])}; no target set"
        )


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few requests, small N, short wrk")
    parser.add_argument(
        "--compare-workers", action="store_true", help="part 5: also run gthread workers"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    return parser.parse_args(argv)


class Interrupted(BaseException):
    """SIGTERM, turned into an exception so every started process is stopped."""


def _on_sigterm(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def _raise_open_files_limit() -> None:
    # 512 streams need over 1,000 sockets here and in the servers, which inherit the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    command = shlex.join([sys.executable, *sys.argv])
    report = Report(command=command, machine=machine_facts(), plan=asdict(plan))
    m = report.machine
    say("Chat API benchmark")
    say(f"command: {command}  (cwd {Path.cwd()})")
    say(
        f"machine: {m['cpu_count']} CPUs ({m['cpus_usable']} usable), {m['memory_gb']} GB RAM, "
        f"Python {m['python']}, {m['platform']}"
    )
    say("packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
    say(
        "note: the load generator (this script, one asyncio process with httpx), wrk, the local "
        "model server and the local AWS endpoint (moto) share these CPUs with the chat API; "
        "each part prints who used how much CPU. Added latency includes the chat API's calls "
        "to moto's DynamoDB, which is slower than the real one."
    )
    _raise_open_files_limit()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    stack = Stack()
    model_control = None
    try:
        aws_port, model_port, api_port = free_port(), free_port(), free_port()
        aws = stack.start(moto_process(aws_port, log_path=LOG_DIR / "local-aws.log"))
        aws_url = f"http://127.0.0.1:{aws_port}"
        model_url = f"http://127.0.0.1:{model_port}"
        config = bootstrap(aws_url, bedrock_url=model_url, prefix="chatbot-bench")
        model_args = ["--ttft-ms", str(plan.ttft_ms), "--inter-token-ms", "0"]
        model = stack.start(
            bedrock_process(model_port, extra_args=model_args, log_path=LOG_DIR / "model.log")
        )
        model_control = ModelServer(model_url)
        tokens = sign_in_users(aws_url, config, plan.users)
        api_env = {**config, "LOG_LEVEL": "INFO"}
        api = stack.start(chat_api_process(api_port, api_env, log_path=LOG_DIR / "chat-api.log"))
        report.started_pids += [aws.pid, model.pid, api.pid]

        def api_url_of(port: int) -> str:
            return f"http://127.0.0.1:{port}"

        api_url = api_url_of(api_port)
        workers = len(process_tree(api)) - 1
        report.setup = {
            "worker_class": "gevent",
            "workers": workers,
            "log_level": "INFO",
            "logs": str(LOG_DIR),
            "model_server": f"--ttft-ms {plan.ttft_ms} --inter-token-ms 0 (part 1)",
        }
        say(
            f"setup: chat API = gunicorn -c web-service/gunicorn.conf.py, gevent worker, "
            f"{workers} workers (WEB_CONCURRENCY default = CPU count), LOG_LEVEL=INFO "
            f"(one JSON log line per request); logs in {LOG_DIR}"
        )
        parties = {"chat API": api, "model server": model, "local AWS (moto)": aws}

        # Warm-up, not measured: each worker fetches the JWKS and builds its boto3 clients.
        warm = Plan(**{**asdict(plan), "virtual_users": 16, "requests_per_user": 1})
        asyncio.run(virtual_users(api_url, tokens, warm, post_chat))
        asyncio.run(virtual_users(api_url, tokens, warm, post_stream))

        part_latency(report, plan, api_url, tokens, parties)
        part_streams(report, plan, api_url, tokens, model_control, api, parties)
        part_health(report, plan, api_url, api_env, stack, api, parties)
        part_memory(report, workers)
        if args.compare_workers:
            stack.stop(api)  # so the gthread instance has the cores to itself
            del parties["chat API"]
            part_workers(report, plan, api_url_of, tokens, model_control, stack, api_env, parties)
        judge_targets(report)
    finally:
        if model_control is not None:
            model_control.close()
        stack.stop_all()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(asdict(report), indent=2) + "\n")
    say(f"\nJSON: {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run(parse_args(argv))
    except (KeyboardInterrupt, Interrupted):
        print("interrupted; every started process was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
