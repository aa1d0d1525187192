"""The server-side sessions (web_ui/sessions.py): the cookie, the origin check, the memory
store, and the claim and end endpoints through Starlette's test client (the browser tests drive
the same endpoints in chromium against the real server)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import pytest
from async_run import run
from starlette.testclient import TestClient

from local_stack.processes import free_port
from web_ui import sessions
from web_ui.sessions import (
    LOCAL_COOKIE,
    SECURE_COOKIE,
    MemorySessionStore,
    RedisSessionStore,
    SessionRecord,
    key_of,
    origin_allowed,
    session_cookie,
    session_id_from_cookies,
)

APP = "http://127.0.0.1:3000"


def record(**changes) -> SessionRecord:
    values = {
        "email": "a@example.com",
        "cognito_username": "sub-1",
        "access_token": "sealed-access",
        "refresh_token": "sealed-refresh",
        "expires_at": time.time() + 3600,
        "ends_at": time.time() + 86400,
    }
    return SessionRecord(**(values | changes))


def test_the_cookie_is_httponly_samesite_and_secure_outside_local():
    secure = session_cookie("abc", secure=True, max_age=60)
    assert secure.startswith(f"{SECURE_COOKIE}=abc;")
    for attribute in ("Path=/", "Max-Age=60", "HttpOnly", "SameSite=Strict", "Secure"):
        assert attribute in secure.split("; ")
    local = session_cookie("abc", secure=False, max_age=60)
    assert local.startswith(f"{LOCAL_COOKIE}=abc;") and "Secure" not in local
    assert "Max-Age=0" in session_cookie("", secure=True, max_age=0)


def test_only_an_id_of_the_right_shape_is_read_from_the_cookies():
    session_id = sessions.new_secret()
    assert session_id_from_cookies(f"x=1; {LOCAL_COOKIE}={session_id}", False) == session_id
    assert session_id_from_cookies(f"{LOCAL_COOKIE}={session_id}", True) == ""  # other name
    assert session_id_from_cookies(f"{SECURE_COOKIE}={session_id}", True) == session_id
    assert session_id_from_cookies(f"{LOCAL_COOKIE}=short", False) == ""
    assert session_id_from_cookies(f'{LOCAL_COOKIE}="{"a" * 30}<script>"', False) == ""
    assert session_id_from_cookies('bad"cookie; ;;=', False) == ""
    assert session_id_from_cookies("", False) == ""


@pytest.mark.parametrize(
    ("origin", "host", "deploy", "allowed"),
    [
        (APP, "127.0.0.1:3000", None, True),
        ("https://app.example.com", "app.example.com", None, True),  # TLS ends at the ALB
        ("https://evil.example", "app.example.com", None, False),
        ("https://app.example.com.evil.example", "app.example.com", None, False),
        ("null", "app.example.com", None, False),
        ("", "app.example.com", None, False),
        ("file://app.example.com", "app.example.com", None, False),
        ("https://chat.example.com", "api.example.com", "https://chat.example.com/", True),
        ("https://other.example.com", "api.example.com", "https://chat.example.com", False),
    ],
)
def test_origins(origin, host, deploy, allowed):
    assert origin_allowed(origin, host, deploy) is allowed


def test_the_memory_store_forgets_ended_sessions_and_uses_tickets_once():
    store = MemorySessionStore()
    run(store.save("k1", record()))
    assert run(store.load("k1")).email == "a@example.com"
    run(store.save("k2", record(ends_at=time.time() - 1)))
    assert run(store.load("k2")) is None
    assert run(store.load("")) is None
    run(store.delete("k1"))
    assert run(store.load("k1")) is None
    run(store.put_ticket("t1", "sealed-id"))
    assert run(store.take_ticket("t1")) == "sealed-id"
    assert run(store.take_ticket("t1")) == ""


def test_the_memory_store_has_a_bound():
    store = MemorySessionStore(limit=3)
    for index in range(10):
        run(store.save(f"k{index}", record()))
    assert [run(store.load(f"k{index}")) is not None for index in range(10)] == [False] * 7 + [
        True
    ] * 3


@pytest.fixture
def store(monkeypatch) -> MemorySessionStore:
    store = MemorySessionStore()
    monkeypatch.setattr(sessions, "session_store", lambda: store)
    monkeypatch.setenv("APP_ENV", "local")
    return store


@pytest.fixture
def client() -> TestClient:
    return TestClient(sessions.routes(), base_url=APP)


HEADERS = {"Origin": APP, "X-Chat-Session": "1"}


def test_a_ticket_is_exchanged_once_for_the_cookie(store, client):
    key, ticket = run(sessions.start_session(record()))
    answer = client.post("/_event/session/claim", json={"ticket": ticket}, headers=HEADERS)
    assert answer.status_code == 204
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{LOCAL_COOKIE}=") and "HttpOnly" in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert key_of(session_id) == key  # the cookie names the session the sign-in made
    again = client.post("/_event/session/claim", json={"ticket": ticket}, headers=HEADERS)
    assert again.status_code == 403 and "set-cookie" not in again.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "X-Chat-Session": "1"},
        {"X-Chat-Session": "1"},
        {"Origin": APP},
        {**HEADERS, "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_claim_from_elsewhere_is_refused_and_keeps_the_ticket(store, client, headers):
    _, ticket = run(sessions.start_session(record()))
    answer = client.post("/_event/session/claim", json={"ticket": ticket}, headers=headers)
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert answer.json()["error"]["code"] == "session_refused"
    # The ticket was not spent: the real tab can still claim it.
    assert client.post("/_event/session/claim", json={"ticket": ticket}, headers=HEADERS).is_success


@pytest.mark.parametrize(
    "body", [b"", b"[]", b'{"ticket": 5}', b'{"ticket": "short"}', b"{", b"x" * 5000]
)
def test_odd_claims_are_bad_requests(store, client, body):
    answer = client.post("/_event/session/claim", content=body, headers=HEADERS)
    assert answer.status_code == 400 and "set-cookie" not in answer.headers


def test_an_unknown_ticket_gets_no_cookie(store, client):
    answer = client.post("/_event/session/claim", json={"ticket": "x" * 43}, headers=HEADERS)
    assert answer.status_code == 403 and "set-cookie" not in answer.headers


def test_end_deletes_the_session_and_clears_the_cookie(store, client):
    key, ticket = run(sessions.start_session(record()))
    assert client.post("/_event/session/claim", json={"ticket": ticket}, headers=HEADERS).is_success
    refused = client.post("/_event/session/end", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and run(store.load(key)) is not None
    answer = client.post("/_event/session/end", headers=HEADERS)
    assert answer.status_code == 204
    assert f"{LOCAL_COOKIE}=;" in answer.headers["set-cookie"]
    assert "Max-Age=0" in answer.headers["set-cookie"]
    assert run(store.load(key)) is None
    assert client.post("/_event/session/end", headers=HEADERS).status_code == 204  # idempotent


def test_outside_local_the_cookie_is_secure_and_host_bound(store, client, monkeypatch):
    _, ticket = run(sessions.start_session(record()))
    monkeypatch.setenv("APP_ENV", "prod")  # (after the seal's key was made for the local stack)
    answer = client.post("/_event/session/claim", json={"ticket": ticket}, headers=HEADERS)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE}=") and "; Secure" in cookie


# --- the Redis store, against a real redis-server ------------------------------------------------

REDIS_SERVER = Path("/usr/bin/redis-server")


@pytest.fixture(scope="module")
def redis_url():
    if not REDIS_SERVER.exists():
        pytest.fail("redis-server is missing: apt-get install redis-server (make web-ui-browser)")
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_redis_store_shares_sessions_and_uses_tickets_once(redis_url):
    async def scenario():
        # Two stores on one Redis: two web-ui tasks.
        first, second = RedisSessionStore(redis_url), RedisSessionStore(redis_url)
        await first.save("k1", record(ends_at=time.time() + 60))
        assert (await second.load("k1")).email == "a@example.com"
        await first.put_ticket("t1", "sealed-id")
        taken = await asyncio.gather(first.take_ticket("t1"), second.take_ticket("t1"))
        assert sorted(taken) == ["", "sealed-id"]  # one task wins the race, once
        await second.delete("k1")
        assert await first.load("k1") is None
        assert await first.load("") is None
        await first.save("k2", record(ends_at=time.time() + 1.2))
        ttl = await first._redis.ttl(f"{RedisSessionStore.PREFIX}session:k2")
        assert 0 < ttl <= 2  # Redis expires the record with the session
        raw = await first._redis.get(f"{RedisSessionStore.PREFIX}session:k2")
        assert b"sealed-access" in raw and b"a@example.com" in raw
        await first._redis.aclose()
        await second._redis.aclose()

    run(scenario())
