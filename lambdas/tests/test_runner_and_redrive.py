"""The local runner's Lambda semantics and the DLQ redrive script, against a moto server."""

from __future__ import annotations

import json
import sys
import time
import uuid

import boto3
import feedback_runner
import pytest
import redrive_feedback_dlq as redrive
from conftest import feedback_body


@pytest.fixture
def queues(moto_server):
    endpoint, _ = moto_server
    sqs = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("sqs", endpoint_url=endpoint)
    name = f"q-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    return sqs, queue_url, dlq_url


def depth(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def send(sqs, url, bodies, **attributes):
    for body in bodies:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        )


# --- runner --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "kept"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{"id": "b"}]}, {"a", "b"}),
        ({"unexpected": 1}, {"a", "b"}),
        ("ok", {"a", "b"}),
    ],
)
def test_partial_batch_response_rules_are_lambdas(response, kept):
    assert feedback_runner.failed_ids(response, {"a", "b"}) == kept


def test_runner_hands_lambda_records_and_deletes_only_what_succeeded(queues):
    sqs, queue_url, _ = queues
    send(sqs, queue_url, ["keep me", "done"], schema_version="1")
    seen = []

    def handler(event, context):
        seen.extend(event["Records"])
        assert context.function_name == "ingest_feedback"
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]}
                for r in event["Records"]
                if r["body"] == "keep me"
            ]
        }

    runner = feedback_runner.Runner(handler, queue_url, sqs=sqs)
    runner.check_queue()
    while runner.run_once(wait_seconds=1):
        pass
    record = seen[0]
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "eventSourceARN"}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(queue_url.rsplit("/", 1)[1])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["schema_version"]["stringValue"] == "1"
    assert record["messageAttributes"]["schema_version"]["dataType"] == "String"
    # The reported failure stays on the queue (invisible until the timeout); the rest is gone.
    assert depth(sqs, queue_url) == 1
    assert runner.totals["deleted"] == 1 and runner.totals["kept"] == 1


def test_a_handler_that_raises_deletes_nothing(queues):
    sqs, queue_url, _ = queues
    send(sqs, queue_url, ["a", "b", "c"])

    def handler(event, context):
        raise RuntimeError("boom")

    runner = feedback_runner.Runner(handler, queue_url, sqs=sqs)
    runner.check_queue()
    while runner.run_once(wait_seconds=1):
        pass
    assert depth(sqs, queue_url) == 3
    assert runner.totals["deleted"] == 0 and runner.totals["failed_batches"] >= 1


def test_runner_refuses_a_missing_queue(queues):
    sqs, queue_url, _ = queues
    runner = feedback_runner.Runner(lambda e, c: None, queue_url + "-missing", sqs=sqs)
    with pytest.raises(Exception, match="NonExistentQueue|QueueDoesNotExist"):
        runner.check_queue()


# --- redrive -------------------------------------------------------------------------------


def test_inspect_counts_reasons_and_samples_without_moving_anything(queues):
    sqs, _, dlq_url = queues
    send(sqs, dlq_url, ["poison 1", "poison 2"], dead_letter_reason="invalid_json")
    send(sqs, dlq_url, [feedback_body() for _ in range(13)])
    report = redrive.inspect(sqs, dlq_url, samples=2)
    assert report["inspected"] == 15
    assert report["reasons"] == {"invalid_json": 2, "max_receives_exceeded": 13}
    assert len(report["samples"]) == 2 and all(s["body"] for s in report["samples"])
    assert depth(sqs, dlq_url) == 15
    # Inspection gave every message back at once: all are receivable now.
    assert redrive.inspect(sqs, dlq_url)["inspected"] == 15


def test_move_by_reason_keeps_the_others_and_strips_the_dead_letter_attributes(queues):
    sqs, queue_url, dlq_url = queues
    send(sqs, dlq_url, ["poison"], dead_letter_reason="schema_violation")
    bodies = [feedback_body() for _ in range(12)]
    for body in bodies:
        sqs.send_message(
            QueueUrl=dlq_url,
            MessageBody=body,
            MessageAttributes={"schema_version": {"DataType": "Number", "StringValue": "1"}},
        )
    result = redrive.move(sqs, dlq_url, queue_url, reasons={"max_receives_exceeded"})
    assert result == {"moved": 12, "skipped": 1, "failed": 0}
    moved = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages"):
        moved += batch
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    assert all(set(m["MessageAttributes"]) == {"schema_version"} for m in moved)
    assert redrive.inspect(sqs, dlq_url)["reasons"] == {"schema_violation": 1}


def test_move_respects_the_limit(queues):
    sqs, queue_url, dlq_url = queues
    send(sqs, dlq_url, [f"m{i}" for i in range(7)])
    assert redrive.move(sqs, dlq_url, queue_url, limit=3)["moved"] == 3
    assert depth(sqs, queue_url) == 3
    assert depth(sqs, dlq_url) == 4


def test_script_needs_its_queue_urls(monkeypatch, capsys):
    monkeypatch.delenv("FEEDBACK_DLQ_URL", raising=False)
    monkeypatch.delenv("FEEDBACK_QUEUE_URL", raising=False)
    assert redrive.main([]) == 2
    assert "FEEDBACK_DLQ_URL" in capsys.readouterr().out


def test_script_reads_the_local_stack_env_file(queues, tmp_path, monkeypatch, capsys):
    sqs, queue_url, dlq_url = queues
    send(sqs, dlq_url, ["x"], dead_letter_reason="invalid_json")
    env_file = tmp_path / "stack.env"
    endpoint = sqs.meta.endpoint_url
    env_file.write_text(
        f"# comment\nFEEDBACK_DLQ_URL={dlq_url}\nFEEDBACK_QUEUE_URL={queue_url}\n"
        f"AWS_ENDPOINT_URL={endpoint}\nAWS_ACCESS_KEY_ID=testing\nAWS_SECRET_ACCESS_KEY=testing\n"
    )
    for name in ("FEEDBACK_DLQ_URL", "FEEDBACK_QUEUE_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    assert redrive.main(["--env-file", str(env_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reasons"] == {"invalid_json": 1}


def test_runner_process_exits_with_one_line_when_its_queue_is_missing(queues, tmp_path):
    from local_stack.processes import feedback_runner_process

    sqs, queue_url, _ = queues
    env = {
        "AWS_ENDPOINT_URL": sqs.meta.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "FEEDBACK_QUEUE_URL": queue_url + "-missing",
    }
    runner = feedback_runner_process(env, python=sys.executable, log_path=tmp_path / "runner.log")
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while runner.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
    assert runner.returncode == 1
    [line] = (tmp_path / "runner.log").read_text().splitlines()
    assert line.startswith("feedback-runner: cannot reach the queue ")


def test_runner_process_needs_the_chalice_interpreter(tmp_path):
    from local_stack.processes import ProcessStartError, feedback_runner_process

    with pytest.raises(ProcessStartError, match="make run"):
        feedback_runner_process({}, python=tmp_path / "no-python")
