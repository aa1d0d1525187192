"""boto3 clients. Endpoints come from the SDK's own AWS_ENDPOINT_URL* variables, never from code."""

from __future__ import annotations

import boto3

from chatbot_common.aws import client_config

from .config import Settings
from .timing import time_storage_calls


class Clients:
    """One boto3 session per process; clients are made on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session = boto3.session.Session(region_name=settings.aws_region)
        self._cache: dict[str, object] = {}

    def _client(
        self,
        service: str,
        *,
        connect: float,
        read: float,
        attempts: int,
        validate: bool = True,
        storage: bool = False,
        key: str = "",
    ):
        """The client of `service` (cached as `key`, by default the service), made on first use."""
        key = key or service
        if key not in self._cache:
            config = client_config(
                region=self._settings.aws_region,
                connect_timeout=connect,
                read_timeout=read,
                attempts=attempts,
                max_pool_connections=self._settings.max_pool_connections,
                parameter_validation=validate,
            )
            client = self._session.client(service, config=config)
            if storage:  # the request's `storage` span (Server-Timing)
                time_storage_calls(client)
            self._cache[key] = client
        return self._cache[key]

    def _aws_service(self, service: str, **options):
        """DynamoDB, SQS and Cognito: short timeouts and three attempts in all."""
        timeout = self._settings.dynamodb_timeout
        return self._client(service, connect=timeout, read=timeout, attempts=3, **options)

    # Bedrock and DynamoDB are on every chat's path: their requests are built by this code, not
    # from user input, so botocore's client-side check of every parameter (about a tenth of a
    # DynamoDB call's CPU) is left to the service, which refuses a bad request all the same.

    @property
    def bedrock(self):
        s = self._settings
        # Retries are done by BedrockChat (deadline-aware), so botocore makes one attempt.
        return self._client(
            "bedrock-runtime",
            connect=s.bedrock_connect_timeout,
            read=s.bedrock_read_timeout,
            attempts=1,
            validate=False,
        )

    @property
    def dynamodb(self):
        return self._aws_service("dynamodb", validate=False, storage=True)

    @property
    def sqs(self):
        return self._aws_service("sqs", storage=True)

    @property
    def cognito(self):
        return self._aws_service("cognito-idp")

    def probe(self, service: str):
        """A client for readiness checks: short timeouts, no retries."""
        t = self._settings.readiness_timeout
        return self._client(service, connect=t, read=t, attempts=1, key=f"probe-{service}")
