"""The load generator: chat requests as a client sends them, and the shapes of load."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from .figures import Outcome, _since, parse_server_timing
from .plan import MESSAGES, Plan


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
        spans=parse_server_timing(response.headers.get("Server-Timing", "")),
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
            spans=events["done"].get("server_timing"),
        )
    return Outcome(False, _since(started), first_delta_ms=first_delta, error=error)


def http_client(base_url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(60.0),
        trust_env=False,  # 127.0.0.1 only: no proxy from the environment
    )


async def virtual_users(
    base_url: str, tokens: list[str], plan: Plan, call, count: int | None = None
) -> list[Outcome]:
    """Each virtual user starts a conversation, then continues it for the remaining requests.

    Users start spread over one model latency, as real users do not arrive in lockstep; all
    `count` (default plan.virtual_users) are busy at once after that.
    """
    count = count or plan.virtual_users

    async def one_user(index: int) -> list[Outcome]:
        await asyncio.sleep(plan.ttft_ms / 1000 * index / count)
        token = tokens[index % len(tokens)]
        conversation_id, outcomes = None, []
        for turn in range(plan.requests_per_user):
            message = MESSAGES[(index + turn) % len(MESSAGES)]
            outcome = await call(client, token, message, conversation_id, plan)
            if outcome.ok:
                conversation_id = outcome.conversation_id
            outcomes.append(outcome)
        return outcomes

    async with http_client(base_url, count) as client:
        nested = await asyncio.gather(*(one_user(i) for i in range(count)))
    return [outcome for outcomes in nested for outcome in outcomes]


async def simultaneous_streams(base_url: str, tokens: list[str], n: int, plan) -> list[Outcome]:
    """N new conversations streamed at once, each on its own connection."""
    async with http_client(base_url, n) as client:
        calls = [
            post_stream(client, tokens[i % len(tokens)], MESSAGES[i % len(MESSAGES)], None, plan)
            for i in range(n)
        ]
        return await asyncio.gather(*calls)
