"""Simulated people: streamed chat turns and ratings that retry what a client may retry.

A person sends each message with a tag that is unique to it (scenario, person, turn) and keeps
that text on every retry, so the checks can count how often one message was stored. Every
failure a client sees is classified:

- clear: an HTTP error in the documented shape {"error": {"code", "message", "request_id"}}
  with a retryable status (429, 502, 503, 504), or an SSE `error` event with a code;
- transport: the connection refused, reset, or a stream cut before its `done` or `error`
  event (what a client sees when a process dies; allowed only where the fault kills one);
- unclear: anything else (a 500, a body off the error shape, an unexpected 4xx): always a
  failed invariant.

Clear and transport failures are retried after Retry-After (or a short backoff) until the
person's deadline.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from local_stack.aws_bootstrap import create_user, sign_in

RETRYABLE_STATUSES = (429, 502, 503, 504)
CLIENT_READ_TIMEOUT = 90
PASSWORD = "Chaos-Passw0rd!x"  # noqa: S105 - users of the run's own throw-away stack
MESSAGES = (
    "I finally finished my project and I feel proud",
    "I am worried about the interview tomorrow",
    "My friend did not call back and I feel a bit low",
    "Wow, I did not expect that result at all",
)


@dataclass
class Tally:
    """What the clients of one scenario saw; shared by the people's threads."""

    requests: int = 0
    errors: Counter = field(default_factory=Counter)
    unclear: list[str] = field(default_factory=list)
    # tag -> (conversation_id, assistant message_id) of the turns that ended with `done`
    completed: dict[str, tuple[str, str]] = field(default_factory=dict)
    # tag -> feedback_id of the ratings answered 202
    accepted: dict[str, str] = field(default_factory=dict)
    gave_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> None:
        with self.lock:
            self.requests += 1

    def error(self, kind: str, unclear: str | None = None) -> None:
        with self.lock:
            self.errors[kind] += 1
            if unclear:
                self.unclear.append(unclear)

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


class Retry(Exception):
    """A failure the client may retry; `delay` is Retry-After when the server gave one."""

    def __init__(self, kind: str, delay: float | None = None):
        super().__init__(kind)
        self.kind = kind
        self.delay = delay


class GiveUp(Exception):
    pass


