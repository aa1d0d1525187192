"""`make chaos`: faults on a local stack of its own, nothing lost.

    python -m chaos [--short] [--only NAME ...] [--logs DIR] [--json FILE]

Starts the local stack's processes on free 127.0.0.1 ports (chaos.stack), runs each scenario
of chaos.scenarios under the traffic of its simulated people, checks the tables after each
(chaos.checks), prints one table row per fault and exits 1 when an invariant breaks: a turn
lost or half stored, a message stored twice, an accepted rating not stored exactly once, a
client error that is not a clear, retryable one, or no recovery. Everything it starts is
stopped at the end; nothing leaves the loopback interface.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from local_stack.processes import REPO_ROOT, ProcessStartError

from . import scenarios
from .checks import Findings, Tables, check
from .stack import ChaosStack
from .traffic import sign_up_people

# (people streaming at once, turns each, seconds a scenario may take); the full form takes the
# number of people from each scenario (50 open streams for the worker kill).
FULL = (None, 2, 180)
SHORT = (4, 1, 60)
# People share Cognito users (each person is a conversation of its own): signing up is slow on
# the local endpoint, and per-user limits are not what the run tests.
USERS = 10
# An accepted rating whose consumer batch failed waits out the queue's visibility timeout (30 s).
DRAIN_TIMEOUT = 45


def verdict(result: scenarios.Result, findings: Findings) -> list[str]:
    """Why the scenario broke an invariant (empty: it held)."""
    reasons = []
    tally = result.tally
    if findings.lost:
        reasons.append(f"{findings.lost} turns or ratings lost or half stored")
    if findings.duplicates:
        reasons.append(f"{findings.duplicates} duplicates")
    if tally.unclear:
        reasons.append(f"{len(tally.unclear)} errors outside the error shape")
    transport = sum(
        n
        for kind, n in tally.errors.items()
        if not kind[:3].isdigit() and "stream error" not in kind
    )
    if transport and not result.scenario.kills_processes:
        reasons.append(f"{transport} connection failures while every process was up")
    if tally.gave_up:
        reasons.append(f"{len(tally.gave_up)} requests still failing at the deadline")
    if result.recovery_s is None:
        reasons.append("no recovery before the deadline")
    return reasons


def _errors(tally) -> str:
    if not tally.errors:
        return "0"
    parts = ", ".join(f"{n} {kind}" for kind, n in tally.errors.most_common())
    return f"{tally.error_total} ({parts})"


def print_table(rows: list[dict]) -> None:
    header = ("fault", "requests", "errors seen by clients", "turns lost", "duplicates")
    header += ("recovery", "result")
    lines = [header]
    for row in rows:
        recovery = "-" if row["recovery_s"] is None else f"{row['recovery_s']:.2f} s"
        lines.append(
            (
                row["fault"],
                str(row["requests"]),
                row["errors"],
                str(row["lost"]),
                str(row["duplicates"]),
                recovery,
                "ok" if not row["broken"] else "BROKEN",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in scenarios.SCENARIOS]
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="a few streams per scenario")
    parser.add_argument("--only", action="append", choices=names, help="run only this scenario")
    parser.add_argument("--logs", type=Path, help="log folder (default: .local/chaos/)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    people, turns, deadline_s = SHORT if args.short else FULL
    chosen = [s for s in scenarios.SCENARIOS if not args.only or s.name in args.only]
    logs = args.logs or REPO_ROOT / ".local" / "chaos"
    logs.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%dT%H%M%S-"), dir=logs))

    stack = ChaosStack(logs)
    rows: list[dict] = []
    signal.signal(signal.SIGTERM, _interrupt)  # stop the stack on SIGTERM too
    try:
        print(f"Starting a local stack on free 127.0.0.1 ports (logs in {logs}) ...", flush=True)
        stack.start()
        tokens = sign_up_people(stack.config, stack.aws_url, USERS + 1)
        tables = Tables(stack.aws_url, stack.config)
        for scenario in chosen:
            count = people or scenario.people
            print(f"- {scenario.fault}: {count} people, {turns} turns each ...", flush=True)
            started = time.monotonic()
            result = scenarios.run(
                scenario, stack, tokens, people_count=count, turns=turns, deadline_s=deadline_s
            )
            findings = check(tables, result.tally, scenario.name, DRAIN_TIMEOUT)
            reasons = verdict(result, findings)
            print(f"    {time.monotonic() - started:.1f} s", flush=True)
            for line in reasons + findings.problems[:10] + result.tally.unclear[:5]:
                print(f"    {line}", flush=True)
            rows.append(
                {
                    "scenario": scenario.name,
                    "fault": scenario.fault,
                    "requests": result.tally.requests,
                    "errors": _errors(result.tally),
                    "error_count": result.tally.error_total,
                    "lost": findings.lost,
                    "duplicates": findings.duplicates,
                    "recovery_s": result.recovery_s,
                    "broken": reasons,
                }
            )
    except ProcessStartError as error:
        print(f"chaos: could not start the stack: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chaos: interrupted; the stack is stopped", file=sys.stderr)
        return 130
    finally:
        stack.stop()
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    broken = [row["scenario"] for row in rows if row["broken"]]
    if broken:
        print(f"\nInvariants broken in: {', '.join(broken)} (logs in {logs})")
        return 1
    print(f"\nEvery invariant held in {len(rows)} scenarios.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
