"""The chat API's Copilot auto-scaling, derived from measured figures rather than guessed.

    make scaling      # prints the arithmetic for dev, staging and prod

Inputs: what `make bench` measured (scripts/bench/results.json: the chat API's CPU per chat
request at 64 users, the simultaneous streams one instance held without an error and how long
they took), the task sizes in copilot/chat-api/manifest.yml, the monthly chats each environment
is priced at (scripts/cost/traffic.json, which `make cost` also reads) and the planning figures
below. Output per environment: `count.range` (min, max),
`cpu_percentage` and `requests`; scripts/tests/test_scaling.py fails when the manifest and this
derivation disagree, so a new benchmark or a new plan changes both together.

No `response_time` target: a chat's response time is mostly the model's (Bedrock's time to
first token and its tokens per second), which more chat API tasks do not shorten; scaling on it
would add tasks whenever Bedrock is slow. CPU and held streams are what a task runs out of.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "scripts" / "bench" / "results.json"
MANIFEST = REPO_ROOT / "copilot" / "chat-api" / "manifest.yml"
TRAFFIC = REPO_ROOT / "scripts" / "cost" / "traffic.json"

# A minute of an ALB target's requests (Copilot's `requests` is ALBRequestCountPerTarget, a sum
# per minute).
MINUTE_S = 60
# Streams held per task in the requests target: half of what one instance was measured to hold
# without an error, as the measurement stopped at its largest level and ran on two cores.
STREAM_SAFETY = 0.5
# One chat is one request of the user journey out of this many (load test: 34 chats of 136
# requests; the others - history, conversations, ratings, usage - are reads and small writes).
REQUESTS_PER_CHAT = 4.0
# Seconds from a scale-out decision to a new task serving: the alarm's 60 s evaluation, a
# Fargate start (image pull, Gunicorn, the model loaded once) and two 10 s health checks.
SCALE_OUT_LAG_S = 180
# The busiest minute against the month's average minute (a daily peak of evening use).
PEAK_TO_AVERAGE = 10
# `max` leaves room for a surge of twice the planned peak before the ceiling stops scaling.
SURGE = 2
MINUTES_PER_MONTH = 30 * 24 * 60


@dataclass(frozen=True)
class Plan:
    """How an environment takes its traffic (planning figures, not measurements)."""

    growth_per_minute: float  # how fast traffic may rise at peak, as a fraction per minute
    min_tasks: int  # floor: prod and staging keep one task per Availability Zone
    spare_tasks: int  # above the peak: one task may fail or be replaced while at peak


PLANS = {
    "dev": Plan(growth_per_minute=0.10, min_tasks=1, spare_tasks=0),
    "staging": Plan(growth_per_minute=0.10, min_tasks=2, spare_tasks=0),
    "prod": Plan(growth_per_minute=0.10, min_tasks=2, spare_tasks=1),
}


@dataclass(frozen=True)
class Task:
    """One chat API task as the manifest sizes it."""

    cpu_units: int  # 1024 = one vCPU
    memory_mb: int


@dataclass(frozen=True)
class Scaling:
    cpu_percentage: int
    requests: int  # per task per minute
    min: int
    max: int
    # The arithmetic, for the printout and docs/operations.md.
    chats_per_minute_cpu: float
    chats_per_minute_streams: float
    chats_per_minute_per_task: float


def load_results(path: Path = RESULTS) -> dict:
    return json.loads(path.read_text())


def cpu_target(plan: Plan) -> int:
    """The CPU utilisation to hold: the headroom must absorb the traffic's growth while a new
    task starts (SCALE_OUT_LAG_S), so utilisation x (1 + growth over the lag) stays <= 100 %."""
    growth = plan.growth_per_minute * SCALE_OUT_LAG_S / MINUTE_S
    return math.floor(100 / (1 + growth))


def peak_chats_per_minute(chats_per_month: float) -> float:
    return chats_per_month / MINUTES_PER_MONTH * PEAK_TO_AVERAGE


def load_traffic(path: Path = TRAFFIC) -> dict[str, float]:
    """Each environment's planned peak, in chats per minute."""
    environments = json.loads(path.read_text())["environments"]
    return {env: peak_chats_per_minute(e["chats_per_month"]) for env, e in environments.items()}


