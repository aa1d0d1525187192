"""The web app's settings, read from the configuration contract's environment variables.

One build serves local, dev, staging and prod: only these values change. They are read once
when the backend starts; a missing or bad value stops it with one line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

APP_ENVS = ("local", "dev", "staging", "prod")
_POOL_ID = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    app_env: str
    chat_api_url: str
    aws_region: str
    user_pool_id: str
    app_client_id: str
    # The confidential app client's secret (COGNITO_WEB_CLIENT_SECRET; in AWS it comes from
    # Secrets Manager). None for a public client: then no SECRET_HASH is sent.
    app_client_secret: str | None = field(default=None, repr=False)
    # The SDK's own override, set only for the local stack (moto).
    aws_endpoint_url: str | None = None
    api_timeout_seconds: float = 60.0
    api_max_attempts: int = 3


def _required(environ, name: str) -> str:
    value = (environ.get(name) or "").strip()
    if not value:
        raise SettingsError(f"{name} is not set")
    return value


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}={value} is not an http(s) URL")
    return value.rstrip("/")


def _inside_the_vpc(url: str) -> bool:
    """A one-label host (`http://chat-api:8080`) is a Service Connect name: it resolves only
    inside the VPC, where the traffic never crosses the internet."""
    host = urlsplit(url).hostname or ""
    return bool(host) and "." not in host and host != "localhost"


def load_settings(environ=None) -> Settings:
    environ = os.environ if environ is None else environ
    app_env = (environ.get("APP_ENV") or "local").strip()
    if app_env not in APP_ENVS:
        raise SettingsError(f"APP_ENV={app_env} is not one of {', '.join(APP_ENVS)}")
    region = (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "").strip()
    if not region:
        raise SettingsError("AWS_REGION is not set")
    if not _REGION.match(region):
        raise SettingsError(f"AWS_REGION={region} is not an AWS region name")
    pool_id = _required(environ, "COGNITO_USER_POOL_ID")
    if not _POOL_ID.match(pool_id) or not pool_id.startswith(region + "_"):
        raise SettingsError(
            f"COGNITO_USER_POOL_ID={pool_id} is not a user pool id of region {region}"
        )
    chat_api_url = _http_url("CHAT_API_URL", _required(environ, "CHAT_API_URL"))
    if app_env in ("staging", "prod") and not (
        chat_api_url.startswith("https://") or _inside_the_vpc(chat_api_url)
    ):
        raise SettingsError(
            f"CHAT_API_URL must use https when APP_ENV={app_env} "
            "(plain http only to a Service Connect name such as http://chat-api:8080)"
        )
    endpoint = (environ.get("AWS_ENDPOINT_URL") or "").strip() or None
    if endpoint is not None:
        endpoint = _http_url("AWS_ENDPOINT_URL", endpoint)
    try:
        timeout = float(environ.get("CHAT_API_TIMEOUT") or 60)
        attempts = int(environ.get("CHAT_API_MAX_ATTEMPTS") or 3)
    except ValueError as error:
        raise SettingsError(f"CHAT_API_TIMEOUT / CHAT_API_MAX_ATTEMPTS: {error}") from None
    if timeout <= 0 or attempts < 1:
        raise SettingsError("CHAT_API_TIMEOUT must be > 0 and CHAT_API_MAX_ATTEMPTS >= 1")
    return Settings(
        app_env=app_env,
        chat_api_url=chat_api_url,
        aws_region=region,
        user_pool_id=pool_id,
        app_client_id=_required(environ, "COGNITO_APP_CLIENT_ID"),
        app_client_secret=(environ.get("COGNITO_WEB_CLIENT_SECRET") or "").strip() or None,
        aws_endpoint_url=endpoint,
        api_timeout_seconds=timeout,
        api_max_attempts=attempts,
    )
