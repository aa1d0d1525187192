"""Bedrock failures: retried with backoff within the deadline, then mapped to clear errors."""

from __future__ import annotations

import pytest


def _chat(api, user, path="/chat"):
    return api.post(path, json={"message": "hello there"}, headers=user.headers)


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
def test_throttling_is_retried_then_succeeds(api, fresh_user, model, path):
    model.configure(fault="throttle", fault_count=2)
    response = _chat(api, fresh_user, path)
    assert response.status_code == 200, response.text
    operation = "converse" if path == "/chat" else "converse_stream"
    assert model.stats()[operation] == 3  # two throttled attempts, then the answer


def test_persistent_throttling_is_429_with_retry_after(api, fresh_user, model, openapi_validator):
    model.configure(fault="throttle")
    response = _chat(api, fresh_user)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    openapi_validator("ErrorBody", response.json())
    assert response.json()["error"]["code"] == "model_throttled"
    assert model.stats()["converse"] == 4  # BEDROCK_MAX_ATTEMPTS
    assert api.get("/conversations", headers=fresh_user.headers).json()["conversations"] == []


def test_throttled_stream_is_a_plain_429_before_any_event(api, fresh_user, model):
    model.configure(fault="throttle")
    response = _chat(api, fresh_user, "/chat/stream")
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/json")
    assert "Retry-After" in response.headers


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("unavailable", 503, "model_unavailable"),
        ("internal", 503, "model_unavailable"),
        ("model_not_ready", 503, "model_unavailable"),
    ],
)
def test_server_side_faults_are_retried_then_mapped(api, fresh_user, model, fault, status, code):
    model.configure(fault=fault)
    response = _chat(api, fresh_user)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert model.stats()["converse"] == 4


def test_transient_5xx_recovers(api, fresh_user, model):
    model.configure(fault="unavailable", fault_count=1)
    assert _chat(api, fresh_user).status_code == 200
    assert model.stats()["converse"] == 2


def test_slow_model_hits_the_deadline_as_504(start_api, fresh_user, model):
    import httpx

    server = start_api(BEDROCK_READ_TIMEOUT="1", BEDROCK_DEADLINE="2")
    model.configure(ttft_ms=3000)
    response = httpx.post(
        server.url + "/api/v1/chat", json={"message": "hi"}, headers=fresh_user.headers, timeout=30
    )
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "model_timeout"
    assert model.stats()["converse"] == 1  # a read timeout is not retried


def test_unreachable_model_is_503(start_api, fresh_user):
    import httpx

    from local_stack.processes import free_port

    server = start_api(
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=f"http://127.0.0.1:{free_port()}", BEDROCK_DEADLINE="3"
    )
    response = httpx.post(
        server.url + "/api/v1/chat", json={"message": "hi"}, headers=fresh_user.headers, timeout=30
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"


def test_a_stream_that_stalls_mid_reply_ends_with_model_timeout(start_api, fresh_user, model):
    import httpx

    from support import open_stream, sse_events

    server = start_api(BEDROCK_READ_TIMEOUT="1", BEDROCK_DEADLINE="5")
    model.configure(inter_token_ms=4000)  # the first words come, then nothing for 4 s
    with open_stream(server.url + "/api/v1", fresh_user, "tell me a story", timeout=30) as response:
        assert response.status_code == 200
        events = sse_events(response)
    assert [name for name, _ in events[:2]] == ["meta", "delta"]
    assert events[-1][0] == "error"
    assert events[-1][1]["code"] == "model_timeout"  # retryable, and says what happened
    listing = httpx.get(
        server.url + "/api/v1/conversations", headers=fresh_user.headers, timeout=30
    ).json()
    assert listing["conversations"] == []
