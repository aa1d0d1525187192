"""`chalice package` offline: the template has the functions, their settings and the SQS source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest
from conftest import PROJECT_DIR, REPO_ROOT

FUNCTIONS = {
    "PreSignUp": "app.pre_sign_up",
    "PostConfirmation": "app.post_confirmation",
    "PreTokenGeneration": "app.pre_token_generation",
    "IngestFeedback": "app.ingest_feedback",
}


def package(out_dir, stage="prod", **environ):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("FEEDBACK_QUEUE_NAME", "APP_ENV")
    }
    env.update({"AWS_DEFAULT_REGION": "eu-west-1", "PYTHONDONTWRITEBYTECODE": "1", **environ})
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "package.py"), "--stage", stage, str(out_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("package")
    result = package(
        out_dir,
        FEEDBACK_TABLE="feedback-from-env",
        SIGNUP_BLOCKED_DOMAINS="spam.example",
        FEEDBACK_QUEUE_NAME="queue-from-env",
    )
    assert result.returncode == 0, result.stderr
    return json.loads((out_dir / "sam.json").read_text()), out_dir / "deployment.zip"


def test_template_has_the_four_functions(packaged):
    template, _ = packaged
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert {name: props["Handler"] for name, props in functions.items()} == FUNCTIONS
    for props in functions.values():
        assert props["Runtime"] == "python3.11"
    # Cognito waits 5 s for a trigger.
    assert {functions[name]["Timeout"] for name in FUNCTIONS if name != "IngestFeedback"} == {5}


def test_stage_settings_come_from_config_and_environment(packaged):
    template, _ = packaged
    variables = template["Resources"]["IngestFeedback"]["Properties"]["Environment"]["Variables"]
    assert variables["APP_ENV"] == "prod"
    assert variables["AUTO_CONFIRM_USERS"] == "false"
    assert variables["FEEDBACK_TABLE"] == "feedback-from-env"  # overridden
    assert variables["PROFILES_TABLE"] == "chatbot-prod-profiles"  # the stage's default
    assert variables["SIGNUP_BLOCKED_DOMAINS"] == "spam.example"


def test_the_queue_event_source_reports_batch_item_failures(packaged):
    template, _ = packaged
    events = template["Resources"]["IngestFeedback"]["Properties"]["Events"]
    [source] = events.values()
    assert source["Type"] == "SQS"
    properties = source["Properties"]
    assert properties["Queue"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:queue-from-env"
    }
    assert properties["BatchSize"] == 10
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_each_function_role_grants_only_what_it_uses(packaged):
    template, _ = packaged

    def actions(role):
        statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
        return {action for s in statements["Statement"] for action in s["Action"]}

    logs = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert actions("PreSignUpRole") == logs
    assert actions("PostConfirmationRole") == logs | {
        "dynamodb:PutItem",
        "cognito-idp:AdminAddUserToGroup",
    }
    assert "sqs:SendMessage" in actions("IngestFeedbackRole")
    assert not any(a.startswith("cognito") for a in actions("IngestFeedbackRole"))


def test_the_bundle_holds_the_chat_api_message_definition_itself(packaged):
    _, bundle = packaged
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        shipped = archive.read("chalicelib/feedback_message.py")
    producer = (REPO_ROOT / "chat-api" / "chat_api" / "feedback_message.py").read_bytes()
    assert shipped == producer  # the link was resolved into the file's content
    assert {"app.py", "chalicelib/feedback.py", "chalicelib/cognito.py"} <= names
    assert any(name.startswith("pydantic_core/") and name.endswith(".so") for name in names)
    assert not any(name.startswith(("boto3/", "botocore/", "tests/")) for name in names)
    assert "feedback_runner.py" not in names


def test_the_bundle_imports_from_a_clean_directory(packaged, tmp_path):
    """What Lambda does: unzip, put the folder on sys.path, import the handler module."""
    _, bundle = packaged
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path)
    code = "import app; print(sorted(app.app.handler_map))"
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {code}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ingest_feedback" in result.stdout


def test_invalid_stage_settings_stop_the_packaging_with_one_line(tmp_path):
    result = package(tmp_path, SIGNUP_ALLOWED_DOMAINS="not a domain")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "stage prod: SIGNUP_ALLOWED_DOMAINS holds 'not a domain', which is not a domain name"
    )
    assert not (tmp_path / "sam.json").exists()


def test_region_is_required(tmp_path):
    result = package(tmp_path, AWS_DEFAULT_REGION="")
    assert result.returncode == 1
    assert "AWS_DEFAULT_REGION" in result.stderr


NEEDS = {
    "pre_sign_up": set(),
    "post_confirmation": {"dynamodb:PutItem@PROFILES_TABLE", "cognito-idp:AdminAddUserToGroup"},
    "pre_token_generation": {
        "dynamodb:GetItem@PROFILES_TABLE",
        "dynamodb:PutItem@PROFILES_TABLE",
        "cognito-idp:AdminAddUserToGroup",
    },
    "ingest_feedback": {
        "dynamodb:PutItem@FEEDBACK_TABLE",
        "sqs:ReceiveMessage@queue",
        "sqs:DeleteMessage@queue",
        "sqs:GetQueueAttributes@queue",
        "sqs:ChangeMessageVisibility@queue",
        "sqs:SendMessage@FEEDBACK_DLQ_NAME",
        "sqs:GetQueueUrl@FEEDBACK_DLQ_NAME",
    },
}


@pytest.mark.parametrize("stage", ["local", "dev", "staging", "prod"])
def test_every_stage_policy_names_that_stages_own_resources(stage):
    """The policy files repeat the stage's resource names; they must not drift apart."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    stage_config = config["stages"][stage]
    names = dict(stage_config["environment_variables"], queue=f"chatbot-{stage}-feedback")
    for handler, needs in NEEDS.items():
        policy_file = stage_config["lambda_functions"][handler]["iam_policy_file"]
        policy = json.loads((PROJECT_DIR / ".chalice" / policy_file).read_text())
        granted = set()
        for statement in policy["Statement"]:
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            for action in statement["Action"]:
                if action.startswith("logs:"):
                    expected = f"log-group:/aws/lambda/chatbot-auth-{stage}-{handler}"
                    assert all(expected in resource for resource in resources)
                    continue
                for resource in resources:
                    suffix = resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
                    kinds = ("_TABLE",) if action.startswith("dynamodb:") else ("queue", "_NAME")
                    owner = next(
                        (k for k, v in names.items() if v == suffix and k.endswith(kinds)), None
                    )
                    granted.add(f"{action}@{owner}" if owner else action)
        assert granted == needs, (stage, handler)
