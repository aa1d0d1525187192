"""The SQS handler with generated Lambda events, against moto's DynamoDB and SQS."""

from __future__ import annotations

import json

import pytest
from conftest import STAGE_VARIABLES, feedback_body, sqs_event

from chalicelib import feedback
from chalicelib.settings import ConfigurationError

TABLE = STAGE_VARIABLES["FEEDBACK_TABLE"]


def invoke(client, event):
    return client.lambda_.invoke("ingest_feedback", event).payload


def failures(response) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_a_batch_is_stored_as_one_row_per_message(client, local_aws):
    bodies = [feedback_body(rating="up"), feedback_body(rating="down", comment="too long")]
    response = invoke(client, sqs_event(client, bodies))
    assert response == {"batchItemFailures": []}
    rows = {row["feedback_id"]["S"]: row for row in local_aws.items(TABLE)}
    assert set(rows) == {json.loads(body)["feedback_id"] for body in bodies}
    down = rows[json.loads(bodies[1])["feedback_id"]]
    assert down["rating"] == {"S": "down"}
    assert down["comment"] == {"S": "too long"}
    assert down["schema_version"] == {"N": "1"}
    assert "ingested_at" in down and "sqs_message_id" in down


def test_a_message_delivered_twice_leaves_one_row(client, local_aws, capsys):
    body = feedback_body()
    invoke(client, sqs_event(client, [body]))
    first = local_aws.items(TABLE)
    response = invoke(client, sqs_event(client, [body, body]))
    assert response == {"batchItemFailures": []}
    assert local_aws.items(TABLE) == first  # the first delivery's row, untouched
    assert local_aws.dlq_messages() == []
    assert capsys.readouterr().out.count("duplicate delivery") == 2


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        ("not json {", "invalid_json", "the body is not a JSON document"),
        ("", "invalid_json", "the body is not a JSON document"),
        (feedback_body(rating="meh"), "schema_violation", "rating: literal_error"),
        (feedback_body(schema_version=2), "schema_violation", "schema_version: literal_error"),
        (feedback_body(extra_field=1), "schema_violation", "extra_field: extra_forbidden"),
        (json.dumps([1, 2]), "schema_violation", "(message): model_type"),
        (feedback_body(comment="x" * 1001), "schema_violation", "comment: string_too_long"),
    ],
)
def test_poison_goes_to_the_dlq_with_its_reason_and_the_rest_is_stored(
    client, local_aws, body, reason, detail, capsys
):
    good = feedback_body()
    event = sqs_event(client, [good, body, feedback_body()])
    poison_id = event["Records"][1]["messageId"]
    response = invoke(client, event)
    assert response == {"batchItemFailures": []}  # nothing left to block the queue
    assert len(local_aws.items(TABLE)) == 2
    [dead] = local_aws.dlq_messages()
    assert dead["Body"] == body  # unchanged, so it can be sent back as it was
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["dead_letter_reason"] == reason
    assert detail in attributes["dead_letter_detail"]
    assert attributes["dead_letter_source_message_id"] == poison_id
    assert attributes["schema_version"] == "1"  # the original attributes travel along
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["message"] == "message dead-lettered" for line in logged)
    assert "meh" not in json.dumps(logged) and "xxxx" not in json.dumps(logged)


def test_same_id_with_other_content_is_dead_lettered_not_overwritten(client, local_aws):
    body = feedback_body(rating="up")
    invoke(client, sqs_event(client, [body]))
    tampered = json.dumps({**json.loads(body), "rating": "down"})
    assert invoke(client, sqs_event(client, [tampered])) == {"batchItemFailures": []}
    [row] = local_aws.items(TABLE)
    assert row["rating"] == {"S": "up"}
    [dead] = local_aws.dlq_messages()
    assert dead["MessageAttributes"]["dead_letter_reason"]["StringValue"] == "conflicting_duplicate"


def test_storage_failure_reports_the_batch_items_for_retry(client, local_aws, capsys):
    local_aws.dynamodb.delete_table(TableName=TABLE)
    event = sqs_event(client, [feedback_body(), "poison", feedback_body()])
    ids = [record["messageId"] for record in event["Records"]]
    response = invoke(client, event)
    # Both valid messages stay on the queue; the poison one is dead-lettered regardless.
    assert failures(response) == [ids[0], ids[2]]
    assert len(local_aws.dlq_messages()) == 1
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [warning] = [
        line for line in logged if line["message"] == "store failed, message left for retry"
    ]
    assert warning["code"] == "ResourceNotFoundException"  # one call, the second is not tried
    assert logged[-1]["message"] == "batch done"
    assert logged[-1]["failed"] == 2 and logged[-1]["dead_lettered"] == 1


def test_unreachable_dlq_leaves_the_poison_message_on_the_queue(client, local_aws):
    local_aws.sqs.delete_queue(QueueUrl=local_aws.dlq_url)
    event = sqs_event(client, [feedback_body(), "poison"])
    response = invoke(client, event)
    assert failures(response) == [event["Records"][1]["messageId"]]
    assert len(local_aws.items(TABLE)) == 1


def test_every_record_runs_under_its_lambda_request_id(client, local_aws, capsys):
    invoke(client, sqs_event(client, [feedback_body()]))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(line.get("aws_request_id") for line in lines)


def test_missing_configuration_fails_the_invocation_and_says_why(client, local_aws, capsys):
    def broken():
        return feedback.FeedbackSettings.from_env({"APP_ENV": "dev"})

    with pytest.raises(ConfigurationError):
        feedback.handle(sqs_event(client, [feedback_body()])["Records"], broken)
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["message"] == "configuration error"
    assert line["error"] == "FEEDBACK_DLQ_NAME is not set"
    assert local_aws.items(TABLE) == []


def test_missing_configuration_is_named():
    with pytest.raises(ConfigurationError, match="FEEDBACK_TABLE is not set"):
        feedback.FeedbackSettings.from_env({"APP_ENV": "dev", "FEEDBACK_DLQ_NAME": "dlq"})
    with pytest.raises(ConfigurationError, match="FEEDBACK_DLQ_NAME is not set"):
        feedback.FeedbackSettings.from_env({"APP_ENV": "dev", "FEEDBACK_TABLE": "t"})
