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


def serialize_dynamodb_writes() -> None:
    """One lock over moto's DynamoDB writes.

    moto's TransactWriteItems copies every table it touches first and, when the transaction is
    cancelled, puts the copies back: whatever other requests wrote to those tables in between
    (moto serves requests on threads) is erased. DynamoDB cancels only the transaction's own
    writes. With the lock no other write runs in between, so a cancelled transaction undoes
    only itself, as in DynamoDB.
    """
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


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
