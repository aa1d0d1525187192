"""The manifests agree with the rest of the repository: the chat API's port and health route,
the CDK app's environments, domains and regions, and the names the CDK stacks publish."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from copilot_checks import render
from copilot_checks.render import load_template
from repository_facts import (
    CDK_DIR,
    REPO_ROOT,
    cdk_environments,
    contract,
    dockerfile_stages,
    manifest,
)

ENVIRONMENTS = ("dev", "staging", "prod")
SERVICES = ("chat-api", "web-ui")
APP = "chatbot"


def service_settings(service: str, env: str) -> dict:
    """A service manifest with the environment's overrides applied (maps merge, others win)."""

    def merge(base, override):
        if isinstance(base, dict) and isinstance(override, dict):
            merged = dict(base)
            for key, value in override.items():
                merged[key] = merge(base.get(key), value) if key in base else value
            return merged
        return override

    document = manifest(f"{service}/manifest.yml")
    overrides = document.pop("environments", {}).get(env, {})
    return merge(document, overrides)


def interpolate(value: str, env: str) -> str:
    return value.replace("${COPILOT_APPLICATION_NAME}", APP).replace(
        "${COPILOT_ENVIRONMENT_NAME}", env
    )


# --- the chat API ----------------------------------------------------------------------------


def chat_api_port_and_health_path() -> tuple[int, str]:
    gunicorn = (REPO_ROOT / "chat-api" / "gunicorn.conf.py").read_text()
    bind = re.search(r'os\.environ\.get\("CHAT_API_BIND", "([^"]+)"\)', gunicorn)
    prefix = re.search(
        r'^API_PREFIX = "([^"]+)"',
        (REPO_ROOT / "chat-api" / "chat_api" / "routes" / "__init__.py").read_text(),
        re.M,
    )
    route = re.search(
        r'@bp\.get\("(/health)"\)',
        (REPO_ROOT / "chat-api" / "chat_api" / "routes" / "health.py").read_text(),
    )
    assert bind and prefix and route, "the chat API's bind, prefix or health route moved"
    return int(bind[1].rsplit(":", 1)[1]), prefix[1] + route[1]


def test_chat_api_port_and_health_check_match_the_app_and_the_image():
    port, health_path = chat_api_port_and_health_path()
    assert (port, health_path) == (8080, "/api/v1/health")
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert f"EXPOSE {port}" in dockerfile
    assert f"CHAT_API_BIND=0.0.0.0:{port}" in dockerfile
    assert re.search(r"^FROM .* AS chat-api$", dockerfile, re.M)
    settings = manifest("chat-api/manifest.yml")
    assert settings["image"]["port"] == port
    assert settings["image"]["build"]["target"] == "chat-api"
    assert settings["http"]["healthcheck"]["path"] == health_path
    assert settings["http"]["healthcheck"]["port"] == port
    assert f"127.0.0.1:{port}{health_path}" in " ".join(settings["image"]["healthcheck"]["command"])
    # Routed prefix of the load balancer covers the API's prefix.
    assert health_path.startswith("/" + settings["http"]["path"] + "/")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_target_group_checks_the_health_route(rendered, env):
    port, health_path = chat_api_port_and_health_path()
    template = load_template(rendered / env / f"chat-api-{env}.stack.yml")
    group = template["Resources"]["TargetGroup"]["Properties"]
    assert group["HealthCheckPath"] == health_path
    assert group["Port"] == port
    params = json.loads((rendered / env / f"chat-api-{env}.params.json").read_text())
    assert params["Parameters"]["ContainerPort"] == str(port)


def test_chat_api_receives_every_setting_the_app_requires():
    config = (REPO_ROOT / "chat-api" / "chat_api" / "config.py").read_text()
    required = re.search(r"^REQUIRED = \(([^)]*)\)", config, re.M)
    names = set(re.findall(r'"([A-Z_]+)"', required[1]))
    for env in ENVIRONMENTS:
        settings = service_settings("chat-api", env)
        given = set(settings["variables"]) | set(settings.get("secrets", {}))
        assert names <= given, f"{env}: missing {sorted(names - given)}"


