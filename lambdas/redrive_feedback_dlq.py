"""Inspect the feedback dead-letter queue and, once the cause is fixed, send its messages back.

    python redrive_feedback_dlq.py                 # count, reasons, a few sample bodies
    python redrive_feedback_dlq.py --move          # move every message back to the queue
    python redrive_feedback_dlq.py --move --reason max_receives_exceeded

Queues: --dlq-url / --queue-url, else FEEDBACK_DLQ_URL / FEEDBACK_QUEUE_URL from the
environment or from --env-file (the local stack's `.local/stack.env`). AWS credentials, region
and endpoint come from the SDK's usual settings.

Reasons: a message the consumer dead-lettered itself carries `dead_letter_reason`
(`invalid_json`, `schema_violation`, `conflicting_duplicate`); one that SQS moved after the
queue's maximum receive count has none and is shown as `max_receives_exceeded` (storage was
failing, for instance). Moving is safe to repeat: a message is deleted from the DLQ only after
the main queue accepted it, and the consumer stores each feedback id once. Sending a poison
message back only returns it to the DLQ, so --reason selects what to move.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REASON_ATTRIBUTE = "dead_letter_reason"
DEAD_LETTER_ATTRIBUTES = (
    REASON_ATTRIBUTE,
    "dead_letter_detail",
    "dead_letter_source_message_id",
)
MAX_RECEIVE_REASON = "max_receives_exceeded"
BATCH = 10
# Long enough to send a batch and delete it; a crash in between only re-shows the messages.
VISIBILITY_SECONDS = 60
SAMPLE_CHARS = 300


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def reason_of(message: dict) -> str:
    attribute = (message.get("MessageAttributes") or {}).get(REASON_ATTRIBUTE)
    return attribute["StringValue"] if attribute else MAX_RECEIVE_REASON


def _receive(sqs, dlq_url: str, visibility: int) -> list[dict]:
    return sqs.receive_message(
        QueueUrl=dlq_url,
        MaxNumberOfMessages=BATCH,
        WaitTimeSeconds=1,
        VisibilityTimeout=visibility,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])


def _release(sqs, dlq_url: str, messages: list[dict]) -> None:
    """Make messages visible again at once (inspection must not hide them for long)."""
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def inspect(sqs, dlq_url: str, *, samples: int = 3, limit: int = 1000) -> dict:
    """Count, reasons and sample bodies; every message looked at is made visible again."""
    approximate = int(
        sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    seen: dict[str, dict] = {}
    held: list[dict] = []
    try:
        while len(seen) < limit:
            batch = _receive(sqs, dlq_url, VISIBILITY_SECONDS)
            fresh = [m for m in batch if m["MessageId"] not in seen]
            held += batch
            if not fresh:
                break
            for message in fresh:
                seen[message["MessageId"]] = message
    finally:
        _release(sqs, dlq_url, held)
    reasons = Counter(reason_of(m) for m in seen.values())
    examples = []
    for message in list(seen.values())[:samples]:
        attributes = message.get("MessageAttributes") or {}
        examples.append(
            {
                "message_id": message["MessageId"],
                "reason": reason_of(message),
                "detail": attributes.get("dead_letter_detail", {}).get("StringValue"),
                "receive_count": message.get("Attributes", {}).get("ApproximateReceiveCount"),
                "body": message["Body"][:SAMPLE_CHARS],
            }
        )
    return {
        "approximate_count": approximate,
        "inspected": len(seen),
        "reasons": dict(reasons),
        "samples": examples,
    }


def _resendable(attributes: dict) -> dict:
    kept = {}
    for name, value in attributes.items():
        if name in DEAD_LETTER_ATTRIBUTES:
            continue
        entry = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                entry[key] = value[key]
        kept[name] = entry
    return kept


def move(sqs, dlq_url: str, queue_url: str, *, reasons=None, limit=None) -> dict:
    """Send DLQ messages back to the queue, deleting each one only once it is sent."""
    moved = skipped = failed = 0
    skipped_messages: list[dict] = []
    try:
        while limit is None or moved < limit:
            batch = _receive(sqs, dlq_url, VISIBILITY_SECONDS)
            if not batch:
                break
            chosen = [m for m in batch if reasons is None or reason_of(m) in reasons]
            if limit is not None:
                chosen = chosen[: limit - moved]
            chosen_ids = {m["MessageId"] for m in chosen}
            others = [m for m in batch if m["MessageId"] not in chosen_ids]
            skipped_messages += others  # kept hidden until the end, so the loop ends
            skipped += len(others)
            if not chosen:
                continue
            sent = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": message["Body"],
                        "MessageAttributes": _resendable(message.get("MessageAttributes") or {}),
                    }
                    for index, message in enumerate(chosen)
                ],
            )
            done = [chosen[int(entry["Id"])] for entry in sent.get("Successful", [])]
            failed += len(sent.get("Failed", []))
            if done:
                sqs.delete_message_batch(
                    QueueUrl=dlq_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                        for index, message in enumerate(done)
                    ],
                )
            moved += len(done)
    finally:
        _release(sqs, dlq_url, skipped_messages)
    return {"moved": moved, "skipped": skipped, "failed": failed}


def _client(environ):
    """An SQS client from these settings; what they leave out comes from the SDK's own chain."""
    session = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        region_name=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    return session.client(
        "sqs",
        endpoint_url=environ.get("AWS_ENDPOINT_URL_SQS") or environ.get("AWS_ENDPOINT_URL"),
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dlq-url")
    parser.add_argument("--queue-url")
    parser.add_argument("--env-file", type=Path, help="KEY=VALUE lines, e.g. .local/stack.env")
    parser.add_argument("--move", action="store_true", help="send the messages back")
    parser.add_argument(
        "--reason", action="append", help=f"move only these reasons (e.g. {MAX_RECEIVE_REASON})"
    )
    parser.add_argument("--limit", type=int, help="move at most this many messages")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args(argv)

    environ = dict(os.environ)
    if args.env_file is not None:
        environ = {**read_env_file(args.env_file), **environ}  # the shell's values win
    dlq_url = args.dlq_url or environ.get("FEEDBACK_DLQ_URL")
    queue_url = args.queue_url or environ.get("FEEDBACK_QUEUE_URL")
    if not dlq_url or (args.move and not queue_url):
        print("redrive: set FEEDBACK_DLQ_URL and FEEDBACK_QUEUE_URL (or pass the URLs)")
        return 2
    sqs = _client(environ)
    try:
        report = inspect(sqs, dlq_url, samples=args.samples)
        if args.move:
            report["move"] = move(
                sqs,
                dlq_url,
                queue_url,
                reasons=set(args.reason) if args.reason else None,
                limit=args.limit,
            )
    except (ClientError, BotoCoreError) as error:
        print(f"redrive: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 1 if report.get("move", {}).get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