def derive(results: dict, task: Task, plan: Plan, peak: float) -> Scaling:
    """`peak`: the environment's busiest minute, in chats."""
    target = cpu_target(plan)
    vcpu = task.cpu_units / 1024
    # CPU: chats a task serves per minute at the target utilisation.
    cpu_ms = results["cpu_ms_per_chat"]
    by_cpu = vcpu * 1000 * MINUTE_S * target / 100 / cpu_ms
    # Streams: by Little's law, a task holding S streams of D seconds serves S x 60 / D chats a
    # minute.
    streams = results["streams_per_instance"] * STREAM_SAFETY
    by_streams = streams * MINUTE_S / results["stream_duration_s"]
    per_task = min(by_cpu, by_streams)
    requests = math.floor(per_task * REQUESTS_PER_CHAT)
    # Enough tasks for a surge over the peak at the target utilisation, plus the spare; at
    # least one step above the floor, so scaling out stays possible.
    needed = math.ceil(peak * SURGE / per_task) + plan.spare_tasks
    return Scaling(
        cpu_percentage=target,
        requests=requests,
        min=plan.min_tasks,
        max=max(needed, plan.min_tasks + 1),
        chats_per_minute_cpu=round(by_cpu, 1),
        chats_per_minute_streams=round(by_streams, 1),
        chats_per_minute_per_task=round(per_task, 1),
    )


def manifest_tasks(manifest: dict) -> dict[str, Task]:
    """Each environment's task size: the manifest's top level, overridden per environment."""
    tasks = {}
    for env, overrides in manifest["environments"].items():
        overrides = overrides or {}
        tasks[env] = Task(
            cpu_units=int(overrides.get("cpu", manifest["cpu"])),
            memory_mb=int(overrides.get("memory", manifest["memory"])),
        )
    return tasks


def manifest_scaling(manifest: dict, env: str) -> dict:
    """The manifest's `count` for `env`: the top level's, with the environment's keys over it."""
    count = dict(manifest["count"])
    override = (manifest["environments"].get(env) or {}).get("count") or {}
    count.update(override)
    return {
        "min": count["range"]["min"],
        "max": count["range"]["max"],
        "cpu_percentage": count.get("cpu_percentage"),
        "requests": count.get("requests"),
        "response_time": count.get("response_time"),
    }


def derive_all(manifest: dict, results: dict, traffic: dict[str, float]) -> dict[str, Scaling]:
    tasks = manifest_tasks(manifest)
    return {env: derive(results, tasks[env], PLANS[env], traffic[env]) for env in PLANS}


def main() -> int:
    import yaml

    results = load_results()
    manifest = yaml.safe_load(MANIFEST.read_text())
    tasks = manifest_tasks(manifest)
    traffic = load_traffic()
    print(
        f"measured ({results['measured']}): {results['cpu_ms_per_chat']} ms CPU per chat, "
        f"{results['streams_per_instance']} streams held per instance, streams of "
        f"{results['stream_duration_s']} s"
    )
    for env, scaling in derive_all(manifest, results, traffic).items():
        task, plan, peak = tasks[env], PLANS[env], traffic[env]
        print(
            f"\n{env}: task {task.cpu_units / 1024:g} vCPU / {task.memory_mb} MB; plan "
            f"{asdict(plan)}\n"
            f"  cpu_percentage = floor(100 / (1 + {plan.growth_per_minute} x "
            f"{SCALE_OUT_LAG_S} s / 60 s)) = {scaling.cpu_percentage}\n"
            f"  chats/min by CPU = {task.cpu_units / 1024:g} vCPU x 60,000 ms x "
            f"{scaling.cpu_percentage} % / {results['cpu_ms_per_chat']} ms = "
            f"{scaling.chats_per_minute_cpu}\n"
            f"  chats/min by streams = {results['streams_per_instance']} x {STREAM_SAFETY} x "
            f"60 s / {results['stream_duration_s']} s = {scaling.chats_per_minute_streams}\n"
            f"  requests = floor(min of both {scaling.chats_per_minute_per_task} x "
            f"{REQUESTS_PER_CHAT} requests per chat) = {scaling.requests} per task per minute\n"
            f"  peak = chats a month / {MINUTES_PER_MONTH:,} min x {PEAK_TO_AVERAGE} = "
            f"{peak:.1f} chats/min\n"
            f"  range = {scaling.min} .. max(ceil({peak:.1f} x {SURGE} / "
            f"{scaling.chats_per_minute_per_task}) + {plan.spare_tasks} spare, "
            f"{scaling.min} + 1) = {scaling.min} .. {scaling.max}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
