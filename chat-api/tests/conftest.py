"""Fixtures: a real local stack (moto, the local model server, Gunicorn) on free loopback ports.

`app` and `client` give the Flask test client for unit tests of one function; every feature is
proven through `api`, an HTTP client talking to Gunicorn over a socket.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jsonschema
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from chat_api import create_app
from local_stack.aws_bootstrap import bootstrap
from local_stack.processes import (
    ManagedProcess,
    bedrock_process,
    chat_api_process,
    free_port,
    moto_process,
)
from support import ModelServer, Stack, User, api_env, moto_key, new_user


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    logs = tmp_path_factory.mktemp("logs")
    aws_port, model_port = free_port(), free_port()
    aws = moto_process(aws_port, log_path=logs / "aws.log").start()
    model = bedrock_process(model_port, log_path=logs / "model.log").start()
    try:
        aws_url, model_url = f"http://127.0.0.1:{aws_port}", f"http://127.0.0.1:{model_port}"
        config = bootstrap(aws_url, bedrock_url=model_url, prefix="chatbot-test")
        yield Stack(aws_url=aws_url, model_url=model_url, config=config, logs=logs)
    finally:
        model.stop()
        aws.stop()


@pytest.fixture(scope="session")
def api_server(stack) -> ManagedProcess:
    port = free_port()
    process = chat_api_process(port, api_env(stack), log_path=stack.logs / "chat-api.log")
    process.url = f"http://127.0.0.1:{port}"
    with process.start():
        yield process


@pytest.fixture
def start_api(stack, tmp_path):
    """Starts an extra chat API with other settings; stopped at the end of the test."""
    started: list[ManagedProcess] = []

    def start(**overrides: str) -> ManagedProcess:
        port = free_port()
        process = chat_api_process(
            port, api_env(stack, **overrides), log_path=tmp_path / f"chat-api-{port}.log"
        )
        process.url = f"http://127.0.0.1:{port}"
        process.log_file = tmp_path / f"chat-api-{port}.log"
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def api(api_server):
    with httpx.Client(base_url=api_server.url + "/api/v1", timeout=30) as client:
        yield client


@pytest.fixture
def model(stack):
    """The local model server; its latency and faults are reset after the test."""
    server = ModelServer(stack.model_url)
    server.reset()
    yield server
    server.reset()


@pytest.fixture(scope="session")
def alice(stack) -> User:
    return new_user(stack)


@pytest.fixture(scope="session")
def bob(stack) -> User:
    return new_user(stack)


@pytest.fixture
def fresh_user(stack) -> User:
    return new_user(stack)


@pytest.fixture(scope="session")
def mint_token(stack):
    """Signs access tokens with the local pool's (public, moto-shipped) key, for defect tests."""
    config = stack.config

    def mint(*, key: RSAKey | None = None, header: dict | None = None, **claims) -> str:
        now = int(time.time())
        payload = {
            "sub": str(uuid.uuid4()),
            "iss": config["COGNITO_ISSUER"],
            "client_id": config["COGNITO_APP_CLIENT_ID"],
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "username": "minted",
            "iat": now,
            "auth_time": now,
            "exp": now + 600,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            {"alg": "RS256", "kid": "dummy", **(header or {})}, payload, key or moto_key()
        )

    return mint


@pytest.fixture
def app(stack, monkeypatch):
    env = api_env(stack)
    for key, value in env.items():  # boto3 reads its endpoints from the process environment
        monkeypatch.setenv(key, value)
    return create_app({"ENV": env})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def openapi_document(api_server) -> dict:
    return httpx.get(api_server.url + "/api/v1/openapi.json", timeout=10).json()


@pytest.fixture(scope="session")
def openapi_validator(openapi_document):
    """Checks a real response body against a schema of the served OpenAPI document."""

    def validate(schema_name: str, body) -> None:
        schema = {
            "$ref": f"#/components/schemas/{schema_name}",
            "components": openapi_document["components"],
        }
        jsonschema.Draft202012Validator(schema).validate(body)

    return validate
