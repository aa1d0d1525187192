"""JSON-line logs with the request id; no tokens or message texts at INFO."""

from __future__ import annotations

import json
import time


def _log_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_request_id_is_taken_from_the_caller_and_echoed(api):
    response = api.get("/health", headers={"X-Request-ID": "trace-abc.123"})
    assert response.headers["X-Request-ID"] == "trace-abc.123"


def test_unsafe_request_id_is_replaced(api):
    response = api.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(response.headers["X-Request-ID"]) == 32


def test_access_log_is_json_with_request_fields_and_no_secrets(start_api, fresh_user):
    import httpx

    server = start_api()
    secret_text = "my very private sentence about Zanzibar"
    response = httpx.post(
        server.url + "/api/v1/chat",
        json={"message": secret_text},
        headers={**fresh_user.headers, "X-Request-ID": "req-log-test"},
        timeout=30,
    )
    assert response.status_code == 200
    time.sleep(0.2)
    raw = server.log_file.read_text()
    assert secret_text not in raw
    assert fresh_user.token not in raw and fresh_user.token.split(".")[2] not in raw
    access = [
        line
        for line in _log_lines(server.log_file)
        if line.get("logger") == "chat_api.access" and line.get("request_id") == "req-log-test"
    ]
    assert len(access) == 1
    entry = access[0]
    assert entry["method"] == "POST" and entry["path"] == "/api/v1/chat"
    assert entry["status"] == 200 and entry["user_id"] == fresh_user.sub
    assert entry["latency_ms"] > 0


def test_successful_health_probes_are_not_logged_at_info(start_api):
    import httpx

    server = start_api()
    for path in ("/api/v1/health", "/api/v1/health/ready"):
        assert httpx.get(server.url + path, headers={"X-Request-ID": "probe-1"}).status_code == 200
    httpx.get(server.url + "/api/v1/nope", headers={"X-Request-ID": "probe-2"})
    time.sleep(0.2)
    logged = {line.get("request_id") for line in _log_lines(server.log_file)}
    assert "probe-1" not in logged
    assert "probe-2" in logged  # everything else still is


def test_a_streams_access_line_tells_how_it_ended(start_api, fresh_user, model):
    """`stream_outcome`: completed, failed (with the error code), client_gone."""
    import httpx

    server = start_api()
    url = server.url + "/api/v1/chat/stream"

    def stream(request_id: str, *, leave_early: bool = False) -> None:
        headers = {**fresh_user.headers, "X-Request-ID": request_id}
        with httpx.stream("POST", url, json={"message": "hi"}, headers=headers, timeout=30) as r:
            for line in r.iter_lines():
                if leave_early and line.startswith("event: delta"):
                    return  # closes the connection mid-stream

    stream("outcome-completed")
    model.configure(fault="mid_stream")
    stream("outcome-failed")
    model.configure(fault=None, inter_token_ms=100)
    stream("outcome-gone", leave_early=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        access = {
            line["request_id"]: line
            for line in _log_lines(server.log_file)
            if line.get("logger") == "chat_api.access"
        }
        if "outcome-gone" in access:
            break
        time.sleep(0.2)
    assert access["outcome-completed"]["stream_outcome"] == "completed"
    assert access["outcome-failed"]["stream_outcome"] == "failed"
    assert access["outcome-failed"]["error_code"] in {"model_unavailable", "model_error"}
    assert access["outcome-gone"]["stream_outcome"] == "client_gone"
