"""Deploy one environment in the order of docs/architecture.md, print that plan, roll back,
smoke test.

    python scripts/deploy.py plan dev       # every step `deploy` runs, in order; no AWS call
    python scripts/deploy.py plan prod --without-copilot   # the CloudFormation-only plan
    python scripts/deploy.py deploy dev     # CDK platform, Copilot environment, services, CDK edge,
                                            # then the smoke test (staging and prod: then the
                                            # web app's Amplify build)
    python scripts/deploy.py rollback dev [--plan]
    python scripts/deploy.py smoke dev [--url URL --user-pool-id ID --client-id ID]

No shell runs any step. A step is a program with its arguments (cdk, copilot, npm, git) or AWS
calls through boto3; the plan prints each as the command line an operator would type
(docs/operations.md). The first failure stops the deploy: a program's non-zero exit, an AWS
error, or a lookup that finds nothing (named in the message). A Copilot or CDK step that
outlives its time limit is stopped, and the deploy reads its stacks' status itself
(CloudFormation DescribeStacks): complete, it goes on; otherwise it stops with the stacks'
last events.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK_DIR = REPO_ROOT / "cdk"
COPILOT_DIR = REPO_ROOT / "copilot"
APP = "chatbot"
SERVICES = ("chat-api", "web-ui")
ECR_LIFECYCLE_POLICY = "copilot/ecr-lifecycle-policy.json"
# The CDK CLI's construct ids of the stacks (cdk/application.py) and their stack names.
PLATFORM_STACKS = ("PlatformStateful", "PlatformStateless")
EDGE_STACK = "Edge"
CDK_STACK_NAMES = {
    "PlatformStateful": "{app}-{env}-platform-stateful",
    "PlatformStateless": "{app}-{env}-platform",
    "Edge": "{app}-{env}-edge",
}
CDK_CLI = "npx --no-install cdk"
# The repository's own venv (make deploy installs it): the smoke test needs boto3.
SMOKE_PYTHON = ".venv/bin/python"
# Time limits of the long steps, in seconds. A Copilot or CDK deploy that is still running after
# its limit is stopped and judged by its stacks' status. DEPLOY_STEP_TIMEOUT overrides them all.
TIME_LIMITS = {
    "cdk": 45 * 60,
    "copilot env": 40 * 60,
    "copilot svc": 30 * 60,
    "smoke": 10 * 60,
    "amplify": 30 * 60,
}
# Stack statuses after which a deploy goes on (the update itself is done during the cleanup).
COMPLETE = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "IMPORT_COMPLETE",
)
CHECK_TIME_LIMIT = 300  # seconds, for `copilot ... show` before a first-deploy-only step
LAST_EVENTS = 10
# The web app's Amplify build, started by the deploy where a push builds nothing
# (`web_ui_auto_build` in cdk/cdk.json): how often its status is read, and the statuses
# that end it (Amplify's job statuses; CANCELLING is still on its way to CANCELLED).
WEB_UI_APP_EXPORT = "{app}-{env}-FrontendAppId"
AMPLIFY_POLL_SECONDS = 15
AMPLIFY_SUCCEEDED = "SUCCEED"
AMPLIFY_FAILED = ("FAILED", "CANCELLED")


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
            import boto3  # only a running deploy calls AWS; `plan` must not need the SDK

            self.clients[service] = boto3.client(service, region_name=self.region)
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


# --- lookups and AWS calls ---------------------------------------------------------------------


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


def caller_account(context: Context) -> str | None:
    return context.client("sts").get_caller_identity()["Account"]


def commit(context: Context) -> str | None:
    completed = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    return completed.stdout.strip() if completed.returncode == 0 else None


def image_repository_settings(repository: str) -> Call:
    policy = (REPO_ROOT / ECR_LIFECYCLE_POLICY).read_text()

    def call(context: Context) -> None:
        ecr = context.client("ecr")
        ecr.put_image_scanning_configuration(
            repositoryName=repository, imageScanningConfiguration={"scanOnPush": True}
        )
        ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=policy)

    return Call(
        f"Image repository {repository}: scan on push, keep the images a rollback needs",
        (
            f"aws ecr put-image-scanning-configuration --repository-name {repository} "
            "--image-scanning-configuration scanOnPush=true",
            f"aws ecr put-lifecycle-policy --repository-name {repository} "
            f"--lifecycle-policy-text file://{ECR_LIFECYCLE_POLICY}",
        ),
        call,
    )


def amplify_console_url(region: str, app_id: str, branch: str, job_id: str) -> str:
    """The job's page in the Amplify console (its build and deploy logs)."""
    console = f"https://{region}.console.aws.amazon.com/amplify/home?region={region}"
    return f"{console}#/{app_id}/{branch}/{job_id}"


