import json

from conftest import only


def _deploy_role(synthesised):
    roles = synthesised.template("Platform").find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": f"chatbot-{synthesised.env}-github-deploy"}}
    )
    (role,) = roles.values()
    return role["Properties"]


def test_only_the_repositorys_protected_branch_and_environment_assume_the_role(prod):
    role = _deploy_role(prod)
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = statement["Condition"]
    assert conditions["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"
    }
    assert conditions["ForAnyValue:StringEquals"] == {
        "token.actions.githubusercontent.com:sub": [
            "repo:muykol/chatbot:ref:refs/heads/main",
            "repo:muykol/chatbot:environment:prod",
        ]
    }
    assert "*" not in json.dumps(conditions)
    assert role["MaxSessionDuration"] == 3600


def test_oidc_provider_trusts_githubs_issuer_for_sts(prod):
    provider = only(prod.template("Platform"), "AWS::IAM::OIDCProvider")["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_deploy_permissions_stay_within_the_application(prod):
    policy = only(prod.template("Platform"), "AWS::IAM::ManagedPolicy")["Properties"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    # The only statement on every resource is the ECR login, which IAM cannot scope.
    unscoped = [sid for sid, s in statements.items() if s["Resource"] == "*"]
    assert unscoped == ["EcrLogin"]
    actions = [
        a
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [a for a in actions if a.endswith(":*") or a == "*"]
    assert not [a for a in actions if a.startswith("iam:")]
