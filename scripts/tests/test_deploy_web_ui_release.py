"""The deploy's web app release where a push builds nothing (`web_ui_auto_build` false in
cdk/cdk.json): which plans get it and where, the Amplify app id looked up from the local AWS
endpoint (moto, over HTTP), and the wait for the Amplify job. moto has no Amplify: the job's
answers come from botocore's Stubber, checked against Amplify's API model."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from deploy import plan as deploy_plan
from deploy import steps, web_ui_release, without_copilot
from deploy.runner import run_step

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = pytest.mark.stack

REGION = "us-east-1"
APP_ID = "d2x7example"
BRANCH = "main"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def release_steps(plan: list) -> list:
    return [
        step
        for step in plan
        if (isinstance(step, steps.Lookup) and step.name == "FRONTEND_APP_ID")
        or (isinstance(step, steps.Call) and "amplify start-job" in step.command_line())
    ]


# --- the plan -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "released"), [("dev", False), ("staging", True), ("prod", True)])
def test_the_web_app_is_released_last_where_a_push_builds_nothing(env, released):
    plan = deploy_plan.deploy_plan(env)
    titles = [step.title for step in plan]
    smoke = next(i for i, title in enumerate(titles) if title.startswith("Smoke test"))
    edge = next(i for i, title in enumerate(titles) if title.startswith("CDK edge"))
    steps = release_steps(plan)
    if not released:
        assert steps == [] and smoke == len(plan) - 1
        return
    lookup, release = steps
    assert plan[-2:] == [lookup, release]
    assert edge < smoke < len(plan) - 2
    assert lookup.what == f"CloudFormation export chatbot-{env}-FrontendAppId"
    assert f"--branch-name {BRANCH} --job-type RELEASE" in release.command_line()


def test_the_plan_follows_the_setting_not_the_environments_name(monkeypatch):
    """The setting the CDK edge stack gives the Amplify branch decides; flipped, dev gets the
    release and prod loses it."""
    settings = {env: dict(steps.environment(env)) for env in ("dev", "prod")}
    settings["dev"]["web_ui_auto_build"] = False
    settings["prod"]["web_ui_auto_build"] = True
    monkeypatch.setattr(deploy_plan, "environment", lambda env: settings[env])
    assert len(release_steps(deploy_plan.deploy_plan("dev"))) == 2
    assert release_steps(deploy_plan.deploy_plan("prod")) == []


def test_the_cloudformation_only_plan_releases_the_web_app_too(monkeypatch, tmp_path):
    stand_ins = tmp_path / "staging" / without_copilot.STAND_INS
    stand_ins.parent.mkdir()
    stand_ins.write_text("{}")
    for name in ("staging.env.params.json", "chat-api-staging.params.json"):
        (tmp_path / "staging" / name).write_text(json.dumps({"Parameters": {}}))
    (tmp_path / "staging" / "web-ui-staging.params.json").write_text(json.dumps({"Parameters": {}}))
    plan = without_copilot.without_copilot_plan("staging", build_dir=tmp_path)
    lookup, release = release_steps(plan)
    assert plan[-2:] == [lookup, release]


# --- the lookup against the local AWS endpoint, then the job -------------------------------------


@pytest.fixture
def cloudformation(fresh_local_aws):
    return boto3.client(
        "cloudformation", endpoint_url=fresh_local_aws, region_name=REGION, **CREDENTIALS
    )


def publish_app_id(cloudformation, env: str) -> None:
    """What the CDK edge stack exports."""
    cloudformation.create_stack(
        StackName=f"chatbot-{env}-edge",
        TemplateBody=json.dumps(
            {
                "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {
                    "FrontendAppId": {
                        "Value": APP_ID,
                        "Export": {"Name": f"chatbot-{env}-FrontendAppId"},
                    }
                },
            }
        ),
    )


def amplify_client():
    return boto3.client("amplify", region_name=REGION, **CREDENTIALS)


def job_summary(job_id: str, status: str) -> dict:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return {
        "jobArn": (
            f"arn:aws:amplify:{REGION}:123456789012:apps/{APP_ID}/branches/{BRANCH}/jobs/{job_id}"
        ),
        "jobId": job_id,
        "commitId": "HEAD",
        "commitMessage": "release",
        "commitTime": now,
        "startTime": now,
        "status": status,
        "jobType": "RELEASE",
    }


def expect_status(stubber: Stubber, job_id: str, status: str) -> None:
    stubber.add_response(
        "get_job",
        {"job": {"summary": job_summary(job_id, status), "steps": []}},
        {"appId": APP_ID, "branchName": BRANCH, "jobId": job_id},
    )


def test_the_deploy_finds_the_app_and_waits_for_its_release(cloudformation, monkeypatch, capsys):
    """The plan's own two steps: the export read from the local AWS endpoint, then StartJob and
    GetJob until the job succeeds."""
    monkeypatch.setattr(web_ui_release, "AMPLIFY_POLL_SECONDS", 0)
    monkeypatch.delenv("DEPLOY_STEP_TIMEOUT", raising=False)
    publish_app_id(cloudformation, "staging")
    amplify = amplify_client()
    context = steps.Context(
        env="staging",
        region=REGION,
        values={"IMAGE_TAG": "0123456789ab"},
        clients={"cloudformation": cloudformation, "amplify": amplify},
    )
    with Stubber(amplify) as stubber:
        stubber.add_response(
            "start_job",
            {"jobSummary": job_summary("7", "PENDING")},
            {
                "appId": APP_ID,
                "branchName": BRANCH,
                "jobType": "RELEASE",
                "jobReason": "make deploy ENV=staging at 0123456789ab",
            },
        )
        for status in ("PENDING", "RUNNING", "RUNNING", "SUCCEED"):
            expect_status(stubber, "7", status)
        for step in release_steps(deploy_plan.deploy_plan("staging")):
            run_step(context, step, environ={})
        stubber.assert_no_pending_responses()
    assert context.values["FRONTEND_APP_ID"] == APP_ID
    out = capsys.readouterr().out
    assert "Amplify job 7: RUNNING" in out and "Amplify job 7: SUCCEED" in out
    assert out.count("Amplify job 7: RUNNING") == 1  # a status is printed when it changes


def test_no_export_stops_the_deploy_before_any_job(cloudformation):
    amplify = amplify_client()
    context = steps.Context(
        env="prod", region=REGION, clients={"cloudformation": cloudformation, "amplify": amplify}
    )
    lookup, _ = release_steps(deploy_plan.deploy_plan("prod"))
    with Stubber(amplify), pytest.raises(steps.DeployError) as raised:  # any call would fail
        run_step(context, lookup, environ={})
    assert str(raised.value) == (
        "FRONTEND_APP_ID: CloudFormation export chatbot-prod-FrontendAppId found nothing"
    )


# --- waiting for the job ----------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def wait(amplify, fake: FakeTime, time_limit: float = 60):
    context = steps.Context(env="prod", region=REGION, clients={"amplify": amplify})
    return web_ui_release.wait_for_web_ui_job(
        context, APP_ID, BRANCH, "12", time_limit=time_limit, clock=fake.clock, sleep=fake.sleep
    )


CONSOLE = (
    f"https://{REGION}.console.aws.amazon.com/amplify/home?region={REGION}#/{APP_ID}/{BRANCH}/12"
)


def test_a_succeeding_job_lets_the_deploy_go_on():
    amplify, fake = amplify_client(), FakeTime()
    with Stubber(amplify) as stubber:
        for status in ("PROVISIONING", "RUNNING", "SUCCEED"):
            expect_status(stubber, "12", status)
        assert wait(amplify, fake) == "SUCCEED"
        stubber.assert_no_pending_responses()
    assert fake.sleeps == [web_ui_release.AMPLIFY_POLL_SECONDS] * 2


@pytest.mark.parametrize("ending", ["FAILED", "CANCELLED"])
def test_a_failed_or_cancelled_job_stops_the_deploy_with_its_id_status_and_page(ending):
    amplify, fake = amplify_client(), FakeTime()
    with Stubber(amplify) as stubber:
        for status in ("RUNNING", "CANCELLING" if ending == "CANCELLED" else "RUNNING", ending):
            expect_status(stubber, "12", status)
        with pytest.raises(steps.DeployError) as raised:
            wait(amplify, fake)
        stubber.assert_no_pending_responses()
    assert str(raised.value) == f"Amplify job 12 of {APP_ID}/{BRANCH} is {ending}: {CONSOLE}"


def test_a_job_past_its_time_limit_stops_the_deploy():
    """Polled at 0, 15, 30, 45 and 60 s of a 60 s limit, then given up, still RUNNING."""
    amplify, fake = amplify_client(), FakeTime()
    with Stubber(amplify) as stubber:
        for _ in range(5):
            expect_status(stubber, "12", "RUNNING")
        with pytest.raises(steps.DeployError) as raised:
            wait(amplify, fake, time_limit=60)
        stubber.assert_no_pending_responses()
    assert str(raised.value) == (
        f"Amplify job 12 of {APP_ID}/{BRANCH} is still RUNNING after 60 s: {CONSOLE}"
    )
    assert fake.sleeps == [15, 15, 15, 15]


def test_the_last_wait_ends_at_the_time_limit():
    amplify, fake = amplify_client(), FakeTime()
    with Stubber(amplify) as stubber:
        for status in ("RUNNING", "RUNNING", "SUCCEED"):
            expect_status(stubber, "12", status)
        assert wait(amplify, fake, time_limit=20) == "SUCCEED"
    assert fake.sleeps == [15, 5]


def test_an_amplify_error_is_not_taken_for_success():
    amplify, fake = amplify_client(), FakeTime()
    with Stubber(amplify) as stubber:
        stubber.add_client_error(
            "get_job", service_error_code="NotFoundException", http_status_code=404
        )
        with pytest.raises(amplify.exceptions.NotFoundException):
            wait(amplify, fake)
    assert fake.sleeps == []


def test_the_time_limit_has_a_default_and_follows_the_override(monkeypatch):
    monkeypatch.delenv("DEPLOY_STEP_TIMEOUT", raising=False)
    assert steps.limit_seconds("amplify") == steps.TIME_LIMITS["amplify"] == 30 * 60
    monkeypatch.setenv("DEPLOY_STEP_TIMEOUT", "5")
    assert steps.limit_seconds("amplify") == 5