def wait_for_web_ui_job(
    context: Context,
    app_id: str,
    branch: str,
    job_id: str,
    *,
    time_limit: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Read the Amplify job's status until it succeeds (returns SUCCEED); a failed or cancelled
    job, or one still going after `time_limit` seconds, stops the deploy with the job's id, its
    status and its console page. A job past the limit is left running: its logs stay readable."""
    amplify = context.client("amplify")
    deadline = clock() + time_limit
    last = None
    while True:
        job = amplify.get_job(appId=app_id, branchName=branch, jobId=job_id)
        status = job["job"]["summary"]["status"]
        if status != last:
            print(f"    Amplify job {job_id}: {status}", flush=True)
            last = status
        if status == AMPLIFY_SUCCEEDED:
            return status
        where = amplify_console_url(context.region, app_id, branch, job_id)
        if status in AMPLIFY_FAILED:
            raise DeployError(f"Amplify job {job_id} of {app_id}/{branch} is {status}: {where}")
        remaining = deadline - clock()
        if remaining <= 0:
            raise DeployError(
                f"Amplify job {job_id} of {app_id}/{branch} is still {status} after "
                f"{time_limit:g} s: {where}"
            )
        sleep(min(AMPLIFY_POLL_SECONDS, remaining))


def _release_web_ui(env: str, branch: str, app_id: Var, tag: Var) -> Callable[[Context], None]:
    def call(context: Context) -> None:
        amplify = context.client("amplify")
        reason = f"make deploy ENV={env}"
        if tag.name in context.values:
            reason += f" at {context.values[tag.name]}"
        app = context.values[app_id.name]
        started = amplify.start_job(
            appId=app, branchName=branch, jobType="RELEASE", jobReason=reason
        )["jobSummary"]
        print(f"    {amplify_console_url(context.region, app, branch, started['jobId'])}")
        wait_for_web_ui_job(
            context, app, branch, started["jobId"], time_limit=_limit_seconds("amplify")
        )

    return call


def web_ui_release_steps(env: str, settings: dict) -> list[Step]:
    """Where a push builds nothing (`web_ui_auto_build` false, the setting the CDK edge stack
    gives the Amplify branch), the deploy builds and publishes the web app itself, last: its
    pages talk to the services the earlier steps deployed and the smoke test checked."""
    if settings["web_ui_auto_build"]:
        return []
    branch = settings["web_ui_branch"]
    app_id, tag = Var("FRONTEND_APP_ID"), Var("IMAGE_TAG")
    job = f'--app-id "${app_id.name}" --branch-name {shlex.quote(branch)}'
    waiting = "PENDING|PROVISIONING|RUNNING|CANCELLING"
    return [
        export_lookup(
            "The web app's Amplify app (the edge stack's)",
            app_id.name,
            WEB_UI_APP_EXPORT.format(app=APP, env=env),
        ),
        Call(
            f"Web app: Amplify builds and publishes {branch} (a RELEASE job), until it succeeds",
            (
                f'job_id="$(aws amplify start-job {job} --job-type RELEASE '
                f'--job-reason "make deploy ENV={env} at ${tag.name}" '
                '--query jobSummary.jobId --output text)"',
                f'while status="$(aws amplify get-job {job} --job-id "$job_id" '
                '--query job.summary.status --output text)" && '
                f'case "$status" in {waiting}) true;; *) false;; esac; '
                f"do sleep {AMPLIFY_POLL_SECONDS}; done",
                f'test "$status" = {AMPLIFY_SUCCEEDED}',
            ),
            _release_web_ui(env, branch, app_id, tag),
        ),
    ]


# --- plans -------------------------------------------------------------------------------------


def deploy_plan(env: str) -> list[Step]:
    settings = environment(env)
    account, region = settings["account"], settings["region"]
    # cdk.json names the app (the CDK venv's python); CDK_CLI overrides how the CLI is called.
    cdk = (*shlex.split(os.environ.get("CDK_CLI", CDK_CLI)), "-c", f"env={env}")
    cdk_deploy = (*cdk, "deploy", "--require-approval", "never", "--exclusively")

    def cdk_stacks(*ids: str) -> tuple[str, ...]:
        return tuple(CDK_STACK_NAMES[i].format(app=APP, env=env) for i in ids)

    certificate = Var("API_CERTIFICATE_ARN")
    tag = Var("IMAGE_TAG")
    steps: list[Step] = [
        Lookup(
            "Check that the credentials are those of the environment's account",
            "ACCOUNT",
            "the credentials' account (STS GetCallerIdentity)",
            "aws sts get-caller-identity --query Account --output text",
            caller_account,
            expect=account,
        ),
        Run(
            "CDK CLI, pinned by cdk/package-lock.json",
            ("npm", "ci", "--no-audit", "--no-fund", "--silent"),
            cwd="cdk",
        ),
        Run(
            "CDK platform: user pool, tables, queues, certificates, configuration",
            (*cdk_deploy, *PLATFORM_STACKS),
            cwd="cdk",
            time_limit="cdk",
            stacks=cdk_stacks(*PLATFORM_STACKS),
        ),
        Run(
            "Copilot application (created on the first deploy only)",
            ("copilot", "app", "init", APP),
            unless=("copilot", "app", "show", "-n", APP),
            time_limit="copilot env",
        ),
        Run(
            "Copilot environment record (created on the first deploy only)",
            (
                "copilot",
                "env",
                "init",
                "-n",
                env,
                "--app",
                APP,
                "--region",
                region,
                "--default-config",
            ),  # fmt: skip
            unless=("copilot", "env", "show", "-n", env, "--app", APP),
            time_limit="copilot env",
        ),
        export_lookup(
            "The platform's certificate for the load balancer",
            certificate.name,
            f"{APP}-{env}-ApiCertificateArn",
        ),
        Run(
            "Copilot environment: VPC, NAT, load balancer with the platform's certificate",
            ("copilot", "env", "deploy", "-n", env, "--app", APP),
            env={certificate.name: certificate},
            time_limit="copilot env",
            stacks=(f"{APP}-{env}",),
        ),
        Lookup(
            "The commit the images are tagged with",
            tag.name,
            "the checked-out commit (git rev-parse)",
            "git rev-parse --short=12 HEAD",
            commit,
        ),
    ]
    for service in SERVICES:
        steps += [
            Run(
                f"Copilot service record and image repository of {service} (first deploy only)",
                ("copilot", "svc", "init", "-n", service, "--app", APP),
                unless=("copilot", "svc", "show", "-n", service, "--app", APP),
                time_limit="copilot svc",
            ),
            image_repository_settings(f"{APP}/{service}"),
            Run(
                f"Copilot service {service}: build, push, deploy (rolls back on failure)",
                ("copilot", "svc", "deploy", "-n", service, "-e", env, "--app", APP, "--tag", tag),
                time_limit="copilot svc",
                stacks=(f"{APP}-{env}-{service}",),
            ),
        ]
    steps += [
        Run(
            "CDK edge: WAF on the load balancer, DNS records, Amplify, dashboard, alarms",
            (*cdk_deploy, EDGE_STACK),
            cwd="cdk",
            time_limit="cdk",
            stacks=cdk_stacks(EDGE_STACK),
        ),
        Run(
            "Smoke test: health, then a chat as a throw-away user that is removed again",
            (SMOKE_PYTHON, "scripts/deploy.py", "smoke", env),
            time_limit="smoke",
        ),
        *web_ui_release_steps(env, settings),
    ]
    return steps


def rollback_plan(env: str) -> list[Step]:
    """Every service back to the task definition it ran before the latest deploy."""
    environment(env)
    cluster_export = f"{APP}-{env}-ClusterId"
    steps: list[Step] = [
        export_lookup("The environment's ECS cluster", "CLUSTER", cluster_export),
    ]
    for service in SERVICES:
        stack = f"{APP}-{env}-{service}"
        steps.append(
            Call(
                f"{service}: the previous task definition revision, until the service is stable",
                (
                    f'service="$(aws cloudformation describe-stack-resource --stack-name {stack} '
                    "--logical-resource-id Service --query StackResourceDetail.PhysicalResourceId "
                    '--output text)"',
                    'current="$(aws ecs describe-services --cluster "$CLUSTER" --services '
                    '"$service" --query \'services[0].taskDefinition\' --output text)"',
                    'aws ecs update-service --cluster "$CLUSTER" --service "$service" '
                    '--task-definition "${current%:*}:$(( ${current##*:} - 1 ))"',
                    'aws ecs wait services-stable --cluster "$CLUSTER" --services "$service"',
                ),
                _roll_back(stack),
            )
        )
    return steps


def _roll_back(stack: str) -> Callable[[Context], None]:
    def call(context: Context) -> None:
        cluster = context.values["CLUSTER"]
        resource = context.client("cloudformation").describe_stack_resource(
            StackName=stack, LogicalResourceId="Service"
        )["StackResourceDetail"]
        service = resource.get("PhysicalResourceId")
        if not service:
            raise DeployError(f"stack {stack} has no physical id for its Service")
        ecs = context.client("ecs")
        services = ecs.describe_services(cluster=cluster, services=[service])["services"]
        if not services:
            raise DeployError(f"service {service} is not in cluster {cluster}")
        current = services[0]["taskDefinition"]
        family, revision = current.rsplit(":", 1)
        if int(revision) <= 1:
            raise DeployError(f"{current} is the first revision: there is nothing to go back to")
        previous = f"{family}:{int(revision) - 1}"
        ecs.update_service(cluster=cluster, service=service, taskDefinition=previous)
        print(f"    {service}: {current} -> {previous}", flush=True)
        ecs.get_waiter("services_stable").wait(cluster=cluster, services=[service])

    return call


def check_manifests(copilot_dir: Path) -> None:
    """Copilot ignores unknown manifest keys: the schemas are checked before any step runs."""
    sys.path.insert(0, str(COPILOT_DIR))
    from copilot_checks import manifests  # scripts/copilot_checks: PyYAML and jsonschema only

    problems = manifests.check(copilot_dir)
    if problems:
        raise DeployError(manifests.report(problems))


# --- the plan without Copilot --------------------------------------------------------------------
# What Copilot renders (`make copilot-package`, with the overrides in copilot/) deploys with
# CloudFormation alone. The rendering made up what only the account has (its id, the
# certificate, the application's artifact bucket and key; copilot/build/<env>/stand-ins.json):
# `deploy.py templates` writes the templates with the account's values, and the plan passes them
# as parameters. Printed only: an operator runs the lines (docs/operations.md).

BUILD_DIR = COPILOT_DIR / "build"
STAND_INS = "stand-ins.json"
CLOUDFORMATION_DIR = "cloudformation"
ARTIFACT_PREFIX = "manual"


@dataclass(frozen=True)
class Text:
    """A value made of literal text and ${NAME} references to looked-up values."""

    template: str

    def __str__(self) -> str:
        return self.template


@dataclass(frozen=True)
class StackDeploy:
    """`aws cloudformation deploy` of one rendered template with all its parameters."""

    title: str
    stack: str
    template: str  # relative to the repository root
    parameters: dict[str, str | Text]
    tags: dict[str, str]
    role: Text | None = None

    def command_line(self) -> str:
        def quoted(key: str, value: str | Text) -> str:
            if isinstance(value, Text):
                return f'"{key}={value}"'
            return shlex.quote(f"{key}={value}")

        words = [
            "aws cloudformation deploy",
            f"--stack-name {self.stack}",
            f"--template-file {self.template}",
            '--s3-bucket "${ARTIFACT_BUCKET}"',
            f"--s3-prefix {ARTIFACT_PREFIX}/templates",
            "--capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM",
            "--no-fail-on-empty-changeset",
        ]
        if self.role:
            words.append(f'--role-arn "{self.role}"')
        words.append(
            "--parameter-overrides "
            + " ".join(quoted(k, v) for k, v in sorted(self.parameters.items()))
        )
        words.append("--tags " + " ".join(f"{k}={v}" for k, v in sorted(self.tags.items())))
        return " ".join(words)


@dataclass(frozen=True)
class Printed:
    """A command for the operator to run as printed (a pipe or docker)."""

    title: str
    line: str

    def command_line(self) -> str:
        return self.line


def stand_ins(build_dir: Path, env: str) -> dict[str, str]:
    path = build_dir / env / STAND_INS
    if not path.exists():
        raise DeployError(f"{path} is missing: run `make copilot-package` first")
    return json.loads(path.read_text())


def with_references(value: str, replacements: dict[str, str]) -> str | Text:
    """`value` with every stand-in replaced by a ${NAME} reference (longest first: the ARNs
    contain the account id)."""
    replaced = value
    for name, stand_in in sorted(replacements.items(), key=lambda item: -len(item[1])):
        replaced = replaced.replace(stand_in, "${" + name + "}")
    return Text(replaced) if replaced != value else value


def without_copilot_plan(env: str, build_dir: Path = BUILD_DIR) -> list:
    settings = environment(env)
    account, region = settings["account"], settings["region"]
    build_dir = Path(build_dir)
    shown = build_dir.relative_to(REPO_ROOT) if build_dir.is_relative_to(REPO_ROOT) else build_dir
    out = shown / env / CLOUDFORMATION_DIR
    replacements = stand_ins(build_dir, env)
    cdk = (*shlex.split(os.environ.get("CDK_CLI", CDK_CLI)), "-c", f"env={env}")
    cdk_deploy = (*cdk, "deploy", "--require-approval", "never", "--exclusively")
    app_stack = Var("APP_STACK")

    def app_output(name: str, output: str) -> Lookup:
        query = f"Stacks[0].Outputs[?OutputKey=='{output}'].OutputValue | [0]"
        return Lookup(
            f"The application's {output} (its stack set's stack in {region})",
            name,
            f"output {output} of the application's stack",
            f'aws cloudformation describe-stacks --stack-name "$APP_STACK" --query "{query}" '
            "--output text",
            lambda context: None,
        )

    def parameters(params_file: str) -> tuple[dict, dict]:
        rendered = json.loads((build_dir / env / params_file).read_text())
        values = {k: with_references(v, replacements) for k, v in rendered["Parameters"].items()}
        return values, rendered.get("Tags", {})

    steps: list = [
        Lookup(
            "Check that the credentials are those of the environment's account",
            "ACCOUNT",
            "the credentials' account (STS GetCallerIdentity)",
            "aws sts get-caller-identity --query Account --output text",
            caller_account,
            expect=account,
        ),
        Run(
            "Templates: Copilot's own rendering with the overrides, offline (no AWS call)",
            ("make", "copilot-package"),
        ),
        export_lookup(
            "The platform's certificate for the load balancer",
            "API_CERTIFICATE_ARN",
            f"{APP}-{env}-ApiCertificateArn",
        ),
        Lookup(
            "The application's stack (the stack set's instance made by `copilot app init`)",
            app_stack.name,
            f"stack instance of {APP}-infrastructure in {region}",
            f"aws cloudformation list-stack-instances --stack-set-name {APP}-infrastructure "
            f"--stack-instance-region {region} --query 'Summaries[0].StackId' --output text",
            lambda context: None,
        ),
        app_output("ARTIFACT_BUCKET", "PipelineBucket"),
        app_output("ARTIFACT_KEY", "KMSKeyARN"),
        Lookup(
            "The commit the images are tagged with",
            "IMAGE_TAG",
            "the checked-out commit (git rev-parse)",
            "git rev-parse --short=12 HEAD",
            commit,
        ),
        Printed(
            "The templates with the account's values in place of the rendering's stand-ins",
            f"{SMOKE_PYTHON} scripts/deploy.py templates {env}",
        ),
        Run(
            "CDK platform: user pool, tables, queues, certificates, configuration",
            (*cdk_deploy, *PLATFORM_STACKS),
            cwd="cdk",
        ),
    ]
    env_parameters, env_tags = parameters(f"{env}.env.params.json")
    steps.append(
        StackDeploy(
            "Environment: VPC, NAT, load balancer with the platform's certificate, cluster",
            f"{APP}-{env}",
            str(out / f"{env}.env.yml"),
            env_parameters,
            env_tags,
            role=Text(f"arn:aws:iam::${{ACCOUNT}}:role/{APP}-{env}-CFNExecutionRole"),
        )
    )
    registry = f"${{ACCOUNT}}.dkr.ecr.{region}.amazonaws.com"
    steps.append(
        Printed(
            "Registry login",
            "aws ecr get-login-password | "
            f'docker login --username AWS --password-stdin "{registry}"',
        )
    )
    for service in SERVICES:
        image = f"{registry}/{APP}/{service}:${{IMAGE_TAG}}"
        addons_key = f"{ARTIFACT_PREFIX}/addons/{service}/${{IMAGE_TAG}}.yml"
        service_parameters, service_tags = parameters(f"{service}-{env}.params.json")
        service_parameters.update(
            ContainerImage=Text(image),
            AddonsTemplateURL=Text(
                f"https://${{ARTIFACT_BUCKET}}.s3.{region}.amazonaws.com/{addons_key}"
            ),
        )
        steps += [
            Printed(
                f"Image of {service}: the Dockerfile's target, tagged with the commit",
                f'docker build --target {service} --tag "{image}" . && docker push "{image}"',
            ),
            Printed(
                f"Addons of {service} (a nested stack: CloudFormation reads it from S3)",
                f"aws s3 cp {out / f'{service}.addons.stack.yml'} "
                f'"s3://${{ARTIFACT_BUCKET}}/{addons_key}" '
                '--sse aws:kms --sse-kms-key-id "${ARTIFACT_KEY}"',
            ),
            StackDeploy(
                f"Service {service}: task definition, ECS service, target group, rules",
                f"{APP}-{env}-{service}",
                str(out / f"{service}-{env}.stack.yml"),
                service_parameters,
                service_tags,
                role=Text(f"arn:aws:iam::${{ACCOUNT}}:role/{APP}-{env}-CFNExecutionRole"),
            ),
        ]
    steps += [
        Run(
            "CDK edge: WAF on the load balancer, DNS records, Amplify, dashboard, alarms",
            (*cdk_deploy, EDGE_STACK),
            cwd="cdk",
        ),
        Run(
            "Smoke test: health, then a chat as a throw-away user that is removed again",
            (SMOKE_PYTHON, "scripts/deploy.py", "smoke", env),
        ),
        *web_ui_release_steps(env, settings),
    ]
    return steps


def write_templates(
    env: str, build_dir: Path = BUILD_DIR, values: dict | None = None
) -> list[Path]:
    """build/<env>/cloudformation/: the rendered templates with the account's values (from the
    environment variables ACCOUNT, API_CERTIFICATE_ARN, ARTIFACT_BUCKET, ARTIFACT_KEY) in place
    of the rendering's stand-ins."""
    replacements = stand_ins(Path(build_dir), env)
    values = values if values is not None else os.environ
    missing = [name for name in replacements if not str(values.get(name, "")).strip()]
    if missing:
        raise DeployError(f"set {', '.join(missing)} (the plan's lookups) first")
    source = Path(build_dir) / env
    out = source / CLOUDFORMATION_DIR
    out.mkdir(exist_ok=True)
    written = []
    for template in sorted(source.glob("*.yml")):
        text = template.read_text()
        for name, stand_in in sorted(replacements.items(), key=lambda item: -len(item[1])):
            text = text.replace(stand_in, values[name])
        (out / template.name).write_text(text)
        written.append(out / template.name)
    return written


