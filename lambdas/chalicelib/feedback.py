"""Feedback ingestion: SQS messages from the chat API to rows of the feedback table.

Per record of a batch, one of three outcomes:

- stored: validated with the chat API's own `FeedbackMessage` and written with a conditional
  put on `feedback_id`; a message delivered again finds its row and counts as stored;
- dead-lettered: a message that can never succeed (not JSON, off-schema, or an id already
  stored with different content) is sent to the DLQ at once, with the reason as message
  attributes, and removed from the queue, so it neither blocks its batch nor waits for the
  queue's maximum receive count;
- failed: anything else (DynamoDB throttling or down, the DLQ unreachable) is reported in
  `batchItemFailures`, so Lambda deletes the rest of the batch and SQS delivers this record
  again; after the queue's maximum receive count SQS moves it to the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from chatbot_common.environments import SettingsError

from . import aws, logs
from .feedback_message import FeedbackMessage
from .settings import FeedbackSettings, feedback_settings

log = logs.get("feedback")

# Message attributes that a dead-lettered message carries; the redrive script reads them.
REASON_ATTRIBUTE = "dead_letter_reason"
DETAIL_ATTRIBUTE = "dead_letter_detail"
SOURCE_ID_ATTRIBUTE = "dead_letter_source_message_id"
DEAD_LETTER_ATTRIBUTES = (REASON_ATTRIBUTE, DETAIL_ATTRIBUTE, SOURCE_ID_ATTRIBUTE)
# Written by the consumer, not part of the message: ignored when comparing a duplicate.
INGESTION_FIELDS = ("ingested_at", "sqs_message_id")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class Poison(Exception):
    """The message can never be stored; `reason` is a stable code, `detail` has no content."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class BatchResult:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def response(self) -> dict:
        """Lambda's partial batch response (the event source reports batch item failures)."""
        return {"batchItemFailures": [{"itemIdentifier": item} for item in self.failed]}

    def counts(self) -> dict[str, int]:
        return {
            "stored": len(self.stored),
            "duplicates": len(self.duplicates),
            "dead_lettered": len(self.dead_lettered),
            "failed": len(self.failed),
        }


def parse(body: str) -> FeedbackMessage:
    """The message, or Poison saying why not (error locations and types, never values)."""
    try:
        json.loads(body)
    except (TypeError, ValueError):
        raise Poison("invalid_json", "the body is not a JSON document") from None
    try:
        return FeedbackMessage.from_body(body)
    except ValidationError as error:
        detail = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(message)'}: {item['type']}"
            for item in error.errors()[:10]
        )
        raise Poison("schema_violation", detail[:500]) from None


def to_item(message: FeedbackMessage, sqs_message_id: str) -> dict:
    fields = message.model_dump(mode="json", exclude_none=True)
    fields["ingested_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    fields["sqs_message_id"] = sqs_message_id
    return {key: _serializer.serialize(value) for key, value in fields.items()}


def _content(item: dict) -> dict:
    plain = {key: _deserializer.deserialize(value) for key, value in item.items()}
    return {key: value for key, value in plain.items() if key not in INGESTION_FIELDS}


def store(message: FeedbackMessage, sqs_message_id: str, table: str) -> bool:
    """Write the row once; True when written now, False when it was there already.

    Raises Poison when the stored row with this id holds different content.
    """
    item = to_item(message, sqs_message_id)
    try:
        aws.dynamodb().put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(feedback_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if aws.error_code(error) != "ConditionalCheckFailedException":
            raise
        existing = error.response.get("Item")
        if existing is not None and _content(existing) != _content(item):
            raise Poison(
                "conflicting_duplicate", "feedback_id already stored with other content"
            ) from None
        return False
    return True


class DeadLetterQueue:
    def __init__(self, settings: FeedbackSettings):
        self._settings = settings
        self._url = settings.dlq_url

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = aws.sqs().get_queue_url(QueueName=self._settings.dlq_name)["QueueUrl"]
        return self._url

    def send(self, record: dict, poison: Poison) -> None:
        attributes = {
            name: _sendable(value)
            for name, value in (record.get("messageAttributes") or {}).items()
            if name not in DEAD_LETTER_ATTRIBUTES
        }
        attributes[REASON_ATTRIBUTE] = {"DataType": "String", "StringValue": poison.reason}
        attributes[DETAIL_ATTRIBUTE] = {"DataType": "String", "StringValue": poison.detail}
        attributes[SOURCE_ID_ATTRIBUTE] = {
            "DataType": "String",
            "StringValue": record.get("messageId") or "unknown",
        }
        aws.sqs().send_message(
            QueueUrl=self.url, MessageBody=record["body"], MessageAttributes=attributes
        )


def _sendable(value: dict) -> dict:
    """A Lambda event's message attribute (camelCase) as SendMessage wants it."""
    sendable = {"DataType": value["dataType"]}
    if value.get("stringValue") is not None:
        sendable["StringValue"] = value["stringValue"]
    if value.get("binaryValue") is not None:
        sendable["BinaryValue"] = value["binaryValue"]
    return sendable


def handle(records: list[dict], settings_source=feedback_settings) -> dict:
    """The Lambda handler's work: the partial batch response for these records.

    Without valid settings nothing can be decided, so the invocation fails and SQS delivers
    the whole batch again (and, in the end, moves it to the DLQ for a redrive once fixed).
    """
    try:
        settings = settings_source()
    except SettingsError as error:
        log.error("configuration error", extra={"error": str(error), "records": len(records)})
        raise
    return process_batch(records, settings).response()


def process_batch(records: list[dict], settings: FeedbackSettings) -> BatchResult:
    """Handle one Lambda SQS batch (the event's `Records`, as dicts)."""
    result = BatchResult()
    dlq = DeadLetterQueue(settings)
    storage_down = False
    for record in records:
        message_id = record["messageId"]
        try:
            message = parse(record["body"])
            if storage_down:
                # The table just failed for an earlier record: do not wait on it again; SQS
                # delivers this one again later.
                result.failed.append(message_id)
                continue
            if store(message, message_id, settings.feedback_table):
                result.stored.append(message_id)
            else:
                result.duplicates.append(message_id)
                log.info("duplicate delivery", extra={"feedback_id": message.feedback_id})
        except Poison as poison:
            _dead_letter(record, poison, dlq, result)
        except (ClientError, BotoCoreError) as error:
            storage_down = True
            result.failed.append(message_id)
            log.warning(
                "store failed, message left for retry",
                extra={
                    "message_id": message_id,
                    **aws.error_fields(error),
                    "receive_count": record.get("attributes", {}).get("ApproximateReceiveCount"),
                },
            )
    log.info("batch done", extra={"records": len(records), **result.counts()})
    return result


def _dead_letter(record: dict, poison: Poison, dlq: DeadLetterQueue, result: BatchResult):
    message_id = record["messageId"]
    try:
        dlq.send(record, poison)
    except (ClientError, BotoCoreError) as error:
        # Not deleted: SQS delivers it again and, at worst, moves it to the DLQ itself.
        result.failed.append(message_id)
        log.error(
            "dead-lettering failed",
            extra={
                "message_id": message_id,
                "reason": poison.reason,
                "code": aws.error_code(error),
            },
        )
        return
    result.dead_lettered.append(message_id)
    log.warning(
        "message dead-lettered",
        extra={"message_id": message_id, "reason": poison.reason, "detail": poison.detail},
    )
