"""The invariants, read from the tables themselves after each fault.

- A conversation holds whole turns only: every user message has exactly one reply
  (`reply_to`), every reply answers a stored user message, and the summary's message_count is
  the number of messages. A turn whose stream ended with `done` is stored (else: lost).
- One message of a person (its tag, kept on retries) is stored at most once.
- Every rating answered 202 is a row of the feedback table, exactly once; one rating intent
  (a reply rated once by its person, however many retries) is at most one row.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field

from chatbot_common import aws
from local_stack.harness import scan_table

from .traffic import Tally

_TAG = re.compile(r"^\[([^\]]+)\] ")


@dataclass
class Findings:
    lost_turns: int = 0
    half_turns: int = 0
    duplicate_turns: int = 0
    missing_ratings: int = 0
    duplicate_ratings: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.lost_turns + self.half_turns + self.missing_ratings

    @property
    def duplicates(self) -> int:
        return self.duplicate_turns + self.duplicate_ratings


class Tables:
    def __init__(self, aws_url: str, config: dict[str, str]):
        self.dynamodb = aws.client(
            "dynamodb", endpoint_url=aws_url, region=config["AWS_REGION"], local=True
        )
        self.conversations = config["CONVERSATIONS_TABLE"]
        self.feedback = config["FEEDBACK_TABLE"]

    def feedback_rows(self) -> list[dict]:
        return scan_table(self.dynamodb, self.feedback)

    def wait_for_ratings(self, feedback_ids: set[str], timeout: float) -> float:
        """Waits until every id is a row of the feedback table (or the timeout); the wait."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            stored = {row["feedback_id"] for row in self.feedback_rows()}
            if feedback_ids <= stored:
                break
            time.sleep(0.5)
        return time.monotonic() - started


def check_turns(items: list[dict], tally: Tally, prefix: str, findings: Findings) -> None:
    partitions: dict[str, list[dict]] = {}
    for item in items:
        partitions.setdefault(item["pk"], []).append(item)
    stored_tags: Counter = Counter()
    for pk, partition in partitions.items():
        messages = [i for i in partition if i["sk"].startswith("MSG#")]
        summary = next((i for i in partition if i["sk"] == "SUMMARY"), None)
        users = {m["message_id"]: m for m in messages if m["role"] == "user"}
        replies = Counter(m.get("reply_to") for m in messages if m["role"] == "assistant")
        for message_id, message in users.items():
            match = _TAG.match(message["text"])
            if match and match.group(1).startswith(prefix):
                stored_tags[match.group(1)] += 1
            if replies.get(message_id, 0) != 1:
                findings.half_turns += 1
                findings.problems.append(f"{pk}: user message {message_id} has no single reply")
        for reply_to in replies:
            if reply_to not in users:
                findings.half_turns += 1
                findings.problems.append(f"{pk}: a reply to {reply_to}, which is not stored")
        if messages and (summary is None or summary.get("message_count") != len(messages)):
            findings.half_turns += 1
            findings.problems.append(f"{pk}: the summary does not count {len(messages)} messages")
    for tag in tally.completed:
        if stored_tags[tag] == 0:
            findings.lost_turns += 1
            findings.problems.append(f"{tag}: the client saw `done`, the turn is not stored")
    for tag, count in stored_tags.items():
        if count > 1:
            findings.duplicate_turns += count - 1
            findings.problems.append(f"{tag}: one message stored {count} times")


def check_ratings(rows: list[dict], tally: Tally, findings: Findings) -> None:
    by_id = Counter(row["feedback_id"] for row in rows)
    by_reply = Counter(row["message_id"] for row in rows)
    for tag, feedback_id in tally.accepted.items():
        if by_id[feedback_id] != 1:
            findings.missing_ratings += 1
            findings.problems.append(
                f"{tag}: rating {feedback_id} accepted, {by_id[feedback_id]} rows in the table"
            )
        message_id = tally.completed[tag][1]
        if by_reply[message_id] > 1:
            findings.duplicate_ratings += by_reply[message_id] - 1
            findings.problems.append(
                f"{tag}: reply {message_id} rated once, {by_reply[message_id]} rows"
            )


def check(tables: Tables, tally: Tally, prefix: str, drain_timeout: float) -> Findings:
    findings = Findings()
    tables.wait_for_ratings(set(tally.accepted.values()), drain_timeout)
    check_turns(scan_table(tables.dynamodb, tables.conversations), tally, prefix, findings)
    check_ratings(tables.feedback_rows(), tally, findings)
    return findings
