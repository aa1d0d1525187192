"""`make load-test`: run the Locust journeys against the local stack or a deployed environment.

TARGET=local uses `make run`'s stack when it is up (its `.local/stack.env` and a healthy chat
API), otherwise starts its own on free 127.0.0.1 ports and stops it afterwards. TARGET=https://
api.<domain> names a deployed environment of `cdk/cdk.json`: its user pool and app client come
from the environment's SSM parameters with the operator's AWS credentials; prod is refused
unless I_MEAN_PROD=1. Either way the run creates its own Cognito test users (admin calls),
removes them at the end, stops by itself after DURATION, writes Locust's HTML report and CSV
files to `.local/load/`, and exits non-zero when a threshold of `thresholds.json` is crossed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from chatbot_common import aws, contract
from chatbot_common.env_file import read_env_file
from local_stack.aws_bootstrap import (
    DEMO_USER_EMAIL,
    DEMO_USER_PASSWORD,
    create_user,
    sign_in,
)
from local_stack.harness import start_local_stack
from local_stack.processes import REPO_ROOT, chat_api_process, free_port, local_url

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfile.py"
THRESHOLDS = HERE / "thresholds.json"
LOCUST = Path(os.environ.get("LOAD_LOCUST") or REPO_ROOT / ".venvs" / "load" / "bin" / "locust")
# Bounds: a local run shares the machine with the stack it loads; Cognito access tokens live
# one hour, so a deployed run ends before they do.
LIMITS = {"local": (200, 900), "deployed": (2000, 3300)}
DEFAULTS = {"local": (20, 60), "deployed": (50, 600)}
# The local model server's latency in a run with its own stack: a short first token and a
# typing-speed stream, like a small Bedrock model.
LOCAL_MODEL_LATENCY = ("--ttft-ms", "600", "--inter-token-ms", "15")
START_TIMEOUT = 60
# The chat API's per-user limits (USAGE_TIERS, docs/chat-api.md) on the run's own stack: a
# compressed pace (--pace below 1) sends a user's messages faster than a person could, and the
# run measures the service, not the limits. make run's stack and deployed environments keep
# their own limits, which one simulated person per Cognito user at the human pace stays within.
LOCAL_USAGE_TIERS = (
    '{"free": {"messages_per_minute": 6000, "tokens_per_day": 1000000000, '
    '"concurrent_streams": 50}}'
)


class LoadTestError(Exception):
    """A refused target or setting; the message is the one line to print."""


@dataclass
class Target:
    api_url: str
    cognito_url: str
    region: str
    user_pool_id: str
    client_id: str
    kind: str  # local or deployed
    aws_endpoint: str | None = None


def parse_duration(text: str) -> int:
    """Seconds from `90`, `90s`, `5m` or `1h`."""
    match = re.fullmatch(r"(\d+)([smh]?)", text.strip())
    if not match:
        raise LoadTestError(f"DURATION={text} is not a duration such as 90, 90s, 5m or 1h")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def bounded(kind: str, users: int | None, duration: int | None) -> tuple[int, int]:
    max_users, max_duration = LIMITS[kind]
    users = DEFAULTS[kind][0] if users is None else users
    duration = DEFAULTS[kind][1] if duration is None else duration
    if not 1 <= users <= max_users:
        raise LoadTestError(f"USERS={users}: from 1 to {max_users} for a {kind} target")
    if not 10 <= duration <= max_duration:
        raise LoadTestError(
            f"DURATION={duration}s: from 10 s to {max_duration} s for a {kind} target"
        )
    return users, duration


def deployed_environment(url: str, environ) -> tuple[str, dict]:
    """The cdk.json environment whose API host is the URL's; prod only with I_MEAN_PROD=1."""
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.hostname or parsed.path not in ("", "/"):
        raise LoadTestError(f"TARGET={url}: use local or https://api.<domain> of an environment")
    cdk_json = json.loads((REPO_ROOT / "cdk" / "cdk.json").read_text())
    environments = cdk_json["context"]["chatbot:environments"]
    for name, settings in environments.items():
        if parsed.hostname == f"api.{settings['domain_name']}":
            if name == "prod" and environ.get("I_MEAN_PROD") != "1":
                raise LoadTestError(
                    f"TARGET={url} is production: real users share it. Set I_MEAN_PROD=1 to run "
                    "the load test there anyway."
                )
            return name, settings
    hosts = ", ".join(f"api.{s['domain_name']}" for s in environments.values())
    raise LoadTestError(f"TARGET={url} is no environment of cdk/cdk.json ({hosts})")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _local_target(config: dict[str, str], api_url: str) -> Target:
    aws = config["AWS_ENDPOINT_URL"]
    return Target(
        api_url=api_url,
        cognito_url=aws + "/",
        region=config["AWS_REGION"],
        user_pool_id=config["COGNITO_USER_POOL_ID"],
        client_id=config["COGNITO_APP_CLIENT_ID"],
        kind="local",
        aws_endpoint=aws,
    )


