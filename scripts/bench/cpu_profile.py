"""The chat API's CPU per chat request, in process: where it goes and how many AWS calls it makes.

    .venv/bin/python -m bench.cpu_profile                 # CPU ms and DynamoDB calls per request
    .venv/bin/python -m bench.cpu_profile --cprofile 25   # and the 25 costliest functions

Starts the local AWS endpoint and the local model server (instant replies) on free ports, builds
the app with `create_app()` as Gunicorn does, and sends sequential chats through Flask's test
client: per endpoint, conversations of `--turns` messages (the first starts the conversation,
with its model title as `make bench` has it). It reports this process's CPU time (user + system,
so the test client's small share included) and the DynamoDB calls per request, counted by
botocore event hooks on the app's own client. Unlike `make bench`, nothing else competes for the
process, so the figure moves little with the machine's load.

It also splits each request's CPU into parts, timed with the process's CPU clock (no profiler,
so no profiler's overhead): the DynamoDB calls, the Bedrock call that opens the reply, reading
the reply's event stream, the emotion and risk models (`routes.chat._analyse`), and the rest
(Flask, the app's own code, JSON, logs, the test client).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from local_stack.harness import new_user, start_local_stack

from .plan import BENCH_TIER, MESSAGES


def _chat(client, path: str, headers: dict, message: str, conversation_id: str | None) -> str:
    body = {"message": message, **({"conversation_id": conversation_id} if conversation_id else {})}
    response = client.post(path, json=body, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code} {response.get_data(as_text=True)}")
    if path.endswith("/stream"):
        text = response.get_data(as_text=True)
        if "event: done" not in text:
            raise SystemExit(f"{path}: no done event: {text[-300:]}")
        meta = text.split("event: meta\ndata: ", 1)[1].split("\n", 1)[0]
        return json.loads(meta)["conversation_id"]
    return response.get_json()["conversation_id"]


class CpuParts:
    """Process CPU time spent inside named parts of the request, summed over a measurement."""

    def __init__(self) -> None:
        self.seconds: Counter = Counter()

    def timed(self, part: str, function):
        def run(*args, **kwargs):
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[part] += time.process_time() - started

        return run

    def time_client(self, client, part: str, stream_part: str | None = None) -> None:
        """Every call of a boto3 client into `part`; reading a returned event stream (Bedrock's
        reply) into `stream_part`."""
        call = self.timed(part, client._make_api_call)
        if stream_part is None:
            client._make_api_call = call
            return

        def call_with_timed_stream(*args, **kwargs):
            response = call(*args, **kwargs)
            if "stream" in response:
                response["stream"] = _TimedStream(response["stream"], self, stream_part)
            return response

        client._make_api_call = call_with_timed_stream


class _TimedStream:
    def __init__(self, stream, parts: CpuParts, part: str) -> None:
        self._stream, self._parts, self._part = stream, parts, part

    def __iter__(self):
        events = iter(self._stream)
        while True:
            started = time.process_time()
            try:
                event = next(events)
            except StopIteration:
                return
            finally:
                self._parts.seconds[self._part] += time.process_time() - started
            yield event

    def close(self) -> None:
        self._stream.close()


def measure(app, headers: dict, path: str, requests: int, turns: int, calls: Counter, parts=None):
    client = app.test_client()
    conversation_id = None
    calls.clear()
    if parts is not None:
        parts.seconds.clear()
    started = time.process_time()
    for n in range(requests):
        if n % turns == 0:
            conversation_id = None
        conversation_id = _chat(client, path, headers, MESSAGES[n % len(MESSAGES)], conversation_id)
    cpu_ms = (time.process_time() - started) * 1000 / requests
    return cpu_ms, {op: round(count / requests, 2) for op, count in sorted(calls.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="per endpoint (default 100)")
    parser.add_argument("--turns", type=int, default=5, help="messages per conversation")
    parser.add_argument("--cprofile", type=int, metavar="N", help="print the N costliest calls")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as logs, start_local_stack(Path(logs)) as stack:
        from chat_api import create_app

        env = {**stack.config, "LOG_LEVEL": "INFO", "USAGE_TIERS": json.dumps({"free": BENCH_TIER})}
        # The SDK reads its endpoints and credentials from the process environment, as the
        # chat API does under Gunicorn (local_stack.processes.chat_api_process).
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        app = create_app({"ENV": env})
        headers = new_user(stack).headers
        calls: Counter = Counter()
        clients = app.extensions["chat_api"].clients
        clients.dynamodb.meta.events.register(
            "before-call.dynamodb", lambda model, **_: calls.update([model.name])
        )
        parts = None if args.cprofile else CpuParts()
        if parts:
            from chat_api.routes import chat as chat_routes

            parts.time_client(clients.dynamodb, "DynamoDB calls")
            parts.time_client(clients.bedrock, "Bedrock call", "Bedrock event stream")
            chat_routes._analyse = parts.timed("emotion and risk", chat_routes._analyse)
        # Warm-up: the JWKS, the clients' first connections, the model's first run.
        measure(app, headers, "/api/v1/chat", 4, args.turns, calls)
        measure(app, headers, "/api/v1/chat/stream", 4, args.turns, calls)
        # CPU time, not wall time: the waits on the local servers are not the API's cost.
        profiler = cProfile.Profile(time.process_time) if args.cprofile else None
        for path in ("/api/v1/chat", "/api/v1/chat/stream"):
            if profiler:
                profiler.enable()
            cpu_ms, per_request = measure(
                app, headers, path, args.requests, args.turns, calls, parts
            )
            if profiler:
                profiler.disable()
            total = round(sum(per_request.values()), 2)
            print(f"{path}: {cpu_ms:.1f} ms CPU per request; DynamoDB calls per request {total}")
            print(f"  {per_request}")
            if parts:
                print(_parts_line(parts, cpu_ms, args.requests))
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.cprofile)
            stats.sort_stats("tottime").print_stats(args.cprofile)
            print(out.getvalue())
    return 0


def _parts_line(parts: CpuParts, cpu_ms: float, requests: int) -> str:
    shares = {part: seconds * 1000 / requests for part, seconds in parts.seconds.items()}
    shares["the rest"] = cpu_ms - sum(shares.values())
    return "  CPU ms per request: " + ", ".join(f"{part} {ms:.1f}" for part, ms in shares.items())


if __name__ == "__main__":
    sys.exit(main())
