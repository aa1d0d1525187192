import os
import subprocess
import sys
from pathlib import Path

import pytest

import config
from chatbot_common.environments import SettingsError

CDK_DIR = Path(__file__).resolve().parents[1]


def _raw(env="dev", **changes):
    raw = dict(config.cdk_json_context()[config.CONTEXT_KEY][env])
    raw.update(changes)
    return raw


def test_every_environment_loads_from_cdk_json():
    for env in ("dev", "staging", "prod"):
        settings = config.load(env, config.cdk_json_context())
        assert settings.name == env
        assert settings.api_domain_name == f"api.{settings.domain_name}"


def test_account_and_region_come_from_the_environment_when_set():
    settings = config.from_mapping(
        "prod",
        _raw("prod"),
        environ={"CHATBOT_PROD_ACCOUNT": "123456789012", "CHATBOT_PROD_REGION": "eu-west-1"},
    )
    assert (settings.account, settings.region) == ("123456789012", "eu-west-1")


@pytest.mark.parametrize(
    ("env", "changes", "message"),
    [
        ("dev", {"account": "12345"}, "account: must be 12 digits"),
        ("dev", {"region": "moon-1"}, "region"),
        ("prod", {"cognito_threat_protection": "AUDIT"}, "must be ENFORCED in prod"),
        ("staging", {"deletion_protection": False}, "must be true in staging"),
        ("dev", {"log_retention_days": 31}, "log_retention_days"),
        ("dev", {"waf_rate_limit_per_5_minutes": 5}, "waf_rate_limit_per_5_minutes"),
        ("dev", {"github_repository": "no-slash"}, "github_repository"),
        ("dev", {"colour": "blue"}, "colour: unknown setting"),
        ("prod", {"cognito_email_sender": "COGNITO"}, "cognito_email_sender: must be SES"),
        ("dev", {"cognito_email_sender": "SMTP"}, "cognito_email_sender: must be one of"),
        ("dev", {"monthly_budget_usd": 0}, "monthly_budget_usd: must be a positive"),
        ("prod", {"alarm_bedrock_output_tokens_per_hour": "1e6"}, "output_tokens_per_hour"),
        ("prod", {"web_ui_auto_build": "false"}, "web_ui_auto_build: must be true or false"),
    ],
)
def test_invalid_settings_are_refused_naming_the_key(env, changes, message):
    with pytest.raises(SettingsError, match=message):
        config.from_mapping(env, _raw(env, **changes), environ={})


def test_the_web_app_builds_on_push_in_dev_only():
    """Staging and prod build when the deploy says so (scripts/deploy/ reads the same key)."""
    built = {
        env: config.load(env, config.cdk_json_context()).web_ui_auto_build
        for env in ("dev", "staging", "prod")
    }
    assert built == {"dev": True, "staging": False, "prod": False}


def test_missing_setting_is_refused():
    raw = _raw()
    del raw["alarm_email"]
    with pytest.raises(SettingsError, match="alarm_email: missing"):
        config.from_mapping("dev", raw, environ={})


def test_unknown_environment_stops_the_synth_with_one_line():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    environ["CHATBOT_ENV"] = "qa"
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=CDK_DIR, env=environ, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "cdk: configuration error: unknown environment 'qa'; expected one of dev, prod, staging"
    )
