"""`python -m deploy deploy` and `rollback` run for real: the AWS calls go to the local AWS
endpoint (moto, over HTTP), and `copilot`, `cdk` and `npm` are stand-ins on PATH that record
how they were called and exit, fail or hang as a test tells them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from chatbot_common.aws import LOCAL_CREDENTIALS, LOCAL_CREDENTIALS_ENV

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parents[2]
# The deploy package runs as `python -m deploy` with scripts/ on the path, as `make` runs it.
DEPLOY = (sys.executable, "-m", "deploy")
REGION = "us-east-1"
MOTO_ACCOUNT = "123456789012"  # moto's STS answers with this account for any credentials
CERTIFICATE = f"arn:aws:acm:{REGION}:{MOTO_ACCOUNT}:certificate/offline"


# One stand-in for every program: it appends its call to $STANDIN_LOG, then does what the first
# matching prefix of $STANDIN_RULES says: an exit status, or "hang" (print what `copilot deploy`
# prints when CloudFormation is done, then never exit).
STANDIN = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys, time
    command = " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps({{
            "command": command,
            "pid": os.getpid(),
            "API_CERTIFICATE_ARN": os.environ.get("API_CERTIFICATE_ARN"),
        }}) + "\\n")
    for prefix, action in json.loads(os.environ.get("STANDIN_RULES", "{{}}")).items():
        if command.startswith(prefix):
            if action == "hang":
                print("- Update resources  [UPDATE_COMPLETE]", flush=True)
                time.sleep(3600)
            sys.exit(int(action))
    """
)


@pytest.fixture
def aws(fresh_local_aws):
    """Clients of a freshly reset local AWS endpoint, with the application's image
    repositories and environment stack in place (what earlier deploys left)."""

    def client(service: str):
        return boto3.client(
            service, endpoint_url=fresh_local_aws, region_name=REGION, **LOCAL_CREDENTIALS
        )

    for service in ("chat-api", "web-ui"):
        client("ecr").create_repository(repositoryName=f"chatbot/{service}")
    client("cloudformation").create_stack(StackName="chatbot-dev", TemplateBody=_template({}))
    return client


def _template(exports: dict[str, str]) -> str:
    return json.dumps(
        {
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {
                name.replace("-", ""): {"Value": value, "Export": {"Name": name}}
                for name, value in exports.items()
            },
        }
    )


def publish_certificate(aws) -> None:
    """What the CDK platform stack exports for the environment's load balancer."""
    aws("cloudformation").create_stack(
        StackName="chatbot-dev-platform",
        TemplateBody=_template({"chatbot-dev-ApiCertificateArn": CERTIFICATE}),
    )


