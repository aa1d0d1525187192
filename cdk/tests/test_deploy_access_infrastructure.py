import json
from pathlib import Path

import pytest
import yaml

from conftest import only
from deploy_access.infrastructure import DEPLOY_WORKFLOW

REPO_ROOT = Path(__file__).resolve().parents[2]


def _deploy_role(synthesised):
    roles = synthesised.template("PlatformStateless").find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": f"chatbot-{synthesised.env}-github-deploy"}}
    )
    (role,) = roles.values()
    return role["Properties"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_only_the_deploy_workflow_in_the_environment_assumes_the_role(synthesised, env):
    role = _deploy_role(synthesised[env])
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = statement["Condition"]
    # One operator, single values: a branch subject (which skips the environment's reviewers)
    # or a ForAnyValue: list on the single-valued sub claim would let more jobs in.
    assert conditions == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:muykol/chatbot:environment:{env}",
            "token.actions.githubusercontent.com:job_workflow_ref": (
                "muykol/chatbot/.github/workflows/deploy-environment.yml@refs/heads/main"
            ),
        }
    }
    assert "*" not in json.dumps(conditions)
    assert role["MaxSessionDuration"] == 3600


def test_the_pinned_workflow_is_the_one_that_assumes_the_role():
    """The job_workflow_ref names the reusable workflow whose job configures the credentials,
    and that job runs in the GitHub environment the subject names."""
    workflow = yaml.safe_load((REPO_ROOT / DEPLOY_WORKFLOW).read_text())
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)


def test_oidc_provider_trusts_githubs_issuer_for_sts(prod):
    provider = only(prod.template("PlatformStateless"), "AWS::IAM::OIDCProvider")["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_deploy_permissions_stay_within_the_application(prod):
    policy = only(prod.template("PlatformStateless"), "AWS::IAM::ManagedPolicy")["Properties"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    # The only statements on every resource: the ECR login and the export listing, which IAM
    # cannot scope.
    unscoped = [sid for sid, s in statements.items() if s["Resource"] == "*"]
    assert sorted(unscoped) == ["EcrLogin", "ListStackExports"]
    assert statements["ListStackExports"]["Action"] == "cloudformation:ListExports"
    actions = [
        a
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [a for a in actions if a.endswith(":*") or a == "*"]
    assert not [a for a in actions if a.startswith("iam:")]


def test_one_concurrency_group_per_environment_for_pushed_and_manual_runs():
    """The group is held by the environment's job, which pushed and manual runs share: a manual
    prod deploy waits for a pushed one instead of overlapping it."""
    caller = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    assert "concurrency" not in caller  # a run-level group would differ by trigger
    calls = [job for job in caller["jobs"].values() if "uses" in job]
    assert {job["with"]["environment"] for job in calls} == {"dev", "staging", "prod"}
    assert all(job["uses"] == f"./{DEPLOY_WORKFLOW}" for job in calls)
    workflow = yaml.safe_load((REPO_ROOT / DEPLOY_WORKFLOW).read_text())
    (job,) = workflow["jobs"].values()
    assert job["concurrency"] == {
        "group": "deploy-${{ inputs.environment }}",
        "cancel-in-progress": False,
    }
