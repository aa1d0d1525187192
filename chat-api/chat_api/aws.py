"""boto3 clients. Endpoints come from the SDK's own AWS_ENDPOINT_URL* variables, never from code."""

from __future__ import annotations

import boto3
from botocore.config import Config

from chatbot_common.aws import client_config

from .config import Settings
from .timing import time_storage_calls


def _config(settings: Settings, *, connect: float, read: float, attempts: int) -> Config:
    return client_config(
        region=settings.aws_region,
        connect_timeout=connect,
        read_timeout=read,
        attempts=attempts,
        max_pool_connections=settings.max_pool_connections,
    )


class Clients:
    """One boto3 session per process; clients are made on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session = boto3.session.Session(region_name=settings.aws_region)
        self._cache: dict[str, object] = {}

    def _client(self, key: str, service: str, config: Config, *, storage: bool = False):
        if key not in self._cache:
            client = self._session.client(service, config=config)
            if storage:  # the request's `storage` span (Server-Timing)
                time_storage_calls(client)
            self._cache[key] = client
        return self._cache[key]

    @property
    def bedrock(self):
        s = self._settings
        # Retries are done by BedrockChat (deadline-aware), so botocore makes one attempt.
        return self._client(
            "bedrock",
            "bedrock-runtime",
            _config(s, connect=s.bedrock_connect_timeout, read=s.bedrock_read_timeout, attempts=1),
        )

    @property
    def dynamodb(self):
        s = self._settings
        return self._client(
            "dynamodb",
            "dynamodb",
            _config(s, connect=s.dynamodb_timeout, read=s.dynamodb_timeout, attempts=3),
            storage=True,
        )

    @property
    def sqs(self):
        s = self._settings
        return self._client(
            "sqs",
            "sqs",
            _config(s, connect=s.dynamodb_timeout, read=s.dynamodb_timeout, attempts=3),
            storage=True,
        )

    @property
    def cognito(self):
        s = self._settings
        return self._client(
            "cognito",
            "cognito-idp",
            _config(s, connect=s.dynamodb_timeout, read=s.dynamodb_timeout, attempts=3),
        )

    def probe(self, service: str):
        """A client for readiness checks: short timeouts, no retries."""
        s = self._settings
        t = s.readiness_timeout
        return self._client(f"probe-{service}", service, _config(s, connect=t, read=t, attempts=1))
