"""The platform of one environment, deployed before Copilot: a stateful stack (user pool,
tables, queues, hosted zone, generated secrets) and a stateless one (certificates, guardrail,
published configuration, deploy role, the Chalice functions). Stateful resources keep their
data across a replacement of everything stateless; they are retained outside dev."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

import contract
import nag
from backup.infrastructure import TableBackups
from config import EnvironmentConfig
from configuration.infrastructure import PublishedExports, PublishedParameters
from deploy_access.infrastructure import GithubDeployRole
from dns.infrastructure import Certificates, HostedZone
from feedback.infrastructure import FeedbackQueue
from guardrail.infrastructure import Guardrail
from identity.infrastructure import SesSender, UserPool, UserPoolFirewall
from lambdas.infrastructure import LambdaFunctions, function_arn
from retention import log_retention
from storage.infrastructure import Tables


class PlatformStateful(cdk.Stack):
    def __init__(
        self, scope: Construct, id_: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, termination_protection=config.deletion_protection, **kwargs)
        removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY
        self.hosted_zone = HostedZone(
            self, "Dns", domain_name=config.domain_name, removal_policy=removal
        )
        # Cognito's own sender (50 e-mails a day) in dev only.
        self.ses_sender = (
            SesSender(self, "AuthMail", zone=self.hosted_zone.zone, name_prefix=config.prefix)
            if config.cognito_email_sender == "SES"
            else None
        )
        self.identity = UserPool(
            self,
            "Identity",
            name_prefix=config.prefix,
            threat_protection=config.cognito_threat_protection,
            deletion_protection=config.deletion_protection,
            removal_policy=removal,
            ses_sender=self.ses_sender,
            backend_client_secret_name=contract.secret_name(
                "COGNITO_WEB_BACKEND_CLIENT", config.name
            ),
        )
        self.tables = Tables(
            self,
            "Tables",
            name_prefix=config.prefix,
            deletion_protection=config.deletion_protection,
            removal_policy=removal,
        )
        # The Chalice triggers, by the fixed ARNs of the stateless stack's functions.
        pool_resource = self.identity.user_pool.node.default_child
        pool_resource.add_property_override(
            "LambdaConfig",
            {
                "PreSignUp": function_arn(self, config.name, "pre_sign_up"),
                "PostConfirmation": function_arn(self, config.name, "post_confirmation"),
                # Version 2 events let the trigger add claims to the access token too.
                "PreTokenGenerationConfig": {
                    "LambdaArn": function_arn(self, config.name, "pre_token_generation"),
                    "LambdaVersion": "V2_0",
                },
            },
        )
        self.backups = TableBackups(
            self,
            "Backups",
            name_prefix=config.prefix,
            tables=[self.tables.conversations, self.tables.feedback, self.tables.profiles],
            retention_days=config.backup_retention_days,
            removal_policy=removal,
        )
        self.feedback = FeedbackQueue(
            self, "Feedback", name_prefix=config.prefix, removal_policy=removal
        )
        self.web_ui_session_secret = secretsmanager.Secret(
            self,
            "WebUiSessionSecret",
            secret_name=contract.secret_name("WEB_UI_SESSION_SECRET", config.name),
            description="Signs the web UI's session state",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal,
        )
        nag.acknowledge(
            self.web_ui_session_secret,
            "SMG4",
            "A random signing key for web UI sessions, not a credential to another system; "
            "rotating it signs everyone out, so it is rotated by an operator during a release "
            "(docs/cdk.md) rather than on a schedule.",
        )
        # Filled by an operator before the edge stack's first deploy (docs/cdk.md): Amplify
        # reads the repository with it. CloudFormation never sees the token itself.
        self.amplify_github_token = secretsmanager.Secret(
            self,
            "AmplifyGithubToken",
            secret_name=contract.secret_name("AMPLIFY_GITHUB_TOKEN", config.name),
            description="GitHub token Amplify uses to read the frontend repository",
            removal_policy=removal,
        )
        nag.acknowledge(
            self.amplify_github_token,
            "SMG4",
            "A GitHub token can only be rotated on GitHub; the operator replaces the value "
            "when GitHub's expiry (at most one year for fine-grained tokens) comes up.",
        )
        pool, tables, queues = self.identity, self.tables, self.feedback
        self.exports = PublishedExports(
            self,
            "Exports",
            environment=config.name,
            values={
                "COGNITO_USER_POOL_ID": pool.user_pool.user_pool_id,
                "COGNITO_APP_CLIENT_ID": pool.client.user_pool_client_id,
                "COGNITO_ISSUER": pool.issuer,
                "CONVERSATIONS_TABLE": tables.conversations.table_name,
                "CONVERSATIONS_TABLE_ARN": tables.conversations.table_arn,
                "FEEDBACK_QUEUE_URL": queues.queue.queue_url,
                "FEEDBACK_QUEUE_ARN": queues.queue.queue_arn,
                "FEEDBACK_TABLE": tables.feedback.table_name,
                "PROFILES_TABLE": tables.profiles.table_name,
                "HOSTED_ZONE_ID": self.hosted_zone.zone.hosted_zone_id,
                "DOMAIN_NAME": config.domain_name,
            },
        )


class PlatformStateless(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: PlatformStateful,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.add_stack_dependency(stateful)
        # The Chalice app's functions (lambdas/), watched by the edge stack's alarms.
        self.functions: list[lambda_.IFunction] = []
        self.certificates = Certificates(
            self, "Certificates", zone=stateful.hosted_zone.zone, domain_name=config.domain_name
        )
        self.guardrail = Guardrail(
            self,
            "Guardrail",
            name_prefix=config.prefix,
            denied_topics=config.guardrail_denied_topics,
        )
        self.lambdas = LambdaFunctions(
            self,
            # The construct id is the deployed resources' logical-id prefix: kept as first deployed.
            "AuthFunctions",
            environment=config.name,
            user_pool_arn=stateful.identity.user_pool.user_pool_arn,
            profiles_table=stateful.tables.profiles,
            feedback_table=stateful.tables.feedback,
            feedback_queue=stateful.feedback.queue,
            feedback_queue_name=stateful.feedback.queue_name,
            feedback_dead_letter_queue=stateful.feedback.dead_letter_queue,
            log_retention=log_retention(config.log_retention_days),
        )
        self.functions.extend(self.lambdas.functions.values())
        self.user_pool_firewall = UserPoolFirewall(
            self,
            "UserPoolFirewall",
            name_prefix=config.prefix,
            user_pool_arn=stateful.identity.user_pool.user_pool_arn,
        )
        self.deploy_role = GithubDeployRole(
            self,
            "GithubDeploy",
            environment=config.name,
            repository=config.github_repository,
            branch=config.github_branch,
            create_provider=config.create_github_oidc_provider,
            user_pool_arn=stateful.identity.user_pool.user_pool_arn,
            web_ui_branch=config.web_ui_branch,
        )
        pool = stateful.identity
        tables = stateful.tables
        queues = stateful.feedback
        parameters = {
            "BEDROCK_MODEL_ID": config.bedrock_model_id,
            "BEDROCK_GUARDRAIL_ID": self.guardrail.guardrail_id,
            "BEDROCK_GUARDRAIL_VERSION": self.guardrail.version_number,
            "COGNITO_USER_POOL_ID": pool.user_pool.user_pool_id,
            "COGNITO_APP_CLIENT_ID": pool.client.user_pool_client_id,
            "COGNITO_ISSUER": pool.issuer,
            "COGNITO_JWKS_URL": f"{pool.issuer}/.well-known/jwks.json",
            "CONVERSATIONS_TABLE": tables.conversations.table_name,
            "FEEDBACK_QUEUE_URL": queues.queue.queue_url,
            "FEEDBACK_DLQ_URL": queues.dead_letter_queue.queue_url,
            "FEEDBACK_TABLE": tables.feedback.table_name,
            "PROFILES_TABLE": tables.profiles.table_name,
            "CHAT_API_URL": config.chat_api_url,
        }
        self.exports = PublishedExports(
            self,
            "Exports",
            environment=config.name,
            values={
                "BEDROCK_MODEL_ID": config.bedrock_model_id,
                "BEDROCK_GUARDRAIL_ID": self.guardrail.guardrail_id,
                "BEDROCK_GUARDRAIL_ARN": self.guardrail.guardrail_arn,
                "API_CERTIFICATE_ARN": self.certificates.api.certificate_arn,
            },
        )
        self.parameters = PublishedParameters(
            self, "Configuration", environment=config.name, values=parameters
        )
