"""The faults, one at a time, each under the traffic of its own simulated people.

A scenario starts its people (each: streamed turns, each completed turn rated once), injects
its fault while they run, and measures recovery from the moment the fault ends (the worker
killed, the endpoint back, the model healthy again, the replacement API up) until a new turn
completes end to end. Then the checks read the tables (chaos.checks).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .stack import ChaosStack, wait_for_exit
from .traffic import MESSAGES, Person, Tally

OPEN_TIMEOUT = 30
HEALTHY_MODEL = {"fault": None, "ttft_ms": 100, "inter_token_ms": 40}
PROBE_INTERVAL = 0.25


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str  # what the table calls it
    # Injects the fault, returns when it is lifted: the monotonic time it was lifted at.
    inject: Callable[[ChaosStack, list[threading.Event]], float]
    kills_processes: bool = False  # transport errors (refused, cut) are expected
    people: int = 10  # in the full form; the short form has a few


def _wait_open(opened: list[threading.Event], timeout: float = OPEN_TIMEOUT) -> None:
    """Until every person's first stream has delivered text (the streams are open)."""
    deadline = time.monotonic() + timeout
    for event in opened:
        event.wait(max(0.0, deadline - time.monotonic()))


def _open_sockets(pid: int) -> int:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    count = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def kill_worker(stack: ChaosStack, opened: list[threading.Event]) -> float:
    """kill -9 the Gunicorn worker holding the most connections while the streams are open."""
    _wait_open(opened)
    victim = max(stack.worker_pids(), key=_open_sockets)
    os.kill(victim, signal.SIGKILL)
    return time.monotonic()


def restart_aws(stack: ChaosStack, opened: list[threading.Event]) -> float:
    """The local AWS endpoint killed mid-traffic and started again 2 s later."""
    _wait_open(opened)
    time.sleep(0.5)
    stack.stop_aws()
    time.sleep(2)
    lifted = time.monotonic()
    stack.start_aws()  # replays the endpoint's data, then listens
    return lifted


def _model_fault(settings: dict, seconds: float):
    """The model server misbehaves for `seconds` from the start of the traffic."""

    def inject(stack: ChaosStack, opened: list[threading.Event]) -> float:
        with stack.model_control() as control:
            control.put("/_local/config", json=settings).raise_for_status()
            time.sleep(seconds)
            control.put("/_local/config", json=HEALTHY_MODEL).raise_for_status()
        return time.monotonic()

    return inject


def sigterm_api(stack: ChaosStack, opened: list[threading.Event]) -> float:
    """SIGTERM to Gunicorn's master under load; a replacement starts once the port is free."""
    _wait_open(opened)
    old = stack.api
    old.send_signal(signal.SIGTERM)
    lifted = time.monotonic()
    stack.replace_api()
    wait_for_exit(old, 30)
    return lifted


SCENARIOS = (
    Scenario("aws-restart", "local AWS endpoint stopped, restarted", restart_aws),
    Scenario(
        "worker-kill", "kill -9 a Gunicorn worker", kill_worker, kills_processes=True, people=50
    ),
    Scenario("model-throttle", "model throttling (429)", _model_fault({"fault": "throttle"}, 5)),
    Scenario(
        "model-mid-stream", "model fails mid-stream", _model_fault({"fault": "mid_stream"}, 5)
    ),
    Scenario("model-stall", "model stalls mid-stream", _model_fault({"inter_token_ms": 30000}, 5)),
    Scenario("api-sigterm", "SIGTERM to the API under load", sigterm_api, kills_processes=True),
)


@dataclass
class Result:
    scenario: Scenario
    tally: Tally
    recovery_s: float | None


def run(
    scenario: Scenario,
    stack: ChaosStack,
    tokens: list[str],
    *,
    people_count: int,
    turns: int,
    deadline_s: float,
) -> Result:
    """Runs `people` simulated people through the scenario: each one conversation, with the
    users of `tokens` taken in turn (the last user probes recovery)."""
    tally = Tally()
    deadline = time.monotonic() + deadline_s
    users = tokens[:-1]
    people = [
        Person(stack.api_url, users[index % len(users)], tally, deadline=deadline)
        for index in range(people_count)
    ]
    opened = [threading.Event() for _ in people]

    def journey(index: int, person: Person) -> None:
        for turn in range(turns):
            tag = f"{scenario.name}-p{index}-t{turn}"
            text = MESSAGES[(index + turn) % len(MESSAGES)]
            if person.chat_turn(tag, text, opened[index] if turn == 0 else None):
                person.rate(tag)
            opened[index].set()  # a person whose first turn failed does not hold the fault

    threads = [
        threading.Thread(target=journey, args=(i, p), daemon=True) for i, p in enumerate(people)
    ]
    probe = Probe(stack.api_url, tokens[-1], tally, scenario.name, deadline)
    for thread in [*threads, probe.thread]:
        thread.start()
    probe.lifted_at = scenario.inject(stack, opened)
    probe.lifted.set()
    for thread in [*threads, probe.thread]:
        thread.join(max(0.0, deadline - time.monotonic()) + 5)
    for person in people:
        person.close()
    return Result(scenario, tally, probe.recovery_s)


class Probe:
    """Starts a new turn (a new conversation, no retry) every PROBE_INTERVAL from the start of
    the fault, each on its own thread, until a turn begun after the fault was lifted completes.

    recovery_s: from the lifting of the fault to the start of the first such turn, so the
    probe's pace bounds the resolution (PROBE_INTERVAL).
    """

    def __init__(self, api_url: str, token: str, tally: Tally, name: str, deadline: float):
        self.api_url, self.token, self.tally = api_url, token, tally
        self.name = name
        self.deadline = deadline
        self.lifted = threading.Event()
        self.lifted_at = 0.0
        self.recovered = threading.Event()
        self.recovery_s: float | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _attempt(self, number: int) -> None:
        person = Person(self.api_url, self.token, self.tally, deadline=self.deadline)
        started = time.monotonic()
        tag = f"{self.name}-probe-{number}"
        try:
            if not person.chat_turn(tag, "Just checking in.", retries=False):
                return
            person.rate(tag)
        finally:
            person.close()
        if self.lifted.is_set() and started >= self.lifted_at:
            with self._lock:
                if self.recovery_s is None or started - self.lifted_at < self.recovery_s:
                    self.recovery_s = started - self.lifted_at
            self.recovered.set()

    def _run(self) -> None:
        attempts = []
        number = 0
        while time.monotonic() < self.deadline and not self.recovered.is_set():
            attempt = threading.Thread(target=self._attempt, args=(number,), daemon=True)
            attempt.start()
            attempts.append(attempt)
            number += 1
            self.recovered.wait(PROBE_INTERVAL)
        for attempt in attempts:
            attempt.join(max(0.0, self.deadline - time.monotonic()) + 5)
