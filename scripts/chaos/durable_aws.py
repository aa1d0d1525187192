"""The local AWS endpoint (moto) with data that outlives a restart of its process.

moto keeps its state in memory only: a plain restart would come back with no tables, queues or
user pool, which is not what an outage of the AWS endpoints does to the data behind them. This
launcher runs moto's own server with moto's recorder on (every request is appended to the
recording file); when it starts and the file already holds requests, it first replays them into
the new process, in-process and before the port is opened, so that no client ever sees the
endpoint half restored. Then it serves on the port as `python -m moto.server` does, with one
correction to moto's DynamoDB (serialize_dynamodb_writes).

Replayed: every request that changes state. Left out: reads (Get*, Describe*, List*, Query,
Scan, BatchGet*) and SQS ReceiveMessage (a long poll, and receipt handles that a replay cannot
reproduce). A message that the feedback consumer had deleted before the stop is therefore
delivered again after the restart, as SQS's at-least-once delivery allows; the consumer's
conditional put keeps the feedback table to one row per feedback id.

    python -m chaos.durable_aws --port PORT --recording FILE
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import signal
import sys
import time
from urllib.parse import urlsplit

READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Receive")
# Headers that the test client sets from the body itself.
_DROPPED_HEADERS = {"content-length", "transfer-encoding", "host"}


def operation(entry: dict) -> str:
    """The AWS operation of a recorded request: from X-Amz-Target, else the Action parameter."""
    headers = {key.lower(): value for key, value in (entry.get("headers") or {}).items()}
    target = headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    query = urlsplit(entry.get("url", "")).query
    for part in query.split("&"):
        if part.startswith("Action="):
            return part[len("Action=") :]
    body = entry.get("body") or ""
    if not entry.get("body_encoded") and "Action=" in body:
        return body.split("Action=", 1)[1].split("&", 1)[0]
    return ""


def is_replayed(entry: dict) -> bool:
    name = operation(entry)
    return not name.startswith(READ_PREFIXES)


def replay(app, path: str) -> tuple[int, int]:
    """Replays the recording into `app`; returns (requests replayed, lines skipped)."""
    from werkzeug.test import Client

    client = Client(app)
    replayed = skipped = 0
    with open(path) as recording:
        for line in recording:
            try:
                entry = json.loads(line)
            except ValueError:
                skipped += 1  # a line cut short when the process was killed
                continue
            if not is_replayed(entry):
                continue
            body = entry.get("body") or ""
            data = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
            url = urlsplit(entry["url"])
            headers = {
                key: value
                for key, value in (entry.get("headers") or {}).items()
                if key.lower() not in _DROPPED_HEADERS
            }
            client.open(
                url.path,
                method=entry["method"],
                query_string=url.query,
                headers=headers,
                data=data,
                base_url=f"{url.scheme}://{url.netloc}",
            )
            replayed += 1
    return replayed, skipped


class _TableCopies:
    """Stands in for the `copy` module inside moto's DynamoDB models: while `skip` is set, a
    table is not deep-copied (moto copies every table a transaction touches, each time)."""

    skip = False

    def deepcopy(self, value, memo=None):
        from moto.dynamodb.models.table import Table

        if self.skip and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _cancellation(backend, transact_items: list[dict]) -> list | None:
    """moto's own condition checks of a transaction, made before anything is written: the
    cancellation reasons when a condition fails, None when every one holds. Raises on anything
    unusual (an item named twice, a missing table): moto's own code then handles it."""
    from moto.dynamodb.models import get_filter_expression

    reasons, failed, keys = [], False, set()
    for entry in transact_items:
        ((kind, op),) = entry.items()
        table = backend.get_table(op["TableName"])
        if kind == "Put":
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            key = {name: op["Item"][name] for name in names}
        else:
            key = op["Key"]
        marker = (op["TableName"], json.dumps(key, sort_keys=True))
        if marker in keys:
            raise ValueError("an item named twice")
        keys.add(marker)
        current = backend.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is not None and not get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
            failed = True
        else:
            reasons.append((None, None, None))
    return reasons if failed else None


def serialize_dynamodb_writes() -> None:
    """One lock over moto's DynamoDB writes, and transactions checked before they write.

    moto's TransactWriteItems copies every table it touches first and, when the transaction is
    cancelled, puts the copies back: whatever other requests wrote to those tables in between
    (moto serves requests on threads) is erased, as DynamoDB never does. Under the lock no other
    write runs in between. And since copying whole tables on every transaction makes moto
    slower with each turn stored, the conditions are checked first (moto's own checks): a
    transaction that would be cancelled is cancelled before it writes anything, and one whose
    conditions hold is applied without the copies.
    """
    import functools
    import threading

    from moto.dynamodb import models
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    copies = _TableCopies()
    models.copy = copies
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    transact = DynamoDBBackend.transact_write_items

    @functools.wraps(transact)
    def checked_transaction(self, transact_items):
        with lock:
            try:
                reasons = _cancellation(self, transact_items)
            except Exception:  # noqa: BLE001 - moto's code below reports it its own way
                return transact(self, transact_items)
            if reasons is not None:
                raise TransactionCanceledException(reasons)
            copies.skip = True
            try:
                return transact(self, transact_items)
            finally:
                copies.skip = False

    DynamoDBBackend.transact_write_items = checked_transaction


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--recording", required=True, help="the recording file (appended to)")
    args = parser.parse_args(argv)
    os.environ["MOTO_RECORDER_FILEPATH"] = args.recording
    os.environ["MOTO_PORT"] = str(args.port)

    from moto.moto_api import recorder
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    serialize_dynamodb_writes()
    app = DomainDispatcherApplication(create_backend_app)
    recorder.stop_recording()
    if os.path.exists(args.recording):
        started = time.monotonic()
        replayed, skipped = replay(app, args.recording)
        print(
            f"replayed {replayed} requests in {time.monotonic() - started:.2f} s "
            f"({skipped} unreadable lines skipped)",
            flush=True,
        )
    recorder.start_recording()

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
