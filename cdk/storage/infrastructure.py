"""DynamoDB tables: conversations (the chat API's data model), feedback and profiles."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from chatbot_common import contract

CONVERSATIONS_INDEX = "gsi1"
# The chat API finds a user's rating rows by it (the account export and deletion).
FEEDBACK_USER_INDEX = "user_id"
CONVERSATIONS_TTL_ATTRIBUTE = "expires_at"


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Tables(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        deletion_protection: bool,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        common = {
            "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
            "encryption": dynamodb.TableEncryption.AWS_MANAGED,
            "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            "deletion_protection": deletion_protection,
            "removal_policy": removal_policy,
        }

        def table(
            construct_id: str, contract_name: str, partition_key: str, **options
        ) -> dynamodb.Table:
            """The table the contract names `contract_name`, with what every table shares."""
            return dynamodb.Table(
                self,
                construct_id,
                table_name=contract.resource_name(contract_name, name_prefix),
                partition_key=_string(partition_key),
                **common,
                **options,
            )

        # Keys and index as in docs/chat-api.md: the chat API's access patterns depend on them.
        self.conversations = table(
            "Conversations",
            "CONVERSATIONS_TABLE",
            "pk",
            sort_key=_string("sk"),
            time_to_live_attribute=CONVERSATIONS_TTL_ATTRIBUTE,
        )
        self.conversations.add_global_secondary_index(
            index_name=CONVERSATIONS_INDEX,
            partition_key=_string("gsi1pk"),
            sort_key=_string("gsi1sk"),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.feedback = table("Feedback", "FEEDBACK_TABLE", "feedback_id")
        self.feedback.add_global_secondary_index(
            index_name=FEEDBACK_USER_INDEX,
            partition_key=_string("user_id"),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.profiles = table("Profiles", "PROFILES_TABLE", "user_id")
