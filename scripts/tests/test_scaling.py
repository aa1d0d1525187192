"""The chat API's Copilot auto-scaling and its derivation from the measured figures agree."""

from __future__ import annotations

import subprocess
import sys

import pytest
import scaling
import yaml

from local_stack.processes import REPO_ROOT, child_env

MEASURED = {
    "cpu_ms_per_chat": 10.0,
    "streams_per_instance": 512,
    "stream_duration_s": 6.0,
}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(scaling.MANIFEST.read_text())


@pytest.mark.parametrize("env", sorted(scaling.PLANS))
def test_manifest_count_is_the_derivation_from_the_recorded_benchmark(manifest, env):
    derived = scaling.derive_all(manifest, scaling.load_results(), scaling.load_traffic())[env]
    written = scaling.manifest_scaling(manifest, env)
    assert written == {
        "min": derived.min,
        "max": derived.max,
        "cpu_percentage": derived.cpu_percentage,
        "requests": derived.requests,
        "response_time": None,  # deliberately not a target (see scripts/scaling.py)
    }, f"copilot/chat-api/manifest.yml ({env}) differs from `make scaling`"


def test_recorded_figures_are_the_ones_the_derivation_needs():
    results = scaling.load_results()
    assert results["cpu_ms_per_chat"] > 0
    assert results["streams_per_instance"] >= 1
    assert results["stream_duration_s"] > 0
    assert results["measured"]  # where and how they were measured


def test_costlier_chats_mean_fewer_chats_per_task_and_more_tasks():
    task, plan = scaling.Task(cpu_units=512, memory_mb=1024), scaling.PLANS["prod"]
    cheap = scaling.derive(MEASURED, task, plan, peak=5000)
    dear = scaling.derive({**MEASURED, "cpu_ms_per_chat": 40.0}, task, plan, peak=5000)
    assert dear.chats_per_minute_cpu == pytest.approx(cheap.chats_per_minute_cpu / 4, rel=0.01)
    assert dear.requests < cheap.requests and dear.max > cheap.max


def test_the_arithmetic_of_one_environment():
    # 0.5 vCPU, 10 % growth a minute over a 180 s lag: 100 / 1.3 -> 76 %;
    # CPU: 0.5 x 60,000 ms x 0.76 / 10 ms = 2,280 chats/min;
    # streams: 512 x 0.5 x 60 / 6 s = 2,560 chats/min; CPU binds.
    plan = scaling.Plan(growth_per_minute=0.1, min_tasks=2, spare_tasks=1)
    task = scaling.Task(cpu_units=512, memory_mb=1024)
    result = scaling.derive(MEASURED, task, plan, peak=2500)
    assert result.cpu_percentage == 76
    assert result.chats_per_minute_cpu == 2280.0
    assert result.chats_per_minute_streams == 2560.0
    assert result.requests == 2280 * 4
    assert (result.min, result.max) == (2, 3 + 1)  # ceil(2500 x 2 / 2280) = 3, plus one spare


def test_a_quiet_environment_can_still_scale_out_one_step():
    plan = scaling.Plan(growth_per_minute=0.1, min_tasks=2, spare_tasks=0)
    result = scaling.derive(MEASURED, scaling.Task(cpu_units=512, memory_mb=1024), plan, peak=1)
    assert (result.min, result.max) == (2, 3)


def test_peak_comes_from_the_monthly_chats_the_cost_model_uses():
    # 432,000 chats in a 30-day month = 10 a minute on average; the busiest minute 10 x that.
    assert scaling.peak_chats_per_minute(432_000) == pytest.approx(100.0)
    assert set(scaling.load_traffic()) >= set(scaling.PLANS)


def test_long_streams_bind_before_cpu():
    slow = {**MEASURED, "stream_duration_s": 60.0}
    result = scaling.derive(
        slow, scaling.Task(cpu_units=1024, memory_mb=2048), scaling.PLANS["dev"], peak=10
    )
    assert result.chats_per_minute_per_task == result.chats_per_minute_streams == 256.0


def test_make_scaling_prints_the_arithmetic():
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "scaling.py")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for env in ("dev", "staging", "prod"):
        assert f"\n{env}: task " in done.stdout
    assert "cpu_percentage = floor(100 / (1 + " in done.stdout
    assert "chats/min by streams" in done.stdout