@pytest.mark.parametrize("service", SERVICES)
def test_image_port_and_health_checks_match_the_dockerfile_target(service):
    settings = manifest(f"{service}/manifest.yml")
    stage = dockerfile_stages()[settings["image"]["build"]["target"]]
    assert settings["image"]["build"]["target"] == service
    assert settings["image"]["port"] == stage.expose
    assert settings["http"]["healthcheck"]["port"] == stage.expose
    for rule in settings["http"].get("additional_rules", []):
        assert rule["healthcheck"]["port"] == stage.expose
    assert settings["image"]["healthcheck"]["command"] == stage.healthcheck
    assert f"127.0.0.1:{stage.expose}{settings['http']['healthcheck']['path']}" in " ".join(
        stage.healthcheck
    )


# --- environments ----------------------------------------------------------------------------


def test_environments_are_the_cdk_environments(workspace):
    assert sorted(workspace.environments) == sorted(cdk_environments())
    assert sorted(workspace.environments) == sorted(contract()["environments"])
    assert workspace.app == contract()["copilot_app"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("service", SERVICES)
def test_alias_and_region_match_the_cdk_configuration(service, env):
    cdk = cdk_environments()[env]
    settings = service_settings(service, env)
    assert settings["http"]["alias"] == f"api.{cdk['domain_name']}"
    for rule in settings["http"].get("additional_rules", []):
        assert rule["alias"] == settings["http"]["alias"]
    assert settings["variables"]["AWS_REGION"] == cdk["region"]
    assert settings["logging"]["retention"] == cdk["log_retention_days"]


def test_production_runs_at_least_two_tasks_without_shell_access():
    for service in SERVICES:
        prod = service_settings(service, "prod")
        assert prod["count"]["range"]["min"] >= 2
        assert prod["exec"] is False
        assert service_settings(service, "dev")["count"]["range"]["min"] == 1
    assert manifest("environments/prod/manifest.yml")["observability"]["container_insights"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_services_deploy_safely(rendered, env):
    for service in SERVICES:
        template = load_template(rendered / env / f"{service}-{env}.stack.yml")
        deployment = template["Resources"]["Service"]["Properties"]["DeploymentConfiguration"]
        assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert deployment["Alarms"]["Enable"] is True and deployment["Alarms"]["Rollback"]
        network = template["Resources"]["Service"]["Properties"]["NetworkConfiguration"]
        assert network["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
        exec_on = template["Resources"]["Service"]["Properties"].get("EnableExecuteCommand", False)
        assert exec_on is (env != "prod")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_environment_spans_two_zones_with_nat_and_modern_tls(rendered, env):
    template = load_template(rendered / env / f"{env}.env.yml")
    resources = template["Resources"]
    assert {"PublicSubnet1", "PublicSubnet2", "PrivateSubnet1", "PrivateSubnet2"} <= set(resources)
    assert any(r["Type"] == "AWS::EC2::NatGateway" for r in resources.values())
    listener = resources["HTTPSListener"]["Properties"]
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"


# --- names published by the CDK stacks -------------------------------------------------------


def manifest_imports(env: str) -> set[str]:
    names = set()
    for service in SERVICES:
        for value in service_settings(service, env)["variables"].values():
            if isinstance(value, dict):
                names.add(interpolate(value["from_cfn"], env))
    return names


# Outputs of Copilot's own environment stack; everything else an addon imports is the platform's.
# The state store has its own security groups: it imports no environment security group.
COPILOT_ENVIRONMENT_OUTPUTS = {"VpcId", "PrivateSubnets"}


def addon_imports(env: str, *, from_environment: bool = False) -> set[str]:
    names = set()
    for addon in (render.COPILOT_DIR).glob("*/addons/*.yml"):
        pattern = r"Fn::ImportValue: !Sub '\$\{App\}-\$\{Env\}-(\w+)'"
        for name in re.findall(pattern, addon.read_text()):
            if (name in COPILOT_ENVIRONMENT_OUTPUTS) == from_environment:
                names.add(f"{APP}-{env}-{name}")
    return names


def environment_exports(rendered, env: str) -> set[str]:
    """The export names of the environment stack `<app>-<env>`: Copilot names some exports
    differently from their outputs (PublicLoadBalancerDNSName is exported as
    <stack>-PublicLoadBalancerDNS)."""
    outputs = load_template(rendered / env / f"{env}.env.yml")["Outputs"]
    names = (o["Export"]["Name"] for o in outputs.values() if "Export" in o)
    return {name["Fn::Sub"].replace("${AWS::StackName}", f"{APP}-{env}") for name in names}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_addons_import_only_what_the_copilot_environment_exports(rendered, env):
    exported = environment_exports(rendered, env)
    imported = addon_imports(env, from_environment=True)
    assert imported == {f"{APP}-{env}-{name}" for name in COPILOT_ENVIRONMENT_OUTPUTS}
    assert imported <= exported


def manifest_parameters(env: str) -> set[str]:
    """The SSM parameters the manifests read as secrets (a plain name is a parameter)."""
    return {
        interpolate(value, env)
        for service in SERVICES
        for value in service_settings(service, env).get("secrets", {}).values()
        if isinstance(value, str)
    }


def secret_reference(value: str) -> tuple[str, str | None]:
    """(secret name, JSON key or None) of `secretsmanager: <name>[:<json-key>:<stage>:<id>]`
    (a secret's name cannot hold a colon)."""
    name, _, rest = value.partition(":")
    return name, (rest.split(":")[0] or None) if rest else None


def manifest_secrets(env: str) -> set[str]:
    """The Secrets Manager secrets the manifests read (`secretsmanager: <name>[:<key>::]`)."""
    return {
        secret_reference(interpolate(value["secretsmanager"], env))[0]
        for service in SERVICES
        for value in service_settings(service, env).get("secrets", {}).values()
        if isinstance(value, dict)
    }


CONTRACT_PLATFORM_IMPORTS = {
    "CognitoUserPoolId", "CognitoAppClientId", "CognitoIssuer", "ConversationsTable",
    "ConversationsTableArn", "FeedbackQueueUrl", "FeedbackQueueArn", "BedrockModelId",
    "BedrockGuardrailId", "BedrockGuardrailArn", "FeedbackTable", "ProfilesTable",
}  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_import_and_parameter_is_in_the_platform_contract(env):
    exports = {name.format(env=env) for name in contract()["exports"].values()}
    imports = manifest_imports(env) | addon_imports(env)
    assert {f"{APP}-{env}-{n}" for n in CONTRACT_PLATFORM_IMPORTS} == imports
    assert imports <= exports
    parameters = {name.format(env=env) for name in contract()["ssm_parameters"].values()}
    assert manifest_parameters(env) <= parameters
    secrets = {name.format(env=env) for name in contract()["secrets"].values()}
    assert manifest_secrets(env) and manifest_secrets(env) <= secrets


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_guardrail_version_reaches_the_chat_api_through_its_ssm_parameter(rendered, env):
    """The guardrail publishes a new version with every change of its configuration, and
    CloudFormation refuses to change an export another stack imports: the version travels as
    the platform's SSM parameter, read when a task starts, and no stack exports it."""
    parameter = contract()["ssm_parameters"]["BEDROCK_GUARDRAIL_VERSION"].format(env=env)
    settings = service_settings("chat-api", env)
    assert settings["secrets"]["BEDROCK_GUARDRAIL_VERSION"] == (
        "/chatbot/${COPILOT_ENVIRONMENT_NAME}/BEDROCK_GUARDRAIL_VERSION"
    )
    assert interpolate(settings["secrets"]["BEDROCK_GUARDRAIL_VERSION"], env) == parameter
    assert "BEDROCK_GUARDRAIL_VERSION" not in settings["variables"]
    assert "BEDROCK_GUARDRAIL_VERSION" not in contract()["exports"]
    assert not [n for n in manifest_imports(env) | addon_imports(env) if "GuardrailVersion" in n]
    # What Copilot renders: the container's secret is the parameter itself.
    template = load_template(rendered / env / f"chat-api-{env}.stack.yml")
    (definition,) = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    ]
    # The service's own container is named after the workload (a parameter, chat-api).
    (container,) = [
        c for c in definition["ContainerDefinitions"] if c["Name"] == {"Ref": "WorkloadName"}
    ]
    secrets = {item["Name"]: item["ValueFrom"] for item in container.get("Secrets", [])}
    assert secrets["BEDROCK_GUARDRAIL_VERSION"] == parameter
    variables = {item["Name"] for item in container.get("Environment", [])}
    assert "BEDROCK_GUARDRAIL_VERSION" not in variables


# --- which Cognito app client each service uses -----------------------------------------------

BACKEND_CLIENT_SECRET = "COGNITO_WEB_BACKEND_CLIENT"


def backend_client_reference(env: str, key: str) -> str:
    """The manifests' reference to one key of the web-ui backend client's secret."""
    name = contract()["secrets"][BACKEND_CLIENT_SECRET].format(env=env)
    return f"{name}:{key}::"


def chat_api_setting_names() -> set[str]:
    """Every variable the chat API's Settings read (the fields' names in capitals)."""
    config = (REPO_ROOT / "chat-api" / "chat_api" / "config.py").read_text()
    body = re.search(r"^class Settings:\n(.*?)^    @classmethod", config, re.M | re.S)
    return {name.upper() for name in re.findall(r"^    (\w+): ", body[1], re.M)}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_web_ui_signs_in_with_the_confidential_client_the_chat_api_accepts(env):
    """web-ui runs on the backend's confidential client (id and secret from Secrets Manager), so
    Cognito's threat protection gets the browser's address through UserContextData; the chat
    API keeps the public client for every other caller and accepts the confidential one too."""
    web_ui = service_settings("web-ui", env)
    secrets = {
        name: interpolate(value["secretsmanager"], env)
        for name, value in web_ui["secrets"].items()
        if isinstance(value, dict)
    }
    assert secrets["COGNITO_APP_CLIENT_ID"] == backend_client_reference(env, "client_id")
    assert secrets["COGNITO_WEB_CLIENT_SECRET"] == backend_client_reference(env, "client_secret")
    # A name in both `variables` and `secrets` would be ambiguous: the public id is gone.
    assert "COGNITO_APP_CLIENT_ID" not in web_ui["variables"]
    settings_py = (REPO_ROOT / "web-ui" / "web_ui" / "settings.py").read_text()
    assert 'environ.get("COGNITO_WEB_CLIENT_SECRET")' in settings_py

    chat_api = service_settings("chat-api", env)
    assert interpolate(chat_api["variables"]["COGNITO_APP_CLIENT_ID"]["from_cfn"], env) == (
        contract()["exports"]["COGNITO_APP_CLIENT_ID"].format(env=env)
    )
    extra = chat_api["secrets"]["COGNITO_EXTRA_APP_CLIENT_IDS"]
    assert interpolate(extra["secretsmanager"], env) == backend_client_reference(env, "client_id")
    assert "COGNITO_EXTRA_APP_CLIENT_IDS" in chat_api_setting_names()
    # The client's secret reaches web-ui alone.
    assert "COGNITO_WEB_CLIENT_SECRET" not in set(chat_api["variables"]) | set(chat_api["secrets"])


def task_secrets(rendered: Path, service: str, env: str) -> dict[str, object]:
    template = load_template(rendered / env / f"{service}-{env}.stack.yml")
    (container,) = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return {item["Name"]: item["ValueFrom"] for item in container.get("Secrets", [])}


def execution_role_reads_tagged_secrets(rendered: Path, service: str, env: str) -> bool:
    """Whether the service's execution role may read every secret tagged with the application
    and environment this service is deployed to (Copilot's own grant)."""
    template = load_template(rendered / env / f"{service}-{env}.stack.yml")
    params = json.loads((rendered / env / f"{service}-{env}.params.json").read_text())
    assert (params["Parameters"]["AppName"], params["Parameters"]["EnvName"]) == (APP, env)
    role = template["Resources"]["ExecutionRole"]["Properties"]
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "secretsmanager:GetSecretValue" not in statement.get("Action", []):
                continue
            resources = [r["Fn::Sub"] if isinstance(r, dict) else r for r in statement["Resource"]]
            tags = statement.get("Condition", {}).get("StringEquals", {})
            wanted = {
                "secretsmanager:ResourceTag/copilot-application": {"Fn::Sub": "${AppName}"},
                "secretsmanager:ResourceTag/copilot-environment": {"Fn::Sub": "${EnvName}"},
            }
            if (
                statement["Effect"] == "Allow"
                and any(r.endswith(":secret:*") for r in resources)
                and wanted.items() <= tags.items()
            ):
                return True
    return False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_tasks_read_the_backend_client_from_its_secret(rendered, env):
    arn = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    web_ui = task_secrets(rendered, "web-ui", env)
    assert web_ui["COGNITO_APP_CLIENT_ID"] == {
        "Fn::Sub": arn + backend_client_reference(env, "client_id")
    }
    assert web_ui["COGNITO_WEB_CLIENT_SECRET"] == {
        "Fn::Sub": arn + backend_client_reference(env, "client_secret")
    }
    chat_api = task_secrets(rendered, "chat-api", env)
    assert chat_api["COGNITO_EXTRA_APP_CLIENT_IDS"] == web_ui["COGNITO_APP_CLIENT_ID"]
    assert "COGNITO_WEB_CLIENT_SECRET" not in chat_api
    # ECS reads the secret with the execution role, which Copilot lets read only tagged
    # secrets; the CDK tags this one (test_parameters_read_as_secrets_carry_the_tags_...).
    for service in SERVICES:
        assert execution_role_reads_tagged_secrets(rendered, service, env), service


SYNTH_ENV = "dev"
CDK_VENV = REPO_ROOT / ".venvs" / "cdk"
CDK_PYTHON = CDK_VENV / "bin" / "python"
SYNTH = (
    "import sys; from application import build_app; "
    "build_app(sys.argv[1], outdir=sys.argv[2]).synth()"
)


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory) -> Path:
    """The CDK app of one environment, synthesised now with the CDK app's own venv."""
    if not (CDK_VENV / ".installed").exists():
        pytest.skip(f"{CDK_VENV} is not installed (make synth creates it); it synthesises")
    out = tmp_path_factory.mktemp("cdk.out")
    completed = subprocess.run(
        [str(CDK_PYTHON), "-c", SYNTH, SYNTH_ENV, str(out)],
        cwd=CDK_DIR,
        env=dict(os.environ),  # make test-copilot puts the CDK's Node first on PATH
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out


def synthesized(cdk_out: Path, construct_id: str) -> dict:
    return json.loads((cdk_out / f"{construct_id}.template.json").read_text())


def test_synthesized_platform_stacks_produce_every_import_and_parameter(cdk_out):
    templates = [
        synthesized(cdk_out, "PlatformStateful"),
        synthesized(cdk_out, "PlatformStateless"),
    ]
    env = SYNTH_ENV
    exported = {
        output["Export"]["Name"]
        for template in templates
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }
    missing = (manifest_imports(env) | addon_imports(env)) - exported
    assert not missing, f"not exported by the platform stack: {sorted(missing)}"
    parameters = {
        resource["Properties"]["Name"]
        for template in templates
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::SSM::Parameter"
    }
    assert manifest_parameters(env) <= parameters


def test_edge_stack_imports_only_what_the_copilot_environment_exports(rendered, cdk_out):
    template = synthesized(cdk_out, "Edge")
    env = SYNTH_ENV
    exported = environment_exports(rendered, env)
    text = json.dumps(template)
    imported = set(re.findall(rf'"Fn::ImportValue": "({APP}-{env}-[A-Za-z]+)"', text))
    imported -= {name.format(env=env) for name in contract()["exports"].values()}
    assert imported, "the edge stack imports nothing from the Copilot environment"
    assert imported <= exported, f"not exported by Copilot: {sorted(imported - exported)}"


def test_parameters_read_as_secrets_carry_the_tags_copilots_execution_role_needs(cdk_out):
    # Copilot's execution role reads an SSM parameter only when it is tagged with the application
    # and the environment: every parameter a manifest names as a secret must carry both.
    template = synthesized(cdk_out, "PlatformStateless")
    tags_by_name = {
        resource["Properties"]["Name"]: resource["Properties"].get("Tags", {})
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::SSM::Parameter"
    }
    wanted = {"copilot-application": APP, "copilot-environment": SYNTH_ENV}
    read = manifest_parameters(SYNTH_ENV)
    assert read
    for name in read:
        assert wanted.items() <= tags_by_name[name].items(), name
    # The same for the Secrets Manager secrets (the web UI's token key).
    secret_tags = {
        resource["Properties"].get("Name"): {
            t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])
        }
        for resource in synthesized(cdk_out, "PlatformStateful")["Resources"].values()
        if resource["Type"] == "AWS::SecretsManager::Secret"
    }
    for name in manifest_secrets(SYNTH_ENV):
        assert wanted.items() <= secret_tags[name].items(), name


