"""boto3 clients, created on first use and kept for the life of the Lambda container.

Endpoints come from the SDK's own settings (`AWS_ENDPOINT_URL*`), so the same code talks to
AWS or to the local stack. Timeouts are short: a Cognito trigger must answer within 5 s, and
a slow DynamoDB call is better retried through the queue than waited on.
"""

from __future__ import annotations

import threading

from chatbot_common import aws
from chatbot_common.aws import error_code, error_fields

CLIENT_CONFIG = aws.client_config(connect_timeout=2, read_timeout=3, attempts=3)

_clients: dict[str, object] = {}
_lock = threading.Lock()


def client(service: str):
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            _clients[service] = aws.client(service, config=CLIENT_CONFIG)
        return _clients[service]


def dynamodb():
    return client("dynamodb")


def sqs():
    return client("sqs")


def cognito():
    return client("cognito-idp")


def reset() -> None:
    """Forget every client (tests point the SDK at another endpoint between cases)."""
    with _lock:
        _clients.clear()


__all__ = [
    "CLIENT_CONFIG",
    "client",
    "cognito",
    "dynamodb",
    "error_code",
    "error_fields",
    "reset",
    "sqs",
]
