"""The names shared with Copilot and the containers: platform_outputs.json is the one source."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

import contract
from conftest import resources_of

REPO = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    """A module of another component, by path (their packages are not installed here)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _ssm_parameters(synthesised):
    params = resources_of(synthesised.template("PlatformStateless"), "AWS::SSM::Parameter")
    return {p["Properties"]["Name"]: p["Properties"] for p in params.values()}


def _exports(synthesised):
    names = {}
    for stack in ("PlatformStateful", "PlatformStateless", "Edge"):
        outputs = synthesised.template_json(stack).get("Outputs", {})
        for output in outputs.values():
            export = output.get("Export", {}).get("Name")
            if isinstance(export, str):
                names.setdefault(export, []).append(stack)
    return names


def test_every_contract_parameter_is_published_under_its_name(synthesised):
    for env, synth in synthesised.items():
        published = _ssm_parameters(synth)
        expected = {contract.ssm_parameter_name(key, env) for key in contract.ssm_parameter_keys()}
        assert set(published) == expected


def test_every_contract_export_is_published_exactly_once(synthesised):
    for env, synth in synthesised.items():
        exports = {
            name: stacks
            for name, stacks in _exports(synth).items()
            if name.startswith(f"chatbot-{env}-") and ":" not in name
        }
        expected = {contract.export_name(key, env) for key in contract.export_keys()}
        assert set(exports) == expected
        assert all(len(stacks) == 1 for stacks in exports.values())


def test_issuer_and_jwks_have_the_shape_the_chat_api_requires_in_prod(prod):
    params = _ssm_parameters(prod)
    issuer = params["/chatbot/prod/COGNITO_ISSUER"]["Value"]
    jwks = params["/chatbot/prod/COGNITO_JWKS_URL"]["Value"]
    # The provider URL of the pool: https://cognito-idp.<region>.amazonaws.com/<pool id>.
    assert set(issuer) == {"Fn::ImportValue"}
    assert "ProviderURL" in issuer["Fn::ImportValue"]
    assert jwks["Fn::Join"][1][-1] == "/.well-known/jwks.json"
    assert params["/chatbot/prod/CHAT_API_URL"]["Value"] == "https://api.chatbot.muykol.com"


def test_contract_covers_what_the_local_stack_publishes():
    module = _load("aws_bootstrap", REPO / "scripts" / "local_stack" / "aws_bootstrap.py")
    assert set(module.PUBLISHED_NAMES) <= set(contract.ssm_parameter_keys())
    # Same layout as the local stack's /chatbot/local/<NAME>.
    assert module.SSM_PREFIX == "/chatbot/local"
    assert (
        contract.ssm_parameter_name("FEEDBACK_QUEUE_URL", "dev")
        == "/chatbot/dev/FEEDBACK_QUEUE_URL"
    )


def test_contract_keys_are_the_chat_api_required_settings():
    module = _load("chat_api_config", REPO / "chat-api" / "chat_api" / "config.py")
    # APP_ENV and AWS_REGION come from the Copilot manifest and the task itself.
    published_by_platform = set(module.REQUIRED) - {"APP_ENV", "AWS_REGION"}
    assert published_by_platform <= set(contract.ssm_parameter_keys())


def test_contract_file_is_plain_json_with_env_placeholders():
    raw = json.loads(contract.CONTRACT_PATH.read_text())
    for table in ("ssm_parameters", "exports", "secrets", "copilot_environment_exports"):
        assert all("{env}" in name for name in raw[table].values()), table
    with pytest.raises(ValueError, match="unknown environment"):
        contract.export_name("COGNITO_USER_POOL_ID", "qa")


def _tags(properties: dict) -> dict:
    tags = properties.get("Tags", {})
    # SSM parameters take a map of tags, Secrets Manager secrets a list of Key/Value pairs.
    return tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}


def test_parameters_and_secrets_carry_the_tags_copilots_execution_role_reads(synthesised):
    # Copilot's task execution role may read an SSM parameter or a secret only when it is tagged
    # with the Copilot application and environment.
    for env, synth in synthesised.items():
        wanted = {"copilot-application": contract.COPILOT_APP, "copilot-environment": env}
        parameters = _ssm_parameters(synth)
        assert set(parameters) == {
            contract.ssm_parameter_name(k, env) for k in contract.ssm_parameter_keys()
        }
        secrets = resources_of(synth.template("PlatformStateful"), "AWS::SecretsManager::Secret")
        secrets = {s["Properties"]["Name"]: s["Properties"] for s in secrets.values()}
        session = secrets[contract.secret_name("WEB_UI_SESSION_SECRET", env)]
        for properties in [*parameters.values(), session]:
            assert wanted.items() <= _tags(properties).items(), properties["Name"]
        # The containers never read Amplify's GitHub token.
        token = secrets[contract.secret_name("AMPLIFY_GITHUB_TOKEN", env)]
        assert "copilot-application" not in _tags(token)
        # Copilot finds its own stacks by these tags: the platform stacks must not carry them.
        for stack in ("PlatformStateful", "PlatformStateless"):
            assert "copilot-application" not in synth.stack(stack).tags.tag_values()
