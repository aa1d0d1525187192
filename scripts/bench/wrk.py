"""GET /health under wrk: its command line and its output."""

from __future__ import annotations

import re
import subprocess

from .plan import Plan
from .resources import CpuMeter

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


def run_wrk(plan: Plan, url: str, parties: dict, warm_up: bool) -> dict:
    if warm_up and plan.wrk_warmup_seconds:
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