def print_plan(steps: list[Step], env: str) -> None:
    print(f"# {len(steps)} steps for the {env} environment, run from {REPO_ROOT}")
    for number, step in enumerate(steps, 1):
        print(f"\n# {number}. {step.title}\n{step.command_line()}")


# --- running a plan ----------------------------------------------------------------------------


def _limit_seconds(key: str) -> float:
    override = os.environ.get("DEPLOY_STEP_TIMEOUT", "").strip()
    return float(override) if override else float(TIME_LIMITS[key])


def _time_limit(step: Run) -> float | None:
    return None if step.time_limit is None else _limit_seconds(step.time_limit)


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


def _run_program(context: Context, step: Run, environ: dict[str, str]) -> None:
    cwd = REPO_ROOT / step.cwd
    if step.unless:
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
        if check.returncode == 0:
            print("    exists already: skipped", flush=True)
            return
    argv = [context.resolve(a) for a in step.argv]
    child = {**environ, **{k: context.resolve(v) for k, v in step.env.items()}}
    limit = _time_limit(step)
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
        except (ClientError, BotoCoreError) as error:
            print(f"deploy: step {number} failed: {error}", file=sys.stderr)
            return 1
        except DeployError as error:
            print(f"deploy: step {number} failed: {error}", file=sys.stderr)
            return 1
        except FileNotFoundError as error:
            print(f"deploy: step {number} failed: {error.filename} is missing", file=sys.stderr)
            return 127
    return 0


