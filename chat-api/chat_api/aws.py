"""boto3 clients. Endpoints come from the SDK's own AWS_ENDPOINT_URL* variables, never from code."""

from __future__ import annotations

from collections.abc import Callable

import boto3
from botocore.config import Config

from chatbot_common.aws import client_config

from .config import Settings
from .timing import time_storage_calls


def _config(
    settings: Settings, *, connect: float, read: float, attempts: int, validate: bool = True
) -> Config:
    return client_config(
        region=settings.aws_region,
        connect_timeout=connect,
        read_timeout=read,
        attempts=attempts,
        max_pool_connections=settings.max_pool_connections,
        parameter_validation=validate,
    )


class Clients:
    """One boto3 session per process; clients are made on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session = boto3.session.Session(region_name=settings.aws_region)
        self._cache: dict[str, object] = {}

    def _client(self, key: str, service: str, config: Callable[[], Config], *, storage=False):
        """The client `key`, made with `config()` on first use (a Config is built once)."""
        if key not in self._cache:
            client = self._session.client(service, config=config())
            if storage:  # the request's `storage` span (Server-Timing)
                time_storage_calls(client)
            self._cache[key] = client
        return self._cache[key]

    # Bedrock and DynamoDB are on every chat's path: their requests are built by this code, not
    # from user input, so botocore's client-side check of every parameter (about a tenth of a
    # DynamoDB call's CPU) is left to the service, which refuses a bad request all the same.

    @property
    def bedrock(self):
        s = self._settings
        # Retries are done by BedrockChat (deadline-aware), so botocore makes one attempt.
        return self._client(
            "bedrock",
            "bedrock-runtime",
            lambda: _config(
                s,
                connect=s.bedrock_connect_timeout,
                read=s.bedrock_read_timeout,
                attempts=1,
                validate=False,
            ),
        )

    @property
    def dynamodb(self):
        s = self._settings
        return self._client(
            "dynamodb",
            "dynamodb",
            lambda: _config(
                s, connect=s.dynamodb_timeout, read=s.dynamodb_timeout, attempts=3, validate=False
            ),
            storage=True,
        )

    @property
    def sqs(self):
        s = self._settings
        return self._client(
            "sqs",
            "sqs",
            lambda: _config(s, connect=s.dynamodb_timeout, read=s.dynamodb_timeout, attempts=3),
            storage=True,
        )

    @property
    def cognito(self):
        s = self._settings
        return self._client(
            "cognito",
            "cognito-idp",
            lambda: _config(s, connect=s.dynamodb_timeout, read=s.dynamodb_timeout, attempts=3),
        )

    def probe(self, service: str):
        """A client for readiness checks: short timeouts, no retries."""
        s = self._settings
        t = s.readiness_timeout
        return self._client(
            f"probe-{service}", service, lambda: _config(s, connect=t, read=t, attempts=1)
        )
