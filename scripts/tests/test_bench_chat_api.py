"""The chat API benchmark: its quick mode runs every part end to end against real processes,
prints the figures, writes them as JSON and stops everything it started. No timing is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest

from local_stack.processes import REPO_ROOT, child_env

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "chat-api.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--compare-workers", "--output", str(output)],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hang only: a loaded machine needs minutes
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
        # The API's own time comes from its Server-Timing spans, so it is below the total.
        own, spans = latency["own_ms"], latency["spans_p50_ms"]
        assert isinstance(own["p99"], float) and 0 < own["p50"] <= spans["total"]
        assert spans["model"] > 0 and spans["storage"] > 0
        assert latency["api_cpu_ms_per_request"] > 0
        assert report["latency"][f"{endpoint} (1 user)"]["virtual_users"] == 1
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
