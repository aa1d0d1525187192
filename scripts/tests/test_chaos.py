"""`make chaos`: the checks catch what they must, the durable local AWS endpoint keeps its data
through a SIGKILL, and the short form of the run holds every invariant on a real stack."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import boto3
import pytest
from chaos import checks, scenarios
from chaos.__main__ import verdict
from chaos.durable_aws import is_replayed, operation
from chaos.traffic import Person, Tally

from chatbot_common.aws import LOCAL_CREDENTIALS
from local_stack.processes import REPO_ROOT, ManagedProcess, child_env, free_port


def _turn(pk: str, n: int, tag: str, *, reply: bool = True) -> list[dict]:
    user = {"pk": pk, "sk": f"MSG#{n:04d}a", "message_id": f"u{n}", "role": "user"}
    user["text"] = f"[{tag}] hello"
    items = [user]
    if reply:
        items.append(
            {
                "pk": pk,
                "sk": f"MSG#{n:04d}b",
                "message_id": f"a{n}",
                "role": "assistant",
                "text": "hi",
                "reply_to": f"u{n}",
            }
        )
    return items


def _summary(pk: str, count: int) -> dict:
    return {"pk": pk, "sk": "SUMMARY", "message_count": count}


def test_whole_turns_pass_the_turn_checks():
    tally = Tally(completed={"s-p0-t0": ("c1", "a1"), "s-p0-t1": ("c1", "a2")})
    items = [*_turn("c1", 1, "s-p0-t0"), *_turn("c1", 2, "s-p0-t1"), _summary("c1", 4)]
    findings = checks.Findings()
    checks.check_turns(items, tally, "s-", findings)
    assert (findings.lost, findings.duplicates, findings.problems) == (0, 0, [])


def test_the_turn_checks_catch_half_lost_and_duplicate_turns():
    tally = Tally(completed={"s-p0-t0": ("c1", "a1"), "s-p1-t0": ("c2", "a9")})
    items = [
        *_turn("c1", 1, "s-p0-t0"),
        *_turn("c1", 2, "s-p0-t0"),  # the same message stored twice
        *_turn("c3", 3, "s-p2-t0", reply=False),  # a user message without its reply
        _summary("c1", 4),
        _summary("c3", 2),  # counts a message that is not there
    ]
    findings = checks.Findings()
    checks.check_turns(items, tally, "s-", findings)
    assert findings.duplicate_turns == 1
    assert findings.lost_turns == 1  # s-p1-t0 ended with `done` but is not stored
    assert findings.half_turns == 2  # the lone user message, and c3's summary
    assert findings.lost == 3 and findings.duplicates == 1


def test_the_rating_checks_catch_missing_and_duplicate_rows():
    tally = Tally(
        completed={"t0": ("c", "a0"), "t1": ("c", "a1"), "t2": ("c", "a2")},
        accepted={"t0": "f0", "t1": "f1", "t2": "f2"},
    )
    rows = [
        {"feedback_id": "f0", "message_id": "a0"},
        {"feedback_id": "f2", "message_id": "a2"},
        {"feedback_id": "f2-retry", "message_id": "a2"},  # one intent, two rows
    ]
    findings = checks.Findings()
    checks.check_ratings(rows, tally, findings)
    assert (findings.missing_ratings, findings.duplicate_ratings) == (1, 1)


def test_a_broken_invariant_fails_the_scenario():
    scenario = scenarios.SCENARIOS[0]
    clean = scenarios.Result(scenario, Tally(errors=Counter({"503 storage_unavailable": 3})), 1.0)
    assert verdict(clean, checks.Findings()) == []
    assert verdict(clean, checks.Findings(lost_turns=1)) == [
        "1 turns or ratings lost or half stored"
    ]
    unclear = Tally(errors=Counter({"500 internal_error": 1}), unclear=["500 internal_error: ..."])
    assert verdict(scenarios.Result(scenario, unclear, 1.0), checks.Findings())
    cut = Tally(errors=Counter({"stream cut": 1}))
    assert not scenario.kills_processes
    assert verdict(scenarios.Result(scenario, cut, 1.0), checks.Findings())
    assert verdict(scenarios.Result(scenario, Tally(), None), checks.Findings()) == [
        "no recovery before the deadline"
    ]


@contextlib.contextmanager
def _dropping_server(reply: bytes) -> Iterator[str]:
    """The URL of a listener on 127.0.0.1 that answers one request with `reply` (raw bytes,
    possibly nothing) and closes the connection: a process that dies mid-request."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer_once() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(reply)

        thread = threading.Thread(target=answer_once, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        thread.join(timeout=5)


def _person(api_url: str, tally: Tally) -> Person:
    # A deadline already past: the first failure is counted, then the person gives up.
    return Person(api_url, "token", tally, deadline=time.monotonic())


def test_a_refused_connection_is_a_transport_failure():
    tally = Tally()
    person = _person(f"http://127.0.0.1:{free_port()}", tally)
    assert person.chat_turn("t0", "hello", retries=False) is False
    assert tally.errors == Counter({"connection refused": 1})


def test_a_stream_ended_before_done_is_a_stream_cut():
    started = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    started += b"Transfer-Encoding: chunked\r\n\r\n10\r\nevent: meta\ndata:"
    tally = Tally()
    with _dropping_server(started) as url:
        assert _person(url, tally).chat_turn("t0", "hello", retries=False) is False
    assert tally.errors == Counter({"stream cut": 1})


def test_a_rating_without_an_answer_is_a_connection_reset():
    tally = Tally(completed={"t0": ("c1", "a1")})
    with _dropping_server(b"") as url:
        assert _person(url, tally).rate("t0") is False
    assert tally.errors == Counter({"connection reset": 1})
    assert tally.gave_up == ["t0: connection reset"]


@pytest.mark.parametrize(
    ("entry", "name", "replayed"),
    [
        ({"headers": {"X-Amz-Target": "DynamoDB_20120810.TransactWriteItems"}}, "", True),
        ({"headers": {"X-Amz-Target": "DynamoDB_20120810.Query"}}, "", False),
        ({"headers": {"X-Amz-Target": "AmazonSQS.ReceiveMessage"}}, "", False),
        ({"headers": {"X-Amz-Target": "AmazonSQS.SendMessage"}}, "", True),
        ({"headers": {}, "url": "http://h/?Action=GetQueueUrl&QueueName=q"}, "", False),
        ({"headers": {}, "url": "http://h/", "body": "Action=CreateQueue&QueueName=q"}, "", True),
    ],
)
def test_the_replay_keeps_what_changes_state(entry, name, replayed):
    assert operation(entry)
    assert is_replayed(entry) is replayed


def _durable_aws(port: int, recording, log) -> ManagedProcess:
    argv = [sys.executable, "-m", "chaos.durable_aws", "--port", str(port), "--recording"]
    return ManagedProcess(
        "local-aws",
        [*argv, recording],
        env=child_env(),
        ready_url=f"http://127.0.0.1:{port}/moto-api/",
        log_path=log,
    )


@pytest.mark.stack  # a moto server of its own, killed and restarted
def test_the_local_aws_endpoint_keeps_its_data_through_sigkill(tmp_path):
    port = free_port()
    recording = tmp_path / "recording.jsonl"
    kwargs = {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"}
    first = _durable_aws(port, recording, tmp_path / "1.log").start(60)
    try:
        dynamodb = boto3.client("dynamodb", **kwargs, **LOCAL_CREDENTIALS)
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "kept"}})
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "gone"}})
        dynamodb.delete_item(TableName="t", Key={"pk": {"S": "gone"}})
        sqs = boto3.client("sqs", **kwargs, **LOCAL_CREDENTIALS)
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="waiting")
    finally:
        first.send_signal(9)
        first.stop()
    second = _durable_aws(port, recording, tmp_path / "2.log").start(60)
    try:
        items = dynamodb.scan(TableName="t")["Items"]
        assert items == [{"pk": {"S": "kept"}}]
        (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
        assert message["Body"] == "waiting"
        _transactions_write_all_or_nothing(dynamodb)
    finally:
        second.stop()
    assert "replayed" in (tmp_path / "2.log").read_text()


def _transactions_write_all_or_nothing(dynamodb):
    """Transactions on the durable endpoint: checked before they write, as DynamoDB does."""
    new = "attribute_not_exists(pk)"

    def put(pk: str, condition: str | None = new) -> dict:
        op = {"TableName": "t", "Item": {"pk": {"S": pk}}}
        return {"Put": {**op, "ConditionExpression": condition} if condition else op}

    dynamodb.transact_write_items(TransactItems=[put("a"), put("b")])
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                put("c"),
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {"pk": {"S": "kept"}, "v": {"S": "new"}},
                        "ConditionExpression": new,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    reasons = cancelled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"] == {"pk": {"S": "kept"}}
    keys = sorted(i["pk"]["S"] for i in dynamodb.scan(TableName="t")["Items"])
    assert keys == ["a", "b", "kept"]  # nothing of the cancelled one, nothing else undone


@pytest.mark.stack  # the whole local stack, with faults
@pytest.mark.timeout(900)
def test_the_short_run_holds_every_invariant(tmp_path):
    """The whole runner against its own stack: every scenario, a few people each."""
    out = tmp_path / "rows.json"
    result = subprocess.run(
        [sys.executable, "-m", "chaos", "--short", "--logs", tmp_path, "--json", out],
        capture_output=True,
        text=True,
        timeout=840,
        cwd=REPO_ROOT,
        env=child_env(),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "fault" in result.stdout and "recovery" in result.stdout
    rows = {row["scenario"]: row for row in json.loads(out.read_text())}
    assert list(rows) == [s.name for s in scenarios.SCENARIOS]
    for row in rows.values():
        assert (row["lost"], row["duplicates"], row["broken"]) == (0, 0, []), row
        assert row["recovery_s"] is not None and row["requests"] > 0
    # The faults reached the clients: each of these scenarios made some requests fail.
    for name in ("aws-restart", "worker-kill", "model-mid-stream", "model-stall", "api-sigterm"):
        assert rows[name]["error_count"] > 0, rows[name]
