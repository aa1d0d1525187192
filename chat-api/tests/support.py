"""Helpers shared by the chat API's tests (fixtures live in conftest.py)."""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import moto.cognitoidp
from joserfc import jwt
from joserfc.jwk import RSAKey

from local_stack.aws_bootstrap import create_user, sign_in

PASSWORD = "Test-Passw0rd!x"
UNLIMITED_TIER = {
    "messages_per_minute": 100_000,
    "tokens_per_day": 1_000_000_000,
    "concurrent_streams": 1000,
}


@dataclass
class Stack:
    aws_url: str
    model_url: str
    config: dict[str, str]
    logs: Path


@dataclass
class User:
    email: str
    token: str
    id_token: str
    sub: str = field(default="")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class ModelServer:
    """Controls the local model server's latency and faults (its /_local endpoints)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=10)

    def configure(self, **settings) -> None:
        response = self._http.put("/_local/config", json=settings)
        response.raise_for_status()

    def reset(self) -> None:
        self.configure(ttft_ms=0, inter_token_ms=0, fault=None, fault_count=None)
        self._http.post("/_local/stats/reset").raise_for_status()

    def stats(self) -> dict[str, int]:
        """Model requests received so far, per operation (converse, converse_stream)."""
        return self._http.get("/_local/stats").json()["requests"]

    def last_request(self) -> dict:
        """The latest model request: its operation, system prompt text and guardrail config."""
        response = self._http.get("/_local/last-request")
        response.raise_for_status()
        return response.json()


def api_env(stack: Stack, **overrides: str) -> dict[str, str]:
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


def new_user(stack: Stack, *, client_id: str | None = None) -> User:
    """A new user of the local pool, signed in through `client_id` (default: the app client)."""
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    config = stack.config
    create_user(
        stack.aws_url, config["AWS_REGION"], config["COGNITO_USER_POOL_ID"], email, PASSWORD
    )
    tokens = sign_in(
        stack.aws_url,
        config["AWS_REGION"],
        client_id or config["COGNITO_APP_CLIENT_ID"],
        email,
        PASSWORD,
    )
    claims = jwt.decode(tokens["AccessToken"], moto_key()).claims
    return User(email, tokens["AccessToken"], tokens["IdToken"], sub=claims["sub"])


def moto_key() -> RSAKey:
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    return RSAKey.import_key(json.loads(gzip.decompress(path.read_bytes())))


def iter_sse(response: httpx.Response):
    """Parses a text/event-stream body into (event, data) pairs as they arrive."""
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and name:
            yield name, json.loads("\n".join(data))
            name, data = None, []


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    return list(iter_sse(response))
