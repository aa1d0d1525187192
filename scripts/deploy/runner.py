"""Running a plan: each step in turn, the first failure stops the deploy. A program that
outlives its time limit is stopped, and its stacks' status says whether the deploy goes on."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys

from deploy.steps import (
    REPO_ROOT,
    Context,
    DeployError,
    Lookup,
    Run,
    Step,
    environment,
    limit_seconds,
)

# Stack statuses after which a deploy goes on (the update itself is done during the cleanup).
COMPLETE = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "IMPORT_COMPLETE",
)
CHECK_TIME_LIMIT = 300  # seconds, for `copilot ... show` before a first-deploy-only step
LAST_EVENTS = 10


def stack_report(context: Context, stack: str) -> tuple[str, list[str]]:
    """The stack's status and its latest events, newest first (status "MISSING" when there is
    no such stack)."""
    from botocore.exceptions import ClientError

    cloudformation = context.client("cloudformation")
    try:
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return "MISSING", []
        raise
    events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"][:LAST_EVENTS]
    lines = [
        f"{e['Timestamp']} {e['LogicalResourceId']} {e['ResourceStatus']}"
        + (f" {e['ResourceStatusReason']}" if e.get("ResourceStatusReason") else "")
        for e in events
    ]
    return described["StackStatus"], lines


def _judge_after_time_limit(context: Context, step: Run, limit: float) -> None:
    """The step was stopped after `limit` seconds: go on if every stack it deploys is complete,
    else stop with their last events."""
    if not step.stacks:
        raise DeployError(f"{step.title}: still running after {limit:g} s, stopped")
    failures = []
    for stack in step.stacks:
        status, events = stack_report(context, stack)
        print(f"    {stack}: {status}", flush=True)
        if status not in COMPLETE:
            failures.append(f"{stack} is {status}" + "".join(f"\n      {e}" for e in events))
    if failures:
        raise DeployError(
            f"{step.title}: still running after {limit:g} s, stopped; " + "; ".join(failures)
        )
    print(f"    stopped after {limit:g} s, but its stacks are complete: going on", flush=True)


def _exists_already(step: Run, cwd, environ: dict[str, str]) -> bool:
    """Whether the step's `unless` program succeeds (what the step creates is there)."""
    try:
        check = subprocess.run(
            list(step.unless),
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=CHECK_TIME_LIMIT,
        )
    except subprocess.TimeoutExpired:
        raise DeployError(
            f"{shlex.join(step.unless)} still running after {CHECK_TIME_LIMIT} s"
        ) from None
    return check.returncode == 0


def _run_program(context: Context, step: Run, environ: dict[str, str]) -> None:
    cwd = REPO_ROOT / step.cwd
    if step.unless and _exists_already(step, cwd, environ):
        print("    exists already: skipped", flush=True)
        return
    argv = [context.resolve(a) for a in step.argv]
    child = {**environ, **{k: context.resolve(v) for k, v in step.env.items()}}
    limit = None if step.time_limit is None else limit_seconds(step.time_limit)
    # Its own process group, so that stopping it also stops what it started (docker, node).
    process = subprocess.Popen(argv, cwd=cwd, env=child, start_new_session=True)
    try:
        returncode = process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _judge_after_time_limit(context, step, limit)
        return
    if returncode != 0:
        detail = ""
        for stack in step.stacks:
            status, events = stack_report(context, stack)
            detail += f"\n    {stack}: {status}" + "".join(f"\n      {e}" for e in events)
        raise DeployError(f"{step.title}: {argv[0]} exited with {returncode}{detail}")


def run_step(context: Context, step: Step, environ: dict[str, str]) -> None:
    if isinstance(step, Run):
        _run_program(context, step, environ)
    elif isinstance(step, Lookup):
        value = (step.find(context) or "").strip()
        if not value or value == "None":
            raise DeployError(f"{step.name}: {step.what} found nothing")
        if step.expect is not None and value != step.expect:
            raise DeployError(f"{step.name}: {step.what} is {value}, expected {step.expect}")
        context.values[step.name] = value
        print(f"    {step.name}={value}", flush=True)
    else:
        step.call(context)


def run_plan(steps: list[Step], env: str) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    settings = environment(env)
    region = settings["region"]
    environ = {**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    context = Context(env=env, region=region)
    for number, step in enumerate(steps, 1):
        print(f"\n==> {number}/{len(steps)} {step.title}\n    {step.command_line()}", flush=True)
        try:
            run_step(context, step, environ)
        except (ClientError, BotoCoreError, DeployError) as error:
            print(f"deploy: step {number} failed: {error}", file=sys.stderr)
            return 1
        except FileNotFoundError as error:
            print(f"deploy: step {number} failed: {error.filename} is missing", file=sys.stderr)
            return 127
    return 0