@contextlib.contextmanager
def local_target(state: Path, logs: Path) -> Iterator[Target]:
    """`make run`'s stack when it is up, else a stack of our own for the length of the run."""
    env_file = state / "stack.env"
    if env_file.exists():
        config = read_env_file(env_file)
        api_url = config.get("CHAT_API_URL", "")
        if api_url and _healthy(api_url):
            print(f"Using the running local stack ({env_file}): {api_url}")
            yield _local_target(config, api_url)
            return
    api_port = free_port()
    api_url = local_url(api_port)
    print(f"Starting a local stack for the run on 127.0.0.1 (logs in {logs})")
    with start_local_stack(
        logs, model_args=LOCAL_MODEL_LATENCY, chat_api_url=api_url, prefix=contract.LOCAL_PREFIX
    ) as stack:
        config = {**stack.config, "USAGE_TIERS": LOCAL_USAGE_TIERS}
        with chat_api_process(api_port, config, log_path=logs / "chat-api.log").start(
            START_TIMEOUT
        ):
            warm_up(stack.aws_url, config, api_url)
            yield _local_target(config, api_url)


def warm_up(aws_url: str, config: dict[str, str], api_url: str, chats: int = 4) -> None:
    """A few chats of the demo user before the run, so that the measured chats do not include
    a fresh stack's first requests (connections, lazily built clients in each worker)."""
    region = config["AWS_REGION"]
    token = sign_in(
        aws_url, region, config["COGNITO_APP_CLIENT_ID"], DEMO_USER_EMAIL, DEMO_USER_PASSWORD
    )["AccessToken"]
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for _ in range(chats):
            client.post(
                f"{api_url}/api/v1/chat", json={"message": "Warming up."}
            ).raise_for_status()


def deployed_target(url: str, environ) -> Target:
    name, settings = deployed_environment(url, environ)
    region = settings["region"]
    ssm = aws.client("ssm", region=region)

    def parameter(key: str) -> str:
        return ssm.get_parameter(Name=contract.ssm_parameter_name(key, name))["Parameter"]["Value"]

    return Target(
        api_url=url.rstrip("/"),
        cognito_url=f"https://cognito-idp.{region}.amazonaws.com/",
        region=region,
        user_pool_id=parameter("COGNITO_USER_POOL_ID"),
        client_id=parameter("COGNITO_APP_CLIENT_ID"),
        kind="deployed",
    )


def _cognito(target: Target):
    if target.aws_endpoint:
        return aws.client(
            "cognito-idp", region=target.region, endpoint_url=target.aws_endpoint, local=True
        )
    return aws.client("cognito-idp", region=target.region)


