"""The role the GitHub deploy role assumes for Copilot's deploys: the environment's manager role
in Copilot's rendered environment template lets the deploy role in, and allows every call that
cdk/deploy_access/deploy_calls.yml lists for it (by: env-manager-role) on its resources."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
import yaml
from copilot_checks import aws, render
from repository_facts import REPO_ROOT

CALLS = REPO_ROOT / "cdk" / "deploy_access" / "deploy_calls.yml"
APP = "chatbot"


def manager_role_calls() -> list[dict]:
    calls = yaml.safe_load(CALLS.read_text())["calls"]
    return [c for c in calls if c["by"] == "env-manager-role"]


def resolve(value, names: dict[str, str]) -> str | None:
    """A resource of the rendered policy as a string; None for what only a deploy knows."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(
            r"\$\{([^}]+)\}", lambda m: names.get(m[1], "${" + m[1] + "}"), value["Fn::Sub"]
        )
    return None


def manager_role(rendered, env: str) -> dict:
    template = render.load_template(rendered / env / f"{env}.env.yml")
    return template["Resources"]["EnvironmentManagerRole"]["Properties"]


def matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_deploy_role_may_assume_the_environment_manager_role(rendered, env):
    """The manager role trusts the account (ToolsAccountPrincipalARN): any principal of the
    account whose own policy allows sts:AssumeRole on it, as the deploy role's does."""
    role = manager_role(rendered, env)
    assert role["RoleName"] == {"Fn::Sub": "${AWS::StackName}-EnvManagerRole"}
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": {"Fn::Sub": "${ToolsAccountPrincipalARN}"}}
    params = json.loads((rendered / env / f"{env}.env.params.json").read_text())["Parameters"]
    assert params["ToolsAccountPrincipalARN"] == f"arn:aws:iam::{aws.ACCOUNT}:root"
    calls = yaml.safe_load(CALLS.read_text())["calls"]
    assert any(
        c["action"] == "sts:AssumeRole"
        and c["resources"] == ["arn:{partition}:iam::{account}:role/{app}-{env}-EnvManagerRole"]
        for c in calls
    )


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_environment_manager_role_allows_the_listed_calls(rendered, env):
    stand_ins = json.loads((rendered / env / "stand-ins.json").read_text())
    names = {
        "AWS::Partition": "aws",
        "AWS::Region": render.REGION,
        "AWS::AccountId": aws.ACCOUNT,
        "AppName": APP,
        "EnvironmentName": env,
    }
    statements = [
        {
            "actions": s["Action"] if isinstance(s["Action"], list) else [s["Action"]],
            "resources": [
                resolve(r, names)
                for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
            ],
        }
        for policy in manager_role(rendered, env)["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    calls = manager_role_calls()
    assert {c["action"] for c in calls} >= {
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "s3:PutObject",
    }
    refused = []
    for call in calls:
        for pattern in call["resources"]:
            resource = pattern.replace("RANDOM", "0a1b2c3d").format(
                partition="aws",
                region=render.REGION,
                account=aws.ACCOUNT,
                app=APP,
                env=env,
                artifact_bucket=stand_ins["ARTIFACT_BUCKET"],
                artifact_key=stand_ins["ARTIFACT_KEY"],
            )
            allowed = any(
                any(matches(a.lower(), call["action"].lower()) for a in s["actions"])
                and any(r is not None and matches(r, resource) for r in s["resources"])
                for s in statements
            )
            if not allowed:
                refused.append(f"{call['action']} on {resource}")
    assert refused == []
