"""The key-policy statement that lets CloudWatch Logs encrypt log groups with a customer key,
shared by every construct that encrypts its logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms


def allow_log_groups(key: kms.Key, log_group_name: str, *, describe: bool = False) -> None:
    """Lets this Region's CloudWatch Logs use `key` for the log groups `log_group_name` names
    (a name, or a pattern with `*`), and for no other log group. `describe` adds
    `kms:Describe*`, which services that check the key before writing ask for."""
    stack = cdk.Stack.of(key)
    actions = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
    if describe:
        actions.append("kms:Describe*")
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsUse",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=actions,
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=log_group_name,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