@contextlib.contextmanager
def test_users(target: Target, count: int, run_id: str) -> Iterator[list[dict]]:
    """`count` confirmed Cognito users for this run, deleted afterwards whatever happens."""
    cognito = _cognito(target)
    created: list[dict] = []
    try:
        for index in range(count):
            email = f"load-{run_id}-{index}@example.com"
            password = f"Load-{uuid.uuid4().hex}!A1"
            if target.aws_endpoint:
                create_user(
                    target.aws_endpoint, target.region, target.user_pool_id, email, password
                )
            else:
                cognito.admin_create_user(
                    UserPoolId=target.user_pool_id,
                    Username=email,
                    UserAttributes=[
                        {"Name": "email", "Value": email},
                        {"Name": "email_verified", "Value": "true"},
                    ],
                    MessageAction="SUPPRESS",
                )
                cognito.admin_set_user_password(
                    UserPoolId=target.user_pool_id,
                    Username=email,
                    Password=password,
                    Permanent=True,
                )
            created.append({"email": email, "password": password})
        yield created
    finally:
        for user in created:
            with contextlib.suppress(Exception):
                cognito.admin_delete_user(UserPoolId=target.user_pool_id, Username=user["email"])
        print(f"Removed the {len(created)} test users of run {run_id}")


def run_locust(
    target: Target,
    users: list[dict],
    *,
    count: int,
    duration: int,
    pace: float,
    out: Path,
    thresholds: Path,
) -> int:
    out.mkdir(parents=True, exist_ok=True)
    credentials = out / "credentials.json"
    credentials.write_text(json.dumps(users))
    credentials.chmod(0o600)
    env = {
        **os.environ,
        "LOAD_CREDENTIALS": str(credentials),
        "LOAD_COGNITO_URL": target.cognito_url,
        "LOAD_COGNITO_CLIENT_ID": target.client_id,
        "LOAD_USERS": str(count),
        "LOAD_DURATION_S": str(duration),
        "LOAD_PACE": str(pace),
        "LOAD_THRESHOLDS": str(thresholds),
        "LOAD_TARGET_KIND": target.kind,
    }
    argv = [
        str(LOCUST),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        target.api_url,
        "--csv",
        str(out / "locust"),
        "--html",
        str(out / "report.html"),
        "--only-summary",
        # Failures count through the error-rate threshold, not on their own.
        "--exit-code-on-error",
        "0",
        "--stop-timeout",
        "30",
        "--loglevel",
        "WARNING",
    ]
    print(f"Locust: {count} users for {duration} s against {target.api_url} (pace {pace})")
    try:
        return subprocess.run(argv, env=env, timeout=duration + 120, check=False).returncode
    finally:
        credentials.unlink(missing_ok=True)


def main(argv: list[str] | None = None, environ=None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="make load-test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="local")
    parser.add_argument("--users", type=int)
    parser.add_argument("--duration", help="seconds, or 90s, 5m, 1h")
    parser.add_argument("--pace", type=float, default=1.0, help="1 = human typing speed")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".local" / "load")
    parser.add_argument("--thresholds", type=Path, default=THRESHOLDS)
    args = parser.parse_args(argv)
    if not LOCUST.exists():
        print(f"Locust is missing ({LOCUST}): run it through `make load-test`", file=sys.stderr)
        return 2
    try:
        kind = "local" if args.target == "local" else "deployed"
        duration = parse_duration(args.duration) if args.duration else None
        users, duration = bounded(kind, args.users, duration)
        run_id = uuid.uuid4().hex[:8]
        state = Path(environ.get("LOCAL_STACK_DIR") or REPO_ROOT / ".local").resolve()
        with contextlib.ExitStack() as stack:
            if kind == "local":
                target = stack.enter_context(local_target(state, args.out / "logs"))
            else:
                target = deployed_target(args.target, environ)
            # One Cognito user per simulated person: per-user limits apply to each as to a
            # real person.
            accounts = stack.enter_context(test_users(target, users, run_id))
            code = run_locust(
                target,
                accounts,
                count=users,
                duration=duration,
                pace=args.pace,
                out=args.out,
                thresholds=args.thresholds,
            )
    except LoadTestError as error:
        print(f"load-test: {error}", file=sys.stderr)
        return 2
    print(f"Report: {args.out / 'report.html'}, CSV: {args.out}/locust_*.csv")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
