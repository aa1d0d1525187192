"""Parts 3 and 5: the chat API against a bare Flask app (wrk on /health), and gevent against
Gunicorn's gthread worker."""

from __future__ import annotations

import asyncio
import shlex
import shutil

from local_stack.processes import chat_api_process, free_port

from .client import simultaneous_streams
from .figures import _num
from .parts import STREAM_HEADER, stream_level, stream_row
from .report import say
from .resources import cpu_line, process_tree
from .servers import Stack, gunicorn_process, local_url
from .wrk import run_wrk, wrk_argv


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
    port = free_port()
    bare = gunicorn_process(
        "bare-app", "bench_bare_app:create_app()", port, api_env, stack.log_dir / "bare-app.log"
    )
    stack.start(bare)
    targets = {
        "chat API": (f"{api_url}/api/v1/health", parties),
        "bare Flask": (f"http://127.0.0.1:{port}/api/v1/health", {**parties, "bare Flask": bare}),
    }
    runs = []
    try:
        for round_ in range(plan.wrk_rounds):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
            for name in order:
                url, measured = targets[name]
                result = run_wrk(plan, url, measured, warm_up=round_ == 0)
                cores = result["cpu"]["cores_used"]
                result["server_cores"] = cores[name]
                result["other_cores"] = cores["other processes"]
                rps = result["requests_per_s"]
                if rps and cores[name]:
                    result["cpu_us_per_request"] = round(cores[name] / rps * 1e6)
                runs.append({"server": name, "round": round_ + 1, **result})
    finally:
        bare.stop()
    say(
        f"  {'server (round)':<16}{'req/s':>8}{'p50':>10}{'p99':>11}{'server CPU':>12}"
        f"{'CPU/req':>9}{'others':>8}  errors"
    )
    for r in runs:
        errors = f"non-2xx {r['non_2xx']}; socket {r['socket_errors'] or 'none'}"
        say(
            f"  {r['server'] + ' (' + str(r['round']) + ')':<16}{_num(r['requests_per_s']):>8}"
            f"{_num(r['latency_p50_ms'], ' ms', 1):>10}{_num(r['latency_p99_ms'], ' ms', 1):>11}"
            f"{_num(r['server_cores'], ' cores', 2):>12}"
            f"{_num(r.get('cpu_us_per_request'), ' us'):>9}{_num(r['other_cores'], '', 2):>8}"
            f"  {errors}"
        )
        if r.get("failure"):
            say(f"    wrk failed: {r['failure']}")
    results = {"wrk": argv, "runs": runs}
    for name in targets:
        values = [r["requests_per_s"] for r in runs if r["server"] == name]
        results[name] = None if None in values else round(sum(values) / len(values), 1)
        costs = [r.get("cpu_us_per_request") for r in runs if r["server"] == name]
        results[f"{name} CPU us per request"] = None if None in costs else sum(costs) / len(costs)
    chat, bare_rps = results["chat API"], results["bare Flask"]
    results["ratio"] = round(chat / bare_rps, 2) if chat and bare_rps else None
    chat_cost = results["chat API CPU us per request"]
    bare_cost = results["bare Flask CPU us per request"]
    results["ratio_per_cpu"] = round(bare_cost / chat_cost, 2) if chat_cost and bare_cost else None
    say(
        f"  mean req/s: chat API {_num(chat)}, bare Flask {_num(bare_rps)}; ratio "
        f"{results['ratio']} (per CPU second of the server: {results['ratio_per_cpu']}). "
        f"'others' = cores used by other processes on the machine meanwhile."
    )
    report.health = results


def part_workers(report, plan, tokens, model, stack: Stack, api_env, parties) -> None:
    n = plan.compare_level
    say(
        f"\n5. Worker model: N={n} simultaneous streams (as in part 2) with the gthread worker "
        f"(GUNICORN_WORKER_CLASS=gthread GUNICORN_THREADS=32), against gevent from part 2."
    )
    port = free_port()
    env = {**api_env, "GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "32"}
    gthread = chat_api_process(port, env, log_path=stack.log_dir / "chat-api-gthread.log")
    stack.start(gthread)
    try:
        url = local_url(port)
        asyncio.run(simultaneous_streams(url, tokens, 8, plan))  # warm: JWKS, boto3 clients
        parties = {**parties, "chat API": gthread}
        summary = stream_level(url, tokens, n, plan, model, gthread, parties)
        workers = len(process_tree(gthread)) - 1
    finally:
        gthread.stop()
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
