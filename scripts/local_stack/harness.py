"""The local stack for tests and tools: start its servers on free 127.0.0.1 ports (as `make
run` does), drive the model server's control API, sign up new users of the local pool.

`local_stack.pytest_plugin` wraps these in fixtures; a tool that is not a test (the benchmark,
the load test) can use them as they are. The servers run with the repository's root venv when
it exists (the chat API's dependencies, as `make run` starts them), so a component with a venv
of its own can use the stack too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from boto3.dynamodb.types import TypeDeserializer

from chatbot_common import aws
from local_stack.aws_bootstrap import bootstrap, create_user, sign_in
from local_stack.processes import (
    REPO_ROOT,
    ManagedProcess,
    bedrock_process,
    free_port,
    local_url,
    moto_process,
)

ROOT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PASSWORD = "Test-Passw0rd!x"  # noqa: S105 - a local pool's test users only
# The model server answers at once in tests; a test that needs latency sets it.
INSTANT_MODEL = ("--ttft-ms", "0", "--inter-token-ms", "0")


@dataclass
class LocalStack:
    """A running local stack: its endpoints and the configuration `bootstrap` returned."""

    aws_url: str
    model_url: str
    config: dict[str, str]
    logs: Path

    @property
    def region(self) -> str:
        return self.config["AWS_REGION"]

    def aws(self, service: str):
        """A boto3 client of the local AWS endpoint (local credentials, never a real account)."""
        return aws.client(service, region=self.region, endpoint_url=self.aws_url, local=True)

    def put_message(
        self,
        *,
        user_sub: str,
        conversation_id: str,
        message_id: str,
        text: str,
        created_at: str,
        role: str = "user",
        emotion: str | None = None,
    ) -> None:
        """Writes one message straight into the conversations table, shaped as the chat API
        stores it: for tests that need messages the API would not write now (backdated, or
        more than a test should send). `emotion` is the label of a user message."""
        item = {
            "pk": {"S": f"USER#{user_sub}#CONV#{conversation_id}"},
            "sk": {"S": f"MSG#{message_id}"},
            "message_id": {"S": message_id},
            "role": {"S": role},
            "text": {"S": text},
            "created_at": {"S": created_at},
        }
        if emotion is not None:
            item["emotion"] = {"M": {"label": {"S": emotion}, "scores": {"M": {}}}}
        self.aws("dynamodb").put_item(TableName=self.config["CONVERSATIONS_TABLE"], Item=item)


@dataclass
class User:
    email: str
    password: str
    token: str = ""
    id_token: str = ""
    refresh_token: str = field(default="", repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def sub(self) -> str:
        """The user's id (the access token's `sub`), read without checking the signature: the
        tests that need a checked token have their own."""
        payload = self.token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


class ModelControl:
    """The local model server's control API (`/_local/...`): latency, faults, what it received."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url
        self._http = httpx.Client(base_url=url, timeout=10)

    def configure(self, **settings) -> None:
        """Sets latency (`ttft_ms`, `inter_token_ms`) and faults (`fault`, `fault_count`)."""
        self._http.put("/_local/config", json=settings).raise_for_status()

    def reset(self) -> None:
        self.configure(ttft_ms=0, inter_token_ms=0, fault=None, fault_count=None)
        self._http.post("/_local/stats/reset").raise_for_status()

    def stats(self) -> dict[str, int]:
        """Model requests received so far, per operation (converse, converse_stream)."""
        return self._http.get("/_local/stats").json()["requests"]

    def last_request(self) -> dict:
        """The latest model request: its operation, system prompt text and guardrail config."""
        response = self._http.get("/_local/last-request")
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._http.close()


