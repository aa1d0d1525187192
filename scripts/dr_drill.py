"""`make dr-drill`: restore the conversations table to a point in time, check it, serve from it.

On a local stack of its own (free 127.0.0.1 ports: moto, the model server, the chat API under
Gunicorn) the drill

1. writes conversations and a rating through the chat API, then takes the restore point T;
2. plays an incident after T: more chats, and a conversation deleted by mistake;
3. restores the conversations table as it was at T into a new table (with its TTL and
   point-in-time recovery set again, which a restore does not carry over);
4. checks the restored items against a scan taken at T, item by item;
5. switches the chat API to the restored table through configuration (the SSM parameter
   CONVERSATIONS_TABLE, which the drill reads back to restart the service with it), and proves
   the API serves from it: the deleted conversation is back, the one written after T is not,
   and a new chat is stored in the restored table;
6. prints what it measured (items, restore time, switch time) and exits non-zero on any
   mismatch.

moto (the local AWS endpoint) implements RestoreTableToPointInTime but copies the table as it is
now, whatever the date asked for. `moto_point_in_time_restore_standin` stands in for that one
call: it calls moto's restore, then undoes every change recorded after T on the new table from
the source table's DynamoDB stream (enabled on the local table for this purpose only). Against
AWS the real call is used (`restore_to_point_in_time`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from chatbot_common import contract
from local_stack.aws_bootstrap import SSM_PREFIX, create_user, sign_in
from local_stack.harness import scan_table, start_local_stack
from local_stack.processes import REPO_ROOT, chat_api_process, free_port, local_url

START_TIMEOUT = 60
PASSWORD = "Drill-Passw0rd!x"  # noqa: S105 - a user of the drill's own throw-away stack
TTL_ATTRIBUTE = "expires_at"


class DrillFailed(Exception):
    """A check of the drill failed; the message says which."""


@dataclass
class Measures:
    before: int = 0
    changed_after: int = 0
    restored: int = 0
    restore_s: float = 0.0
    switch_s: float = 0.0


def scan_items(dynamodb, table: str) -> dict[tuple, dict]:
    """Every item of `table`, keyed by (pk, sk), as plain Python values."""
    return {(item["pk"], item["sk"]): item for item in scan_table(dynamodb, table)}


def _wait_active(dynamodb, table: str, timeout: float = 600) -> None:
    dynamodb.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": int(timeout)}
    )
    deadline = time.monotonic() + timeout
    while dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise DrillFailed(f"{table} is not ACTIVE after {timeout} s")
        time.sleep(1)


def restore_to_point_in_time(dynamodb, source: str, target: str, point: datetime) -> None:
    """DynamoDB's point-in-time restore (AWS), then what a restore leaves out: TTL and PITR."""
    dynamodb.restore_table_to_point_in_time(
        SourceTableName=source, TargetTableName=target, RestoreDateTime=point
    )
    _wait_active(dynamodb, target)
    _configure_restored(dynamodb, target)


def moto_point_in_time_restore_standin(
    dynamodb, streams, source: str, target: str, point: datetime
):
    """Stand-in for RestoreTableToPointInTime on moto, which ignores RestoreDateTime.

    Calls moto's restore (a copy of the table now), then walks the source table's stream
    backwards and undoes each change made after `point` on the copy: an INSERT is deleted, a
    MODIFY or REMOVE gets its old image back.
    """
    dynamodb.restore_table_to_point_in_time(
        SourceTableName=source, TargetTableName=target, RestoreDateTime=point
    )
    _wait_active(dynamodb, target)
    stream_arn = dynamodb.describe_table(TableName=source)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    undone = 0
    for record in reversed(records):
        change = record["dynamodb"]
        if change["ApproximateCreationDateTime"] <= point:
            continue
        if record["eventName"] == "INSERT":
            dynamodb.delete_item(TableName=target, Key=change["Keys"])
        else:
            dynamodb.put_item(TableName=target, Item=change["OldImage"])
        undone += 1
    _configure_restored(dynamodb, target)
    return undone


