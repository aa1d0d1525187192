from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import aws, settings
from local_stack.harness import offline_aws

PROJECT_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PROJECT_DIR.parent
REGION = "us-east-1"
STAGE = "local"
STAGE_VARIABLES = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"][
    STAGE
]["environment_variables"]


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Every test reads settings and builds boto3 clients anew, and never reaches real AWS."""
    offline_aws(monkeypatch, REGION)
    settings.reset()
    aws.reset()
    yield
    settings.reset()
    aws.reset()


class LocalAws:
    """In-process moto with the stage's tables, queues, a user pool and its default group."""

    def __init__(self):
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.cognito = boto3.client("cognito-idp", region_name=REGION)
        self._table(STAGE_VARIABLES["PROFILES_TABLE"], "user_id")
        self._table(STAGE_VARIABLES["FEEDBACK_TABLE"], "feedback_id")
        self.dlq_url = self.sqs.create_queue(QueueName=STAGE_VARIABLES["FEEDBACK_DLQ_NAME"])[
            "QueueUrl"
        ]

    @cached_property
    def pool_id(self) -> str:
        pool_id = self.cognito.create_user_pool(
            PoolName="chatbot-local", UsernameAttributes=["email"]
        )["UserPool"]["Id"]
        self.cognito.create_group(UserPoolId=pool_id, GroupName="users")
        return pool_id

    def _table(self, name: str, key: str) -> None:
        self.dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        )

    def create_user(self, email: str) -> tuple[str, str]:
        """(username, sub) of a new user, as Cognito has them when the triggers run."""
        user = self.cognito.admin_create_user(
            UserPoolId=self.pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}],
            MessageAction="SUPPRESS",
        )["User"]
        sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
        return user["Username"], sub

    def groups_of(self, username: str) -> list[str]:
        groups = self.cognito.admin_list_groups_for_user(
            UserPoolId=self.pool_id, Username=username
        )["Groups"]
        return [group["GroupName"] for group in groups]

    def items(self, table: str) -> list[dict]:
        return self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]

    def dlq_messages(self) -> list[dict]:
        found = {}
        for _ in range(5):
            for message in self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", []):
                found[message["MessageId"]] = message
        return list(found.values())


# moto gives every mock a new default boto3 session, which reads the services' models again
# (a tenth of a second each); the tests share one: their clients differ only in the endpoint.
MOTO_CONFIG = {"core": {"reset_boto3_session": False}}


@pytest.fixture
def local_aws():
    with mock_aws(config=MOTO_CONFIG):
        yield LocalAws()


@pytest.fixture
def client():
    from app import app

    with Client(app, stage_name=STAGE, project_dir=str(PROJECT_DIR)) as chalice_client:
        yield chalice_client


# --- Cognito events, in the shapes of the Cognito developer guide ------------------------------


def cognito_event(trigger_source: str, pool_id: str, username: str, attributes: dict, **extra):
    event = {
        "version": "1",
        "region": REGION,
        "userPoolId": pool_id,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client-id"},
        "triggerSource": trigger_source,
        "request": {"userAttributes": attributes},
        "response": {},
    }
    event["request"].update(extra.pop("request", {}))
    event.update(extra)
    return event


def pre_sign_up_event(email: str, source: str = "PreSignUp_SignUp", pool_id="us-east-1_pool"):
    event = cognito_event(
        source, pool_id, str(uuid.uuid4()), {"email": email}, request={"validationData": None}
    )
    event["response"] = {
        "autoConfirmUser": False,
        "autoVerifyEmail": False,
        "autoVerifyPhone": False,
    }
    return event


# --- feedback messages -------------------------------------------------------------------------


def feedback_body(**overrides) -> str:
    fields = {
        "schema_version": 1,
        "feedback_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "conversation_id": "01JCONVERSATION0000000000",
        "message_id": "01JMESSAGE000000000000000",
        "rating": "up",
        "comment": None,
        "emotion": "joy",
        "model_id": "local.emotion-aware-responder-v1",
        "created_at": datetime.now(UTC).isoformat(),
        "request_id": "req-1",
    }
    fields.update(overrides)
    return json.dumps(fields)


def sqs_event(client: Client, bodies: list[str]) -> dict:
    """Lambda's SQS event for these bodies, each record with its own message id."""
    event = client.events.generate_sqs_event(
        message_bodies=bodies, queue_name=STAGE_VARIABLES["FEEDBACK_DLQ_NAME"][: -len("-dlq")]
    )
    for record in event["Records"]:
        record["messageId"] = str(uuid.uuid4())
        record["receiptHandle"] = f"handle-{record['messageId']}"
        record["messageAttributes"] = {"schema_version": {"stringValue": "1", "dataType": "Number"}}
    return event


# --- a real local AWS endpoint -----------------------------------------------------------------
# The local stack's harness (local_stack.pytest_plugin): `local_aws_endpoint` is moto in server
# mode as its own process on a free port, as `make run` starts it.
pytest_plugins = ["local_stack.pytest_plugin"]
