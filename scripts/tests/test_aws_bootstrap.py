"""bootstrap() against a real moto server process on a free port."""

from __future__ import annotations

import base64
import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import KeySet

from local_stack import aws_bootstrap
from local_stack.aws_bootstrap import (
    DEMO_USER_EMAIL,
    DEMO_USER_PASSWORD,
    bootstrap,
    create_user,
    sign_in,
)
from local_stack.harness import local_aws

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = [pytest.mark.timeout(120), pytest.mark.stack]

REGION = "us-east-1"
CONTRACT_NAMES = {
    "APP_ENV",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "BEDROCK_MODEL_ID",
    "COGNITO_USER_POOL_ID",
    "COGNITO_APP_CLIENT_ID",
    "COGNITO_WEB_CLIENT_SECRET",
    "COGNITO_ISSUER",
    "COGNITO_JWKS_URL",
    "CONVERSATIONS_TABLE",
    "FEEDBACK_QUEUE_URL",
    "FEEDBACK_DLQ_URL",
    "FEEDBACK_TABLE",
    "PROFILES_TABLE",
    "CHAT_API_URL",
    "COGNITO_DOMAIN_URL",
    "COGNITO_IDENTITY_PROVIDERS",
    "WEB_APP_URL",
    "LOG_LEVEL",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    # An endpoint of its own: these tests read everything the bootstrap wrote.
    with local_aws(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="module")
def config(endpoint):
    return bootstrap(
        endpoint, chat_api_url="http://127.0.0.1:18080", bedrock_url="http://127.0.0.1:14567"
    )


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def claims_of(token: str) -> dict:
    # Unverified read; the signature is checked in test_tokens_verify_against_the_jwks_url.
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_config_has_exactly_the_contract_names(config, endpoint):
    assert set(config) == CONTRACT_NAMES
    assert all(isinstance(value, str) and value for value in config.values())
    pool_id = config["COGNITO_USER_POOL_ID"]
    assert config["APP_ENV"] == "local"
    assert config["AWS_REGION"] == config["AWS_DEFAULT_REGION"] == REGION
    assert config["BEDROCK_MODEL_ID"] == "local.emotion-aware-responder-v1"
    assert config["COGNITO_ISSUER"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert config["COGNITO_JWKS_URL"] == f"{endpoint}/{pool_id}/.well-known/jwks.json"
    assert config["AWS_ENDPOINT_URL"] == endpoint
    assert config["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == "http://127.0.0.1:14567"
    assert config["CHAT_API_URL"] == "http://127.0.0.1:18080"
    assert config["LOG_LEVEL"] == "INFO"
    assert config["AWS_ACCESS_KEY_ID"] == config["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "DEMO_USER_PASSWORD" not in config


def test_user_pool_and_app_client_settings(config, endpoint):
    cognito = client("cognito-idp", endpoint)
    pool = cognito.describe_user_pool(UserPoolId=config["COGNITO_USER_POOL_ID"])["UserPool"]
    assert pool["Name"] == "chatbot-local"
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireUppercase": True,
        "RequireLowercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
    }
    app = cognito.describe_user_pool_client(
        UserPoolId=config["COGNITO_USER_POOL_ID"], ClientId=config["COGNITO_APP_CLIENT_ID"]
    )["UserPoolClient"]
    assert app["ClientName"] == "chatbot-local-web"
    # Confidential: the web app's backend holds the secret, which only it is given.
    assert app["ClientSecret"] and app["ClientSecret"] == config["COGNITO_WEB_CLIENT_SECRET"]
    assert set(app["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
    }
    assert app["PreventUserExistenceErrors"] == "ENABLED"
    assert (
        app["AccessTokenValidity"] == 15 and app["TokenValidityUnits"]["AccessToken"] == "minutes"
    )
    groups = cognito.list_groups(UserPoolId=config["COGNITO_USER_POOL_ID"])["Groups"]
    assert [group["GroupName"] for group in groups] == ["users"]


def test_weak_passwords_are_refused(config, endpoint):
    with pytest.raises(ClientError, match="InvalidPasswordException"):
        create_user(
            endpoint, REGION, config["COGNITO_USER_POOL_ID"], "weak@example.com", "alllowercase1!"
        )


def test_demo_user_signs_in_and_tokens_carry_the_configured_issuer(config, endpoint):
    cognito = client("cognito-idp", endpoint)
    user = cognito.admin_get_user(
        UserPoolId=config["COGNITO_USER_POOL_ID"], Username=DEMO_USER_EMAIL
    )
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]
    groups = cognito.admin_list_groups_for_user(
        UserPoolId=config["COGNITO_USER_POOL_ID"], Username=DEMO_USER_EMAIL
    )["Groups"]
    assert [group["GroupName"] for group in groups] == ["users"]

    tokens = sign_in(
        endpoint, REGION, config["COGNITO_APP_CLIENT_ID"], DEMO_USER_EMAIL, DEMO_USER_PASSWORD
    )
    access = claims_of(tokens["AccessToken"])
    assert access["iss"] == config["COGNITO_ISSUER"]
    assert access["client_id"] == config["COGNITO_APP_CLIENT_ID"]
    assert access["token_use"] == "access"
    identity = claims_of(tokens["IdToken"])
    assert identity["iss"] == config["COGNITO_ISSUER"]
    assert identity["email"] == DEMO_USER_EMAIL


def test_a_refresh_needs_the_client_secret_hash(config, endpoint):
    # moto checks SECRET_HASH on REFRESH_TOKEN_AUTH, USER_SRP_AUTH and challenge answers (not
    # on USER_PASSWORD_AUTH, which AWS does check).
    cognito = client("cognito-idp", endpoint)
    client_id = config["COGNITO_APP_CLIENT_ID"]
    tokens = sign_in(endpoint, REGION, client_id, DEMO_USER_EMAIL, DEMO_USER_PASSWORD)
    refresh = {"REFRESH_TOKEN": tokens["RefreshToken"]}
    wrong = aws_bootstrap.secret_hash("not-the-secret", client_id, DEMO_USER_EMAIL)
    for parameters in (refresh, {**refresh, "SECRET_HASH": wrong}):
        with pytest.raises(ClientError, match="NotAuthorizedException"):
            cognito.initiate_auth(
                ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=parameters
            )
    right = aws_bootstrap.secret_hash(
        config["COGNITO_WEB_CLIENT_SECRET"], client_id, DEMO_USER_EMAIL
    )
    refreshed = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={**refresh, "SECRET_HASH": right},
    )["AuthenticationResult"]
    assert claims_of(refreshed["AccessToken"])["client_id"] == client_id


def test_secret_hash_is_the_documented_hmac():
    # Base64(HMAC-SHA256(key=secret, message=username + client id)), the value given by
    # `printf userclient | openssl dgst -sha256 -hmac secret -binary | base64`.
    expected = "wvW87lzZoI+qQCVGmWVBJLlucdJ65huAVP1z+0MgA6E="
    assert aws_bootstrap.secret_hash("secret", "client", "user") == expected


def test_wrong_password_is_refused(config, endpoint):
    with pytest.raises(ClientError, match="NotAuthorizedException"):
        sign_in(
            endpoint, REGION, config["COGNITO_APP_CLIENT_ID"], DEMO_USER_EMAIL, "Wrong-Passw0rd!"
        )


def test_tokens_verify_against_the_jwks_url(config, endpoint):
    with urllib.request.urlopen(config["COGNITO_JWKS_URL"]) as response:
        jwks = json.load(response)
    assert jwks["keys"] and all(key["kty"] == "RSA" for key in jwks["keys"])
    tokens = sign_in(
        endpoint, REGION, config["COGNITO_APP_CLIENT_ID"], DEMO_USER_EMAIL, DEMO_USER_PASSWORD
    )
    verified = jwt.decode(tokens["AccessToken"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert verified.claims["iss"] == config["COGNITO_ISSUER"]


def test_second_user_can_be_created_and_sign_in(config, endpoint):
    pool_id = config["COGNITO_USER_POOL_ID"]
    username = create_user(endpoint, REGION, pool_id, "second@example.com", "Second-Passw0rd!")
    tokens = sign_in(
        endpoint, REGION, config["COGNITO_APP_CLIENT_ID"], "second@example.com", "Second-Passw0rd!"
    )
    assert claims_of(tokens["AccessToken"])["username"] == username
    demo = client("cognito-idp", endpoint).admin_get_user(
        UserPoolId=pool_id, Username=DEMO_USER_EMAIL
    )
    assert demo["Username"] != username


def test_feedback_queues(config, endpoint):
    sqs = client("sqs", endpoint)
    queue = sqs.get_queue_attributes(QueueUrl=config["FEEDBACK_QUEUE_URL"], AttributeNames=["All"])[
        "Attributes"
    ]
    dlq = sqs.get_queue_attributes(QueueUrl=config["FEEDBACK_DLQ_URL"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert config["FEEDBACK_QUEUE_URL"].endswith("/chatbot-local-feedback")
    assert config["FEEDBACK_DLQ_URL"].endswith("/chatbot-local-feedback-dlq")
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert queue["VisibilityTimeout"] == "30"
    assert queue["MessageRetentionPeriod"] == str(4 * 24 * 3600)
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_tables(config, endpoint):
    dynamodb = client("dynamodb", endpoint)

    conversations = dynamodb.describe_table(TableName=config["CONVERSATIONS_TABLE"])["Table"]
    assert config["CONVERSATIONS_TABLE"] == "chatbot-local-conversations"
    assert conversations["TableStatus"] == "ACTIVE"
    assert conversations["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert conversations["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (gsi,) = conversations["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1"
    assert gsi["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"]["ProjectionType"] == "ALL"
    ttl = dynamodb.describe_time_to_live(TableName=config["CONVERSATIONS_TABLE"])
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }

    for name, key in (("FEEDBACK_TABLE", "feedback_id"), ("PROFILES_TABLE", "user_id")):
        table = dynamodb.describe_table(TableName=config[name])["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    profiles = dynamodb.describe_table(TableName=config["PROFILES_TABLE"])["Table"]
    assert profiles["AttributeDefinitions"] == [{"AttributeName": "user_id", "AttributeType": "S"}]
    # The chat API finds a user's ratings by the feedback table's user_id index.
    feedback = dynamodb.describe_table(TableName=config["FEEDBACK_TABLE"])["Table"]
    assert sorted(a["AttributeName"] for a in feedback["AttributeDefinitions"]) == [
        "feedback_id",
        "user_id",
    ]
    (index,) = feedback["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "user_id"
    assert index["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert index["Projection"]["ProjectionType"] == "ALL"


def test_ssm_parameters_mirror_the_config(config, endpoint):
    ssm = client("ssm", endpoint)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/chatbot/local")
    parameters = {p["Name"]: p for page in pages for p in page["Parameters"]}
    expected = {f"/chatbot/local/{name}": config[name] for name in aws_bootstrap.PUBLISHED_NAMES}
    assert {name: p["Value"] for name, p in parameters.items()} == expected
    assert {p["Type"] for p in parameters.values()} == {"String"}
    assert "/chatbot/local/AWS_SECRET_ACCESS_KEY" not in parameters


def test_bootstrap_twice_gives_the_same_config_and_no_duplicates(config, endpoint):
    again = bootstrap(
        endpoint, chat_api_url="http://127.0.0.1:18080", bedrock_url="http://127.0.0.1:14567"
    )
    assert again == config

    cognito = client("cognito-idp", endpoint)
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    assert [pool["Name"] for pool in pools] == ["chatbot-local"]
    pool_id = config["COGNITO_USER_POOL_ID"]
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
    assert [c["ClientName"] for c in clients["UserPoolClients"]] == ["chatbot-local-web"]
    assert len(cognito.list_groups(UserPoolId=pool_id)["Groups"]) == 1
    demo_users = cognito.list_users(UserPoolId=pool_id, Filter=f'email = "{DEMO_USER_EMAIL}"')
    assert len(demo_users["Users"]) == 1
    assert sign_in(
        endpoint, REGION, config["COGNITO_APP_CLIENT_ID"], DEMO_USER_EMAIL, DEMO_USER_PASSWORD
    )["AccessToken"]

    queues = client("sqs", endpoint).list_queues(QueueNamePrefix="chatbot-local")["QueueUrls"]
    assert sorted(queues) == sorted([config["FEEDBACK_QUEUE_URL"], config["FEEDBACK_DLQ_URL"]])
    tables = client("dynamodb", endpoint).list_tables()["TableNames"]
    assert sorted(tables) == sorted(
        [config["CONVERSATIONS_TABLE"], config["FEEDBACK_TABLE"], config["PROFILES_TABLE"]]
    )
    ssm = client("ssm", endpoint)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/chatbot/local")
    versions = {p["Name"]: p["Version"] for page in pages for p in page["Parameters"]}
    assert len(versions) == len(aws_bootstrap.PUBLISHED_NAMES)
    assert set(versions.values()) == {1}  # unchanged values are not rewritten


def test_prefix_and_region_are_honoured(endpoint):
    other = bootstrap(endpoint, region="eu-west-1", prefix="chatbot-other")
    assert other["AWS_REGION"] == "eu-west-1"
    assert other["CONVERSATIONS_TABLE"] == "chatbot-other-conversations"
    assert other["COGNITO_ISSUER"].startswith("https://cognito-idp.eu-west-1.amazonaws.com/")
    tokens = sign_in(
        endpoint, "eu-west-1", other["COGNITO_APP_CLIENT_ID"], DEMO_USER_EMAIL, DEMO_USER_PASSWORD
    )
    assert claims_of(tokens["AccessToken"])["iss"] == other["COGNITO_ISSUER"]
