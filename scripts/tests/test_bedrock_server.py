"""The local Bedrock-compatible server, driven through boto3 against the real server process.

A few tests at the end exercise the WSGI app in-process for input validation details.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from local_stack import bedrock_server, responder
from local_stack.bedrock_control import FAULTS, BadInput, Settings
from local_stack.bedrock_server import build_app

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = [pytest.mark.timeout(120), pytest.mark.stack]

SCRIPTS_DIR = Path(__file__).resolve().parents[1]
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.local-model-v1:0"
QUIET = {"ttft_ms": 0, "inter_token_ms": 0, "fault": None, "fault_count": None}


class ServerProcess:
    """`python -m local_stack.bedrock_server --port 0 ...` as a child process."""

    def __init__(self, *args: str):
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        env = {**os.environ, "PYTHONPATH": str(SCRIPTS_DIR)}
        command = [sys.executable, "-m", "local_stack.bedrock_server", "--port", "0", *args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self.log, env=env, text=True
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("listening on http://"):
            self.stop()
            raise RuntimeError(f"server did not start: {line!r} {self.stderr()}")
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def signal(self, signum: int) -> int:
        os.kill(self.process.pid, signum)
        return self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.log.close()


@pytest.fixture(scope="module")
def server():
    process = ServerProcess("--ttft-ms", "0", "--inter-token-ms", "0")
    yield process
    process.stop()


@pytest.fixture
def url(server) -> str:
    """The shared server's URL, with default behaviour and zeroed counters."""
    httpx.put(f"{server.url}/_local/config", json=QUIET).raise_for_status()
    httpx.post(f"{server.url}/_local/stats/reset").raise_for_status()
    return server.url


def make_client(url: str | None, **config):
    config.setdefault("retries", {"mode": "standard", "total_max_attempts": 1})
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )
    return session.client("bedrock-runtime", endpoint_url=url, config=Config(**config))


@pytest.fixture
def client(url):
    return make_client(url)


def send_headers(client, headers: dict[str, str]) -> None:
    """Add headers to every request the client sends (before it is signed)."""

    def add(request, **_):
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-runtime.*", add)


def system_for(emotion: str) -> list[dict]:
    return [{"text": f"Be kind.\nDetected emotion of the user's latest message: {emotion}"}]


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def converse_args(emotion="neutral", text="How do I plan a trip to Lisbon?", **extra) -> dict:
    return {"modelId": MODEL_ID, "system": system_for(emotion), "messages": [user(text)], **extra}


def read_stream(response) -> tuple[list[dict], str]:
    events = list(response["stream"])
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    return events, text


def stats(url: str) -> dict:
    return httpx.get(f"{url}/_local/stats").json()


def put_config(url: str, **fields) -> httpx.Response:
    return httpx.put(f"{url}/_local/config", json=fields)


# --- Converse and ConverseStream through boto3 ---------------------------------------------