def _configure_restored(dynamodb, table: str) -> None:
    dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    dynamodb.update_continuous_backups(
        TableName=table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def chat(self, message: str, conversation_id: str | None = None) -> dict:
        body = {"message": message} | (
            {"conversation_id": conversation_id} if conversation_id else {}
        )
        response = self.http.post("/chat", json=body)
        response.raise_for_status()
        return response.json()

    def conversation_ids(self) -> set[str]:
        response = self.http.get("/conversations", params={"limit": 100})
        response.raise_for_status()
        return {c["conversation_id"] for c in response.json()["conversations"]}

    def messages(self, conversation_id: str) -> httpx.Response:
        return self.http.get(f"/conversations/{conversation_id}")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise DrillFailed(message)
    print(f"  ok   {message}")


def drill(logs: Path) -> Measures:
    measures = Measures()
    api_port = free_port()
    api_url = local_url(api_port)
    with contextlib.ExitStack() as stack:
        local = stack.enter_context(
            start_local_stack(
                logs, model_args=(), chat_api_url=api_url, prefix=contract.LOCAL_PREFIX
            )
        )
        aws_url, config = local.aws_url, local.config
        # The drill's one user sends its messages within a minute; the chat API's per-user
        # limits (USAGE_TIERS) are not what it tests.
        config["USAGE_TIERS"] = (
            '{"free": {"messages_per_minute": 600, "tokens_per_day": 100000000, '
            '"concurrent_streams": 10}}'
        )
        region, source = config["AWS_REGION"], config["CONVERSATIONS_TABLE"]
        dynamodb, streams, ssm = (
            local.aws(name) for name in ("dynamodb", "dynamodbstreams", "ssm")
        )
        # The stream feeds the stand-in's undo; the table's data model is unchanged.
        dynamodb.update_table(
            TableName=source,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        api_process = stack.enter_context(
            chat_api_process(api_port, config, log_path=logs / "chat-api.log").start(START_TIMEOUT)
        )
        email = "drill@example.com"
        create_user(aws_url, region, config["COGNITO_USER_POOL_ID"], email, PASSWORD)
        token = sign_in(aws_url, region, config["COGNITO_APP_CLIENT_ID"], email, PASSWORD)[
            "AccessToken"
        ]
        api = Api(api_url, token)

        print("1. Before the restore point: three conversations of two turns, one rating")
        kept, replies = [], []
        for opener in ("I passed my exam!", "I am nervous about tomorrow.", "My cat is ill."):
            first = api.chat(opener)
            api.chat("Thank you, tell me more.", first["conversation_id"])
            kept.append(first["conversation_id"])
            replies.append(first["message_id"])
        rated = api.http.post(
            "/feedback",
            json={"conversation_id": kept[0], "message_id": replies[0], "rating": "up"},
        )
        rated.raise_for_status()
        before = scan_items(dynamodb, source)
        measures.before = len(before)
        time.sleep(1.1)
        point = datetime.now(UTC)
        time.sleep(1.1)
        print(f"   restore point {point.isoformat(timespec='seconds')}: {len(before)} items")

        print("2. The incident after it: a new conversation, a new turn, a deletion by mistake")
        late = api.chat("This conversation starts after the restore point.")["conversation_id"]
        api.chat("And this turn is written after it too.", kept[1])
        api.http.delete(f"/conversations/{kept[2]}").raise_for_status()
        after = scan_items(dynamodb, source)
        measures.changed_after = sum(
            1 for key in before.keys() | after.keys() if before.get(key) != after.get(key)
        )
        _check(kept[2] not in api.conversation_ids(), "the deleted conversation is gone")

        print("3. Restore the table as it was at the restore point into a new table")
        target = f"{source}-restored-{point.strftime('%Y%m%d%H%M%S')}"
        started = time.monotonic()
        undone = moto_point_in_time_restore_standin(dynamodb, streams, source, target, point)
        measures.restore_s = time.monotonic() - started
        print(f"   {target} ACTIVE in {measures.restore_s:.1f} s ({undone} later changes undone)")

        print("4. Check the restored items against what was there at the restore point")
        restored = scan_items(dynamodb, target)
        measures.restored = len(restored)
        missing = sorted(set(before) - set(restored))
        extra = sorted(set(restored) - set(before))
        differing = sorted(k for k in set(before) & set(restored) if before[k] != restored[k])
        _check(not missing, f"no item of the restore point is missing ({len(missing)} missing)")
        _check(not extra, f"no item written after it is restored ({len(extra)} extra)")
        _check(
            not differing, f"every restored item equals its state then ({len(differing)} differ)"
        )
        ttl = dynamodb.describe_time_to_live(TableName=target)["TimeToLiveDescription"]
        _check(ttl.get("AttributeName") == TTL_ATTRIBUTE, "TTL is set again on the restored table")

        print("5. Switch the chat API to the restored table through its configuration")
        started = time.monotonic()
        parameter = f"{SSM_PREFIX}/CONVERSATIONS_TABLE"
        ssm.put_parameter(Name=parameter, Value=target, Type="String", Overwrite=True)
        switched = {
            **config,
            "CONVERSATIONS_TABLE": ssm.get_parameter(Name=parameter)["Parameter"]["Value"],
        }
        # Keep-alive connections would hold Gunicorn's graceful shutdown for its whole timeout.
        api.http.close()
        api_process.stop()
        api = Api(api_url, token)
        stack.enter_context(
            chat_api_process(api_port, switched, log_path=logs / "chat-api-restored.log").start(
                START_TIMEOUT
            )
        )
        measures.switch_s = time.monotonic() - started
        listed = api.conversation_ids()
        _check(set(kept) == listed, "the API lists exactly the conversations of the restore point")
        _check(late not in listed, "the conversation started after the restore point is not served")
        back = api.messages(kept[2])
        _check(
            back.status_code == 200 and len(back.json()["messages"]) == 4,
            "the conversation deleted by mistake is back with its four messages",
        )
        new = api.chat("Written after the switch.")
        stored = scan_items(dynamodb, target)
        _check(
            any(item.get("conversation_id") == new["conversation_id"] for item in stored.values()),
            "a new chat is stored in the restored table",
        )
    return measures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make dr-drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=Path, default=REPO_ROOT / ".local" / "dr-drill" / "logs")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        measures = drill(args.logs)
    except DrillFailed as error:
        print(f"  FAIL {error}", file=sys.stderr)
        return 1
    print("\nRecovery drill (local stack)")
    for label, value in (
        ("items at the restore point", measures.before),
        ("items changed after it", measures.changed_after),
        ("items restored", measures.restored),
        ("restore to ACTIVE", f"{measures.restore_s:.1f} s"),
        ("switch and restart of the API", f"{measures.switch_s:.1f} s"),
        ("whole drill", f"{time.monotonic() - started:.1f} s"),
    ):
        print(f"  {label:<32} {value}")
    print("  PASS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
