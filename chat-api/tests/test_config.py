"""Settings are validated once, with one clear line per problem."""

from __future__ import annotations

import json
import re

import pytest

from chat_api.config import DEFAULT_TIERS, Settings
from chatbot_common.environments import SettingsError

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
    "FEEDBACK_TABLE": "feedback",
    "PROFILES_TABLE": "profiles",
}


def test_jwks_url_is_derived_from_the_issuer():
    settings = Settings.from_env(BASE)
    assert settings.cognito_jwks_url == f"{ISSUER}/.well-known/jwks.json"


@pytest.mark.parametrize(
    "name",
    ["APP_ENV", "COGNITO_ISSUER", "CONVERSATIONS_TABLE", "PROFILES_TABLE", "FEEDBACK_TABLE"],
)
def test_missing_required_setting(name):
    env = {k: v for k, v in BASE.items() if k != name}
    with pytest.raises(SettingsError, match=f"^{name} is required"):
        Settings.from_env(env)


@pytest.mark.parametrize("app_env", ["dev", "staging", "prod"])
def test_local_jwks_and_issuer_refused_outside_local(app_env):
    with pytest.raises(SettingsError, match="COGNITO_JWKS_URL"):
        Settings.from_env(
            {**BASE, "APP_ENV": app_env, "COGNITO_JWKS_URL": f"http://127.0.0.1:4566/{POOL}/x"}
        )
    with pytest.raises(SettingsError, match="COGNITO_ISSUER"):
        Settings.from_env(
            {**BASE, "APP_ENV": app_env, "COGNITO_ISSUER": f"http://127.0.0.1/{POOL}"}
        )


def test_local_jwks_allowed_locally():
    settings = Settings.from_env(
        {**BASE, "APP_ENV": "local", "COGNITO_JWKS_URL": f"http://127.0.0.1:4566/{POOL}/jwks.json"}
    )
    assert settings.cognito_jwks_url.startswith("http://127.0.0.1")