def test_converse_answers_like_bedrock(client):
    answer = client.converse(**converse_args("joy", "I passed my driving test today"))
    message = answer["output"]["message"]
    assert message["role"] == "assistant"
    assert "I passed my driving test today" in message["content"][0]["text"]
    assert answer["stopReason"] == "end_turn"
    usage = answer["usage"]
    assert usage["outputTokens"] == len(message["content"][0]["text"].split())
    assert usage["inputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert isinstance(answer["metrics"]["latencyMs"], int)
    assert answer["ResponseMetadata"]["RequestId"]


def test_stream_deltas_join_to_the_converse_text(client):
    args = converse_args("fear", "I have a job interview tomorrow and I am shaking")
    converse_text = client.converse(**args)["output"]["message"]["content"][0]["text"]
    events, text = read_stream(client.converse_stream(modelId=PROFILE_ARN, **_without_model(args)))
    assert text == converse_text
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart"
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(kinds[1:-3]) == {"contentBlockDelta"}
    assert events[0]["messageStart"]["role"] == "assistant"
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == len(kinds) - 4
    assert "latencyMs" in events[-1]["metadata"]["metrics"]


def _without_model(args: dict) -> dict:
    return {key: value for key, value in args.items() if key != "modelId"}


def test_stream_matches_the_responder_exactly(client):
    args = converse_args("surprise", "My sister just announced she is moving to Japan")
    expected = responder.generate(args["system"], args["messages"], None).text
    assert read_stream(client.converse_stream(**args))[1] == expected


def test_emotions_change_the_reply_and_same_input_repeats(client):
    def reply(emotion: str) -> str:
        return client.converse(**converse_args(emotion))["output"]["message"]["content"][0]["text"]

    replies = {emotion: reply(emotion) for emotion in responder.EMOTIONS}
    assert len(set(replies.values())) == len(responder.EMOTIONS)
    assert reply("anger") == replies["anger"]


def test_endpoint_from_the_sdk_environment_variable(url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    answer = make_client(None).converse(**converse_args())
    assert answer["stopReason"] == "end_turn"
    assert stats(url)["requests"]["converse"] == 1


def test_max_tokens_stops_both_operations(client):
    args = converse_args("sadness", inferenceConfig={"maxTokens": 7})
    answer = client.converse(**args)
    assert answer["stopReason"] == "max_tokens"
    assert answer["usage"]["outputTokens"] == 7
    assert len(answer["output"]["message"]["content"][0]["text"].split()) == 7
    events, text = read_stream(client.converse_stream(**args))
    assert sum("contentBlockDelta" in event for event in events) == 7
    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert text == answer["output"]["message"]["content"][0]["text"]


# --- Errors --------------------------------------------------------------------------------

HTTP_FAULTS = [
    ("throttle", "ThrottlingException", 429),
    ("model_not_ready", "ModelNotReadyException", 429),
    ("unavailable", "ServiceUnavailableException", 503),
    ("internal", "InternalServerException", 500),
]


@pytest.mark.parametrize(("fault", "code", "status"), HTTP_FAULTS)
@pytest.mark.parametrize("operation", ["converse", "converse_stream"])
def test_each_fault_reaches_boto3_with_its_error_code(url, client, fault, code, status, operation):
    assert put_config(url, fault=fault).status_code == 200
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**converse_args())
    error = raised.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error["Error"]["Message"]
    assert error["ResponseMetadata"]["RequestId"]
    assert stats(url)["faults"][fault] == 1


def test_fault_count_fails_then_succeeds_and_boto3_retries(url):
    put_config(url, fault="unavailable", fault_count=2)
    client = make_client(url, retries={"mode": "standard", "total_max_attempts": 3})
    answer = client.converse(**converse_args())
    assert answer["stopReason"] == "end_turn"
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    counters = stats(url)
    assert counters["requests"]["converse"] == 3
    assert counters["faults"]["unavailable"] == 2
    assert httpx.get(f"{url}/_local/config").json()["fault_remaining"] == 0


def test_mid_stream_fault_raises_event_stream_error_after_some_deltas(url, client):
    args = converse_args("joy")
    full = responder.generate(args["system"], args["messages"], None)
    put_config(url, fault="mid_stream", fault_count=1)
    deltas = []
    with pytest.raises(EventStreamError) as raised:
        for event in client.converse_stream(**args)["stream"]:
            if "contentBlockDelta" in event:
                deltas.append(event["contentBlockDelta"]["delta"]["text"])
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert 0 < len(deltas) < full.output_tokens
    assert "".join(deltas) == "".join(full.chunks[: len(deltas)])
    # The count is used up: the next stream completes.
    assert read_stream(client.converse_stream(**args))[1] == full.text
    assert stats(url)["faults"]["mid_stream"] == 1


def test_mid_stream_fault_leaves_converse_alone(url, client):
    put_config(url, fault="mid_stream")
    assert client.converse(**converse_args())["stopReason"] == "end_turn"


BAD_BODIES = [
    {"messages": []},
    {"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]},
    {"messages": [user("a"), user("b")]},
    {"messages": [user("   ")]},
    {"messages": [{"role": "user", "content": []}]},
    {"messages": [user("hi")], "inferenceConfig": {"maxTokens": 0}},
    {"messages": [user("hi")], "inferenceConfig": {"maxTokens": 1_000_000}},
    {"messages": [user("hi")], "inferenceConfig": {"temperature": 3}},
    {"messages": [user("hi")], "system": [{"text": ""}]},
]


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("operation", ["converse", "converse_stream"])
def test_bad_bodies_are_validation_exceptions(url, body, operation):
    client = make_client(url, parameter_validation=False)
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(modelId=MODEL_ID, **body)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert stats(url)["validation_errors"] == 1


def test_bad_json_is_a_validation_exception(url):
    answer = httpx.post(f"{url}/model/m/converse", content=b"{not json")
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "JSON" in answer.json()["message"]
    assert answer.headers["x-amzn-RequestId"]


def test_unknown_path_is_an_unknown_operation(url):
    answer = httpx.post(f"{url}/model/m/invoke-something")
    assert answer.status_code == 404
    assert answer.headers["x-amzn-ErrorType"] == "UnknownOperationException"


# --- Per-request headers -------------------------------------------------------------------


def test_fault_header_overrides_the_server_without_using_its_count(url, client):
    send_headers(client, {"X-Local-Bedrock-Fault": "throttle"})
    with pytest.raises(ClientError) as raised:
        client.converse(**converse_args())
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"

    put_config(url, fault="internal", fault_count=1)
    calm = make_client(url)
    send_headers(calm, {"X-Local-Bedrock-Fault": "none"})
    assert calm.converse(**converse_args())["stopReason"] == "end_turn"
    assert httpx.get(f"{url}/_local/config").json()["fault_remaining"] == 1
    assert stats(url)["faults"] == {**dict.fromkeys(FAULTS, 0), "throttle": 1}


def test_mid_stream_header(client):
    send_headers(client, {"X-Local-Bedrock-Fault": "mid_stream"})
    with pytest.raises(EventStreamError):
        read_stream(client.converse_stream(**converse_args()))


def test_timing_headers_delay_the_answer(client):
    # The server itself is configured with no delay, so only the headers can add latency.
    send_headers(client, {"X-Local-Bedrock-Ttft-Ms": "400"})
    assert client.converse(**converse_args())["metrics"]["latencyMs"] >= 350
    events, _ = read_stream(client.converse_stream(**converse_args()))
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 350

    paced = make_client(client.meta.endpoint_url)
    send_headers(paced, {"X-Local-Bedrock-Inter-Token-Ms": "30"})
    answer = paced.converse(**converse_args(inferenceConfig={"maxTokens": 11}))
    assert answer["metrics"]["latencyMs"] >= 250


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Local-Bedrock-Ttft-Ms": "soon"},
        {"X-Local-Bedrock-Inter-Token-Ms": "-1"},
        {"X-Local-Bedrock-Ttft-Ms": "nan"},
        {"X-Local-Bedrock-Fault": "explode"},
    ],
)
def test_bad_control_headers_are_refused(client, headers):
    send_headers(client, headers)
    with pytest.raises(ClientError) as raised:
        client.converse(**converse_args())
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert next(iter(headers)) in raised.value.response["Error"]["Message"]


