"""The Chalice app of lambdas/ (Cognito triggers and the feedback consumer), embedded with
`chalice.cdk.Chalice`. Chalice packages the app (its stage block in .chalice/config.json gives
the functions' settings); CDK owns what surrounds the functions: one role per function with
exact resources, the log groups with retention, the function names, and Cognito's permission
to invoke the triggers.

The user pool (stateful stack) refers to the triggers by ARN, built from these fixed names, so
the stateful stack never depends on this stateless one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from encryption import allow_log_groups, encrypted_log_group, rotating_key

SOURCE_DIR = Path(__file__).resolve().parents[2] / "lambdas"
CHALICE_APP_NAME = "chatbot-auth"
# Handler name in app.py -> logical id of its function in Chalice's SAM template.
TRIGGERS = {
    "pre_sign_up": "PreSignUp",
    "post_confirmation": "PostConfirmation",
    "pre_token_generation": "PreTokenGeneration",
}
FEEDBACK_CONSUMER = ("ingest_feedback", "IngestFeedback")
# What the feedback consumer does with the queue's messages (Lambda's SQS event source).
FEEDBACK_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]
HANDLERS = {**TRIGGERS, FEEDBACK_CONSUMER[0]: FEEDBACK_CONSUMER[1]}
# Extra template properties lambdas declares for `chalice package` (partial batch
# responses on the SQS event source); chalice.cdk takes no merge template, so they are applied
# here as overrides.
MERGE_TEMPLATE = SOURCE_DIR / ".chalice" / "sqs-partial-batch-response.json"


def function_name(environment: str, handler: str) -> str:
    """The fixed name of a function: Chalice's own convention `<app>-<stage>-<handler>`."""
    return f"{CHALICE_APP_NAME}-{environment}-{handler}"


def function_arn(stack: cdk.Stack, environment: str, handler: str) -> str:
    return stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name(environment, handler),
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


@contextlib.contextmanager
def _packaging(values: Mapping[str, str]) -> Iterator[None]:
    """What `chalice package` needs while it imports lambdas's app.py: the variables app.py
    reads, and a fresh import of `app` and `chalicelib` (Python caches modules, and a second
    environment in the same process must not get the first one's queue name)."""
    saved_environ = {key: os.environ.get(key) for key in values}
    saved_modules = {
        name: sys.modules.pop(name)
        for name in list(sys.modules)
        if name == "app" or name == "chalicelib" or name.startswith("chalicelib.")
    }
    os.environ.update(values)
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n == "app" or n.split(".")[0] == "chalicelib"]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        for key, value in saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _ChaliceStage(Construct):
    """chalice.cdk names the Chalice stage after its scope's string form; this scope answers
    with the environment's name, so the stage block of .chalice/config.json applies."""

    def __init__(self, scope: Construct, id_: str, *, stage: str) -> None:
        super().__init__(scope, id_)
        self._stage = stage

    def to_string(self) -> str:
        return self._stage


