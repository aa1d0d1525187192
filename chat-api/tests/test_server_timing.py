"""Where the time goes: the Server-Timing header and log spans, over HTTP through Gunicorn; and the
emotion model loaded once per instance, in the Gunicorn master, before the workers fork."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import httpx
import psutil

from chat_api.emotion.cpu import int8_dot_product
from support import open_stream, sse_events

SPANS = ["auth", "emotion", "storage", "model", "total"]
# RFC 8941-style: `name;dur=<number>` with optional `;desc="..."`, entries separated by ", ".
ENTRY = re.compile(r'^(?P<name>[a-z]+);dur=(?P<dur>\d+(?:\.\d+)?)(?:;desc="[^"]*")?$')


def parse_server_timing(value: str) -> dict[str, float]:
    spans = {}
    for entry in value.split(", "):
        match = ENTRY.match(entry)
        assert match, f"not a Server-Timing entry: {entry!r} in {value!r}"
        spans[match["name"]] = float(match["dur"])
    assert list(spans) == SPANS, value
    return spans


def _access_lines(path, request_id: str) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return [
        line
        for line in lines
        if line.get("logger") == "chat_api.access" and line.get("request_id") == request_id
    ]


def test_chat_answers_with_the_spans_of_each_part(api, fresh_user, model):
    model.configure(ttft_ms=150)
    response = api.post(
        "/chat", json={"message": "I am worried about my exam"}, headers=fresh_user.headers
    )
    assert response.status_code == 200
    spans = parse_server_timing(response.headers["Server-Timing"])
    assert spans["model"] >= 150  # the model server waited 150 ms before answering
    assert spans["auth"] > 0 and spans["emotion"] > 0
    assert spans["storage"] > 0  # limits, history and the turn's write in the local DynamoDB
    parts = spans["auth"] + spans["emotion"] + spans["storage"] + spans["model"]
    assert parts <= spans["total"] < spans["model"] + 1000


def test_a_refused_request_has_timing_too_and_no_model_time(api):
    response = api.post(
        "/chat", json={"message": "hi"}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401
    spans = parse_server_timing(response.headers["Server-Timing"])
    assert spans["model"] == 0 and spans["storage"] == 0 and spans["emotion"] == 0
    assert spans["auth"] > 0


def test_stream_sends_the_spans_known_before_the_body_then_all_in_done(api, fresh_user, model):
    model.configure(ttft_ms=100, inter_token_ms=10)
    with open_stream(api, fresh_user, "Wow, I passed!") as response:
        assert response.status_code == 200
        header = response.headers["Server-Timing"]
        events = sse_events(response)
    early = parse_server_timing(header)
    assert header.endswith(';desc="until headers"')
    done = dict(events)["done"]["server_timing"]
    assert list(done) == SPANS
    # The tokens came after the headers: the done event's model time holds the wait for them.
    assert done["model"] >= 100 and done["model"] > early["model"]
    assert done["total"] > early["total"]
    assert done["auth"] == early["auth"] and done["emotion"] == early["emotion"]
    assert done["storage"] > early["storage"]  # the turn was written after the last token


def test_the_log_line_carries_the_spans_with_the_request_id(start_api, fresh_user):
    server = start_api()
    with open_stream(
        server.url + "/api/v1",
        fresh_user,
        "I miss my grandmother",
        headers={"X-Request-ID": "timing-log-1"},
        timeout=30,
    ) as response:
        done = dict(sse_events(response))["done"]["server_timing"]
    time.sleep(0.3)  # the line is written when the server closes the response
    (entry,) = _access_lines(server.log_file, "timing-log-1")
    spans = entry["spans_ms"]
    assert list(spans) == SPANS
    assert spans["total"] == entry["latency_ms"] >= done["total"]
    assert spans["model"] >= done["model"]  # plus the wait for the end of the model stream
    # The stream's slot is given back after `done`: one more storage call in the log's spans.
    assert spans["storage"] >= done["storage"]


def _workers(master: psutil.Process, count: int, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = master.children()
        if len(children) == count:
            return children
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers, found {len(master.children())}")


def _log_lines(log_file) -> list[dict]:
    return [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]


def _model_loads(log_file) -> list[dict]:
    return [line for line in _log_lines(log_file) if line.get("message") == "emotion model loaded"]


def test_the_emotion_model_is_loaded_once_in_the_master_and_shared(start_api, fresh_user):
    server = start_api(WEB_CONCURRENCY="2")
    master = psutil.Process(server.pid)
    old_workers = _workers(master, 2)
    loads = _model_loads(server.log_file)
    assert [line["pid"] for line in loads] == [server.pid]  # the master, before forking
    # The host's int8 dot-product instructions are in the line: they set the encoder's speed.
    assert loads[0]["int8_dot_product"] == int8_dot_product()
    slow_host = [
        line
        for line in _log_lines(server.log_file)
        if line.get("message", "").startswith("emotion encoder on a CPU without int8")
    ]
    assert len(slow_host) == (0 if int8_dot_product() else 1)

    # A worker killed outright is replaced by a fresh fork of the master, which already holds
    # the model: it serves without reading the artifact again.
    os.kill(old_workers[0].pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = _workers(master, 2)
        if old_workers[0].pid not in {w.pid for w in workers}:
            break
        time.sleep(0.1)
    for _ in range(6):  # new conversations, served by either worker
        response = httpx.post(
            server.url + "/api/v1/chat",
            json={"message": "I am so happy"},
            headers=fresh_user.headers,
            timeout=30,
        )
        assert response.status_code == 200
        assert response.json()["emotion"]["label"] == "joy"
    assert [line["pid"] for line in _model_loads(server.log_file)] == [server.pid]
