"""Settings read and validated once at start, from the configuration contract's variables."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from chatbot_common.environments import APP_ENVS, STRICT_ENVS, SettingsError
from chatbot_common.logs import LEVELS as LOG_LEVELS

_TIER_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
LIMIT_NAMES = ("messages_per_minute", "tokens_per_day", "concurrent_streams")
# Per-tier limits when USAGE_TIERS does not say otherwise. `free` is the tier every new profile
# gets; it stops a user long before 60 messages in a minute.
DEFAULT_TIERS: dict[str, dict[str, int]] = {
    "free": {"messages_per_minute": 10, "tokens_per_day": 200_000, "concurrent_streams": 2},
    "plus": {"messages_per_minute": 30, "tokens_per_day": 1_000_000, "concurrent_streams": 4},
}
# Cognito's own constraint on an app client id (the ClientId of its API reference).
_COGNITO_CLIENT_ID = re.compile(r"^[\w+]{1,128}$", re.ASCII)
_COGNITO_ISSUER = re.compile(
    r"^https://cognito-idp\.(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.amazonaws\.com/(?P<pool>[\w-]+_\w+)$"
)


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
    # Account deletion and export reach the ratings (feedback table, by its user_id index) and
    # the profile (profiles table; it also holds the user's settings).
    feedback_table: str
    profiles_table: str
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
    # Per-user limits: JSON {"<tier>": {"messages_per_minute": n, "tokens_per_day": n,
    # "concurrent_streams": n}, ...} merged over DEFAULT_TIERS; a token without a `tier` claim,
    # or with a tier not configured, gets the default tier's limits.
    usage_tiers: str = ""
    usage_default_tier: str = "free"
    # How long a stream's slot is held at most if its worker dies before releasing it.
    stream_lease_seconds: int = 300
    # Every stored conversation item carries `expires_at` this many days ahead (DynamoDB TTL).
    retention_days: int = 365
    # After a failed JWKS fetch, requests are refused (503) without a new fetch for this long.
    jwks_failure_cache_seconds: float = 5.0
    # Output tokens the model may spend on a new conversation's title; 0: no model titles (the
    # first words of the first message stay the title).
    title_max_tokens: int = 24
    # Other app clients of the same user pool whose access tokens are accepted, comma-separated
    # (in AWS: the web-ui backend's confidential client; COGNITO_APP_CLIENT_ID is the public one).
    cognito_extra_app_client_ids: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in REQUIRED:
            value = env.get(name, "").strip()
            if not value and name == "COGNITO_JWKS_URL" and env.get("COGNITO_ISSUER"):
                value = env["COGNITO_ISSUER"].rstrip("/") + "/.well-known/jwks.json"
            if not value:
                raise SettingsError(f"{name} is required but not set")
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
                raise SettingsError(f"{field.name.upper()}={raw!r} is not a valid number") from None
        return cls(**values).validated()

    def validated(self) -> Settings:
        if self.app_env not in APP_ENVS:
            raise SettingsError(f"APP_ENV={self.app_env!r} must be one of {', '.join(APP_ENVS)}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(
                f"LOG_LEVEL={self.log_level!r} must be one of {', '.join(LOG_LEVELS)}"
            )
        if not _COGNITO_CLIENT_ID.match(self.cognito_app_client_id):
            raise SettingsError(
                f"COGNITO_APP_CLIENT_ID={self.cognito_app_client_id!r} is not a Cognito app "
                "client id"
            )
        self.accepted_client_ids()
        if not self.cognito_issuer.rstrip("/").endswith("/" + self.cognito_user_pool_id):
            raise SettingsError("COGNITO_ISSUER must end with the COGNITO_USER_POOL_ID")
        if self.app_env in STRICT_ENVS:
            match = _COGNITO_ISSUER.match(self.cognito_issuer)
            if not match or match["pool"] != self.cognito_user_pool_id:
                raise SettingsError(
                    f"COGNITO_ISSUER must be https://cognito-idp.<region>.amazonaws.com/<pool id> "
                    f"when APP_ENV={self.app_env}"
                )
            if self.cognito_jwks_url != self.cognito_issuer + "/.well-known/jwks.json":
                raise SettingsError(
                    f"COGNITO_JWKS_URL must be the issuer's own JWKS when APP_ENV={self.app_env}"
                )
        if bool(self.bedrock_guardrail_id) != bool(self.bedrock_guardrail_version):
            raise SettingsError(
                "BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION must be set together"
            )
        for name in (
            "max_body_bytes",
            "history_max_turns",
            "bedrock_max_attempts",
            "stream_lease_seconds",
            "retention_days",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name.upper()} must be positive")
        if self.title_max_tokens < 0:
            raise SettingsError("TITLE_MAX_TOKENS must not be negative")
        if self.jwks_failure_cache_seconds < 0:
            raise SettingsError("JWKS_FAILURE_CACHE_SECONDS must not be negative")
        tiers = self.tiers()
        if self.usage_default_tier not in tiers:
            raise SettingsError(
                f"USAGE_DEFAULT_TIER={self.usage_default_tier!r} is not a configured tier "
                f"({', '.join(sorted(tiers))})"
            )
        return self

    def accepted_client_ids(self) -> tuple[str, ...]:
        """The app clients whose access tokens the API accepts: COGNITO_APP_CLIENT_ID first, then
        COGNITO_EXTRA_APP_CLIENT_IDS (comma-separated, blanks around the commas ignored)."""
        ids = [self.cognito_app_client_id]
        if self.cognito_extra_app_client_ids.strip():
            for client_id in self.cognito_extra_app_client_ids.split(","):
                client_id = client_id.strip()
                if not _COGNITO_CLIENT_ID.match(client_id):
                    raise SettingsError(
                        f"COGNITO_EXTRA_APP_CLIENT_IDS: {client_id!r} is not a Cognito app "
                        "client id (comma-separated ids)"
                    )
                if client_id not in ids:
                    ids.append(client_id)
        return tuple(ids)

    def tiers(self) -> dict[str, dict[str, int]]:
        """The limits of every tier: DEFAULT_TIERS with USAGE_TIERS applied over them."""
        return parse_tiers(self.usage_tiers)


def parse_tiers(raw: str) -> dict[str, dict[str, int]]:
    tiers = {name: dict(limits) for name, limits in DEFAULT_TIERS.items()}
    if not raw.strip():
        return tiers
    try:
        configured = json.loads(raw)
    except ValueError:
        raise SettingsError("USAGE_TIERS is not valid JSON") from None
    if not isinstance(configured, dict):
        raise SettingsError("USAGE_TIERS must be a JSON object of tier names")
    for name, limits in configured.items():
        if not _TIER_NAME.match(name):
            raise SettingsError(f"USAGE_TIERS: {name!r} is not a tier name ([a-z0-9_-])")
        if not isinstance(limits, dict) or set(limits) - set(LIMIT_NAMES):
            raise SettingsError(
                f"USAGE_TIERS: {name} must be an object with {', '.join(LIMIT_NAMES)}"
            )
        merged = {**tiers.get(name, {}), **limits}
        if set(merged) != set(LIMIT_NAMES):
            raise SettingsError(f"USAGE_TIERS: {name} must set {', '.join(LIMIT_NAMES)}")
        for limit, value in merged.items():
            # bool is an int in Python; `true` is not a limit.
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SettingsError(f"USAGE_TIERS: {name}.{limit} must be a positive integer")
        tiers[name] = merged
    return tiers


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
    "FEEDBACK_TABLE",
    "PROFILES_TABLE",
)
