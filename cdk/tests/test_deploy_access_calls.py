"""The GitHub deploy role against the list of the deploy's AWS calls
(deploy_access/deploy_calls.yml): the synthesised role allows each call on each resource it
touches, grants no action the list does not name and no resource no listed call needs, and the
list names every boto3 call of the deploy package, scripts/deploy/ (deploy, rollback, smoke)."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import botocore.session
import pytest
import yaml
from botocore import xform_name

import config
from chatbot_common import contract

REPO_ROOT = Path(__file__).resolve().parents[2]
CALLS = REPO_ROOT / "cdk" / "deploy_access" / "deploy_calls.yml"
DEPLOY_PACKAGE = REPO_ROOT / "scripts" / "deploy"
ENVIRONMENTS = ("dev", "staging", "prod")


def listed_calls() -> list[dict]:
    """The calls made with the deploy role's own credentials (the environment manager role's
    are checked against Copilot's rendered template, in copilot/tests)."""
    return [c for c in all_calls() if c["by"] != "env-manager-role"]


def all_calls() -> list[dict]:
    return yaml.safe_load(CALLS.read_text())["calls"]


# --- the synthesised policy, with its intrinsics resolved ---------------------------------------


def resolve(value, partition: str = "aws"):
    """A policy value as a plain string: Ref AWS::Partition -> partition, Fn::Join joined, an
    import -> 'import:<export name>'."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve(v, partition) for v in value]
    ((function, argument),) = value.items()
    if function == "Ref" and argument == "AWS::Partition":
        return partition
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(resolve(p, partition) for p in parts)
    if function == "Fn::ImportValue":
        return f"import:{resolve(argument, partition)}"
    raise AssertionError(f"unexpected intrinsic in the deploy policy: {value}")


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def deploy_statements(synthesised) -> list[dict]:
    """The Allow statements of every policy attached to the deploy role, resolved."""
    template = synthesised.template_json("PlatformStateless")
    resources = template["Resources"]
    role_name = f"{contract.COPILOT_APP}-{synthesised.env}-github-deploy"
    (role_id,) = [
        logical_id
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == role_name
    ]
    role = resources[role_id]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    statements = []
    for resource in resources.values():
        properties = resource.get("Properties", {})
        attached = [r.get("Ref") for r in properties.get("Roles", [])]
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and (
            role_id in attached
        ):
            for statement in properties["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow" and "Condition" not in statement
                statements.append(
                    {
                        "Sid": statement.get("Sid"),
                        "Action": as_list(statement["Action"]),
                        "Resource": as_list(resolve(statement["Resource"])),
                    }
                )
    return statements


def user_pool_arn(synthesised) -> str:
    """How the PlatformStateless stack refers to the environment's user pool: the import of the
    stateful stack's export of the pool's ARN."""
    stateful = synthesised.template_json("PlatformStateful")
    (pool_id,) = [
        k for k, r in stateful["Resources"].items() if r["Type"] == "AWS::Cognito::UserPool"
    ]
    (export,) = [
        output["Export"]["Name"]
        for output in stateful.get("Outputs", {}).values()
        if output.get("Value") == {"Fn::GetAtt": [pool_id, "Arn"]} and "Export" in output
    ]
    return f"import:{export}"


def filled(pattern: str, synthesised) -> str:
    stack = synthesised.stack("PlatformStateless")
    return pattern.format(
        partition="aws",
        region=stack.region,
        account=stack.account,
        app=contract.COPILOT_APP,
        env=synthesised.env,
        user_pool_arn=user_pool_arn(synthesised),
        web_ui_branch=config.load(synthesised.env, config.cdk_json_context()).web_ui_branch,
    )


def matches(pattern: str, value: str) -> bool:
    """IAM's wildcards: * any run of characters, ? one character; actions case-insensitive."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def allows(statements: list[dict], action: str, resource: str) -> bool:
    return any(
        any(matches(a.lower(), action.lower()) for a in s["Action"])
        and any(matches(r, resource) for r in s["Resource"])
        for s in statements
    )


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_deploy_role_allows_every_listed_call_on_its_resources(synthesised, env):
    statements = deploy_statements(synthesised[env])
    refused = [
        f"{call['action']} on {filled(resource, synthesised[env])}"
        for call in listed_calls()
        if call.get("iam", True)
        for resource in call["resources"]
        if not allows(statements, call["action"], filled(resource, synthesised[env]))
    ]
    assert refused == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_deploy_role_grants_nothing_the_list_does_not_need(synthesised, env):
    """Every action is a listed call; every resource of a statement is touched by a listed call
    of one of its actions; no action wildcard, no IAM action, '*' only where IAM has no
    resource-level permission."""
    calls = [c for c in listed_calls() if c.get("iam", True)]
    for statement in deploy_statements(synthesised[env]):
        for action in statement["Action"]:
            assert "*" not in action and not action.startswith("iam:"), statement
            assert any(c["action"] == action for c in calls), f"{action} is not in the list"
        for granted in statement["Resource"]:
            needed_by = [
                c["action"]
                for c in calls
                if c["action"] in statement["Action"]
                and any(matches(granted, filled(r, synthesised[env])) for r in c["resources"])
            ]
            assert needed_by, f"{statement['Sid']}: no listed call needs {granted}"
            if granted == "*":
                assert all(
                    c["resources"] == ["*"] for c in calls if c["action"] in statement["Action"]
                ), statement


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_deploy_role_reaches_no_other_environment(synthesised, env):
    other = [e for e in ENVIRONMENTS if e != env]
    for statement in deploy_statements(synthesised[env]):
        for resource in statement["Resource"]:
            for name in other:
                assert f"-{name}-" not in resource and f"/{name}/" not in resource, resource