def _leaf_overrides(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaf_overrides(child, f"{path}.{key}" if path else key)
    else:
        yield path, value


class LambdaFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        user_pool_arn: str,
        profiles_table: dynamodb.ITable,
        feedback_table: dynamodb.ITable,
        feedback_queue: sqs.IQueue,
        feedback_queue_name: str,
        feedback_dead_letter_queue: sqs.IQueue,
        log_retention: logs.RetentionDays,
        source_dir: Path = SOURCE_DIR,
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        self.log_key = rotating_key(
            self,
            "LogKey",
            description=f"Encrypts the log groups of {CHALICE_APP_NAME}-{environment}",
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        allow_log_groups(self.log_key, f"/aws/lambda/{CHALICE_APP_NAME}-{environment}-*")
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for handler in HANDLERS:
            name = function_name(environment, handler)
            self.log_groups[handler] = encrypted_log_group(
                self,
                f"{HANDLERS[handler]}Logs",
                name=f"/aws/lambda/{name}",
                retention=log_retention,
                key=self.log_key,
            )
            role = iam.Role(
                self,
                f"{HANDLERS[handler]}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"Runs {name}",
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="OwnLogStreams",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{self.log_groups[handler].log_group_arn}"],
                )
            )
            self.roles[handler] = role

        # What each function may do besides writing its own logs: (sid, actions, resource).
        grants = {
            "post_confirmation": [
                ("Profiles", ["dynamodb:PutItem"], profiles_table.table_arn),
                ("DefaultGroup", ["cognito-idp:AdminAddUserToGroup"], user_pool_arn),
            ],
            # Pre sign-up links a first federated sign-in to the account with the same verified
            # e-mail (one account per person): it looks the address up and links the identity.
            "pre_sign_up": [
                (
                    "LinkFederatedSignIn",
                    ["cognito-idp:ListUsers", "cognito-idp:AdminLinkProviderForUser"],
                    user_pool_arn,
                ),
            ],
            # Pre token generation repairs a user whose post-confirmation setup failed (creates
            # the profile, adds the default group) rather than issuing tokens without them.
            "pre_token_generation": [
                ("Profiles", ["dynamodb:GetItem", "dynamodb:PutItem"], profiles_table.table_arn),
                ("DefaultGroup", ["cognito-idp:AdminAddUserToGroup"], user_pool_arn),
            ],
            "ingest_feedback": [
                ("Feedback", ["dynamodb:PutItem"], feedback_table.table_arn),
                ("FeedbackQueue", FEEDBACK_QUEUE_ACTIONS, feedback_queue.queue_arn),
                ("FeedbackDeadLetters", ["sqs:SendMessage"], feedback_dead_letter_queue.queue_arn),
            ],
        }
        for handler, statements in grants.items():
            for sid, actions, resource in statements:
                self.roles[handler].add_to_policy(
                    iam.PolicyStatement(sid=sid, actions=actions, resources=[resource])
                )

        stage_config = {
            "environment_variables": {
                "APP_ENV": environment,
                "PROFILES_TABLE": profiles_table.table_name,
                "FEEDBACK_TABLE": feedback_table.table_name,
                "FEEDBACK_DLQ_URL": feedback_dead_letter_queue.queue_url,
            },
            # Chalice takes one role for every function here; each function's own role is set
            # on its resource below.
            "manage_iam_role": False,
            "iam_role_arn": self.roles["ingest_feedback"].role_arn,
        }
        with _packaging(
            {
                "FEEDBACK_QUEUE_NAME": feedback_queue_name,
                "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or stack.region,
            }
        ):
            self.chalice = Chalice(
                _ChaliceStage(self, "Stage", stage=environment),
                "Chalice",
                source_dir=str(source_dir),
                stage_config=stage_config,
            )

        self.functions: dict[str, lambda_.IFunction] = {}
        for handler, logical_id in HANDLERS.items():
            resource = self.chalice.get_resource(logical_id)
            resource.add_property_override("FunctionName", function_name(environment, handler))
            resource.add_property_override("Role", self.roles[handler].role_arn)
            # The log group exists (with its retention) before the function first logs.
            resource.add_resource_dependency(self.log_groups[handler].node.default_child)
            self.functions[handler] = lambda_.Function.from_function_attributes(
                self,
                f"{logical_id}Function",
                function_arn=resource.get_att("Arn").to_string(),
                same_environment=True,
            )
        merge = json.loads(MERGE_TEMPLATE.read_text()) if MERGE_TEMPLATE.exists() else {}
        for logical_id, resource_template in merge.get("Resources", {}).items():
            resource = self.chalice.get_resource(logical_id)
            for path, value in _leaf_overrides(resource_template.get("Properties", {})):
                resource.add_property_override(path, value)

        for handler, logical_id in TRIGGERS.items():
            lambda_.CfnPermission(
                self,
                f"{logical_id}CognitoInvoke",
                action="lambda:InvokeFunction",
                function_name=self.functions[handler].function_name,
                principal="cognito-idp.amazonaws.com",
                source_arn=user_pool_arn,
                source_account=stack.account,
            )
