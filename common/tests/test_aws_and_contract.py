"""boto3 client settings and the contract's names."""

from __future__ import annotations

import json

import pytest

from chatbot_common import aws, contract


def test_client_config_carries_the_project_settings():
    config = aws.client_config(region="eu-west-1", connect_timeout=1.5, read_timeout=4, attempts=2)
    assert config.region_name == "eu-west-1"
    assert (config.connect_timeout, config.read_timeout) == (1.5, 4)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert config.tcp_keepalive is True


def test_the_endpoint_comes_from_the_sdk_variables(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    client = aws.client("sqs", region="us-east-1", local=True)
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"


def test_local_clients_use_the_local_credentials_never_the_callers(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    endpoint = "http://127.0.0.1:1"
    client = aws.client("dynamodb", region="us-east-1", endpoint_url=endpoint, local=True)
    credentials = client._request_signer._credentials
    assert credentials.access_key == aws.LOCAL_CREDENTIALS["aws_access_key_id"]


def test_clients_share_a_session_until_the_credentials_change(monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFIRST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    first = aws.client("sqs", region="us-east-1")
    second = aws.client("dynamodb", region="us-east-1")
    assert first._loader is second._loader  # the models and endpoints were read once
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECOND")
    third = aws.client("sqs", region="us-east-1")
    assert third._loader is not first._loader
    assert third._request_signer._credentials.access_key == "AKIASECOND"
    assert first._request_signer._credentials.access_key == "AKIAFIRST"


def test_error_code_of_anything_that_is_not_a_client_error_is_empty():
    assert aws.error_code(ValueError("x")) == ""


def test_names_resolve_per_environment_and_unknown_environments_are_refused():
    assert contract.ssm_parameter_name("CONVERSATIONS_TABLE", "prod") == (
        "/chatbot/prod/CONVERSATIONS_TABLE"
    )
    assert contract.resource_prefix("dev") == "chatbot-dev"
    assert contract.resource_name("FEEDBACK_DLQ", contract.resource_prefix("dev")) == (
        "chatbot-dev-feedback-dlq"
    )
    with pytest.raises(ValueError, match="unknown environment"):
        contract.ssm_parameter_name("CONVERSATIONS_TABLE", "local")


def test_every_resource_name_starts_with_its_prefix_and_no_two_of_a_kind_collide():
    names = {key: contract.resource_name(key, "p") for key in contract.resource_keys()}
    assert all(name.startswith("p-") for name in names.values())
    tables = [n for k, n in names.items() if k.endswith("_TABLE")]
    queues = [n for k, n in names.items() if not k.endswith("_TABLE")]
    assert len(set(tables)) == len(tables) and len(set(queues)) == len(queues)


def test_contract_returns_a_copy():
    copy = contract.contract()
    copy["environments"].append("qa")
    assert "qa" not in contract.ENVIRONMENTS
    assert json.loads(contract.CONTRACT_PATH.read_text())["environments"] == list(
        contract.ENVIRONMENTS
    )