# --- smoke test ------------------------------------------------------------------------------


def _http(method: str, url: str, *, token: str | None = None, body: dict | None = None):
    headers = {"Content-Type": "application/json", "User-Agent": "chatbot-smoke-test"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    if not url.startswith(("https://", "http://")):
        raise DeployError(f"{url} is not an http(s) URL")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError) as error:  # no answer at all: DNS, refused, timeout
        return f"no answer ({error})", None


def _parameter(ssm, env: str, key: str) -> str:
    return ssm.get_parameter(Name=f"/{APP}/{env}/{key}")["Parameter"]["Value"]


def smoke(
    base_url: str, user_pool_id: str, client_id: str, *, region: str, attempts: int = 10
) -> list[str]:
    """Health, then sign up a throw-away user, chat once, delete the conversation and the user.

    Returns the lines of a report; raises DeployError on the first failed check. The user is
    removed whatever happens after it was created.
    """
    import boto3  # only the smoke test needs the SDK

    base_url = base_url.rstrip("/")
    report = []
    for attempt in range(1, attempts + 1):
        status, body = _http("GET", f"{base_url}/api/v1/health")
        if status == 200:
            break
        if attempt == attempts:
            raise DeployError(f"GET {base_url}/api/v1/health answered {status} {attempts} times")
        time.sleep(min(2 * attempt, 10))
    report.append(f"health: 200 {body}")

    cognito = boto3.client("cognito-idp", region_name=region)
    email = f"smoke-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Smoke-{uuid.uuid4().hex}!A1"
    cognito.admin_create_user(
        UserPoolId=user_pool_id,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    try:
        cognito.admin_set_user_password(
            UserPoolId=user_pool_id, Username=email, Password=password, Permanent=True
        )
        parameters = {"USERNAME": email, "PASSWORD": password}
        # The web app's client is confidential: its secret signs the sign-in (SECRET_HASH).
        secret = cognito.describe_user_pool_client(UserPoolId=user_pool_id, ClientId=client_id)[
            "UserPoolClient"
        ].get("ClientSecret")
        if secret:
            digest = hmac.new(secret.encode(), (email + client_id).encode(), hashlib.sha256)
            parameters["SECRET_HASH"] = base64.b64encode(digest.digest()).decode()
        tokens = cognito.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters
        )["AuthenticationResult"]
        token = tokens["AccessToken"]
        status, answer = _http(
            "POST", f"{base_url}/api/v1/chat", token=token, body={"message": "Hello, smoke test!"}
        )
        if status != 200 or not (answer or {}).get("reply"):
            raise DeployError(f"POST /api/v1/chat answered {status}: {answer}")
        report.append(f"chat: 200, emotion {answer['emotion']}, model {answer['model_id']}")
        conversation = answer["conversation_id"]
        status, _ = _http("DELETE", f"{base_url}/api/v1/conversations/{conversation}", token=token)
        if status not in (200, 204):
            raise DeployError(f"DELETE /api/v1/conversations/{conversation} answered {status}")
        report.append("conversation deleted")
    finally:
        cognito.admin_delete_user(UserPoolId=user_pool_id, Username=email)
        report.append(f"throw-away user {email} deleted")
    return report


