"""Settings are validated once, with one clear line per problem."""

from __future__ import annotations

import pytest

from chat_api.config import ConfigError, Settings

POOL = "eu-west-1_AbCdEf123"
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"
BASE = {
    "APP_ENV": "prod",
    "AWS_REGION": "eu-west-1",
    "BEDROCK_MODEL_ID": "anthropic.claude-3-haiku-20240307-v1:0",
    "COGNITO_USER_POOL_ID": POOL,
    "COGNITO_APP_CLIENT_ID": "abc123",
    "COGNITO_ISSUER": ISSUER,
    "CONVERSATIONS_TABLE": "conversations",
    "FEEDBACK_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/feedback",
}


def test_jwks_url_is_derived_from_the_issuer():
    settings = Settings.from_env(BASE)
    assert settings.cognito_jwks_url == f"{ISSUER}/.well-known/jwks.json"


@pytest.mark.parametrize("name", ["APP_ENV", "COGNITO_ISSUER", "CONVERSATIONS_TABLE"])
def test_missing_required_setting(name):
    env = {k: v for k, v in BASE.items() if k != name}
    with pytest.raises(ConfigError, match=f"^{name} is required"):
        Settings.from_env(env)


@pytest.mark.parametrize("app_env", ["staging", "prod"])
def test_local_jwks_and_issuer_refused_outside_local_and_dev(app_env):
    with pytest.raises(ConfigError, match="COGNITO_JWKS_URL"):
        Settings.from_env(
            {**BASE, "APP_ENV": app_env, "COGNITO_JWKS_URL": f"http://127.0.0.1:4566/{POOL}/x"}
        )
    with pytest.raises(ConfigError, match="COGNITO_ISSUER"):
        Settings.from_env(
            {**BASE, "APP_ENV": app_env, "COGNITO_ISSUER": f"http://127.0.0.1/{POOL}"}
        )


def test_local_jwks_allowed_locally():
    settings = Settings.from_env(
        {**BASE, "APP_ENV": "local", "COGNITO_JWKS_URL": f"http://127.0.0.1:4566/{POOL}/jwks.json"}
    )
    assert settings.cognito_jwks_url.startswith("http://127.0.0.1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"APP_ENV": "production"}, "APP_ENV"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"BEDROCK_DEADLINE": "soon"}, "BEDROCK_DEADLINE"),
        ({"COGNITO_USER_POOL_ID": "eu-west-1_Other"}, "COGNITO_ISSUER must end"),
        ({"BEDROCK_MAX_ATTEMPTS": "0"}, "BEDROCK_MAX_ATTEMPTS"),
    ],
)
def test_invalid_values(change, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **change})
