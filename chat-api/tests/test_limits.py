"""Per-user limits over HTTP against Gunicorn with two workers: the counters live in DynamoDB,
so exactly the limit gets through whichever worker takes each request; a refused request is a
429 with Retry-After that stores nothing and calls no model; other users are still served."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import httpx
import pytest

from chat_api.limits import UsageLimiter
from chatbot_common.aws import LOCAL_CREDENTIALS
from local_stack.processes import chat_api_process, free_port
from support import api_env, iter_sse, new_user, open_stream

TIERS = {
    # No tier claim (moto runs no trigger) or an unknown one: these limits.
    "free": {"messages_per_minute": 5, "tokens_per_day": 1_000_000, "concurrent_streams": 1},
    "tiny": {"messages_per_minute": 100, "tokens_per_day": 1, "concurrent_streams": 1},
    "plus": {"messages_per_minute": 100, "tokens_per_day": 1_000_000, "concurrent_streams": 3},
}


@pytest.fixture(scope="module")
def limited(stack):
    port = free_port()
    log = stack.logs / f"chat-api-limited-{port}.log"
    env = api_env(stack, WEB_CONCURRENCY="2", USAGE_TIERS=json.dumps(TIERS))
    process = chat_api_process(port, env, log_path=log)
    process.url = f"http://127.0.0.1:{port}/api/v1"
    process.log_file = log
    with process.start():
        yield process


@pytest.fixture
def http(limited):
    with httpx.Client(base_url=limited.url, timeout=30) as client:
        yield client


def _conversations(http, headers) -> int:
    return len(http.get("/conversations", headers=headers).json()["conversations"])


def _assert_refused(response, code: str, openapi_validator, max_retry_after: int):
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    openapi_validator("ErrorBody", body)
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    assert 1 <= int(response.headers["Retry-After"]) <= max_retry_after


def test_messages_per_minute_hold_across_two_workers(
    limited, http, stack, model, openapi_validator
):
    user, other = new_user(stack), new_user(stack)

    def send(n: int) -> httpx.Response:
        path = "/chat" if n % 2 else "/chat/stream"
        with httpx.Client(base_url=limited.url, timeout=30) as client:  # one connection each
            return client.post(path, json={"message": f"message {n}"}, headers=user.headers)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(send, range(16)))

    refused = [r for r in responses if r.status_code == 429]
    admitted = [r for r in responses if r.status_code != 429]
    statuses = [r.status_code for r in responses]
    assert len(admitted) == TIERS["free"]["messages_per_minute"], statuses
    for response in refused:
        _assert_refused(response, "rate_limited", openapi_validator, 70)
    # moto's TransactWriteItems sometimes fails (500) under a burst of parallel transactions;
    # such a turn is admitted and answered, then a 503 storage_unavailable that stores nothing.
    served = [r for r in admitted if r.status_code == 200]
    assert all(
        r.json()["error"]["code"] == "storage_unavailable" for r in admitted if r not in served
    )
    assert len(served) >= 3, statuses
    # Nothing stored and no model call for the refused ones.
    assert _conversations(http, user.headers) == len(served)
    assert model.stats()["converse"] + model.stats()["converse_stream"] == 5
    # Both workers answered (the counter, not a worker's memory, enforced the limit).
    ids = {r.headers["X-Request-ID"] for r in responses}
    pids = set()
    for line in limited.log_file.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("request_id") in ids and entry.get("message") == "request":
                pids.add(entry["pid"])
    assert len(pids) == 2, pids

    # Another user is still served, and the usage endpoint tells the story.
    assert http.post("/chat", json={"message": "hi"}, headers=other.headers).status_code == 200
    usage = http.get("/usage", headers=user.headers)
    assert usage.status_code == 200
    openapi_validator("UsageOut", usage.json())
    body = usage.json()
    assert body["tier"] == "free"
    assert body["limits"] == TIERS["free"]
    assert body["used"]["messages_this_minute"] == TIERS["free"]["messages_per_minute"]
    assert body["used"]["streams_open"] == 0
    assert body["used"]["tokens_today"] > 0
    minute = datetime.fromisoformat(body["resets"]["minute"].replace("Z", "+00:00"))
    # The count drops when the burst is a minute old (counted in 10-second buckets).
    assert timedelta(seconds=45) < minute - datetime.now(UTC) <= timedelta(seconds=71)
    assert body["resets"]["day"].endswith("T00:00:00Z")


def test_tokens_per_day_become_quota_exceeded(
    limited, http, stack, mint_token, model, openapi_validator
):
    headers = {"Authorization": f"Bearer {mint_token(tier='tiny')}"}
    first = http.post("/chat", json={"message": "one reply is the whole quota"}, headers=headers)
    assert first.status_code == 200
    used = first.json()["usage"]["input_tokens"] + first.json()["usage"]["output_tokens"]

    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    to_midnight = (midnight - datetime.now(UTC)).total_seconds()
    for path in ("/chat", "/chat/stream"):
        refused = http.post(path, json={"message": "and another"}, headers=headers)
        _assert_refused(refused, "quota_exceeded", openapi_validator, 86400)
        assert abs(int(refused.headers["Retry-After"]) - to_midnight) < 30
    assert _conversations(http, headers) == 1
    assert model.stats()["converse"] + model.stats()["converse_stream"] == 1
    usage = http.get("/usage", headers=headers).json()
    assert usage["tier"] == "tiny"
    assert usage["used"]["tokens_today"] == used
    assert usage["used"]["messages_this_minute"] == 1  # the refusals were not counted


def test_simultaneous_streams(limited, http, stack, model, openapi_validator):
    user, other = new_user(stack), new_user(stack)
    model.configure(inter_token_ms=60)
    first_delta, finished = threading.Event(), threading.Event()
    events: list[str] = []

    def stream() -> None:
        with open_stream(limited.url, user, "tell me a long story", timeout=60) as response:
            for name, _ in iter_sse(response):
                events.append(name)
                first_delta.set()
        finished.set()

    thread = threading.Thread(target=stream)
    thread.start()
    assert first_delta.wait(30)
    refused = http.post("/chat/stream", json={"message": "a second one"}, headers=user.headers)
    _assert_refused(refused, "rate_limited", openapi_validator, 60)
    assert http.get("/usage", headers=user.headers).json()["used"]["streams_open"] == 1
    # Another user streams meanwhile.
    with open_stream(http, other, "mine") as response:
        assert response.status_code == 200
        assert [name for name, _ in iter_sse(response)][-1] == "done"
    thread.join(60)
    assert finished.is_set() and events[-1] == "done"
    # The slot is free again once the stream ended; the refused one stored nothing.
    assert http.get("/usage", headers=user.headers).json()["used"]["streams_open"] == 0
    assert _conversations(http, user.headers) == 1
    model.configure(inter_token_ms=0)
    again = http.post("/chat/stream", json={"message": "now?"}, headers=user.headers)
    assert again.status_code == 200


def test_a_client_that_goes_away_gives_its_stream_slot_back(limited, http, stack, model):
    user = new_user(stack)
    model.configure(inter_token_ms=100)
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST",
            limited.url + "/chat/stream",
            json={"message": "a story I will not finish reading"},
            headers=user.headers,
        ) as response,
    ):
        assert response.status_code == 200
        for name, _ in iter_sse(response):
            if name == "delta":
                break
        # leaving both blocks closes the connection mid-stream
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if http.get("/usage", headers=user.headers).json()["used"]["streams_open"] == 0:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the stream slot was not given back after the client disconnected")


@pytest.mark.parametrize(
    ("claim", "tier"),
    [({"tier": "plus"}, "plus"), ({"tier": "gold"}, "free"), ({}, "free"), ({"tier": 7}, "free")],
)
def test_the_tier_claim_selects_the_limits(http, mint_token, claim, tier):
    headers = {"Authorization": f"Bearer {mint_token(**claim)}"}
    body = http.get("/usage", headers=headers).json()
    assert body["tier"] == tier
    assert body["limits"] == TIERS[tier]


def _limiter(stack, clock) -> UsageLimiter:
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.aws_url,
        region_name=stack.config["AWS_REGION"],
        **LOCAL_CREDENTIALS,
    )
    return UsageLimiter(
        client,
        stack.config["CONVERSATIONS_TABLE"],
        TIERS,
        "free",
        lease_seconds=300,
        clock=lambda: clock[0],
    )


def test_per_minute_means_any_sixty_seconds(stack):
    """No double burst at a minute's edge: 5 messages late in one minute leave no room early in
    the next; room comes back as they turn a minute old."""
    from chat_api.errors import RateLimited

    clock = [1_900_000_050.0]  # 50 s into a minute
    limiter, user = _limiter(stack, clock), f"window-test-{time.time_ns()}"
    for _ in range(5):
        limiter.admit(user, None, stream=False)
        clock[0] += 1
    clock[0] = 1_900_000_065.0  # 5 s into the next minute
    with pytest.raises(RateLimited) as refused:
        limiter.admit(user, None, stream=False)
    assert 1 <= refused.value.retry_after <= 70
    assert limiter.usage(user, None)["used"]["messages_this_minute"] == 5
    clock[0] += refused.value.retry_after
    limiter.admit(user, None, stream=False)  # the oldest have left the window
    clock[0] = 1_900_000_200.0
    assert limiter.usage(user, None)["used"]["messages_this_minute"] == 0


def test_a_lease_lapses_when_its_stream_never_gives_it_back(stack):
    """A worker killed mid-stream cannot release its slot; the lease expires on its own."""
    clock = [1_900_000_000.0]
    limiter = _limiter(stack, clock)
    user = f"lease-test-{time.time_ns()}"
    limiter.admit(user, None, stream=True)  # never released
    from chat_api.errors import RateLimited

    clock[0] += 60  # a new minute window, the lease still held
    with pytest.raises(RateLimited):
        limiter.admit(user, None, stream=True)
    clock[0] += 300  # past the lease
    admission = limiter.admit(user, None, stream=True)
    assert limiter.usage(user, None)["used"]["streams_open"] == 1
    admission.release()
    admission.release()  # once only
    assert limiter.usage(user, None)["used"]["streams_open"] == 0


def test_a_workers_stale_copy_of_the_counters_never_lets_one_more_through(stack):
    """Each worker decides on the counters as it last saw them; the write's condition checks
    what that decision used, so messages another worker admitted meanwhile still count."""
    from chat_api.errors import RateLimited

    clock = [1_900_000_000.0]  # the start of a 10-second bucket
    first, second = _limiter(stack, clock), _limiter(stack, clock)  # two workers
    user = f"stale-test-{time.time_ns()}"
    for _ in range(3):
        first.admit(user, None, stream=False)
    for _ in range(2):
        second.admit(user, None, stream=False)  # the first worker's copy still says 3
    clock[0] += 10  # a new bucket: the 5 are all in an earlier one
    with pytest.raises(RateLimited):
        first.admit(user, None, stream=False)
    assert first.usage(user, None)["used"]["messages_this_minute"] == 5


def test_a_stream_slot_given_back_on_another_worker_is_free_again(stack):
    """A refusal is only given on the counters as they are: a copy showing a slot still held
    is read again before the 429."""
    from chat_api.errors import RateLimited

    clock = [1_900_000_000.0]
    first, second = _limiter(stack, clock), _limiter(stack, clock)
    user = f"stale-lease-{time.time_ns()}"
    held = second.admit(user, None, stream=True)
    with pytest.raises(RateLimited):
        first.admit(user, None, stream=True)  # the first worker now remembers the lease
    held.release()  # on the other worker
    first.admit(user, None, stream=True)
    assert first.usage(user, None)["used"]["streams_open"] == 1


def test_a_chat_costs_four_dynamodb_calls_at_most(client, fresh_user):
    """Each DynamoDB call costs the API CPU (botocore builds, signs and parses it): the limits
    take one write to admit a message (a read first only when the worker has not seen the
    user's counters) and one for the tokens (with a stream's slot given back)."""
    from collections import Counter

    calls: Counter = Counter()
    dynamodb = client.application.extensions["chat_api"].clients.dynamodb
    dynamodb.meta.events.register("before-call.dynamodb", lambda **_: calls.update(["call"]))
    first = client.post("/api/v1/chat", json={"message": "hello"}, headers=fresh_user.headers)
    assert first.status_code == 200
    assert calls["call"] == 4  # counters read, admission, turn, tokens
    conversation_id = first.get_json()["conversation_id"]
    for path in ("/api/v1/chat", "/api/v1/chat/stream"):
        calls.clear()
        body = {"message": "and again", "conversation_id": conversation_id}
        response = client.post(path, json=body, headers=fresh_user.headers)
        assert response.status_code == 200
        assert b"event: error" not in response.get_data()
        assert calls["call"] == 4, path  # admission, history, turn, tokens (+ the slot)
