"""Helpers shared by the chat API's tests (fixtures live in conftest.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import moto.cognitoidp
from joserfc.jwk import RSAKey

from chatbot_common.sse import json_events
from local_stack.harness import LocalStack, User, new_user

__all__ = [
    "LocalStack",
    "User",
    "api_env",
    "iter_sse",
    "moto_key",
    "new_user",
    "open_stream",
    "sse_events",
]

UNLIMITED_TIER = {
    "messages_per_minute": 100_000,
    "tokens_per_day": 1_000_000_000,
    "concurrent_streams": 1000,
}


def api_env(stack: LocalStack, **overrides: str) -> dict[str, str]:
    env = {
        **stack.config,
        "WEB_CONCURRENCY": "1",
        "READINESS_CACHE_SECONDS": "0",
        "BEDROCK_READ_TIMEOUT": "10",
        "BEDROCK_DEADLINE": "20",
        "GRACEFUL_TIMEOUT": "20",
        # The suite's session users send many messages; the limits have their own tests
        # (test_limits.py), which start servers with the limits they prove.
        "USAGE_TIERS": json.dumps({"free": UNLIMITED_TIER}),
        # No model titles: the suite counts and inspects model calls, and a title would be one
        # more. The title tests (test_history_features.py) start a server with them on.
        "TITLE_MAX_TOKENS": "0",
    }
    env.update(overrides)
    return env


def moto_key() -> RSAKey:
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    return RSAKey.import_key(json.loads(gzip.decompress(path.read_bytes())))


def iter_sse(response: httpx.Response):
    """(event, data) pairs of a text/event-stream body as they arrive."""
    return json_events(response.iter_lines())


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    return list(iter_sse(response))


def chat(api, user, message: str = "hello there", conversation_id: str | None = None) -> dict:
    """One chat turn over HTTP (`api`: an httpx client of /api/v1); a refusal fails the test."""
    body = {"message": message, **({"conversation_id": conversation_id} if conversation_id else {})}
    response = api.post("/chat", json=body, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def rate(api, user, turn: dict, rating: str = "up") -> httpx.Response:
    """The feedback request rating the reply of `turn` (a chat answer)."""
    return api.post(
        "/feedback",
        json={
            "conversation_id": turn["conversation_id"],
            "message_id": turn["message_id"],
            "rating": rating,
        },
        headers=user.headers,
    )


def open_stream(
    api: httpx.Client | str,
    user: User,
    message: str | dict,
    *,
    headers: dict[str, str] | None = None,
    **options,
):
    """POST /chat/stream as `user`: httpx's context manager of the streamed response.

    `api` is a client whose base URL is the API's /api/v1, or that URL (for a test's own
    server); `message` is the text, or the whole request body; `headers` are added to the
    user's; `options` go to httpx (a timeout)."""
    body = {"message": message} if isinstance(message, str) else message
    request = {"json": body, "headers": {**user.headers, **(headers or {})}, **options}
    if isinstance(api, str):
        return httpx.stream("POST", api + "/chat/stream", **request)
    return api.stream("POST", "/chat/stream", **request)


def stream_chat(api, user, message: str) -> list[tuple[str, dict]]:
    """One message through /chat/stream: the events of a stream that started (200)."""
    with open_stream(api, user, message) as response:
        assert response.status_code == 200, response.read()
        return sse_events(response)