def new_user(stack: LocalStack, *, client_id: str | None = None, signed_in: bool = True) -> User:
    """A new confirmed user of the local pool; signed in through `client_id` (default: the app
    client) unless `signed_in` is False."""
    user = User(email=f"user-{uuid.uuid4().hex[:10]}@example.com", password=PASSWORD)
    create_user(
        stack.aws_url, stack.region, stack.config["COGNITO_USER_POOL_ID"], user.email, PASSWORD
    )
    if signed_in:
        tokens = sign_in(
            stack.aws_url,
            stack.region,
            client_id or stack.config["COGNITO_APP_CLIENT_ID"],
            user.email,
            PASSWORD,
        )
        user.token, user.id_token = tokens["AccessToken"], tokens["IdToken"]
        user.refresh_token = tokens.get("RefreshToken", "")
    return user


def with_stack_python(process: ManagedProcess) -> ManagedProcess:
    """Runs a stack server with the root venv's interpreter when there is one."""
    if ROOT_PYTHON.exists() and Path(sys.prefix).resolve() != ROOT_PYTHON.parents[1].resolve():
        process.argv[0] = str(ROOT_PYTHON)
    return process


@contextlib.contextmanager
def local_aws(logs: Path) -> Iterator[str]:
    """The local AWS endpoint `make run` uses (moto with its DynamoDB requests serialized,
    local_stack/local_aws.py) on a free port; yields its URL. Plain moto restores a whole
    table when a transaction is cancelled, losing the writes other requests made meanwhile."""
    port = free_port()
    aws = moto_process(port, log_path=logs / "aws.log", fit_for_load=True)
    with with_stack_python(aws).start(timeout=60):
        yield local_url(port)


@contextlib.contextmanager
def model_server(logs: Path, *, extra_args=INSTANT_MODEL) -> Iterator[str]:
    """The local model server on a free port; yields its URL."""
    port = free_port()
    process = bedrock_process(port, extra_args=list(extra_args), log_path=logs / "model.log")
    with with_stack_python(process).start():
        yield local_url(port)


@contextlib.contextmanager
def start_local_stack(
    logs: Path, *, aws_url: str | None = None, model_args=INSTANT_MODEL, **bootstrap_args
) -> Iterator[LocalStack]:
    """moto (unless `aws_url` names a running one), the model server and the resources
    `bootstrap(**bootstrap_args)` creates; everything started is stopped on exit."""
    with contextlib.ExitStack() as started:
        if aws_url is None:
            aws_url = started.enter_context(local_aws(logs))
        model_url = started.enter_context(model_server(logs, extra_args=model_args))
        bootstrap_args.setdefault("prefix", f"chatbot-test-{uuid.uuid4().hex[:6]}")
        config = bootstrap(aws_url, bedrock_url=model_url, **bootstrap_args)
        yield LocalStack(aws_url=aws_url, model_url=model_url, config=config, logs=logs)


def offline_aws(patch, region: str = "us-east-1") -> None:
    """Keeps the SDK away from any real account (tests on moto's in-process mock): every AWS_*
    variable removed, the local credentials and `region` set. `patch`: a pytest MonkeyPatch."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            patch.delenv(name)
    for name, value in aws.LOCAL_CREDENTIALS_ENV.items():
        patch.setenv(name, value)
    patch.setenv("AWS_DEFAULT_REGION", region)


def create_pk_sk_table(dynamodb, name: str, **settings) -> None:
    """An on-demand table keyed like the conversations table (strings `pk` and `sk`), for the
    tests of the local DynamoDB; `settings`: more CreateTable parameters (a stream)."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        **settings,
    )


def scan_table(dynamodb, name: str) -> list[dict]:
    """Every item of table `name`, read consistently, as plain Python values."""
    deserialize = TypeDeserializer().deserialize
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
        items.extend(
            {key: deserialize(value) for key, value in raw.items()} for raw in page["Items"]
        )
    return items


def run_command(argv: list[str], *, cwd, timeout: float, env=None) -> subprocess.CompletedProcess:
    """Runs a command to its end with its output captured as text; a non-zero exit fails the
    caller with the command's stderr."""
    result = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{argv[0]} exited {result.returncode}: {result.stderr}"
    return result
