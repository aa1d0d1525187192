"""`make load-test`: target checks, bounds, and short Locust runs against a stack the runner
starts on free 127.0.0.1 ports (one that passes its thresholds, one that crosses them)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from load import run

ROOT = Path(__file__).resolve().parents[2]


def test_durations_and_bounds():
    assert [run.parse_duration(t) for t in ("90", "90s", "5m", "1h")] == [90, 90, 300, 3600]
    with pytest.raises(run.LoadTestError, match="is not a duration"):
        run.parse_duration("5 minutes")
    assert run.bounded("local", None, None) == run.DEFAULTS["local"]
    with pytest.raises(run.LoadTestError, match="USERS=500"):
        run.bounded("local", 500, 60)
    with pytest.raises(run.LoadTestError, match="DURATION=7200s"):
        run.bounded("deployed", 10, 7200)
    with pytest.raises(run.LoadTestError, match="USERS=0"):
        run.bounded("deployed", 0, 60)


def test_a_deployed_target_must_be_an_environment_of_cdk_json():
    name, settings = run.deployed_environment("https://api.dev.chatbot.muykol.com", {})
    assert (name, settings["region"]) == ("dev", "us-east-1")
    for url, message in (
        ("http://api.dev.chatbot.muykol.com", "use local or https://"),
        ("https://api.dev.chatbot.muykol.com/api/v1", "use local or https://"),
        ("https://example.com", "no environment of cdk/cdk.json"),
    ):
        with pytest.raises(run.LoadTestError, match=message):
            run.deployed_environment(url, {})


def test_prod_is_refused_unless_the_operator_means_it():
    with pytest.raises(run.LoadTestError, match="Set I_MEAN_PROD=1"):
        run.deployed_environment("https://api.chatbot.muykol.com", {})
    with pytest.raises(run.LoadTestError, match="Set I_MEAN_PROD=1"):
        run.deployed_environment("https://api.chatbot.muykol.com", {"I_MEAN_PROD": "yes"})
    name, _ = run.deployed_environment("https://api.chatbot.muykol.com", {"I_MEAN_PROD": "1"})
    assert name == "prod"


def test_make_refuses_prod_before_touching_aws(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "load.run", "--target", "https://api.chatbot.muykol.com"],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "I_MEAN_PROD"},
            "PYTHONPATH": f"{ROOT / 'scripts'}:{ROOT / 'chat-api'}",
            "AWS_ACCESS_KEY_ID": "none",
            "AWS_SECRET_ACCESS_KEY": "none",
        },
    )
    assert result.returncode == 2
    assert "is production" in result.stderr


def _load_run(tmp_path: Path, thresholds: dict | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "load.run", "--target", "local", "--users", "3"]
    argv += ["--duration", "15", "--pace", "0.05", "--out", str(tmp_path / "load")]
    if thresholds is not None:
        path = tmp_path / "thresholds.json"
        path.write_text(json.dumps({"local": thresholds, "deployed": thresholds}))
        argv += ["--thresholds", str(path)]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'scripts'}:{ROOT / 'chat-api'}",
            # No `make run` stack here: the runner starts its own on free ports.
            "LOCAL_STACK_DIR": str(tmp_path / "no-stack"),
        },
    )


def _stats(out: Path) -> dict[str, dict]:
    with (out / "locust_stats.csv").open() as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def test_a_local_run_within_its_thresholds_passes_and_writes_the_report(tmp_path):
    # Limits a shared test machine always meets: this test is about the run, not the figures
    # (`make load-test` applies thresholds.json; docs/benchmarks.md has what it measures).
    result = _load_run(tmp_path, {"first_token_added_p95_ms": 20_000, "error_rate_percent": 1.0})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "PASS" in output
    out = tmp_path / "load"
    assert (out / "report.html").stat().st_size > 10_000
    stats = _stats(out)
    assert int(stats["cognito InitiateAuth"]["Request Count"]) == 3
    assert int(stats["cognito InitiateAuth"]["Failure Count"]) == 0
    assert int(stats["first token beyond model"]["Request Count"]) > 0
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    assert any(name.startswith("/chat/stream") for name in stats)
    assert "Removed the 3 test users" in output
    assert not (out / "credentials.json").exists()


def test_a_run_that_crosses_a_threshold_fails(tmp_path):
    result = _load_run(tmp_path, {"first_token_added_p95_ms": 1, "error_rate_percent": 1.0})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "FAIL: first token beyond model" in output
