"""boto3 clients built one way: the project's retry mode, timeouts and connection pool, and
the endpoint from the SDK's own `AWS_ENDPOINT_URL*` variables (the local stack sets them; in
AWS they are unset), so the same code talks to AWS or to the local stack.
"""

from __future__ import annotations

import os
import threading
from typing import Any

# moto accepts any credentials; fixed dummies keep a developer's real ones away from the local
# stack (and a local tool away from a real account).
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# The same as the SDK's environment variables, for a child process or a test's environment.
LOCAL_CREDENTIALS_ENV = {
    "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
}


def client_config(
    *,
    region: str | None = None,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
    attempts: int = 3,
    max_pool_connections: int = 10,
    **extra: Any,
):
    """botocore's Config with the project's settings: standard retries with `attempts` tries
    in all (1: botocore does not retry, the caller does), TCP keep-alive."""
    from botocore.config import Config

    return Config(
        region_name=region,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
        **extra,
    )


def client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    local: bool = False,
    session=None,
    config=None,
    verify: str | bool | None = None,
    **config_settings: Any,
):
    """A boto3 client of `service`. `endpoint_url` only where a tool names the endpoint itself
    (the local stack's bootstrap); otherwise the SDK reads AWS_ENDPOINT_URL*. `local=True`
    uses LOCAL_CREDENTIALS. `verify`: a CA bundle to trust (a local HTTPS proxy's). `config`
    replaces the project's Config; `config_settings` adjust it (see `client_config`)."""
    with _SESSIONS_LOCK:  # a boto3 session is not safe to share between threads unguarded
        return (session or _session(region, local)).client(
            service,
            region_name=region,
            endpoint_url=endpoint_url or None,
            verify=verify,
            config=config or client_config(region=region, **config_settings),
        )


# What a session's clients sign with, where the session does not set it itself.
_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_SESSIONS: dict[tuple, Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(region: str | None, local: bool):
    """One boto3 session per region and kind, and per set of credentials in the environment: a
    new session reads the services' models and the endpoints file again (about a tenth of a
    second a client), and resolves the credentials again."""
    import boto3

    credentials = () if local else tuple(os.environ.get(name) for name in _CREDENTIAL_VARIABLES)
    key = (region, local, os.environ.get("AWS_PROFILE"), credentials)
    if key not in _SESSIONS:
        settings = LOCAL_CREDENTIALS if local else {}
        _SESSIONS[key] = boto3.session.Session(region_name=region, **settings)
    return _SESSIONS[key]


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "")
