"""`make dr-drill`: the point-in-time stand-in against moto, and the whole drill end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import dr_drill
import pytest
from moto.server import ThreadedMotoServer

from local_stack.harness import create_pk_sk_table
from local_stack.processes import free_port

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dynamodb_pair():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        clients = [
            boto3.client(
                service,
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for service in ("dynamodb", "dynamodbstreams")
        ]
        yield clients
    finally:
        server.stop()


def _item(pk: str, text: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "MSG#1"}, "text": {"S": text}}


def test_standin_restores_the_table_as_it_was_at_the_point(dynamodb_pair):
    dynamodb, streams = dynamodb_pair
    create_pk_sk_table(
        dynamodb,
        "conversations",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.put_item(TableName="conversations", Item=_item("a", "first"))
    dynamodb.put_item(TableName="conversations", Item=_item("b", "kept"))
    dynamodb.put_item(TableName="conversations", Item=_item("a", "second"))
    time.sleep(1.1)
    point = datetime.now(UTC)
    time.sleep(1.1)
    dynamodb.put_item(TableName="conversations", Item=_item("a", "changed later"))
    dynamodb.delete_item(TableName="conversations", Key={"pk": {"S": "b"}, "sk": {"S": "MSG#1"}})
    dynamodb.put_item(TableName="conversations", Item=_item("c", "written later"))
    expected = {("a", "MSG#1"): "second", ("b", "MSG#1"): "kept"}

    # moto's own call copies the table as it is now: the reason for the stand-in.
    dynamodb.restore_table_to_point_in_time(
        SourceTableName="conversations", TargetTableName="plain", RestoreDateTime=point
    )
    plain = dr_drill.scan_items(dynamodb, "plain")
    assert {k: v["text"] for k, v in plain.items()} != expected

    undone = dr_drill.moto_point_in_time_restore_standin(
        dynamodb, streams, "conversations", "restored", point
    )
    restored = dr_drill.scan_items(dynamodb, "restored")
    assert {k: v["text"] for k, v in restored.items()} == expected
    assert undone == 3
    ttl = dynamodb.describe_time_to_live(TableName="restored")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    backups = dynamodb.describe_continuous_backups(TableName="restored")
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_drill_restores_checks_and_serves_from_the_restored_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dr_drill", "--logs", str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'scripts'}:{ROOT / 'chat-api'}"},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for check in (
        "ok   no item of the restore point is missing (0 missing)",
        "ok   no item written after it is restored (0 extra)",
        "ok   every restored item equals its state then (0 differ)",
        "ok   the API lists exactly the conversations of the restore point",
        "ok   the conversation deleted by mistake is back with its four messages",
        "ok   a new chat is stored in the restored table",
    ):
        assert check in out
    assert out.rstrip().endswith("PASS")
    assert (tmp_path / "logs" / "chat-api-restored.log").exists()