def resolved_json(value) -> dict:
    """A synthesised JSON string (plain or `Fn::Join`), each intrinsic function standing in as
    its JSON text, e.g. {"client_id": '{"Ref": "Client"}'}."""
    if isinstance(value, str):
        return json.loads(value)
    separator, parts = value["Fn::Join"]
    text = separator.join(
        part if isinstance(part, str) else json.dumps(part).replace('"', "'") for part in parts
    )
    return {key: item.replace("'", '"') for key, item in json.loads(text).items()}


def test_the_backend_client_secret_holds_the_keys_the_manifests_read(cdk_out):
    """The keys the manifests name exist in the CDK's secret and hold the id and the secret of
    the confidential client `chatbot-<env>-web-backend`, not of the public client."""
    template = synthesized(cdk_out, "PlatformStateful")
    name = contract()["secrets"][BACKEND_CLIENT_SECRET].format(env=SYNTH_ENV)
    (secret,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SecretsManager::Secret" and r["Properties"].get("Name") == name
    ]
    (client,) = [
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Cognito::UserPoolClient"
        and r["Properties"]["ClientName"] == f"{APP}-{SYNTH_ENV}-web-backend"
    ]
    assert template["Resources"][client]["Properties"]["GenerateSecret"] is True
    values = {
        key: json.loads(value) for key, value in resolved_json(secret["SecretString"]).items()
    }
    assert values == {
        "client_id": {"Ref": client},
        "client_secret": {"Fn::GetAtt": [client, "ClientSecret"]},
    }
    read = {
        secret_reference(interpolate(value["secretsmanager"], SYNTH_ENV))
        for service in SERVICES
        for value in service_settings(service, SYNTH_ENV)["secrets"].values()
        if isinstance(value, dict)
    }
    keys = {key for secret_name, key in read if secret_name == name}
    assert keys == {"client_id", "client_secret"}


