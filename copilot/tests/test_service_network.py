"""The traffic paths in Copilot's rendered templates: the web-ui backend reaches the chat API
through Service Connect inside the VPC, the public path stays on the load balancer, and the
web app's state store admits the web-ui tasks only, with an authenticated user."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from copilot_checks.render import load_template
from repository_facts import contract

ENVIRONMENTS = ("dev", "staging", "prod")


def stack(rendered: Path, service: str, env: str) -> tuple[dict, dict]:
    """(template, parameters) of a rendered service stack."""
    template = load_template(rendered / env / f"{service}-{env}.stack.yml")
    params = json.loads((rendered / env / f"{service}-{env}.params.json").read_text())
    return template, params["Parameters"]


def container(template: dict) -> dict:
    (definition,) = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return definition


def environment_of(template: dict) -> dict[str, object]:
    return {v["Name"]: v["Value"] for v in container(template).get("Environment", [])}


def secrets_of(template: dict) -> dict[str, object]:
    return {s["Name"]: s["ValueFrom"] for s in container(template).get("Secrets", [])}


def service_connect(template: dict, params: dict) -> dict[str, int]:
    """DNS name -> port of the Service Connect aliases the service publishes."""
    config = template["Resources"]["Service"]["Properties"]["ServiceConnectConfiguration"]
    assert config["Enabled"] is True
    aliases = {}
    for service in config.get("Services", []):
        for alias in service["ClientAliases"]:
            name, port = alias["DnsName"], alias["Port"]
            name = params[name["Ref"]] if isinstance(name, dict) else name
            port = params[port["Ref"]] if isinstance(port, dict) else port
            aliases[name] = int(port)
    return aliases


def security_groups(template: dict) -> list:
    network = template["Resources"]["Service"]["Properties"]["NetworkConfiguration"]
    return network["AwsvpcConfiguration"]["SecurityGroups"]


ENVIRONMENT_GROUP = {
    "Fn::ImportValue": {"Fn::Sub": "${AppName}-${EnvName}-EnvironmentSecurityGroup"}
}
STATE_STORE_CLIENT_GROUP = {"Fn::GetAtt": ["AddonsStack", "Outputs.TaskSecurityGroup"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_web_ui_calls_the_chat_api_by_its_service_connect_name(rendered, env):
    chat_api, chat_params = stack(rendered, "chat-api", env)
    web_ui, web_params = stack(rendered, "web-ui", env)
    aliases = service_connect(chat_api, chat_params)
    url = urlsplit(environment_of(web_ui)["CHAT_API_URL"])
    assert url.scheme == "http"  # inside the VPC; the load balancer terminates public TLS
    assert aliases == {url.hostname: url.port}
    assert url.port == int(chat_params["TargetPort"]) == 8080
    # The web-ui service is a Service Connect client in the same namespace.
    web_config = web_ui["Resources"]["Service"]["Properties"]["ServiceConnectConfiguration"]
    chat_config = chat_api["Resources"]["Service"]["Properties"]["ServiceConnectConfiguration"]
    assert web_config["Namespace"] == chat_config["Namespace"]
    # No secret or parameter sends it to the public URL instead.
    assert "CHAT_API_URL" not in secrets_of(web_ui)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_chat_api_admits_the_web_ui_tasks_through_the_environment_group(rendered, env):
    chat_api, _ = stack(rendered, "chat-api", env)
    web_ui, _ = stack(rendered, "web-ui", env)
    assert ENVIRONMENT_GROUP in security_groups(chat_api)
    assert ENVIRONMENT_GROUP in security_groups(web_ui)
    environment = load_template(rendered / env / f"{env}.env.yml")["Resources"]
    rule = environment["EnvironmentSecurityGroupIngressFromSelf"]["Properties"]
    assert rule["GroupId"] == rule["SourceSecurityGroupId"] == {"Ref": "EnvironmentSecurityGroup"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_public_path_to_the_chat_api_stays_on_the_load_balancer(rendered, env):
    chat_api, params = stack(rendered, "chat-api", env)
    assert params["RulePath"] == "api"
    rules = [
        r["Properties"]
        for r in chat_api["Resources"].values()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule"
    ]
    patterns = {
        value
        for rule in rules
        for condition in rule["Conditions"]
        if condition["Field"] == "path-pattern"
        for value in condition["PathPatternConfig"]["Values"]
    }
    assert {"/api", "/api/*"} <= patterns


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_web_ui_tasks_hold_the_state_stores_client_group(rendered, env):
    web_ui, _ = stack(rendered, "web-ui", env)
    chat_api, _ = stack(rendered, "chat-api", env)
    assert STATE_STORE_CLIENT_GROUP in security_groups(web_ui)
    assert STATE_STORE_CLIENT_GROUP not in security_groups(chat_api)


def addon(rendered: Path, env: str) -> dict:
    return load_template(rendered / env / "web-ui.addons.stack.yml")["Resources"]


def test_the_state_store_admits_only_its_client_group(rendered):
    resources = addon(rendered, "prod")
    (ingress,) = resources["StateStoreSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "TaskSecurityGroup"}
    assert (ingress["FromPort"], ingress["ToPort"]) == (6379, 6380)
    assert "CidrIp" not in ingress
    cache = resources["StateStore"]["Properties"]
    assert cache["SecurityGroupIds"] == [{"Ref": "StateStoreSecurityGroup"}]


def test_the_state_store_requires_an_authenticated_user(rendered):
    resources = addon(rendered, "prod")
    cache = resources["StateStore"]["Properties"]
    group = resources[cache["UserGroupId"]["Ref"]]["Properties"]
    users = {ref["Ref"]: resources[ref["Ref"]]["Properties"] for ref in group["UserIds"]}
    by_name = {
        (u["UserName"]["Ref"] if isinstance(u["UserName"], dict) else u["UserName"]): u
        for u in users.values()
    }
    # The default user every group must hold is switched off; the web-ui user needs a password.
    assert by_name["default"]["AccessString"].split()[0] == "off"
    web_ui = by_name["Name"]
    assert web_ui["AccessString"].split()[0] == "on"
    assert "-@dangerous" in web_ui["AccessString"].split()
    assert web_ui["AuthenticationMode"]["Type"] == "password"
    assert "resolve:secretsmanager" in str(web_ui["AuthenticationMode"]["Passwords"])
    assert {u["Engine"] for u in users.values()} == {group["Engine"]} == {"valkey"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_state_store_url_and_the_token_key_reach_the_web_ui_as_secrets(rendered, env):
    web_ui, _ = stack(rendered, "web-ui", env)
    secrets = secrets_of(web_ui)
    # The URL holds the password: a secret of the addon, never a plain variable.
    assert secrets["REFLEX_REDIS_URL"] == {"Fn::GetAtt": ["AddonsStack", "Outputs.ReflexRedisUrl"]}
    assert "REFLEX_REDIS_URL" not in environment_of(web_ui)
    resources = addon(rendered, env)
    outputs = load_template(rendered / env / "web-ui.addons.stack.yml")["Outputs"]
    assert outputs["ReflexRedisUrl"]["Value"] == {"Ref": "ReflexRedisUrlSecret"}
    assert resources["ReflexRedisUrlSecret"]["Type"] == "AWS::SecretsManager::Secret"
    assert "rediss://" in str(resources["ReflexRedisUrlSecret"]["Properties"]["SecretString"])
    # The key of the tokens held in the app state: the platform stack's generated secret.
    session = contract()["secrets"]["WEB_UI_SESSION_SECRET"].format(env=env)
    assert str(secrets["WEB_UI_SESSION_SECRET"]).endswith(f":secret:{session}'}}")
