"""Benchmark of the chat API under Gunicorn, against the local stack, on 127.0.0.1 only.

    make bench        # = .venv/bin/python -m bench --compare-workers  (PYTHONPATH=scripts:...)
    .venv/bin/python -m bench --quick     # a smoke run of every part (< 1 min)
    .venv/bin/python -m bench.cpu_profile  # CPU and DynamoDB calls per chat, in process

Starts its own local AWS endpoint (moto), local model server and chat API on free ports, signs
in a few Cognito users, then measures:

  1. the latency the API adds over the model's own (`model_latency_ms`), on POST /chat and
     POST /chat/stream, with many virtual users in parallel and a 2 s time to first token, and
     the API's own time (its Server-Timing total - storage - model), and its CPU per request;
  2. how many simultaneous streams one instance completes without an error (N = 128, 256, ...,
     stopping at the first N with errors);
  3. requests per second on GET /api/v1/health with wrk, for the chat API and for a bare Flask
     app (scripts/bench_bare_app.py) served with the same gunicorn.conf.py;
  4. the instance's memory (Gunicorn master + workers), idle and at the peak of part 2;
  5. with --compare-workers, part 2 at one N again with Gunicorn's gthread worker.

The local AWS endpoint is local_stack.local_aws: moto with its DynamoDB fit for load (moto as it
is fails and slows down under this load); --plain-moto runs moto unchanged. Everything shares
the machine's cores with the chat API, so each part prints who used how much CPU, other
processes on the machine included.

Prints a table and writes the same figures as JSON (default .local/bench/chat-api.json, the
servers' logs in logs/ beside it). Every process it starts is stopped before it exits, also on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import shlex
import signal
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from local_stack.aws_bootstrap import bootstrap
from local_stack.processes import (
    REPO_ROOT,
    bedrock_process,
    chat_api_process,
    free_port,
    moto_process,
)

from .client import post_chat, post_stream, virtual_users
from .comparisons import part_health, part_workers
from .parts import part_latency, part_memory, part_streams
from .plan import BENCH_TIER, DYNAMODB_TIMEOUT_S, FULL, QUICK, Plan
from .report import Report, machine_facts, say
from .resources import process_tree
from .servers import ModelServer, Stack, local_url, sign_in_users
from .targets import judge_targets, scaling_inputs

DEFAULT_OUTPUT = REPO_ROOT / ".local" / "bench" / "chat-api.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few requests, small N, short wrk")
    parser.add_argument(
        "--compare-workers", action="store_true", help="part 5: also run gthread workers"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="JSON result file; the servers' logs go to logs/ beside it",
    )
    parser.add_argument(
        "--stream-levels",
        type=int,
        nargs="+",
        metavar="N",
        help="part 2's levels of simultaneous streams instead of the plan's",
    )
    parser.add_argument(
        "--streams-only",
        action="store_true",
        help="parts 2 and 4 only (streams and memory), e.g. --streams-only --stream-levels 512",
    )
    parser.add_argument(
        "--record",
        type=Path,
        help="also write the figures the scaling derivation reads (scripts/scaling.py) here",
    )
    parser.add_argument(
        "--plain-moto",
        action="store_true",
        help="use moto's DynamoDB as it is (slow, fails under concurrent transactions)",
    )
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
    if args.stream_levels:
        plan = replace(plan, stream_levels=tuple(args.stream_levels))
    command = shlex.join([sys.executable, *sys.argv])
    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = Report(
        command=command, started_at=started_at, machine=machine_facts(), plan=asdict(plan)
    )
    m = report.machine
    say("Chat API benchmark")
    say(f"command: {command}  (cwd {Path.cwd()})")
    say(
        f"machine: {m['cpu_count']} CPUs ({m['cpus_usable']} usable), {m['memory_gb']} GB RAM, "
        f"Python {m['python']}, {m['platform']}; load average {m['load_average_1m']} at start"
    )
    say("packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
    say(
        "note: the load generator (this script, one asyncio process with httpx), wrk, the local "
        "model server and the local AWS endpoint (moto) share these CPUs with the chat API; "
        "each part prints who used how much CPU."
    )
    if args.plain_moto:
        say("local AWS: moto as it is (--plain-moto): its DynamoDB slows with the table's size.")
    else:
        say(
            "local AWS: moto with its DynamoDB made fit for load (one request at a time, "
            "partition queries, light transaction backups, a longer listen backlog; see "
            "scripts/local_stack/local_aws.py); added latency still includes the chat "
            "API's DynamoDB calls to it (1 write per new conversation, 1 read + 1 query + 1 "
            "write per continued one)."
        )
    _raise_open_files_limit()
    stack = Stack(args.output.parent / "logs")
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    model_control = None
    try:
        aws_port, model_port, api_port = free_port(), free_port(), free_port()
        aws = stack.start(
            moto_process(
                aws_port,
                log_path=stack.log_dir / "local-aws.log",
                fit_for_load=not args.plain_moto,
            )
        )
        aws_url = f"http://127.0.0.1:{aws_port}"
        model_url = f"http://127.0.0.1:{model_port}"
        config = bootstrap(aws_url, bedrock_url=model_url, prefix="chatbot-bench")
        model_args = ["--ttft-ms", str(plan.ttft_ms), "--inter-token-ms", "0"]
        model = stack.start(
            bedrock_process(model_port, extra_args=model_args, log_path=stack.log_dir / "model.log")
        )
        model_control = ModelServer(model_url)
        tokens = sign_in_users(aws_url, config, plan.users)
        # The local DynamoDB serves one request at a time (a few ms each, more on a busy
        # machine): under hundreds of simultaneous streams its queue outgrows the chat API's 3 s
        # DynamoDB timeout. A longer one keeps that local queue a delay, not an error.
        api_env = {
            **config,
            "LOG_LEVEL": "INFO",
            "DYNAMODB_TIMEOUT": str(DYNAMODB_TIMEOUT_S),
            # A few users stand in for many here: their per-user limits must not be the
            # bottleneck measured (the limits' own counters are still written on every request).
            "USAGE_TIERS": json.dumps({"free": BENCH_TIER}),
        }
        api_log = stack.log_dir / "chat-api.log"
        api = stack.start(chat_api_process(api_port, api_env, log_path=api_log))
        api_url = local_url(api_port)
        workers = len(process_tree(api)) - 1
        report.setup = {
            "worker_class": "gevent",
            "workers": workers,
            "log_level": "INFO",
            "dynamodb_timeout_s": DYNAMODB_TIMEOUT_S,
            "logs": str(stack.log_dir),
            "model_server": f"--ttft-ms {plan.ttft_ms} --inter-token-ms 0 (part 1)",
        }
        say(
            f"setup: chat API = gunicorn -c chat-api/gunicorn.conf.py, gevent worker, "
            f"{workers} workers (WEB_CONCURRENCY default = CPU count), LOG_LEVEL=INFO "
            f"(one JSON log line per request), DYNAMODB_TIMEOUT={DYNAMODB_TIMEOUT_S} s instead "
            f"of 3 s (the local DynamoDB queues requests); logs in {stack.log_dir}"
        )
        parties = {"chat API": api, "model server": model, "local AWS (moto)": aws}

        # Warm-up, not measured: each worker fetches the JWKS and builds its boto3 clients.
        warm = Plan(**{**asdict(plan), "virtual_users": 16, "requests_per_user": 1})
        asyncio.run(virtual_users(api_url, tokens, warm, post_chat))
        asyncio.run(virtual_users(api_url, tokens, warm, post_stream))

        if not args.streams_only:
            part_latency(report, plan, api_url, tokens, parties)
        part_streams(report, plan, api_url, tokens, model_control, api, parties)
        if not args.streams_only:
            part_health(report, plan, api_url, api_env, stack, api, parties)
        part_memory(report, workers)
        if args.compare_workers:
            api.stop()  # so the gthread instance has the cores to itself
            del parties["chat API"]
            part_workers(report, plan, tokens, model_control, stack, api_env, parties)
        judge_targets(report)
    finally:
        if model_control is not None:
            model_control.close()
        stack.stop_all()
        report.started_pids = stack.pids
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(asdict(report), indent=2) + "\n")
    say(f"\nJSON: {args.output}")
    if args.record:
        args.record.write_text(json.dumps(scaling_inputs(report), indent=2) + "\n")
        say(f"figures for scripts/scaling.py: {args.record}")
    return 0


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    args = parse_args(argv)
    try:
        return run(args)
    except (KeyboardInterrupt, Interrupted):
        print("interrupted; every started process was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
