"""The kinds of step a plan is made of, the environment's settings, and the lookups that more
than one plan uses. A step knows how to print itself as a command line; runner.py runs it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chatbot_common import aws, contract

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_DIR = REPO_ROOT / "cdk"
COPILOT_DIR = REPO_ROOT / "copilot"
APP = contract.COPILOT_APP
SERVICES = ("chat-api", "web-ui")
# The CDK CLI's construct ids of the stacks (cdk/application.py) and their stack names.
PLATFORM_STACKS = ("PlatformStateful", "PlatformStateless")
EDGE_STACK = "Edge"
CDK_STACK_NAMES = {
    "PlatformStateful": "{app}-{env}-platform-stateful",
    "PlatformStateless": "{app}-{env}-platform",
    "Edge": "{app}-{env}-edge",
}
CDK_CLI = "npx --no-install cdk"
# The repository's own venv (make deploy installs it): the smoke test needs boto3. Its steps
# run this package as `python -m deploy` from the repository root, with scripts/ on the path.
SMOKE_PYTHON = ".venv/bin/python"
DEPLOY_MODULE_ENV = {"PYTHONPATH": "scripts"}
# Time limits of the long steps, in seconds. A Copilot or CDK deploy that is still running after
# its limit is stopped and judged by its stacks' status. DEPLOY_STEP_TIMEOUT overrides them all.
TIME_LIMITS = {
    "cdk": 45 * 60,
    "copilot env": 40 * 60,
    "copilot svc": 30 * 60,
    "smoke": 10 * 60,
    "amplify": 30 * 60,
}


class DeployError(RuntimeError):
    """A step failed or the configuration is wrong; one line for the operator."""


@dataclass(frozen=True)
class Var:
    """A value a lookup step finds during the deploy (printed as $NAME in the plan)."""

    name: str

    def __str__(self) -> str:
        return f"${self.name}"


Arg = str | Var


@dataclass
class Context:
    """What a running deploy knows: its environment, region and the values looked up so far."""

    env: str
    region: str
    values: dict[str, str] = field(default_factory=dict)
    clients: dict[str, object] = field(default_factory=dict)

    def client(self, service: str):
        if service not in self.clients:
            # chatbot_common.aws imports boto3 on first use: `plan` must not need the SDK.
            self.clients[service] = aws.client(service, region=self.region)
        return self.clients[service]

    def resolve(self, value: Arg) -> str:
        return self.values[value.name] if isinstance(value, Var) else value


@dataclass(frozen=True)
class Run:
    """A program with its arguments. `unless`: a program whose success makes the step
    unnecessary (a record that exists already). `stacks`: what the step deploys, read with
    DescribeStacks when the step outlives `time_limit`."""

    title: str
    argv: tuple[Arg, ...]
    cwd: str = "."
    env: dict[str, Arg] = field(default_factory=dict)
    unless: tuple[str, ...] = ()
    time_limit: str | None = None  # a key of TIME_LIMITS
    stacks: tuple[str, ...] = ()

    def command_line(self) -> str:
        words = [f'{k}="{v}"' for k, v in self.env.items()] + [
            str(a) if isinstance(a, Var) else shlex.quote(a) for a in self.argv
        ]
        line = " ".join(words)
        if self.unless:
            line = f"{shlex.join(self.unless)} >/dev/null 2>&1 || {line}"
        return f"cd {self.cwd} && {line}" if self.cwd != "." else line


@dataclass(frozen=True)
class Lookup:
    """One value for later steps (`name`), found by `find`; nothing found stops the deploy.
    `expect`: the only acceptable value."""

    title: str
    name: str
    what: str  # the value's source, for the operator: "CloudFormation export X"
    cli: str  # the same lookup as a command line
    find: Callable[[Context], str | None]
    expect: str | None = None

    def command_line(self) -> str:
        if self.expect is not None:
            return f'test "$({self.cli})" = "{self.expect}"'
        return f'{self.name}="$({self.cli})"'


@dataclass(frozen=True)
class Call:
    """AWS calls through boto3 (`call`), printed as their command lines (`cli`)."""

    title: str
    cli: tuple[str, ...]
    call: Callable[[Context], None]

    def command_line(self) -> str:
        return " && ".join(self.cli)


Step = Run | Lookup | Call


def environment(name: str) -> dict:
    """The environment's settings from the CDK app's configuration (cdk/cdk.json)."""
    environments = json.loads((CDK_DIR / "cdk.json").read_text())["context"]["chatbot:environments"]
    if name not in environments:
        raise DeployError(
            f"unknown environment {name!r}; expected one of {', '.join(sorted(environments))}"
        )
    settings = dict(environments[name])
    for key in ("account", "region"):  # the CDK app's own overrides (cdk/config.py)
        override = os.environ.get(f"CHATBOT_{name.upper()}_{key.upper()}", "").strip()
        if override:
            settings[key] = override
    return settings


def limit_seconds(key: str) -> float:
    """The time limit TIME_LIMITS gives `key`, unless DEPLOY_STEP_TIMEOUT overrides them all."""
    override = os.environ.get("DEPLOY_STEP_TIMEOUT", "").strip()
    return float(override) if override else float(TIME_LIMITS[key])


def cdk_deploy_command(env: str) -> tuple[str, ...]:
    """`cdk deploy` of the environment, without stacks. cdk.json names the app (the CDK venv's
    python); CDK_CLI overrides how the CLI is called."""
    cdk = (*shlex.split(os.environ.get("CDK_CLI", CDK_CLI)), "-c", f"env={env}")
    return (*cdk, "deploy", "--require-approval", "never", "--exclusively")


def deploy_module_step(title: str, *argv: str, time_limit: str | None = None) -> Run:
    """A command of this package (`python -m deploy ...`) run from the repository root."""
    return Run(
        title,
        (SMOKE_PYTHON, "-m", "deploy", *argv),
        env=dict(DEPLOY_MODULE_ENV),
        time_limit=time_limit,
    )


# --- lookups ----------------------------------------------------------------------------------


def export_lookup(title: str, name: str, export: str) -> Lookup:
    def find(context: Context) -> str | None:
        pages = context.client("cloudformation").get_paginator("list_exports").paginate()
        for page in pages:
            for item in page.get("Exports", []):
                if item["Name"] == export:
                    return item["Value"]
        return None

    query = f"Exports[?Name=='{export}'].Value | [0]"
    return Lookup(
        title,
        name,
        f"CloudFormation export {export}",
        f'aws cloudformation list-exports --query "{query}" --output text',
        find,
    )


def _caller_account(context: Context) -> str | None:
    return context.client("sts").get_caller_identity()["Account"]


def account_check(account: str) -> Lookup:
    """The first step of every deploy: the credentials belong to the environment's account."""
    return Lookup(
        "Check that the credentials are those of the environment's account",
        "ACCOUNT",
        "the credentials' account (STS GetCallerIdentity)",
        "aws sts get-caller-identity --query Account --output text",
        _caller_account,
        expect=account,
    )


def _commit(context: Context) -> str | None:
    completed = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


def image_tag_lookup(name: str = "IMAGE_TAG") -> Lookup:
    """The images are tagged with the checked-out commit."""
    return Lookup(
        "The commit the images are tagged with",
        name,
        "the checked-out commit (git rev-parse)",
        "git rev-parse --short=12 HEAD",
        _commit,
    )


def certificate_lookup(env: str, name: str = "API_CERTIFICATE_ARN") -> Lookup:
    return export_lookup(
        "The platform's certificate for the load balancer", name, f"{APP}-{env}-ApiCertificateArn"
    )