# --- Control endpoints ---------------------------------------------------------------------


def test_health(url):
    answer = httpx.get(f"{url}/_local/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_config_round_trip(url):
    answer = put_config(url, ttft_ms=12.5, fault="throttle", fault_count=3)
    assert answer.status_code == 200
    expected = {
        "ttft_ms": 12.5,
        "inter_token_ms": 0.0,
        "fault": "throttle",
        "fault_count": 3,
        "fault_remaining": 3,
    }
    assert answer.json() == expected
    assert httpx.get(f"{url}/_local/config").json() == expected
    cleared = put_config(url, fault=None).json()
    assert cleared["fault"] is None
    assert cleared["ttft_ms"] == 12.5


@pytest.mark.parametrize(
    "body",
    [
        {"ttft_ms": -1},
        {"ttft_ms": "fast"},
        {"inter_token_ms": True},
        {"inter_token_ms": 10_000_000},
        {"fault": "explode"},
        {"fault_count": -2},
        {"fault_count": 1.5},
        {"colour": "blue"},
        [],
    ],
)
def test_bad_config_is_refused_with_400(url, body):
    before = httpx.get(f"{url}/_local/config").json()
    answer = httpx.put(f"{url}/_local/config", json=body)
    assert answer.status_code == 400
    assert answer.json()["message"]
    assert httpx.get(f"{url}/_local/config").json() == before


def test_config_that_is_not_json_is_refused(url):
    answer = httpx.put(f"{url}/_local/config", content=b"ttft=5")
    assert answer.status_code == 400
    assert "JSON object" in answer.json()["message"]


def test_stats_count_requests_and_reset(url, client):
    client.converse(**converse_args())
    client.converse(**converse_args())
    read_stream(client.converse_stream(**converse_args()))
    counters = stats(url)
    assert counters["requests"] == {"converse": 2, "converse_stream": 1}
    assert counters["completed"] == {"converse": 2, "converse_stream": 1}
    assert counters["in_flight"] == 0
    assert counters["peak_in_flight"] >= 1
    reset = httpx.post(f"{url}/_local/stats/reset").json()
    assert reset["requests"] == {"converse": 0, "converse_stream": 0}
    assert stats(url)["completed"] == {"converse": 0, "converse_stream": 0}


# --- Serving ---------------------------------------------------------------------------------


def test_two_hundred_concurrent_streams_all_complete(url):
    put_config(url, ttft_ms=1000, inter_token_ms=5)
    client = make_client(url, max_pool_connections=200, read_timeout=120)

    def one_stream(number: int) -> tuple[str, str]:
        args = converse_args("sadness", f"Message number {number} about a hard day")
        expected = responder.generate(args["system"], args["messages"], None).text
        return read_stream(client.converse_stream(**args))[1], expected

    with ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(one_stream, range(200)))
    assert all(text == expected for text, expected in results)
    counters = stats(url)
    assert counters["completed"]["converse_stream"] == 200
    assert counters["peak_in_flight"] >= 10


