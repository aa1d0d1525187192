"""The way off Copilot: `make deploy-plan ENV=prod WITHOUT_COPILOT=1` deploys what Copilot
renders with CloudFormation alone. Its templates exist, every parameter of each has a value,
every import has an exporter earlier in the plan (a Copilot stack before it, or the CDK
stacks), and no value the offline rendering made up is left in what gets deployed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from copilot_checks import render
from deploy.steps import DeployError
from deploy.without_copilot import StackDeploy, without_copilot_plan, write_templates
from repository_facts import CDK_DIR, REPO_ROOT

from local_stack.harness import run_command

ENV = "prod"
CDK_VENV = REPO_ROOT / ".venvs" / "cdk"
SYNTH = (
    "import sys; from application import build_app; "
    "build_app(sys.argv[1], outdir=sys.argv[2]).synth()"
)
ACCOUNT_VALUES = {
    "ACCOUNT": "333333333333",
    "API_CERTIFICATE_ARN": "arn:aws:acm:us-east-1:333333333333:certificate/real",
    "ARTIFACT_BUCKET": "stackset-chatbot-infrastruc-pipelinebuiltartifactbuc-real",
    "ARTIFACT_KEY": "arn:aws:kms:us-east-1:333333333333:key/real",
}


@pytest.fixture(scope="module")
def cdk_exports(tmp_path_factory) -> dict[str, set[str]]:
    """construct id -> export names, of the CDK app synthesised now for prod."""
    if not (CDK_VENV / ".installed").exists():
        pytest.skip(f"{CDK_VENV} is not installed (make synth creates it); it synthesises")
    out = tmp_path_factory.mktemp("cdk.out")
    completed = subprocess.run(
        [str(CDK_VENV / "bin" / "python"), "-c", SYNTH, ENV, str(out)],
        cwd=CDK_DIR,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    exports = {}
    for construct_id in ("PlatformStateful", "PlatformStateless", "Edge"):
        template = json.loads((out / f"{construct_id}.template.json").read_text())
        exports[construct_id] = {
            o["Export"]["Name"] for o in template.get("Outputs", {}).values() if "Export" in o
        }
        exports[f"{construct_id}:imports"] = set(imports(template, {}))
    return exports


@pytest.fixture(scope="module")
def build(rendered, tmp_path_factory) -> Path:
    """A copy of the shared rendering: the plan writes its templates next to them."""
    build = tmp_path_factory.mktemp("build")
    shutil.copytree(rendered / ENV, build / ENV)
    return build


@pytest.fixture(scope="module")
def plan(build):
    write_templates(ENV, build, values=ACCOUNT_VALUES)
    return without_copilot_plan(ENV, build_dir=build)


def substitute(value, parameters: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    assert function == "Fn::Sub", value
    return re.sub(r"\$\{([^}]+)\}", lambda m: parameters[m[1]], argument)


def imports(node, parameters: dict[str, str]):
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            yield substitute(node["Fn::ImportValue"], parameters)
        for value in node.values():
            yield from imports(value, parameters)
    elif isinstance(node, list):
        for value in node:
            yield from imports(value, parameters)


def exports(template: dict, parameters: dict[str, str]) -> set[str]:
    return {
        substitute(output["Export"]["Name"], parameters)
        for output in (template.get("Outputs") or {}).values()
        if "Export" in output
    }


def stack_deploys(plan) -> list[StackDeploy]:
    return [step for step in plan if isinstance(step, StackDeploy)]


def test_the_plan_deploys_the_environment_then_each_service_with_cloudformation(plan):
    stacks = [step.stack for step in stack_deploys(plan)]
    assert stacks == ["chatbot-prod", "chatbot-prod-chat-api", "chatbot-prod-web-ui"]
    lines = [step.command_line() for step in plan]
    assert not [line for line in lines if re.search(r"\bcopilot (env|svc|app) ", line)]
    platform = next(
        i for i, line in enumerate(lines) if "PlatformStateful PlatformStateless" in line
    )
    edge = next(i for i, line in enumerate(lines) if "--exclusively Edge" in line)
    environment = next(i for i, line in enumerate(lines) if "--stack-name chatbot-prod " in line)
    smoke = next(i for i, line in enumerate(lines) if "-m deploy smoke prod" in line)
    # prod's Amplify branch builds nothing on a push: the web app's build comes last.
    release = next(i for i, line in enumerate(lines) if "aws amplify start-job" in line)
    assert platform < environment < edge < smoke < release == len(lines) - 1


def test_every_parameter_of_every_template_has_a_value(plan):
    for step in stack_deploys(plan):
        template = render.load_template(REPO_ROOT / step.template)
        declared = template.get("Parameters", {})
        required = {name for name, p in declared.items() if "Default" not in p}
        assert required - set(step.parameters) == set(), step.stack
        assert set(step.parameters) - set(declared) == set(), step.stack
    services = stack_deploys(plan)[1:]
    for step in services:
        for name in ("ContainerImage", "AddonsTemplateURL", "ArtifactKeyARN"):
            assert str(step.parameters[name]).strip(), f"{step.stack}: {name} is empty"


def test_every_import_has_an_exporter_earlier_in_the_plan(plan, build, cdk_exports):
    available = cdk_exports["PlatformStateful"] | cdk_exports["PlatformStateless"]
    lines = [step.command_line() for step in plan]
    for step in stack_deploys(plan):
        parameters = {k: str(v) for k, v in step.parameters.items()}
        parameters["AWS::StackName"] = step.stack
        template = render.load_template(REPO_ROOT / step.template)
        needed = set(imports(template, parameters))
        addons = template["Resources"].get("AddonsStack")
        if addons:  # the nested stack, uploaded by an earlier step
            service = parameters["WorkloadName"]
            upload = next(
                i for i, line in enumerate(lines) if f"{service}.addons.stack.yml" in line
            )
            assert upload < plan.index(step)
            nested = render.load_template(build / ENV / "cloudformation" / Path(
                f"{service}.addons.stack.yml"
            ))  # fmt: skip
            nested_parameters = {
                name: parameters[value["Ref"]] if isinstance(value, dict) else value
                for name, value in addons["Properties"]["Parameters"].items()
            }
            needed |= set(imports(nested, nested_parameters))
        assert needed - available == set(), step.stack
        available |= exports(template, parameters)
    # The CDK edge stack comes last and may import from all of them.
    assert cdk_exports["Edge:imports"] - available == set()


def test_no_stand_in_of_the_copilot_checksing_is_deployed(plan, build):
    stand_ins = json.loads((build / ENV / "stand-ins.json").read_text())
    assert set(stand_ins) == set(ACCOUNT_VALUES)
    for step in stack_deploys(plan):
        text = (REPO_ROOT / step.template).read_text() + step.command_line()
        for name, stand_in in stand_ins.items():
            assert stand_in not in text, f"{step.stack}: {name} stand-in {stand_in}"
        assert ACCOUNT_VALUES["ARTIFACT_BUCKET"] in (REPO_ROOT / step.template).read_text()


def test_the_templates_command_wants_every_account_value(build):
    with pytest.raises(DeployError, match="set ARTIFACT_KEY"):
        write_templates(ENV, build, values={**ACCOUNT_VALUES, "ARTIFACT_KEY": ""})


def test_make_deploy_plan_without_copilot_prints_the_plan():
    environ = {k: v for k, v in os.environ.items() if k != "ENV"}
    completed = run_command(
        ["make", "-s", "--no-print-directory", "deploy-plan", f"ENV={ENV}", "WITHOUT_COPILOT=1"],
        cwd=REPO_ROOT,
        env=environ,
        timeout=600,
    )
    assert "aws cloudformation deploy --stack-name chatbot-prod-web-ui" in completed.stdout
    assert "copilot svc deploy" not in completed.stdout
