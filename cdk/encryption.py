"""Customer managed keys and the log groups they encrypt, shared by every construct that
holds one: each key rotates yearly (cdk-nag's KMS5), each log group is encrypted with a key
whose policy lets this Region's CloudWatch Logs use it for that group only."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def rotating_key(
    scope: Construct,
    id_: str,
    *,
    description: str,
    removal_policy: cdk.RemovalPolicy,
    alias: str | None = None,
) -> kms.Key:
    """A customer managed key that KMS rotates every year."""
    return kms.Key(
        scope,
        id_,
        alias=alias,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )


def encrypted_log_group(
    scope: Construct, id_: str, *, name: str, retention: logs.RetentionDays, key: kms.IKey
) -> logs.LogGroup:
    """The log group `name`, encrypted with `key`, kept `retention`; its logs are no data to
    keep once the stack that writes them is gone, so it goes with the stack."""
    return logs.LogGroup(
        scope,
        id_,
        log_group_name=name,
        retention=retention,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


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