def smoke_from_environment(env: str, args: argparse.Namespace) -> list[str]:
    settings = environment(env)
    region = settings["region"]
    user_pool_id, client_id = args.user_pool_id, args.client_id
    if not (user_pool_id and client_id):
        import boto3

        ssm = boto3.client("ssm", region_name=region)
        user_pool_id = user_pool_id or _parameter(ssm, env, "COGNITO_USER_POOL_ID")
        client_id = client_id or _parameter(ssm, env, "COGNITO_APP_CLIENT_ID")
    url = args.url or f"https://api.{settings['domain_name']}"
    return smoke(url, user_pool_id, client_id, region=args.region or region)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("plan", "deploy"):
        command = sub.add_parser(name)
        command.add_argument("env")
        command.add_argument(
            "--copilot-dir", type=Path, default=COPILOT_DIR, help="the manifests to check first"
        )
    sub.choices["plan"].add_argument(
        "--without-copilot", action="store_true", help="the CloudFormation-only plan"
    )
    templates = sub.add_parser("templates", help="the rendered templates with the account's values")
    templates.add_argument("env")
    rollback = sub.add_parser("rollback")
    rollback.add_argument("env")
    rollback.add_argument("--plan", action="store_true", help="print the commands only")
    smoke_parser = sub.add_parser("smoke")
    smoke_parser.add_argument("env")
    smoke_parser.add_argument("--url", help="default: https://api.<domain>")
    smoke_parser.add_argument("--user-pool-id", help="default: the environment's SSM parameter")
    smoke_parser.add_argument("--client-id", help="default: the environment's SSM parameter")
    smoke_parser.add_argument("--region", help="default: the environment's region")
    args = parser.parse_args(argv)
    try:
        if args.command in ("plan", "deploy"):
            without = getattr(args, "without_copilot", False)
            check_manifests(args.copilot_dir)
            steps = without_copilot_plan(args.env) if without else deploy_plan(args.env)
            if args.command == "plan":
                print_plan(steps, args.env)
                return 0
            return run_plan(steps, args.env)
        if args.command == "templates":
            for path in write_templates(args.env):
                print(path.relative_to(REPO_ROOT))
            return 0
        if args.command == "rollback":
            steps = rollback_plan(args.env)
            if args.plan:
                print_plan(steps, args.env)
                return 0
            return run_plan(steps, args.env)
        for line in smoke_from_environment(args.env, args):
            print(f"smoke: {line}")
        return 0
    except DeployError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
