"""The feedback queue the chat API writes to, with its dead-letter queue."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

import nag
from chatbot_common import contract

MAX_RECEIVE_COUNT = 5
# Six times the consumer's timeout, as Lambda's SQS integration recommends.
CONSUMER_TIMEOUT = cdk.Duration.seconds(30)
VISIBILITY_TIMEOUT = cdk.Duration.seconds(6 * 30)


class FeedbackQueue(Construct):
    def __init__(
        self, scope: Construct, id_: str, *, name_prefix: str, removal_policy: cdk.RemovalPolicy
    ) -> None:
        super().__init__(scope, id_)
        # Literal names: the Chalice consumer's event source is written from the name at packaging.
        self.queue_name = contract.resource_name("FEEDBACK_QUEUE", name_prefix)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=contract.resource_name("FEEDBACK_DLQ", name_prefix),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=removal_policy,
        )
        nag.acknowledge(
            self.dead_letter_queue,
            "SQS3",
            "This queue is the dead-letter queue of the feedback queue; a DLQ of a DLQ would "
            "only move the same failed messages again. The DLQ-not-empty alarm watches it.",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=self.queue_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(4),
            visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
            removal_policy=removal_policy,
        )
