"""The deploy's smoke test, run against the local stack: moto for Cognito, DynamoDB and SQS,
the local model server, and the chat API under Gunicorn, all over real sockets."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from deploy.smoke import smoke
from deploy.steps import DeployError

from chatbot_common.aws import LOCAL_CREDENTIALS_ENV
from local_stack.harness import start_local_stack
from local_stack.processes import chat_api_process, free_port

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = pytest.mark.stack

REGION = "us-east-1"


@pytest.fixture(scope="module")
def smoke_stack(tmp_path_factory):
    logs, api_port = tmp_path_factory.mktemp("logs"), free_port()
    with start_local_stack(logs, prefix="chatbot-smoke", model_args=()) as stack:
        config = stack.config
        with chat_api_process(api_port, config, log_path=logs / "chat-api.log"):
            yield {
                "config": config,
                "api_url": f"http://127.0.0.1:{api_port}",
                "model": stack.model_url,
            }


@pytest.fixture
def sdk_to_local_aws(smoke_stack, monkeypatch):
    """The smoke test's own SDK calls (Cognito admin) go to the local AWS endpoint."""
    config = smoke_stack["config"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", config["AWS_ENDPOINT_URL"])
    for name, value in LOCAL_CREDENTIALS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.client("cognito-idp", region_name=REGION)


def smoke_users(cognito, pool_id: str) -> list[str]:
    users = cognito.list_users(UserPoolId=pool_id)["Users"]
    return [u["Username"] for u in users if any(
        a["Name"] == "email" and a["Value"].startswith("smoke-") for a in u["Attributes"]
    )]  # fmt: skip


def set_model_fault(model_url: str, fault: str | None) -> None:
    request = urllib.request.Request(
        f"{model_url}/_local/config",
        data=json.dumps({"fault": fault}).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_smoke_chats_as_a_throwaway_user_and_removes_it(smoke_stack, sdk_to_local_aws):
    config = smoke_stack["config"]
    pool, client = config["COGNITO_USER_POOL_ID"], config["COGNITO_APP_CLIENT_ID"]
    report = smoke(smoke_stack["api_url"], pool, client, region=REGION)
    assert report[0].startswith("health: 200")
    assert report[1].startswith("chat: 200")
    assert report[2] == "conversation deleted"
    assert report[3].startswith("throw-away user smoke-")
    assert smoke_users(sdk_to_local_aws, pool) == []


def test_smoke_fails_when_chat_fails_and_still_removes_the_user(smoke_stack, sdk_to_local_aws):
    config = smoke_stack["config"]
    pool, client = config["COGNITO_USER_POOL_ID"], config["COGNITO_APP_CLIENT_ID"]
    set_model_fault(smoke_stack["model"], "internal")
    try:
        with pytest.raises(DeployError, match="POST /api/v1/chat answered 5"):
            smoke(smoke_stack["api_url"], pool, client, region=REGION)
    finally:
        set_model_fault(smoke_stack["model"], None)
    assert smoke_users(sdk_to_local_aws, pool) == []


def test_smoke_fails_when_health_never_answers(smoke_stack, sdk_to_local_aws):
    config = smoke_stack["config"]
    nothing = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(DeployError, match="health answered"):
        smoke(
            nothing,
            config["COGNITO_USER_POOL_ID"],
            config["COGNITO_APP_CLIENT_ID"],
            region=REGION,
            attempts=1,
        )