# A bad value of one variable is refused with a line that starts with that variable's name.
BAD_VALUES = [
    ("LOG_LEVEL", "LOUD"),
    ("BEDROCK_DEADLINE", "soon"),
    ("BEDROCK_MAX_ATTEMPTS", "0"),
    ("USAGE_DEFAULT_TIER", "gold"),
    ("RETENTION_DAYS", "0"),
    ("STREAM_LEASE_SECONDS", "0"),
    ("TITLE_MAX_TOKENS", "-1"),
    ("JWKS_FAILURE_CACHE_SECONDS", "-1"),
    ("BEDROCK_GUARDRAIL_ID", "gr-1"),  # without its version
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_a_bad_value_is_refused_by_its_name(name, value):
    with pytest.raises(SettingsError, match=f"^{name}[ =]"):
        Settings.from_env({**BASE, name: value})


def test_the_issuer_must_belong_to_the_user_pool():
    with pytest.raises(SettingsError, match="^COGNITO_ISSUER must end with the COGNITO_USER_POOL"):
        Settings.from_env({**BASE, "COGNITO_USER_POOL_ID": "eu-west-1_Other"})


@pytest.mark.parametrize(
    ("usage_tiers", "message"),
    [
        pytest.param("{", "is not valid JSON", id="not-json"),
        pytest.param("[]", "must be a JSON object", id="not-an-object"),
        pytest.param('{"Free!": {}}', "'Free!' is not a tier name", id="tier-name"),
        pytest.param('{"free": {"messages_per_minute": 0}}', "positive integer", id="zero"),
        pytest.param('{"free": {"messages_per_minute": true}}', "positive integer", id="bool"),
        pytest.param('{"free": {"messages_per_minute": 1.5}}', "positive integer", id="float"),
        pytest.param('{"free": {"per_hour": 5}}', "must be an object with", id="unknown-limit"),
        pytest.param('{"team": {"messages_per_minute": 5}}', "team must set", id="new-tier-part"),
    ],
)
def test_bad_usage_tiers_are_refused(usage_tiers, message):
    with pytest.raises(SettingsError, match=f"^USAGE_TIERS.*{re.escape(message)}"):
        Settings.from_env({**BASE, "USAGE_TIERS": usage_tiers})


def test_moto_style_local_issuer_refused_in_dev_accepted_locally():
    # What the local stack configures: the real issuer host with a local JWKS.
    local = {**BASE, "COGNITO_JWKS_URL": f"http://127.0.0.1:4566/{POOL}/.well-known/jwks.json"}
    with pytest.raises(SettingsError, match="COGNITO_JWKS_URL must be the issuer's own JWKS"):
        Settings.from_env({**local, "APP_ENV": "dev"})
    assert Settings.from_env({**local, "APP_ENV": "local"}).app_env == "local"


def test_default_tiers_stop_a_flood_and_are_never_unlimited():
    tiers = Settings.from_env(BASE).tiers()
    assert tiers["free"]["messages_per_minute"] < 60
    for limits in tiers.values():
        assert all(isinstance(v, int) and v >= 1 for v in limits.values())


def test_usage_tiers_are_merged_over_the_defaults():
    settings = Settings.from_env(
        {
            **BASE,
            "USAGE_TIERS": json.dumps(
                {
                    "free": {"messages_per_minute": 3},
                    "team": {
                        "messages_per_minute": 50,
                        "tokens_per_day": 5,
                        "concurrent_streams": 2,
                    },
                }
            ),
            "USAGE_DEFAULT_TIER": "team",
        }
    )
    tiers = settings.tiers()
    assert tiers["free"] == {**DEFAULT_TIERS["free"], "messages_per_minute": 3}
    assert tiers["team"]["tokens_per_day"] == 5
    assert settings.usage_default_tier == "team"


def test_only_the_app_client_is_accepted_by_default():
    assert Settings.from_env(BASE).accepted_client_ids() == ("abc123",)


def test_extra_app_clients_are_accepted_after_the_app_client():
    extra = " 4fe1k2l3m4n5o6p7q8r9s0t1u2 , other+client,abc123"
    settings = Settings.from_env({**BASE, "COGNITO_EXTRA_APP_CLIENT_IDS": extra})
    # Blanks around the commas are ignored and a repeated id counts once.
    assert settings.accepted_client_ids() == (
        "abc123",
        "4fe1k2l3m4n5o6p7q8r9s0t1u2",
        "other+client",
    )


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param("abc,,def", id="empty-entry"),
        pytest.param("abc,", id="trailing-comma"),
        pytest.param("abc;def", id="semicolon"),
        pytest.param("abc def", id="space-inside"),
        pytest.param("../etc/passwd", id="path"),
        pytest.param('"abc"', id="quoted"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("clïent", id="non-ascii"),
    ],
)
def test_malformed_extra_app_client_ids_are_refused(extra):
    with pytest.raises(SettingsError, match="^COGNITO_EXTRA_APP_CLIENT_IDS: .* is not a Cognito"):
        Settings.from_env({**BASE, "COGNITO_EXTRA_APP_CLIENT_IDS": extra})


@pytest.mark.parametrize("client_id", ["abc 123", "abc,def", "x" * 129])
def test_a_malformed_app_client_id_is_refused(client_id):
    with pytest.raises(
        SettingsError, match="^COGNITO_APP_CLIENT_ID=.* is not a Cognito app client"
    ):
        Settings.from_env({**BASE, "COGNITO_APP_CLIENT_ID": client_id})


def test_an_unknown_environment_stops_the_api_with_the_shared_check():
    # The check and its sentence are chatbot_common.environments' (tested there).
    with pytest.raises(SettingsError, match=r"^APP_ENV='production' must be one of"):
        Settings.from_env({**BASE, "APP_ENV": "production"})