def test_deltas_are_flushed_as_produced_and_sigterm_exits_zero():
    process = ServerProcess("--ttft-ms", "0", "--inter-token-ms", "600000")
    try:
        body = {"messages": [user("hello there")]}
        with (
            httpx.Client(timeout=15) as http,
            http.stream("POST", f"{process.url}/model/m/converse-stream", json=body) as answer,
        ):
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/vnd.amazon.eventstream"
            assert answer.headers["transfer-encoding"] == "chunked"
            assert answer.headers["x-amzn-RequestId"]
            # The next delta is ten minutes away: the first one must arrive on its own.
            buffer, kinds = EventStreamBuffer(), []
            for data in answer.iter_raw():
                buffer.add_data(data)
                kinds.extend(message.headers[":event-type"] for message in buffer)
                if len(kinds) >= 2:
                    break
            assert kinds == ["messageStart", "contentBlockDelta"]
            assert stats(process.url)["in_flight"] == 1
            # Stop the server while that stream is still open.
            assert process.signal(signal.SIGTERM) == 0
    finally:
        process.stop()


def test_sigint_exits_zero():
    process = ServerProcess()
    try:
        assert process.signal(signal.SIGINT) == 0
    finally:
        process.stop()


def test_start_up_fault_flags():
    process = ServerProcess("--fault", "model_not_ready", "--fault-count", "1", "--ttft-ms", "0")
    try:
        client = make_client(process.url)
        with pytest.raises(ClientError) as raised:
            client.converse(**converse_args())
        assert raised.value.response["Error"]["Code"] == "ModelNotReadyException"
        assert client.converse(**converse_args())["stopReason"] == "end_turn"
        assert httpx.get(f"{process.url}/_local/config").json()["fault"] == "model_not_ready"
    finally:
        process.stop()


@pytest.mark.parametrize(
    "args",
    [["--ttft-ms", "-5"], ["--fault", "explode"], ["--fault-count", "2"], ["--port", "x"]],
)
def test_bad_flags_exit_with_usage_error(args):
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS_DIR)}
    done = subprocess.run(
        [sys.executable, "-m", "local_stack.bedrock_server", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_port_in_use_is_reported():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = {**os.environ, "PYTHONPATH": str(SCRIPTS_DIR)}
        done = subprocess.run(
            [sys.executable, "-m", "local_stack.bedrock_server", "--port", port],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_help_documents_flags_headers_and_endpoints():
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS_DIR)}
    done = subprocess.run(
        [sys.executable, "-m", "local_stack.bedrock_server", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    for word in [
        "--ttft-ms",
        "--inter-token-ms",
        "--fault-count",
        "X-Local-Bedrock-Fault",
        "X-Local-Bedrock-Ttft-Ms",
        "/_local/config",
        "/_local/stats/reset",
        "/_local/health",
        "mid_stream",
    ]:
        assert word in done.stdout


# --- The WSGI app in-process -----------------------------------------------------------------


@pytest.fixture
def app_client():
    return build_app(Settings(ttft_ms=0, inter_token_ms=0)).test_client()


def test_in_process_stream_frames_decode(app_client):
    answer = app_client.post("/model/m%3A0/converse-stream", json={"messages": [user("hi there")]})
    assert answer.status_code == 200
    buffer = EventStreamBuffer()
    buffer.add_data(answer.get_data())
    kinds = [message.headers[":event-type"] for message in buffer]
    assert kinds[0] == "messageStart"
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ({"messages": []}, "at least one message"),
        ({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, "start with a user"),
        ({"messages": [user("a"), user("b")]}, "alternate"),
        ({"messages": [user(" ")]}, "messages.0.content.0 is blank"),
        ({"messages": [{"role": "user", "content": [{"image": {}}]}]}, "text content only"),
        ({"messages": [{"role": "robot", "content": [{"text": "x"}]}]}, "role"),
        ({"messages": [user("x")], "inferenceConfig": {"maxTokens": 9000}}, "maxTokens"),
        ({"messages": [user("x")], "inferenceConfig": {"topP": -1}}, "topP"),
        ({"messages": [user("x")], "inferenceConfig": {"stopSequences": "END"}}, "stopSequences"),
        ([1, 2], "JSON object"),
    ],
)
def test_in_process_validation_messages(app_client, body, message_part):
    answer = app_client.post("/model/m/converse", json=body)
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert message_part in answer.get_json()["message"]


def test_invalid_start_up_settings_are_refused():
    with pytest.raises(BadInput):
        build_app(Settings(fault="explode"))
    with pytest.raises(BadInput):
        build_app(Settings(ttft_ms=-1))


def test_in_process_http_errors_keep_the_bedrock_shape(app_client):
    wrong_method = app_client.get("/model/m/converse")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    too_big = app_client.post("/model/m/converse", data=b"x" * (bedrock_server.MAX_BODY_BYTES + 1))
    assert too_big.status_code == 413
    assert too_big.headers["x-amzn-ErrorType"] == "ValidationException"
    assert too_big.get_json()["message"]