def _error_shape(response: httpx.Response) -> str | None:
    """The error code when the body is the documented error shape, else None."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(error, dict) and {"code", "message", "request_id"} <= set(error):
        return error["code"]
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def check_failure(response: httpx.Response, tally: Tally) -> Retry:
    """The Retry for a retryable error response; an unclear one is recorded and ends the action."""
    code = _error_shape(response)
    kind = f"{response.status_code} {code or '(no error shape)'}"
    if code and response.status_code in RETRYABLE_STATUSES:
        tally.error(kind)
        return Retry(kind, _retry_after(response))
    tally.error(kind, unclear=f"{kind}: {response.text[:200]}")
    raise GiveUp(kind)


class Person:
    """One Cognito user of the stack, chatting over /chat/stream and rating the replies."""

    def __init__(
        self, api_url: str, token: str, tally: Tally, *, deadline: float, max_delay: float = 5
    ):
        self.http = httpx.Client(
            base_url=f"{api_url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            # Longer than the chat API's own worst case (storage calls retried on the slow local
            # endpoint, the model's deadline): an answer, even an error, must come before it.
            timeout=httpx.Timeout(CLIENT_READ_TIMEOUT, connect=5),
        )
        self.tally = tally
        self.deadline = deadline
        self.max_delay = max_delay
        self.conversation_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def _retrying(self, action, tag: str, retries: bool = True):
        attempt = 0
        while True:
            try:
                return action()
            except Retry as retry:
                if not retries:
                    raise GiveUp(retry.kind) from None
                attempt += 1
                delay = retry.delay if retry.delay is not None else min(2.0, 0.2 * 2**attempt)
                delay = min(delay, self.max_delay)
                if time.monotonic() + delay > self.deadline:
                    with self.tally.lock:
                        self.tally.gave_up.append(f"{tag}: {retry.kind}")
                    raise GiveUp(retry.kind) from None
                time.sleep(delay)

    def _transport(self, kind: str) -> Retry:
        self.tally.error(kind)
        return Retry(kind)

    @contextlib.contextmanager
    def _transport_failures(self, *, dropped: str) -> Iterator[None]:
        """Turns what the transport raises into a Retry of its kind: the connection refused,
        the client's read timeout, or `dropped` (the connection lost during the request)."""
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise self._transport("connection refused") from None
        except (httpx.RemoteProtocolError, httpx.ReadError):
            raise self._transport(dropped) from None
        except httpx.ReadTimeout:
            raise self._transport("client read timeout") from None

    def chat_turn(
        self, tag: str, text: str, opened: threading.Event | None = None, *, retries: bool = True
    ) -> bool:
        """One turn, retried until it ends with `done`; True when it did."""
        message = f"[{tag}] {text}"
        # One key per message, kept on every retry: a retry of a turn that was stored (whose
        # answer the client lost) gets that turn back instead of storing a second one.
        headers = {"Idempotency-Key": str(uuid.uuid5(uuid.NAMESPACE_URL, f"chaos-turn/{tag}"))}
        body = {"message": message}
        if self.conversation_id:
            body["conversation_id"] = self.conversation_id

        def attempt():
            self.tally.count()
            with (
                self._transport_failures(dropped="stream cut"),
                self.http.stream("POST", "/chat/stream", json=body, headers=headers) as response,
            ):
                if response.status_code != 200:
                    response.read()
                    raise check_failure(response, self.tally)
                return self._read_stream(response, tag, opened)

        try:
            return self._retrying(attempt, tag, retries)
        except GiveUp:
            return False

    def _read_stream(self, response, tag: str, opened: threading.Event | None) -> bool:
        event, meta = None, None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:])
                if event == "meta":
                    meta = data
                elif event == "delta" and opened is not None:
                    opened.set()
                elif event == "done":
                    conversation_id = meta["conversation_id"]
                    self.conversation_id = conversation_id
                    with self.tally.lock:
                        self.tally.completed[tag] = (conversation_id, meta["message_id"])
                    return True
                elif event == "error":
                    kind = f"stream error {data.get('code')}"
                    if not data.get("code"):
                        self.tally.error(kind, unclear=f"{kind}: {data}")
                        raise GiveUp(kind)
                    self.tally.error(kind)
                    raise Retry(kind)
        raise self._transport("stream cut")

    def rate(self, tag: str) -> bool:
        """Rates the reply of turn `tag` once; the idempotency key makes retries safe."""
        conversation_id, message_id = self.tally.completed[tag]
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"chaos-rating/{tag}"))
        body = {"conversation_id": conversation_id, "message_id": message_id, "rating": "up"}

        def attempt():
            self.tally.count()
            with self._transport_failures(dropped="connection reset"):
                response = self.http.post("/feedback", json=body, headers={"Idempotency-Key": key})
            if response.status_code != 202:
                raise check_failure(response, self.tally)
            with self.tally.lock:
                self.tally.accepted[tag] = response.json()["feedback_id"]
            return True

        try:
            return self._retrying(attempt, tag)
        except GiveUp:
            return False


def sign_up_people(config: dict, aws_url: str, count: int) -> list[str]:
    """Access tokens of `count` new users of the stack's pool, signed up side by side."""
    region, pool = config["AWS_REGION"], config["COGNITO_USER_POOL_ID"]

    def sign_up(_) -> str:
        email = f"chaos-{uuid.uuid4().hex[:10]}@example.com"
        create_user(aws_url, region, pool, email, PASSWORD)
        tokens = sign_in(aws_url, region, config["COGNITO_APP_CLIENT_ID"], email, PASSWORD)
        return tokens["AccessToken"]

    with ThreadPoolExecutor(max_workers=8) as pool_of_threads:
        return list(pool_of_threads.map(sign_up, range(count)))
