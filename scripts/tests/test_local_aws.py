"""The local AWS endpoint fit for load (local_stack.local_aws): moto with its DynamoDB patched."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import boto3
import pytest

from local_stack.harness import create_pk_sk_table
from local_stack.processes import child_env, free_port, moto_process

# Runs child processes and a server (moto under Gunicorn): not in `make test-fast`.
pytestmark = pytest.mark.stack

PATCHED_MOTO_CHECK = textwrap.dedent(
    """
    import json
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws
    from local_stack.harness import create_pk_sk_table
    from local_stack.local_aws import patch_moto_dynamodb

    patch_moto_dynamodb()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_sk_table(db, "t")
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


def test_make_runs_local_aws_serves_dynamodb_under_concurrent_transactions(tmp_path):
    # Plain moto fails some of these with HTTP 500 ("dictionary changed size during iteration").
    from concurrent.futures import ThreadPoolExecutor

    port = free_port()
    with moto_process(port, log_path=tmp_path / "aws.log", fit_for_load=True):
        db = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's throwaway credentials
        )
        create_pk_sk_table(db, "t")

        def write(n: int) -> None:
            db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": "t",
                            "Item": {"pk": {"S": f"u{n % 8}"}, "sk": {"S": f"{n}-{i}"}},
                        }
                    }
                    for i in range(4)
                ]
            )

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(write, range(200)))
        count = sum(
            len(
                db.query(
                    TableName="t",
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": f"u{p}"}},
                )["Items"]
            )
            for p in range(8)
        )
    assert count == 800
