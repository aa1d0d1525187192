"""GitHub Actions' way into the account: the OIDC provider and the deploy role that only a job
of the configured repository's deploy workflow (on its protected branch), running in the
environment's GitHub environment, can assume."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

import contract
import nag

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The reusable workflow whose job assumes the role (its job_workflow_ref claim names it).
DEPLOY_WORKFLOW = ".github/workflows/deploy-environment.yml"
CDK_QUALIFIER = "hnb659fds"  # the default bootstrap qualifier


class GithubDeployRole(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        repository: str,
        branch: str,
        create_provider: bool,
        user_pool_arn: str,
        web_ui_branch: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        if create_provider:
            provider: iam.IOidcProvider = iam.OidcProviderNative(
                self,
                "GithubOidcProvider",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_ids=["sts.amazonaws.com"],
            )
        else:  # one provider per account: another environment's stack owns it
            provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self,
                "GithubOidcProvider",
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="oidc-provider",
                    resource_name=GITHUB_OIDC_HOST,
                    arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
                ),
            )
        # The GitHub environment carries the protection rules (required reviewers for prod):
        # the subject of a job that runs in it. A job on the branch without the environment has
        # another subject and cannot assume the role.
        self.subject = f"repo:{repository}:environment:{environment}"
        self.job_workflow_ref = f"{repository}/{DEPLOY_WORKFLOW}@refs/heads/{branch}"
        self.role = iam.Role(
            self,
            "Role",
            role_name=f"{contract.COPILOT_APP}-{environment}-github-deploy",
            description=f"Assumed by GitHub Actions of {repository} to deploy {environment}",
            max_session_duration=cdk.Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    # Exact, single values: no wildcard, so forks, other branches, pull
                    # requests, other workflows and other environments cannot assume the role.
                    # STS checks job_workflow_ref itself (a GitHub-specific claim key).
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": self.subject,
                        f"{GITHUB_OIDC_HOST}:job_workflow_ref": self.job_workflow_ref,
                    },
                },
            ),
        )
        app = contract.COPILOT_APP
        account, region = stack.account, stack.region
        statements = [
            # `cdk deploy` works through the bootstrap roles, which hold the real permissions.
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    f"arn:{stack.partition}:iam::{account}:role/cdk-{CDK_QUALIFIER}-{kind}-role-"
                    f"{account}-{region}"
                    for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
                ],
            ),
            # `copilot env/svc deploy` works through the environment's manager role.
            iam.PolicyStatement(
                sid="AssumeCopilotEnvironmentManagerRole",
                actions=["sts:AssumeRole"],
                resources=[
                    f"arn:{stack.partition}:iam::{account}:role/{app}-{environment}-EnvManagerRole"
                ],
            ),
            iam.PolicyStatement(
                sid="ReadCopilotApplicationAndPlatformConfiguration",
                # Copilot reads one record (GetParameter) or a folder of them (ByPath).
                actions=["ssm:GetParameter", "ssm:GetParametersByPath"],
                resources=[
                    f"arn:{stack.partition}:ssm:{region}:{account}:parameter/copilot/applications/{app}",
                    f"arn:{stack.partition}:ssm:{region}:{account}:parameter/copilot/applications/{app}/*",
                    f"arn:{stack.partition}:ssm:{region}:{account}:parameter/{app}/{environment}/*",
                ],
            ),
            # The platform's and the environment's exports (the certificate, the cluster):
            # ListExports has no resource-level permissions.
            iam.PolicyStatement(
                sid="ListStackExports",
                actions=["cloudformation:ListExports"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="DescribeChatbotStacks",
                actions=[
                    "cloudformation:DescribeStacks",
                    "cloudformation:DescribeStackEvents",
                    "cloudformation:DescribeStackResource",
                    "cloudformation:DescribeStackSet",
                    "cloudformation:ListStackInstances",
                    "cloudformation:GetTemplate",
                    "cloudformation:GetTemplateSummary",
                ],
                resources=[
                    f"arn:{stack.partition}:cloudformation:{region}:{account}:stack/{app}-*/*",
                    f"arn:{stack.partition}:cloudformation:{region}:{account}:stackset/{app}-infrastructure:*",
                ],
            ),
            iam.PolicyStatement(
                sid="PushServiceImages",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:CompleteLayerUpload",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                    "ecr:DescribeImages",
                    "ecr:DescribeRepositories",
                ],
                resources=[f"arn:{stack.partition}:ecr:{region}:{account}:repository/{app}/*"],
            ),
            # The deploy turns on scan on push and sets the lifecycle policy the rollback needs.
            iam.PolicyStatement(
                sid="ConfigureServiceImageRepositories",
                actions=["ecr:PutImageScanningConfiguration", "ecr:PutLifecyclePolicy"],
                resources=[f"arn:{stack.partition}:ecr:{region}:{account}:repository/{app}/*"],
            ),
            # `make rollback`: the services of this environment's cluster, by the names Copilot
            # gives them (<app>-<env>-Cluster-<suffix>, <app>-<env>-<service>-Service-<suffix>).
            iam.PolicyStatement(
                sid="RollBackServices",
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[
                    f"arn:{stack.partition}:ecs:{region}:{account}:service/"
                    f"{app}-{environment}-Cluster-*/{app}-{environment}-*"
                ],
            ),
            # The smoke test's throw-away user, in this environment's user pool only; it signs in
            # with the app client's secret when the client has one.
            iam.PolicyStatement(
                sid="SmokeTestUser",
                actions=[
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminSetUserPassword",
                    "cognito-idp:AdminDeleteUser",
                    "cognito-idp:DescribeUserPoolClient",
                ],
                resources=[user_pool_arn],
            ),
            # The web app's build where a push builds nothing: a RELEASE job on the configured
            # branch, then its status. The Amplify app is the edge stack's, which deploys after
            # this stack and depends on it, so its id cannot be named here: any app of this
            # account and region, but only its jobs on this branch.
            iam.PolicyStatement(
                sid="ReleaseWebApp",
                actions=["amplify:StartJob", "amplify:GetJob"],
                resources=[
                    f"arn:{stack.partition}:amplify:{region}:{account}:apps/*/branches/"
                    f"{web_ui_branch}/jobs/*"
                ],
            ),
            iam.PolicyStatement(
                sid="EcrLogin",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
        ]
        policy = iam.ManagedPolicy(
            self,
            "Permissions",
            managed_policy_name=f"{app}-{environment}-github-deploy",
            statements=statements,
            roles=[self.role],
        )
        for finding, reason in (
            (
                "Resource::*",
                "ecr:GetAuthorizationToken and cloudformation:ListExports have no resource-level "
                "permissions (IAM only accepts '*'); pushing is still limited to the chatbot/* "
                "repositories, and ListExports only reads export names and values.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:ecs:{region}:{account}:service/"
                f"{app}-{environment}-Cluster-*/{app}-{environment}-*",
                "The rollback updates this environment's services in its own cluster; Copilot "
                "appends a random suffix to both names.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:ssm:{region}:{account}:parameter/copilot/applications/{app}/*",
                "Copilot reads its application, environment and service records under this "
                "application's own SSM path, and nothing outside it.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:ssm:{region}:{account}:parameter/{app}/{environment}/*",
                "The deploy reads this environment's published configuration (the contract's "
                "parameters) and nothing of other environments.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:cloudformation:{region}:{account}:stack/{app}-*/*",
                "Read-only describe calls on this application's stacks, whose names start with "
                "the application name; the stack id suffix is random.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:cloudformation:{region}:{account}:stackset/{app}-infrastructure:*",
                "Copilot's application stack set; its id suffix is assigned by CloudFormation.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:amplify:{region}:{account}:apps/*/branches/"
                f"{web_ui_branch}/jobs/*",
                "The web app's Amplify app belongs to the edge stack, deployed after this one, "
                "so its id is unknown here; the deploy starts and reads jobs of the configured "
                "branch only, and starting a job only rebuilds that branch from its repository.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:ecr:{region}:{account}:repository/{app}/*",
                "Copilot creates one repository per service under the application's prefix; "
                "the deploy pushes only there.",
            ),
        ):
            nag.acknowledge(policy, "IAM5", reason, finding=finding)
