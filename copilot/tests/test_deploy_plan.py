"""`make deploy-plan`: every command of a deploy, in the order of docs/architecture.md,
without AWS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from repository_facts import COPILOT_DIR, REPO_ROOT, cdk_environments

# The deploy package runs as `python -m deploy` with scripts/ on the path, as `make` runs it.
DEPLOY = (sys.executable, "-m", "deploy")


def plan(*args: str) -> subprocess.CompletedProcess:
    # No credentials and an unreachable proxy: any AWS call would fail the command.
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("HTTPS_PROXY", "HTTP_PROXY")
    }
    environ.update(
        HTTPS_PROXY="http://127.0.0.1:9",
        AWS_CONFIG_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(REPO_ROOT / "scripts"),
    )
    return subprocess.run(
        [*DEPLOY, *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )


def commands(output: str) -> list[str]:
    return [line for line in output.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_plan_runs_the_design_order(env):
    completed = plan("plan", env)
    assert completed.returncode == 0, completed.stderr
    lines = commands(completed.stdout)
    account = cdk_environments()[env]["account"]

    def first(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    assert account in lines[0] and "sts get-caller-identity" in lines[0]
    platform = first(
        "deploy --require-approval never --exclusively PlatformStateful PlatformStateless"
    )
    environment = first(f"copilot env deploy -n {env}")
    chat_api = first(f"copilot svc deploy -n chat-api -e {env}")
    web_ui = first(f"copilot svc deploy -n web-ui -e {env}")
    edge = first("--exclusively Edge")
    smoke = first(f"-m deploy smoke {env}")
    assert platform < environment < chat_api < web_ui < edge < smoke
    # Where a push builds nothing, the deploy builds the web app last, once the services its
    # pages talk to passed the smoke test; where a push builds it, the smoke test is last.
    auto_build = cdk_environments()[env]["web_ui_auto_build"]
    assert auto_build == (env == "dev")
    release = [i for i, line in enumerate(lines) if "aws amplify start-job" in line]
    if auto_build:
        assert release == [] and smoke == len(lines) - 1
        assert not [line for line in lines if "amplify" in line]
    else:
        app_id = first(f"chatbot-{env}-FrontendAppId")
        assert lines[app_id].startswith('FRONTEND_APP_ID="$(aws cloudformation list-exports')
        assert smoke < app_id < release[0] == len(lines) - 1
        branch = cdk_environments()[env]["web_ui_branch"]
        assert (
            f'--app-id "$FRONTEND_APP_ID" --branch-name {branch} --job-type RELEASE'
            in (lines[release[0]])
        )
        assert "aws amplify get-job" in lines[release[0]]
        assert lines[release[0]].endswith('test "$status" = SUCCEED')
        # The printed line is a shell command an operator can run as it stands.
        checked = subprocess.run(["bash", "-n"], input=lines[release[0]], text=True)
        assert checked.returncode == 0
    assert f"-c env={env}" in lines[platform] and f"-c env={env}" in lines[edge]
    certificate = first(f"chatbot-{env}-ApiCertificateArn")
    assert lines[certificate].startswith('API_CERTIFICATE_ARN="$(aws cloudformation list-exports')
    assert certificate < environment
    assert lines[environment].startswith('API_CERTIFICATE_ARN="$API_CERTIFICATE_ARN" copilot')
    assert first('IMAGE_TAG="$(git rev-parse') < chat_api
    assert lines[chat_api].endswith("--tag $IMAGE_TAG")
    assert first("put-lifecycle-policy --repository-name chatbot/chat-api") < chat_api
    assert "scanOnPush=true" in lines[first("repository-name chatbot/web-ui")]


def test_rollback_plan_names_every_service():
    completed = plan("rollback", "prod", "--plan")
    assert completed.returncode == 0, completed.stderr
    lines = commands(completed.stdout)
    assert len(lines) == 3
    assert lines[0].startswith('CLUSTER="$(aws cloudformation list-exports')
    assert "chatbot-prod-ClusterId" in lines[0]
    assert "chatbot-prod-chat-api" in lines[1] and "chatbot-prod-web-ui" in lines[2]
    assert all("aws ecs wait services-stable" in line for line in lines[1:])


def test_unknown_environment_is_refused_with_one_line():
    completed = plan("plan", "qa")
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "plan: unknown environment 'qa'; expected one of dev, prod, staging"
    )


def test_make_deploy_plan_prints_the_plan_and_wants_an_environment():
    def make(*args: str) -> subprocess.CompletedProcess:
        environ = {k: v for k, v in os.environ.items() if k != "ENV"}
        return subprocess.run(
            ["make", "-s", "--no-print-directory", "deploy-plan", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            env=environ,
            timeout=60,
        )

    planned = make("ENV=staging")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout == plan("plan", "staging").stdout
    missing = make()
    assert missing.returncode != 0
    assert "Name the environment: make deploy-plan ENV=dev|staging|prod" in missing.stdout


def misspelt_copy(tmp_path: Path) -> Path:
    """A copy of the manifests with `healthchek:` appended to the chat API's manifest."""
    copy = tmp_path / "copilot"
    shutil.copytree(COPILOT_DIR, copy, ignore=shutil.ignore_patterns("build", "__pycache__"))
    manifest = copy / "chat-api" / "manifest.yml"
    manifest.write_text(manifest.read_text() + "healthchek:\n  path: /api/v1/health\n")
    return copy


@pytest.mark.parametrize("command", ["plan", "deploy"])
def test_a_misspelt_manifest_key_stops_the_plan_and_the_deploy(tmp_path, command):
    """Before any step (a deploy would first call STS, which the unreachable proxy refuses)."""
    completed = plan(command, "dev", "--copilot-dir", str(misspelt_copy(tmp_path)))
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert "copilot/chat-api/manifest.yml: unknown key 'healthchek'" in completed.stderr
    assert "did you mean healthcheck?" in completed.stderr
