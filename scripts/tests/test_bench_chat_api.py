"""The chat API benchmark: its quick mode runs every part end to end against real processes,
prints the figures, writes them as JSON and stops everything it started. No timing is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psutil
import pytest

from local_stack.processes import REPO_ROOT, child_env

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = pytest.mark.stack

SCRIPT = REPO_ROOT / "scripts" / "bench_chat_api.py"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "chat-api.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--compare-workers", "--output", str(output)],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, json.loads(output.read_text()), output


def test_prints_the_command_the_machine_and_every_part(quick_run):
    stdout, _, _ = quick_run
    assert "command: " in stdout and "--quick" in stdout
    assert "Python 3." in stdout
    for heading in ("\n1. Latency", "\n2. Simultaneous streams", "\n3. Requests per second"):
        assert heading in stdout
    for heading in ("\n4. Memory", "\n5. Worker model", "\nTargets"):
        assert heading in stdout
    assert "/chat/stream" in stdout and "gthread" in stdout
    assert "CPU cores used" in stdout


def test_json_holds_the_figures(quick_run):
    _, report, _ = quick_run
    for endpoint in ("/chat", "/chat/stream"):
        latency = report["latency"][endpoint]
        assert latency["requests"] == 4 * 2  # quick: 4 virtual users x 2 requests
        assert latency["ok"] > 0
        assert isinstance(latency["added_ms"]["p50"], float)
        assert isinstance(latency["model_latency_ms"]["p50"], float)
    levels = report["streams"]["levels"]
    assert set(levels) <= {"8", "16"} and "8" in levels
    assert levels["8"]["model_peak_in_flight"] >= 1
    memory = report["memory"]
    assert memory["peak"]["rss_mb"] > 0 and memory["idle_before"]["processes"] >= 2
    assert report["workers"]["gthread"]["requests"] == 16
    if "skipped" not in report["health"]:  # wrk is installed
        assert report["health"]["chat API"] > 0 and report["health"]["bare Flask"] > 0
        assert report["health"]["ratio"] > 0
    assert {target["target"] for target in report["targets"]}
    assert report["machine"]["cpu_count"] >= 1


def test_stops_every_process_it_started(quick_run):
    _, report, output = quick_run
    assert len(report["started_pids"]) >= 5  # local AWS, model server, chat API and workers
    alive = [pid for pid in report["started_pids"] if psutil.pid_exists(pid)]
    survivors = [pid for pid in alive if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
    assert (output.parent / "logs" / "chat-api.log").exists()


PATCHED_MOTO_CHECK = textwrap.dedent(
    """
    import json
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws
    import bench_chat_api

    bench_chat_api.patch_moto_dynamodb()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        for pk in ("a", "b"):
            for sk in ("3", "1", "2"):
                db.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": sk}})
        db.update_item(
            TableName="t",
            Key={"pk": {"S": "a"}, "sk": {"S": "1"}},
            UpdateExpression="SET n = :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        try:
            db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                            "UpdateExpression": "SET n = :five",
                            "ExpressionAttributeValues": {":five": {"N": "5"}},
                        }
                    },
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "4"}}}},
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}}},
                    {
                        "Put": {
                            "TableName": "t",
                            "Item": {"pk": {"S": "b"}, "sk": {"S": "1"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
            cancelled = False
        except ClientError as error:
            cancelled = error.response["Error"]["Code"] == "TransactionCanceledException"
        items = db.scan(TableName="t")["Items"]
        newest = db.query(
            TableName="t",
            KeyConditionExpression="pk = :a",
            ExpressionAttributeValues={":a": {"S": "a"}},
            ScanIndexForward=False,
            Limit=2,
        )["Items"]
    print(json.dumps({
        "cancelled": cancelled,
        "items": sorted([i["pk"]["S"], i["sk"]["S"], i.get("n", {}).get("N")] for i in items),
        "newest": [i["sk"]["S"] for i in newest],
    }))
    """
)


def test_patched_moto_rolls_back_a_cancelled_transaction_and_queries_one_partition():
    # In a child process: the patch changes moto's classes for the whole interpreter.
    done = subprocess.run(
        [sys.executable, "-c", PATCHED_MOTO_CHECK],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["cancelled"] is True
    # The update, both puts and the new partition are undone; the earlier update stays.
    assert result["items"] == [
        ["a", "1", "1"],
        ["a", "2", None],
        ["a", "3", None],
        ["b", "1", None],
        ["b", "2", None],
        ["b", "3", None],
    ]
    assert result["newest"] == ["3", "2"]