def test_the_list_is_well_formed():
    for call in all_calls():
        assert set(call) <= {"by", "action", "resources", "iam", "why"}, call
        assert call["by"] in ("deploy", "copilot", "cdk", "env-manager-role"), call
        assert call["resources"], call
        if call.get("iam") is False or call["resources"] == ["*"]:
            assert call.get("why"), f"{call['action']}: say why"


def boto3_calls(source: str) -> set[str]:
    """IAM actions of the boto3 calls in a module: method calls on a client (a name assigned
    from boto3.client("svc") / context.client("svc"), or such a call itself), paginators and
    waiters included."""
    tree = ast.parse(source)
    session = botocore.session.get_session()

    def client_service(node) -> str | None:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return node.args[0].value
        return None

    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (service := client_service(node.value)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = service
    actions = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        service = client_service(receiver) or (
            names.get(receiver.id) if isinstance(receiver, ast.Name) else None
        )
        if service is None:
            continue
        model = session.get_service_model(service)
        operations = {xform_name(op): op for op in model.operation_names}
        method = node.func.attr
        if method in ("get_paginator", "get_waiter"):
            name = node.args[0].value
            if method == "get_waiter":
                waiter = session.get_waiter_model(service).get_waiter(
                    "".join(part.title() for part in name.split("_"))
                )
                operation = waiter.operation
            else:
                operation = operations[name]
        elif method in operations:
            operation = operations[method]
        else:
            continue
        prefix = model.metadata.get("signingName") or model.endpoint_prefix
        actions.add(f"{prefix}:{operation}")
    return actions


def test_every_boto3_call_of_the_deploy_package_is_listed():
    modules = sorted(DEPLOY_PACKAGE.glob("*.py"))
    assert len(modules) > 1
    found = set().union(*(boto3_calls(module.read_text()) for module in modules))
    # What the package calls today, so that the scan itself is known to work.
    assert {
        "sts:GetCallerIdentity",
        "cloudformation:ListExports",
        "ecr:PutLifecyclePolicy",
        "cloudformation:DescribeStackEvents",
        "ecs:UpdateService",
        "ecs:DescribeServices",
        "ssm:GetParameter",
        "cognito-idp:AdminCreateUser",
        "cognito-idp:InitiateAuth",
        "amplify:StartJob",
        "amplify:GetJob",
    } <= found
    listed = {c["action"] for c in listed_calls() if c["by"] == "deploy"}
    assert found - listed == set(), "boto3 calls missing from deploy_calls.yml"
    assert listed - found == set(), "listed deploy calls the package no longer makes"
