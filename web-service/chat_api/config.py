"""Settings read and validated once at start, from the configuration contract's variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

APP_ENVS = ("local", "dev", "staging", "prod")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Environments where tokens minted by a local stand-in (whose key is public) must never be accepted.
STRICT_ENVS = ("staging", "prod")
_COGNITO_ISSUER = re.compile(
    r"^https://cognito-idp\.(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.amazonaws\.com/(?P<pool>[\w-]+_\w+)$"
)


class ConfigError(ValueError):
    """A missing or invalid setting; the message is one line naming the variable."""


@dataclass(frozen=True)
class Settings:
    app_env: str
    aws_region: str
    bedrock_model_id: str
    cognito_user_pool_id: str
    cognito_app_client_id: str
    cognito_issuer: str
    cognito_jwks_url: str
    conversations_table: str
    feedback_queue_url: str
    log_level: str = "INFO"
    version: str = "0.1.0"
    # Tunables with safe defaults; operators rarely change them.
    max_body_bytes: int = 32 * 1024
    history_max_turns: int = 10
    history_max_chars: int = 12000
    bedrock_max_tokens: int = 1024
    bedrock_connect_timeout: float = 2.0
    bedrock_read_timeout: float = 60.0
    bedrock_deadline: float = 90.0
    bedrock_max_attempts: int = 4
    dynamodb_timeout: float = 3.0
    readiness_timeout: float = 2.0
    readiness_cache_seconds: float = 30.0
    jwks_min_refresh_seconds: float = 60.0
    jwt_leeway_seconds: int = 30
    max_pool_connections: int = 512
    # A Bedrock guardrail applied to every Converse call; both or neither must be set.
    bedrock_guardrail_id: str = ""
    bedrock_guardrail_version: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in REQUIRED:
            value = env.get(name, "").strip()
            if not value and name == "COGNITO_JWKS_URL" and env.get("COGNITO_ISSUER"):
                value = env["COGNITO_ISSUER"].rstrip("/") + "/.well-known/jwks.json"
            if not value:
                raise ConfigError(f"{name} is required but not set")
            values[name.lower()] = value
        for field in fields(cls):
            if field.name in values:
                continue
            raw = env.get(field.name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[field.name] = type(field.default)(raw)
            except ValueError:
                raise ConfigError(f"{field.name.upper()}={raw!r} is not a valid number") from None
        return cls(**values).validated()

    def validated(self) -> Settings:
        if self.app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV={self.app_env!r} must be one of {', '.join(APP_ENVS)}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"LOG_LEVEL={self.log_level!r} must be one of {', '.join(LOG_LEVELS)}"
            )
        if not self.cognito_issuer.rstrip("/").endswith("/" + self.cognito_user_pool_id):
            raise ConfigError("COGNITO_ISSUER must end with the COGNITO_USER_POOL_ID")
        if self.app_env in STRICT_ENVS:
            match = _COGNITO_ISSUER.match(self.cognito_issuer)
            if not match or match["pool"] != self.cognito_user_pool_id:
                raise ConfigError(
                    f"COGNITO_ISSUER must be https://cognito-idp.<region>.amazonaws.com/<pool id> "
                    f"when APP_ENV={self.app_env}"
                )
            if self.cognito_jwks_url != self.cognito_issuer + "/.well-known/jwks.json":
                raise ConfigError(
                    f"COGNITO_JWKS_URL must be the issuer's own JWKS when APP_ENV={self.app_env}"
                )
        if bool(self.bedrock_guardrail_id) != bool(self.bedrock_guardrail_version):
            raise ConfigError(
                "BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION must be set together"
            )
        for name in ("max_body_bytes", "history_max_turns", "bedrock_max_attempts"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        return self


REQUIRED = (
    "APP_ENV",
    "AWS_REGION",
    "BEDROCK_MODEL_ID",
    "COGNITO_USER_POOL_ID",
    "COGNITO_APP_CLIENT_ID",
    "COGNITO_ISSUER",
    "COGNITO_JWKS_URL",
    "CONVERSATIONS_TABLE",
    "FEEDBACK_QUEUE_URL",
)
