"""The local model server's guardrail simulation and its record of the latest request, driven
through boto3 against the real server process."""

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_stack.bedrock_control import GUARDRAIL_MESSAGE, GUARDRAIL_STOP_REASON
from local_stack.harness import model_server
from local_stack.processes import bedrock_process, free_port

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = [pytest.mark.timeout(120), pytest.mark.stack]

GUARDRAIL = {"guardrailIdentifier": "gr-local-test", "guardrailVersion": "1"}


MODEL_ID = "local.model-v1"
QUIET = {"ttft_ms": 0, "inter_token_ms": 0, "fault": None, "fault_count": None}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    with model_server(tmp_path_factory.mktemp("model"), extra_args=()) as url:
        yield url


@pytest.fixture
def url(server_url) -> str:
    httpx.put(f"{server_url}/_local/config", json=QUIET).raise_for_status()
    httpx.post(f"{server_url}/_local/stats/reset").raise_for_status()
    return server_url


@pytest.fixture
def client(url):
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return session.client("bedrock-runtime", endpoint_url=url, config=config)


def converse_args(emotion="neutral", text="How do I plan a trip to Lisbon?", **extra) -> dict:
    system = [{"text": f"Be kind.\nDetected emotion of the user's latest message: {emotion}"}]
    messages = [{"role": "user", "content": [{"text": text}]}]
    return {"modelId": MODEL_ID, "system": system, "messages": messages, **extra}


def read_stream(response) -> tuple[list[dict], str]:
    events = list(response["stream"])
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    return events, text


def put_config(url: str, **fields) -> httpx.Response:
    return httpx.put(f"{url}/_local/config", json=fields)


def stats(url: str) -> dict:
    return httpx.get(f"{url}/_local/stats").json()


def last_request(url: str) -> dict:
    response = httpx.get(f"{url}/_local/last-request")
    response.raise_for_status()
    return response.json()


def test_last_request_is_404_before_any_request(url):
    fresh_port = free_port()
    with bedrock_process(fresh_port) as fresh:
        assert fresh
        response = httpx.get(f"http://127.0.0.1:{fresh_port}/_local/last-request")
    assert response.status_code == 404


def test_last_request_records_the_system_prompt_and_guardrail(url, client):
    client.converse(**converse_args("sadness"))
    last = last_request(url)
    assert last["operation"] == "converse"
    assert "Detected emotion of the user's latest message: sadness" in last["system"]
    assert last["guardrail_config"] is None

    stream_guardrail = {**GUARDRAIL, "streamProcessingMode": "sync"}
    read_stream(client.converse_stream(**converse_args("joy", guardrailConfig=stream_guardrail)))
    last = last_request(url)
    assert last["operation"] == "converse_stream"
    assert "message: joy" in last["system"]
    assert last["guardrail_config"] == stream_guardrail


def test_guardrail_fault_intervenes_on_guarded_converse(url, client):
    assert put_config(url, fault="guardrail").status_code == 200
    response = client.converse(**converse_args(guardrailConfig=GUARDRAIL))
    assert response["stopReason"] == GUARDRAIL_STOP_REASON
    assert response["output"]["message"]["content"][0]["text"] == GUARDRAIL_MESSAGE
    assert stats(url)["faults"]["guardrail"] == 1


def test_guardrail_fault_intervenes_on_guarded_stream(url, client):
    put_config(url, fault="guardrail")
    events, text = read_stream(client.converse_stream(**converse_args(guardrailConfig=GUARDRAIL)))
    assert text == GUARDRAIL_MESSAGE
    stop = next(e["messageStop"] for e in events if "messageStop" in e)
    assert stop["stopReason"] == GUARDRAIL_STOP_REASON


def test_guardrail_fault_leaves_unguarded_requests_and_the_count_alone(url, client):
    put_config(url, fault="guardrail", fault_count=1)
    plain = client.converse(**converse_args())
    assert plain["stopReason"] == "end_turn"
    guarded = client.converse(**converse_args(guardrailConfig=GUARDRAIL))
    assert guarded["stopReason"] == GUARDRAIL_STOP_REASON
    again = client.converse(**converse_args(guardrailConfig=GUARDRAIL))
    assert again["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    ("guardrail", "operation"),
    [
        ({"guardrailIdentifier": "gr-1"}, "converse"),
        ({"guardrailIdentifier": "", "guardrailVersion": "1"}, "converse"),
        ({**GUARDRAIL, "streamProcessingMode": "sync"}, "converse"),
        ({**GUARDRAIL, "streamProcessingMode": "later"}, "converse_stream"),
    ],
)
def test_bad_guardrail_config_is_a_validation_exception(url, guardrail, operation):
    path = "converse" if operation == "converse" else "converse-stream"
    body = {k: v for k, v in converse_args(guardrailConfig=guardrail).items() if k != "modelId"}
    response = httpx.post(f"{url}/model/m/{path}", json=body)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "guardrailConfig" in response.json()["message"]


@pytest.mark.parametrize(
    "guardrail",
    [{"guardrailIdentifier": "gr-1"}, {"guardrailIdentifier": "gr", "guardrailVersion": ""}],
)
def test_boto3_gets_a_validation_exception_for_an_incomplete_guardrail(client, guardrail):
    with pytest.raises(ClientError) as caught:
        client.converse(**converse_args(guardrailConfig=guardrail))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