@pytest.fixture
def standins(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("copilot", "cdk", "npm"):
        path = bin_dir / name
        path.write_text(STANDIN.format(python=sys.executable))
        path.chmod(0o755)
    return bin_dir


def deploy(local_aws, standins, *args, rules=None, timeout_s=None, account=MOTO_ACCOUNT):
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHATBOT_", "DEPLOY_"))
    }
    environ.update(
        LOCAL_CREDENTIALS_ENV,
        PATH=f"{standins}{os.pathsep}{environ['PATH']}",
        AWS_ENDPOINT_URL=local_aws,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        CHATBOT_DEV_ACCOUNT=account,
        CDK_CLI=str(standins / "cdk"),
        STANDIN_LOG=str(standins / "calls.jsonl"),
        STANDIN_RULES=json.dumps(rules or {}),
        PYTHONPATH=str(REPO_ROOT / "scripts"),
    )
    if timeout_s is not None:
        environ["DEPLOY_STEP_TIMEOUT"] = str(timeout_s)
    completed = subprocess.run(
        [*DEPLOY, *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
    )
    log = standins / "calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return completed, calls


def commands(calls) -> list[str]:
    return [call["command"] for call in calls]


def test_credentials_of_another_account_stop_the_deploy_before_anything_runs(
    local_aws, aws, standins
):
    completed, calls = deploy(local_aws, standins, "deploy", "dev", account="111111111111")
    assert completed.returncode == 1
    assert (
        f"step 1 failed: ACCOUNT: the credentials' account (STS GetCallerIdentity) is "
        f"{MOTO_ACCOUNT}, expected 111111111111" in completed.stderr
    )
    assert calls == []


def test_a_lookup_that_finds_nothing_stops_the_deploy_with_its_name(local_aws, aws, standins):
    """No certificate export: Copilot must not deploy the environment with an empty ARN."""
    completed, calls = deploy(local_aws, standins, "deploy", "dev")
    assert completed.returncode == 1
    assert (
        "API_CERTIFICATE_ARN: CloudFormation export chatbot-dev-ApiCertificateArn found nothing"
        in completed.stderr
    )
    assert not [c for c in commands(calls) if c.startswith("copilot env deploy")]
    # What ran before it: the CLI install and the platform deploy, in order.
    assert commands(calls)[:2] == [
        "npm ci --no-audit --no-fund --silent",
        "cdk -c env=dev deploy --require-approval never --exclusively "
        "PlatformStateful PlatformStateless",
    ]


def test_a_failing_step_stops_the_deploy_with_its_exit_status(local_aws, aws, standins):
    publish_certificate(aws)
    completed, calls = deploy(
        local_aws, standins, "deploy", "dev", rules={"cdk -c env=dev deploy": 3}
    )
    assert completed.returncode == 1
    assert "CDK platform" in completed.stderr and "exited with 3" in completed.stderr
    assert [c for c in commands(calls) if c.startswith("copilot")] == []


def test_a_step_past_its_time_limit_goes_on_when_its_stack_is_complete(local_aws, aws, standins):
    """`copilot env deploy` hangs after CloudFormation finished: the deploy stops it, reads the
    stack (complete) and goes on with the services, passing the looked-up values along."""
    publish_certificate(aws)
    completed, calls = deploy(
        local_aws,
        standins,
        "deploy",
        "dev",
        rules={
            "copilot app show": 0,
            "copilot env show": 0,
            "copilot env deploy": "hang",
            "copilot svc show": 0,
            "copilot svc deploy -n chat-api": 5,
        },  # fmt: skip
        timeout_s=3,
    )
    assert completed.returncode == 1, completed.stderr
    assert "stopped after 3 s, but its stacks are complete: going on" in completed.stdout
    assert "chatbot-dev: CREATE_COMPLETE" in completed.stdout
    ran = commands(calls)
    env_deploy = next(c for c in calls if c["command"].startswith("copilot env deploy"))
    assert env_deploy["API_CERTIFICATE_ARN"] == CERTIFICATE
    with pytest.raises(ProcessLookupError):
        os.kill(env_deploy["pid"], 0)  # the hung process was stopped
    tag = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert f"copilot svc deploy -n chat-api -e dev --app chatbot --tag {tag}" in ran
    assert "copilot app init chatbot" not in ran  # the records exist: skipped
    # Between the two, the image repository got its scanning and lifecycle settings.
    ecr = aws("ecr")
    scanning = ecr.describe_repositories(repositoryNames=["chatbot/chat-api"])["repositories"][0]
    assert scanning["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = ecr.get_lifecycle_policy(repositoryName="chatbot/chat-api")["lifecyclePolicyText"]
    assert json.loads(policy) == json.loads(
        (REPO_ROOT / "copilot" / "ecr-lifecycle-policy.json").read_text()
    )
    assert "Copilot service chat-api" in completed.stderr and "exited with 5" in completed.stderr
    assert not [c for c in ran if c.startswith("copilot svc deploy -n web-ui")]


def test_a_step_past_its_time_limit_fails_with_the_stacks_last_events(local_aws, aws, standins):
    """The environment stack waits on a change set nobody executed: not complete, so the deploy
    stops and shows where the stack is."""
    publish_certificate(aws)
    aws("cloudformation").delete_stack(StackName="chatbot-dev")
    aws("cloudformation").create_change_set(
        StackName="chatbot-dev",
        ChangeSetName="copilot-pending",
        ChangeSetType="CREATE",
        TemplateBody=_template({}),
    )
    completed, calls = deploy(
        local_aws,
        standins,
        "deploy",
        "dev",
        rules={"copilot app show": 0, "copilot env show": 0, "copilot env deploy": "hang"},
        timeout_s=2,
    )
    assert completed.returncode == 1
    assert "still running after 2 s, stopped; chatbot-dev is REVIEW_IN_PROGRESS" in (
        completed.stderr
    )
    assert "chatbot-dev REVIEW_IN_PROGRESS" in completed.stderr  # its last event
    assert not [c for c in commands(calls) if c.startswith("copilot svc")]


def test_rollback_moves_each_service_to_its_previous_task_definition(local_aws, aws, standins):
    ecs = aws("ecs")
    cluster = ecs.create_cluster(clusterName="chatbot-dev-Cluster")["cluster"]["clusterName"]
    aws("cloudformation").create_stack(
        StackName="chatbot-dev-env-exports",
        TemplateBody=_template({"chatbot-dev-ClusterId": cluster}),
    )
    for service in ("chat-api", "web-ui"):
        for image in ("v1", "v2"):
            definition = ecs.register_task_definition(
                family=f"chatbot-dev-{service}",
                containerDefinitions=[{"name": service, "image": image, "memory": 512}],
            )["taskDefinition"]["taskDefinitionArn"]
        # The service stack as Copilot names it, whose Service resource is the ECS service.
        aws("cloudformation").create_stack(
            StackName=f"chatbot-dev-{service}",
            TemplateBody=json.dumps(
                {
                    "Resources": {
                        "Service": {
                            "Type": "AWS::ECS::Service",
                            "Properties": {
                                "Cluster": cluster,
                                "ServiceName": f"chatbot-dev-{service}",
                                "TaskDefinition": definition,
                                "DesiredCount": 0,
                            },
                        }
                    }
                }
            ),
        )
    completed, calls = deploy(local_aws, standins, "rollback", "dev")
    assert completed.returncode == 0, completed.stderr
    for service in ("chat-api", "web-ui"):
        (described,) = ecs.describe_services(cluster=cluster, services=[f"chatbot-dev-{service}"])[
            "services"
        ]
        assert described["taskDefinition"].endswith(f"task-definition/chatbot-dev-{service}:1")
    assert calls == []  # no program: AWS calls only