def test_copilot_environment_exports_in_the_contract_are_exported(rendered):
    for env in ENVIRONMENTS:
        env_template = load_template(rendered / env / f"{env}.env.yml")
        exported = {name for name, output in env_template["Outputs"].items() if "Export" in output}
        wanted = set(contract()["copilot_environment_exports"])
        assert wanted <= exported, sorted(wanted - exported)


def test_lifecycle_policy_keeps_rollback_images():
    policy = json.loads((render.COPILOT_DIR / "ecr-lifecycle-policy.json").read_text())
    kept = [r for r in policy["rules"] if r["selection"]["countType"] == "imageCountMoreThan"]
    assert kept and kept[0]["selection"]["countNumber"] >= 10


def test_yaml_files_parse():
    for path in Path(render.COPILOT_DIR).glob("**/*.yml"):
        if "build" not in path.parts:
            if "addons" in path.parts:
                continue  # CloudFormation short forms: checked by cfn-lint
            yaml.safe_load(path.read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_web_ui_routes_reflex_paths_to_sticky_targets(rendered, env):
    template = load_template(rendered / env / f"web-ui-{env}.stack.yml")
    patterns, sticky_groups = set(), 0
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule":
            for condition in properties["Conditions"]:
                if condition["Field"] == "path-pattern":
                    patterns |= set(condition["PathPatternConfig"]["Values"])
        if resource["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup":
            attributes = {a["Key"]: a["Value"] for a in properties["TargetGroupAttributes"]}
            assert properties["HealthCheckPath"] == "/ping"
            assert properties["Port"] == dockerfile_stages()["web-ui"].expose
            sticky_groups += attributes.get("stickiness.enabled") is True
    assert {"/_event", "/_event/*", "/_upload", "/_upload/*"} <= patterns
    assert sticky_groups == 2


def test_web_ui_receives_every_setting_the_web_app_requires():
    settings_py = (REPO_ROOT / "web-ui" / "web_ui" / "settings.py").read_text()
    names = set(re.findall(r'_required\(environ, "([A-Z_]+)"\)', settings_py))
    assert {"COGNITO_USER_POOL_ID", "COGNITO_APP_CLIENT_ID", "CHAT_API_URL"} <= names
    names |= {"APP_ENV", "AWS_REGION"}
    for env in ENVIRONMENTS:
        settings = service_settings("web-ui", env)
        given = set(settings["variables"]) | set(settings.get("secrets", {}))
        assert names <= given, f"{env}: missing {sorted(names - given)}"
    # More than one task shares the state through the addon's output: a secret, since the
    # URL carries the state store user's password (test_service_network.py).
    addon = (render.COPILOT_DIR / "web-ui" / "addons" / "state-store.yml").read_text()
    assert re.search(r"^  ReflexRedisUrl:\n.*\n    Value: !Ref ReflexRedisUrlSecret", addon, re.M)
    assert re.search(r"^      SecretString: !Sub 'rediss://", addon, re.M)
