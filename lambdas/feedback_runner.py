"""Run the feedback ingestion locally: poll the SQS queue, call the Chalice handler as Lambda.

    python feedback_runner.py   # configured by the environment, as `make run` does

What Lambda's SQS event source does, on a small scale: long-poll up to 10 messages, hand them
to `app.ingest_feedback` in Lambda's SQS event format, then delete the messages the handler
did not report in `batchItemFailures`. A handler that raises, or a response that names a
message outside the batch, fails the whole batch (as in Lambda): nothing is deleted, and SQS
delivers the messages again after the visibility timeout, to the DLQ after the queue's
maximum receive count. SIGTERM or SIGINT ends the runner after the batch in hand.

Settings: FEEDBACK_QUEUE_URL, plus the handler's own (FEEDBACK_TABLE, FEEDBACK_DLQ_URL, ...)
and the AWS SDK's (AWS_ENDPOINT_URL, AWS_REGION, credentials).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import threading
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(PROJECT_DIR))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402
from chalice.local import LambdaContext  # noqa: E402

from chalicelib import logs  # noqa: E402

FUNCTION_NAME = "ingest_feedback"
MAX_MESSAGES = 10  # the event source's batch size, and SQS's own maximum per receive
WAIT_SECONDS = 2  # short long-polls, so a stop request is seen quickly
ERROR_PAUSE = 1.0

log = logs.get("runner")


def to_lambda_record(message: dict, queue_arn: str, region: str) -> dict:
    """One SQS ReceiveMessage entry as a record of Lambda's SQS event."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value["DataType"],
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_ids(response, batch_ids: set[str]) -> set[str]:
    """The ids to keep on the queue, by Lambda's rules for a partial batch response."""
    if response is None:
        return set()
    try:
        failures = response["batchItemFailures"]
        ids = {failure["itemIdentifier"] for failure in failures}
    except (TypeError, KeyError):
        return set(batch_ids)  # an unreadable response fails the batch
    if not ids <= batch_ids or any(not item for item in ids):
        return set(batch_ids)
    return ids


class Runner:
    def __init__(self, handler, queue_url: str, *, sqs=None, region: str | None = None):
        self._handler = handler
        self._queue_url = queue_url
        self._region = region or os.environ.get("AWS_REGION") or "us-east-1"
        self._sqs = sqs or boto3.session.Session(region_name=self._region).client(
            "sqs", config=Config(retries={"max_attempts": 3, "mode": "standard"})
        )
        self._queue_arn = None
        self.stopping = threading.Event()
        self.totals = {"batches": 0, "deleted": 0, "kept": 0, "failed_batches": 0}

    def check_queue(self) -> None:
        """Fails at start when the queue does not exist, instead of polling nothing."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]
        self._queue_arn = attributes["QueueArn"]

    def run(self) -> None:
        if self._queue_arn is None:
            self.check_queue()
        log.info("polling", extra={"queue": self._queue_url})
        while not self.stopping.is_set():
            try:
                self.run_once()
            except (ClientError, BotoCoreError) as error:
                log.warning("queue unavailable", extra={"error": type(error).__name__})
                self.stopping.wait(ERROR_PAUSE)
        log.info("stopped", extra=self.totals)

    def run_once(self, wait_seconds: int = WAIT_SECONDS) -> int:
        """One receive and one handler call; returns the number of messages received."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self.handle(messages)
        return len(messages)

    def handle(self, messages: list[dict]) -> None:
        records = [to_lambda_record(m, self._queue_arn, self._region) for m in messages]
        batch_ids = {record["messageId"] for record in records}
        context = LambdaContext(FUNCTION_NAME, memory_size=256, max_runtime_ms=20_000)
        self.totals["batches"] += 1
        try:
            response = self._handler({"Records": records}, context)
        except Exception as error:  # the handler failed as a Lambda invocation would
            log.error("handler raised; batch left on the queue", extra={"error": repr(error)})
            keep = batch_ids
            self.totals["failed_batches"] += 1
        else:
            keep = failed_ids(response, batch_ids)
        finally:
            logs.bind(None)  # the runner's own lines belong to no invocation
        done = [m for m in messages if m["MessageId"] not in keep]
        self.totals["kept"] += len(messages) - len(done)
        if done:
            self._delete(done)

    def _delete(self, messages: list[dict]) -> None:
        result = self._sqs.delete_message_batch(
            QueueUrl=self._queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
        self.totals["deleted"] += len(result.get("Successful", []))
        for failure in result.get("Failed", []):
            # Delivered again later; the handler's conditional put makes that harmless.
            log.warning("delete failed", extra={"code": failure.get("Code")})


def load_handler():
    from app import app

    return app.handler_map[FUNCTION_NAME]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    logs.configure()
    queue_url = os.environ.get("FEEDBACK_QUEUE_URL", "").strip()
    if not queue_url:
        print("feedback-runner: FEEDBACK_QUEUE_URL is not set", file=sys.stderr)
        return 2
    runner = Runner(load_handler(), queue_url)
    try:
        runner.check_queue()
    except (ClientError, BotoCoreError) as error:
        print(f"feedback-runner: cannot reach the queue {queue_url}: {error}", file=sys.stderr)
        return 1

    def stop(signum, frame):
        runner.stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
