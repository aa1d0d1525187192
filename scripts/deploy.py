"""Deploy one environment in the order of DESIGN.md, print that plan, roll back, smoke test.

    python scripts/deploy.py plan dev       # every command `deploy` runs, in order; no AWS call
    python scripts/deploy.py deploy dev     # CDK platform, Copilot environment, services, CDK edge,
                                            # then the smoke test
    python scripts/deploy.py rollback dev [--plan]
    python scripts/deploy.py smoke dev [--url URL --user-pool-id ID --client-id ID]

The commands are plain shell lines (aws, cdk, copilot), so an operator can run any step by
hand (docs/operations.md). Each runs with `bash -euo pipefail`; the first failure stops the
deploy with its exit code.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK_DIR = REPO_ROOT / "cdk"
COPILOT_DIR = REPO_ROOT / "copilot"
APP = "chatbot"
SERVICES = ("chat-api", "web-ui")
ECR_LIFECYCLE_POLICY = "copilot/ecr-lifecycle-policy.json"
# The CDK CLI's construct ids of the stacks (cdk/application.py).
PLATFORM_STACKS = ("PlatformStateful", "Platform")
EDGE_STACK = "Edge"
CDK_CLI = "npx --no-install cdk"
# The repository's own venv (make deploy installs it): the smoke test needs boto3.
SMOKE_PYTHON = ".venv/bin/python"


class DeployError(RuntimeError):
    """A step failed or the configuration is wrong; one line for the operator."""


@dataclass(frozen=True)
class Step:
    title: str
    command: str


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


def _export(name: str) -> str:
    query = f"Exports[?Name=='{name}'].Value | [0]"
    return f"aws cloudformation list-exports --query {shlex.quote(query)} --output text"


def deploy_plan(env: str) -> list[Step]:
    settings = environment(env)
    account, region = settings["account"], settings["region"]
    # cdk.json names the app (the CDK venv's python); CDK_CLI overrides how the CLI is called.
    cdk = f"{os.environ.get('CDK_CLI', CDK_CLI)} -c env={env} --require-approval never"
    steps = [
        Step(
            "Check that the credentials are those of the environment's account",
            f'test "$(aws sts get-caller-identity --query Account --output text)" = "{account}"',
        ),
        Step(
            "CDK CLI, pinned by cdk/package-lock.json",
            "cd cdk && npm ci --no-audit --no-fund --silent",
        ),
        Step(
            "CDK platform: user pool, tables, queues, certificates, configuration",
            f"cd cdk && {cdk} deploy --exclusively {' '.join(PLATFORM_STACKS)}",
        ),
        Step(
            "Copilot application (created on the first deploy only)",
            f"copilot app show -n {APP} >/dev/null 2>&1 || copilot app init {APP}",
        ),
        Step(
            "Copilot environment record (created on the first deploy only)",
            f"copilot env show -n {env} >/dev/null 2>&1 || "
            f"copilot env init -n {env} --app {APP} --region {region} --default-config",
        ),
        Step(
            "Copilot environment: VPC, NAT, load balancer with the platform's certificate",
            f'API_CERTIFICATE_ARN="$({_export(f"{APP}-{env}-ApiCertificateArn")})" '
            f"copilot env deploy -n {env} --app {APP}",
        ),
    ]
    for service in SERVICES:
        repository = f"{APP}/{service}"
        steps += [
            Step(
                f"Copilot service record and image repository of {service} (first deploy only)",
                f"copilot svc show -n {service} --app {APP} >/dev/null 2>&1 || "
                f"copilot svc init -n {service} --app {APP}",
            ),
            Step(
                f"Image repository of {service}: scan on push, keep the images a rollback needs",
                f"aws ecr put-image-scanning-configuration --repository-name {repository} "
                "--image-scanning-configuration scanOnPush=true >/dev/null && "
                f"aws ecr put-lifecycle-policy --repository-name {repository} "
                f"--lifecycle-policy-text file://{ECR_LIFECYCLE_POLICY} >/dev/null",
            ),
            Step(
                f"Copilot service {service}: build, push, deploy (rolls back on failure)",
                f'copilot svc deploy -n {service} -e {env} --app {APP} --tag "$(git rev-parse '
                '--short=12 HEAD)"',
            ),
        ]
    steps += [
        Step(
            "CDK edge: WAF on the load balancer, DNS records, Amplify, dashboard, alarms",
            f"cd cdk && {cdk} deploy --exclusively {EDGE_STACK}",
        ),
        Step(
            "Smoke test: health, then a chat as a throw-away user that is removed again",
            f"{SMOKE_PYTHON} scripts/deploy.py smoke {env}",
        ),
    ]
    return steps


def rollback_plan(env: str) -> list[Step]:
    """Every service back to the task definition it ran before the latest deploy."""
    environment(env)
    steps = []
    for service in SERVICES:
        stack = f"{APP}-{env}-{service}"
        steps.append(
            Step(
                f"{service}: the previous task definition revision, until the service is stable",
                f'cluster="$({_export(f"{APP}-{env}-ClusterId")})"; '
                f'service="$(aws cloudformation describe-stack-resource --stack-name {stack} '
                "--logical-resource-id Service --query StackResourceDetail.PhysicalResourceId "
                '--output text)"; '
                'current="$(aws ecs describe-services --cluster "$cluster" --services "$service" '
                "--query 'services[0].taskDefinition' --output text)\"; "
                'previous="${current%:*}:$(( ${current##*:} - 1 ))"; '
                'aws ecs update-service --cluster "$cluster" --service "$service" '
                '--task-definition "$previous" >/dev/null && '
                'aws ecs wait services-stable --cluster "$cluster" --services "$service"',
            )
        )
    return steps


def print_plan(steps: list[Step], env: str) -> None:
    print(f"# {len(steps)} steps for the {env} environment, run from {REPO_ROOT}")
    for number, step in enumerate(steps, 1):
        print(f"\n# {number}. {step.title}\n{step.command}")


def run_plan(steps: list[Step], env: str) -> int:
    settings = environment(env)
    child = {
        **os.environ,
        "AWS_REGION": settings["region"],
        "AWS_DEFAULT_REGION": settings["region"],
    }
    child.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    for number, step in enumerate(steps, 1):
        print(f"\n==> {number}/{len(steps)} {step.title}\n    {step.command}", flush=True)
        completed = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", step.command], cwd=REPO_ROOT, env=child
        )
        if completed.returncode != 0:
            print(f"deploy: step {number} failed (exit {completed.returncode})", file=sys.stderr)
            return completed.returncode
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
        sub.add_parser(name).add_argument("env")
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
        if args.command == "plan":
            print_plan(deploy_plan(args.env), args.env)
            return 0
        if args.command == "deploy":
            return run_plan(deploy_plan(args.env), args.env)
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
