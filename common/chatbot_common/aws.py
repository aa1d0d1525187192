"""boto3 clients built one way: the project's retry mode, timeouts and connection pool, and
the endpoint from the SDK's own `AWS_ENDPOINT_URL*` variables (the local stack sets them; in
AWS they are unset), so the same code talks to AWS or to the local stack.
"""

from __future__ import annotations

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
    import boto3

    if session is None:
        credentials = LOCAL_CREDENTIALS if local else {}
        session = boto3.session.Session(region_name=region, **credentials)
    return session.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url or None,
        verify=verify,
        config=config or client_config(region=region, **config_settings),
    )


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "")
