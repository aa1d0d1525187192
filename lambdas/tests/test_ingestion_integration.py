"""The feedback path end to end against a real local AWS endpoint (moto server process).

Messages go through the real SQS queue; the feedback runner (the process `make run` starts)
hands them to the Chalice handler; rows land in the real table; poison and exhausted
messages in the real DLQ; the redrive script sends them back. DynamoDB faults are injected on
the wire by a proxy between the runner and the endpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from conftest import PROJECT_DIR
from fault_proxy import FaultProxy

from chalicelib.feedback_message import FeedbackMessage
from chatbot_common import aws
from local_stack.aws_bootstrap import bootstrap
from local_stack.processes import feedback_runner_process

pytestmark = pytest.mark.timeout(240)

REGION = "us-east-1"


def wait_for(condition, what: str, timeout: float = 60, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(interval)


class Stack:
    """One bootstrap of the local stack's resources under its own prefix, plus boto3 clients."""

    def __init__(self, endpoint: str, *, visibility_timeout: int, max_receive_count: int):
        self.endpoint = endpoint
        self.config = bootstrap(endpoint, region=REGION, prefix=f"it-{uuid.uuid4().hex[:8]}")
        self.sqs = aws.client("sqs", region=REGION, endpoint_url=endpoint, local=True)
        self.dynamodb = aws.client("dynamodb", region=REGION, endpoint_url=endpoint, local=True)
        self.queue_url = self.config["FEEDBACK_QUEUE_URL"]
        self.dlq_url = self.config["FEEDBACK_DLQ_URL"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # Short timeouts so that retries happen within the test, as they would over minutes.
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url,
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
                ),
            },
        )

    def send(self, bodies: list[str], max_depth: int = 40) -> None:
        """Send at the consumer's pace, as users do: moto's SQS slows down with queue depth
        (each call scans the whole queue), which real SQS does not."""
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            wait_for(lambda: self.in_flight(self.queue_url) < max_depth, "the queue to shrink")
            result = self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": body,
                        "MessageAttributes": {
                            "schema_version": {"DataType": "Number", "StringValue": "1"}
                        },
                    }
                    for index, body in enumerate(chunk)
                ],
            )
            assert not result.get("Failed"), result

    def in_flight(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def rows(self) -> dict[str, dict]:
        rows = {}
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.config["FEEDBACK_TABLE"], ConsistentRead=True
        )
        for page in pages:
            for item in page["Items"]:
                rows[item["feedback_id"]["S"]] = item
        return rows

    def row_count(self) -> int:
        return self.dynamodb.scan(
            TableName=self.config["FEEDBACK_TABLE"], Select="COUNT", ConsistentRead=True
        )["Count"]

    def drain_dlq(self) -> list[dict]:
        messages = {}
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=60,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return list(messages.values())
            for message in batch:
                messages[message["MessageId"]] = message

    def runner(self, log_path, **env):
        return feedback_runner_process(
            {**self.config, **env}, python=sys.executable, log_path=log_path
        )

    def redrive(self, *args) -> dict:
        result = subprocess.run(
            [sys.executable, str(PROJECT_DIR / "redrive_feedback_dlq.py"), *args],
            env={
                "PATH": "/usr/bin:/bin",
                **{k: v for k, v in self.config.items() if k.startswith(("AWS_", "FEEDBACK_"))},
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def message(index: int, **fields) -> FeedbackMessage:
    return FeedbackMessage(
        feedback_id=f"fb-{index:05d}-{uuid.uuid4().hex[:6]}",
        user_id=f"user-{index % 37}",
        conversation_id=f"conv-{index % 101}",
        message_id=f"msg-{index}",
        rating="up" if index % 3 else "down",
        comment=f"comment {index}" if index % 5 == 0 else None,
        emotion="joy",
        created_at=datetime.now(UTC),
        **fields,
    )


def poison_bodies(count: int) -> list[str]:
    kinds = [
        lambda i: f"not json {i}",
        lambda i: json.dumps({"feedback_id": f"poison-{i}", "rating": "up"}),  # fields missing
        lambda i: (
            message(i)
            .to_body()
            .replace('"rating":"up"', '"rating":"meh"')
            .replace('"rating":"down"', '"rating":"meh"')
        ),
    ]
    return [kinds[i % len(kinds)](i) for i in range(count)]


def test_a_thousand_messages_with_duplicates_and_poison_end_as_exactly_the_right_rows(
    local_aws_endpoint, tmp_path
):
    stack = Stack(local_aws_endpoint, visibility_timeout=5, max_receive_count=5)
    messages = [message(i) for i in range(1000)]
    valid = [m.to_body() for m in messages]
    duplicates = valid[::20]  # 50 of them delivered twice
    poison = poison_bodies(30)
    bodies = valid + duplicates + poison
    # Interleaved, so that poison and duplicates share batches with good messages.
    bodies = [bodies[(i * 7919) % len(bodies)] for i in range(len(bodies))]
    assert len(set(bodies)) == 1030

    with stack.runner(tmp_path / "runner.log").start() as runner:
        stack.send(bodies)
        wait_for(lambda: stack.in_flight(stack.queue_url) == 0, "the queue to drain")
        assert runner.is_running()
    assert runner.returncode == 0  # SIGTERM ends it after the batch in hand

    rows = stack.rows()
    assert set(rows) == {m.feedback_id for m in messages}
    for m in messages:
        row = rows[m.feedback_id]
        assert row["rating"]["S"] == m.rating
        assert row.get("comment", {}).get("S") == m.comment
        assert row["created_at"]["S"] == m.model_dump(mode="json")["created_at"]
    dead = stack.drain_dlq()
    assert sorted(d["Body"] for d in dead) == sorted(poison)
    reasons = [d["MessageAttributes"]["dead_letter_reason"]["StringValue"] for d in dead]
    assert reasons.count("invalid_json") == 10 and reasons.count("schema_violation") == 20
    log = (tmp_path / "runner.log").read_text()
    assert "comment 5" not in log  # no message content in the logs


def test_dynamodb_failing_then_recovering_loses_nothing_and_stores_nothing_twice(
    local_aws_endpoint, tmp_path
):
    # Two receives before the DLQ: a fault of a few seconds is enough to exhaust some messages.
    stack = Stack(local_aws_endpoint, visibility_timeout=1, max_receive_count=2)
    messages = [message(i) for i in range(100)]
    bodies = [m.to_body() for m in messages]

    with FaultProxy(local_aws_endpoint) as proxy:
        runner = stack.runner(tmp_path / "runner.log", AWS_ENDPOINT_URL_DYNAMODB=proxy.url)
        with runner.start():
            proxy.set_mode("throttle")
            stack.send(bodies, max_depth=len(bodies))  # all at once: nothing drains them now
            wait_for(lambda: stack.in_flight(stack.dlq_url) >= 5, "throttled messages in the DLQ")
            proxy.set_mode("down")
            exhausted_by_throttling = stack.in_flight(stack.dlq_url)
            wait_for(
                lambda: stack.in_flight(stack.dlq_url) >= exhausted_by_throttling + 5,
                "messages exhausted by the outage in the DLQ",
            )
            assert stack.row_count() == 0  # every write so far was refused
            proxy.set_mode("pass")
            wait_for(lambda: stack.in_flight(stack.queue_url) == 0, "the queue to drain")
            stored_before_redrive = stack.row_count()
            assert proxy.counts["throttle"] > 0 and proxy.counts["down"] > 0

            # The operator's view, then the move back once DynamoDB is healthy again.
            exhausted = stack.in_flight(stack.dlq_url)
            assert stored_before_redrive + exhausted == len(messages)
            report = stack.redrive()
            assert report["inspected"] == exhausted
            assert report["reasons"] == {"max_receives_exceeded": exhausted}
            assert report["samples"] and report["samples"][0]["receive_count"]
            assert stack.in_flight(stack.dlq_url) == exhausted  # inspecting moves nothing
            moved = stack.redrive("--move")["move"]
            assert moved == {"moved": exhausted, "skipped": 0, "failed": 0}
            wait_for(lambda: stack.row_count() == len(messages), "the redriven messages' rows")
            wait_for(lambda: stack.in_flight(stack.queue_url) == 0, "the queue to drain again")
        assert runner.returncode == 0

    rows = stack.rows()
    assert set(rows) == {m.feedback_id for m in messages}
    assert stack.in_flight(stack.dlq_url) == 0
    for m in messages:
        assert rows[m.feedback_id]["message_id"]["S"] == m.message_id
