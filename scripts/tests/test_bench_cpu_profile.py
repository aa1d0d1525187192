"""`python -m bench.cpu_profile`: its split of a request's CPU covers the parts it names and
never adds up to more than the request's own CPU. No timing is checked."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from local_stack.processes import REPO_ROOT, child_env

# Starts servers of its own: not in `make test-fast`.
pytestmark = pytest.mark.stack

PARTS = re.compile(r"CPU ms per request: (.+)")


def _parts(line: str) -> dict[str, float]:
    named = (item.rsplit(" ", 1) for item in line.split(", "))
    return {name: float(ms) for name, ms in named}


def test_splits_each_endpoints_cpu_into_named_parts():
    done = subprocess.run(
        [sys.executable, "-m", "bench.cpu_profile", "--requests", "4", "--turns", "2"],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang only
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    totals = [float(ms) for ms in re.findall(r"(\d+\.\d) ms CPU per request", done.stdout)]
    splits = [_parts(line) for line in PARTS.findall(done.stdout)]
    assert len(totals) == len(splits) == 2, done.stdout[-2000:]
    chat, stream = splits
    for split in splits:
        assert split["DynamoDB calls"] > 0 and split["emotion and risk"] > 0
        assert split["Bedrock call"] > 0
        # "the rest" is the request's CPU minus the timed parts: never below zero.
        assert split["the rest"] >= 0
    assert "Bedrock event stream" not in chat and stream["Bedrock event stream"] > 0
    for total, split in zip(totals, splits, strict=True):
        assert sum(split.values()) == pytest.approx(total, abs=0.3)
