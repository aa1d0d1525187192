"""Create the AWS resources of the local stack on a local AWS endpoint (moto), idempotently.

Every resource is looked up by name before it is created, so running `bootstrap` twice against
the same endpoint returns the same configuration and creates nothing twice. The result uses the
configuration contract's variable names, ready to be the chat API's environment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from botocore.exceptions import ClientError

from chatbot_common import aws, contract
from chatbot_common.aws import LOCAL_CREDENTIALS_ENV
from chatbot_common.aws import error_code as _error_code
from chatbot_common.contract import LOCAL_PREFIX, resource_name

# The demo account of the local user pool, printed by `make run`; it exists nowhere else.
DEMO_USER_EMAIL = "demo@example.com"
DEMO_USER_PASSWORD = "Demo-Passw0rd!"  # noqa: S105 - public by design, local only

LOCAL_MODEL_ID = "local.emotion-aware-responder-v1"
USERS_GROUP = "users"
SSM_PREFIX = "/chatbot/local"

# Values published as SSM parameters: the contract's, as the CDK platform stack publishes them
# in AWS, less the guardrail's (the local stack has none). Credentials and the SDK's endpoint
# overrides are local plumbing, not published values.
PUBLISHED_NAMES = tuple(
    key for key in contract.ssm_parameter_keys() if not key.startswith("BEDROCK_GUARDRAIL_")
)

_DAY = 24 * 60 * 60
_TABLE_ACTIVE_TIMEOUT = 60
# Access tokens live 15 minutes, as in AWS; the web app refreshes them before they expire.
# (moto 5.2 issues every token for an hour whatever the client says.)
ACCESS_TOKEN_MINUTES = 15

# The local stand-ins for the identity providers of the managed login (local_stack/auth_server):
# both sign in the one federated test user.
LOCAL_IDENTITY_PROVIDERS = ("Google", "Organisation")
FEDERATED_USER_EMAIL = "federated.user@example.com"
# The web app's OAuth callback and where the managed login's sign-out returns to.
OAUTH_CALLBACK_PATH = "/oauth/callback"
SIGN_OUT_PATH = "/signin"


def _client(service: str, endpoint_url: str, region: str):
    return aws.client(service, region=region, endpoint_url=endpoint_url, local=True)


# --- Cognito ---------------------------------------------------------------------------------


def _ensure_user_pool(cognito, name: str) -> str:
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return pool["Id"]
    pool = cognito.create_user_pool(
        PoolName=name,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": True,
            }
        },
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": False},
    )
    return pool["UserPool"]["Id"]


def oauth_client_settings(web_app_url: str) -> dict:
    """The web app client's managed-login settings, as the CDK identity stack sets them: the
    code grant only, the exact callback and sign-out URLs, and the providers it may use."""
    web_app_url = web_app_url.rstrip("/")
    return {
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email", "profile"],
        "CallbackURLs": [web_app_url + OAUTH_CALLBACK_PATH],
        "LogoutURLs": [web_app_url + SIGN_OUT_PATH],
        "SupportedIdentityProviders": ["COGNITO", *LOCAL_IDENTITY_PROVIDERS],
    }


def _ensure_app_client(cognito, pool_id: str, name: str, web_app_url: str) -> tuple[str, str]:
    """The web app's app client: (client id, client secret)."""
    oauth = oauth_client_settings(web_app_url)
    for page in cognito.get_paginator("list_user_pool_clients").paginate(
        UserPoolId=pool_id, MaxResults=60
    ):
        for client in page["UserPoolClients"]:
            if client["ClientName"] == name:
                found = cognito.describe_user_pool_client(
                    UserPoolId=pool_id, ClientId=client["ClientId"]
                )["UserPoolClient"]
                if any(found.get(key) != value for key, value in oauth.items()):
                    # The web app moved to another port: register its new URLs. (moto keeps
                    # the settings not named here; Cognito would reset them.)
                    cognito.update_user_pool_client(
                        UserPoolId=pool_id, ClientId=found["ClientId"], **oauth
                    )
                return found["ClientId"], found.get("ClientSecret", "")
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        # Confidential, as in AWS: only the web app's backend signs users in, and it keeps
        # the secret; every call naming a user carries its SECRET_HASH.
        GenerateSecret=True,
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_SRP_AUTH",
        ],
        PreventUserExistenceErrors="ENABLED",
        AccessTokenValidity=ACCESS_TOKEN_MINUTES,
        IdTokenValidity=ACCESS_TOKEN_MINUTES,
        RefreshTokenValidity=30,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
        EnableTokenRevocation=True,
        **oauth,
    )["UserPoolClient"]
    return client["ClientId"], client["ClientSecret"]


def secret_hash(client_secret: str, client_id: str, username: str) -> str:
    """Cognito's SECRET_HASH: Base64(HMAC-SHA256(key=client secret, username + client id))."""
    digest = hmac.new(
        client_secret.encode(), (username + client_id).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def client_secret(cognito, client_id: str) -> str:
    """The secret of an app client of the endpoint, "" for a public client."""
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            try:
                found = cognito.describe_user_pool_client(
                    UserPoolId=pool["Id"], ClientId=client_id
                )["UserPoolClient"]
            except ClientError as error:
                if _error_code(error) != "ResourceNotFoundException":
                    raise
                continue
            return found.get("ClientSecret", "")
    return ""


def _ensure_group(cognito, pool_id: str, name: str) -> None:
    try:
        cognito.create_group(UserPoolId=pool_id, GroupName=name)
    except ClientError as error:
        if _error_code(error) != "GroupExistsException":
            raise


def create_user(endpoint_url: str, region: str, pool_id: str, email: str, password: str) -> str:
    """A confirmed user with a permanent password in the `users` group; returns its username.

    Calling it again for an existing e-mail resets that user's password.
    """
    cognito = _client("cognito-idp", endpoint_url, region)
    try:
        username = cognito.admin_get_user(UserPoolId=pool_id, Username=email)["Username"]
    except ClientError as error:
        if _error_code(error) != "UserNotFoundException":
            raise
        created = cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",  # no invitation e-mail
        )
        username = created["User"]["Username"]
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=password, Permanent=True
    )
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=USERS_GROUP)
    return username


def sign_in(endpoint_url: str, region: str, client_id: str, email: str, password: str) -> dict:
    """USER_PASSWORD_AUTH sign-in; returns the AuthenticationResult (AccessToken, IdToken, ...).

    The client's secret, when it has one, is read from the endpoint (local admin access)."""
    cognito = _client("cognito-idp", endpoint_url, region)
    parameters = {"USERNAME": email, "PASSWORD": password}
    if secret := client_secret(cognito, client_id):
        parameters["SECRET_HASH"] = secret_hash(secret, client_id, email)
    response = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters
    )
    return response["AuthenticationResult"]


# --- SQS -------------------------------------------------------------------------------------


# The query protocol's code and the JSON protocol's code for the same error.
_MISSING_QUEUE_CODES = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def _ensure_queue(sqs, name: str, attributes: dict[str, str]) -> str:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if _error_code(error) not in _MISSING_QUEUE_CODES:
            raise
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def _ensure_feedback_queues(sqs, prefix: str) -> tuple[str, str]:
    dlq_url = _ensure_queue(
        sqs,
        resource_name("FEEDBACK_DLQ", prefix),
        {"MessageRetentionPeriod": str(14 * _DAY), "VisibilityTimeout": "30"},
    )
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    queue_url = _ensure_queue(
        sqs,
        resource_name("FEEDBACK_QUEUE", prefix),
        {
            "MessageRetentionPeriod": str(4 * _DAY),
            "VisibilityTimeout": "30",
            "RedrivePolicy": redrive,
        },
    )
    return queue_url, dlq_url


# --- DynamoDB --------------------------------------------------------------------------------


def _ensure_table(dynamodb, name: str, definition: dict) -> None:
    try:
        status = dynamodb.describe_table(TableName=name)["Table"]["TableStatus"]
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
        status = dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **definition)[
            "TableDescription"
        ]["TableStatus"]
    # boto3's waiter polls every 20 s; a local endpoint is ACTIVE at once or nearly so.
    deadline = time.monotonic() + _TABLE_ACTIVE_TIMEOUT
    while status != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"DynamoDB table {name} is still {status}")
        time.sleep(0.2)
        status = dynamodb.describe_table(TableName=name)["Table"]["TableStatus"]


def _ensure_ttl(dynamodb, table: str, attribute: str) -> None:
    current = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return  # DynamoDB refuses to enable TTL twice
    dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
    )


def _string_keys(*names: str) -> list[dict]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _key_schema(hash_key: str, range_key: str | None = None) -> list[dict]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _ensure_tables(dynamodb, prefix: str) -> dict[str, str]:
    tables = {
        key: resource_name(key, prefix)
        for key in ("CONVERSATIONS_TABLE", "FEEDBACK_TABLE", "PROFILES_TABLE")
    }
    _ensure_table(
        dynamodb,
        tables["CONVERSATIONS_TABLE"],
        {
            "AttributeDefinitions": _string_keys("pk", "sk", "gsi1pk", "gsi1sk"),
            "KeySchema": _key_schema("pk", "sk"),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "gsi1",
                    "KeySchema": _key_schema("gsi1pk", "gsi1sk"),
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )
    _ensure_ttl(dynamodb, tables["CONVERSATIONS_TABLE"], "expires_at")
    _ensure_table(
        dynamodb,
        tables["FEEDBACK_TABLE"],
        {
            "AttributeDefinitions": _string_keys("feedback_id", "user_id"),
            "KeySchema": _key_schema("feedback_id"),
            # The chat API finds a user's ratings by it (export, account deletion).
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "user_id",
                    "KeySchema": _key_schema("user_id"),
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )
    _ensure_table(
        dynamodb,
        tables["PROFILES_TABLE"],
        {"AttributeDefinitions": _string_keys("user_id"), "KeySchema": _key_schema("user_id")},
    )
    return tables


# --- SSM -------------------------------------------------------------------------------------


def _publish_parameters(ssm, config: dict[str, str]) -> None:
    for name in PUBLISHED_NAMES:
        path = f"{SSM_PREFIX}/{name}"
        try:
            if ssm.get_parameter(Name=path)["Parameter"]["Value"] == config[name]:
                continue  # unchanged: keep the parameter's version as it is
        except ClientError as error:
            if _error_code(error) != "ParameterNotFound":
                raise
        ssm.put_parameter(Name=path, Value=config[name], Type="String", Overwrite=True)


# --- everything ------------------------------------------------------------------------------


def bootstrap(
    endpoint_url: str,
    *,
    region: str = "us-east-1",
    prefix: str = LOCAL_PREFIX,
    chat_api_url: str = "http://127.0.0.1:8080",
    bedrock_url: str = "http://127.0.0.1:4567",
    web_app_url: str = "http://127.0.0.1:3000",
    auth_url: str = "http://127.0.0.1:4568",
) -> dict[str, str]:
    """Create (or find) every local AWS resource and return the stack's configuration."""
    endpoint_url = endpoint_url.rstrip("/")
    cognito = _client("cognito-idp", endpoint_url, region)
    pool_id = _ensure_user_pool(cognito, prefix)
    client_id, client_secret_value = _ensure_app_client(
        cognito, pool_id, f"{prefix}-web", web_app_url
    )
    _ensure_group(cognito, pool_id, USERS_GROUP)
    create_user(endpoint_url, region, pool_id, DEMO_USER_EMAIL, DEMO_USER_PASSWORD)
    # Nobody signs in with this password: the managed login sets a fresh one each time the
    # stand-in provider vouches for the user.
    unused_password = "Fed-" + secrets.token_urlsafe(18) + "1!"
    create_user(endpoint_url, region, pool_id, FEDERATED_USER_EMAIL, unused_password)

    queue_url, dlq_url = _ensure_feedback_queues(_client("sqs", endpoint_url, region), prefix)
    tables = _ensure_tables(_client("dynamodb", endpoint_url, region), prefix)

    config = {
        "APP_ENV": "local",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "BEDROCK_MODEL_ID": LOCAL_MODEL_ID,
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_APP_CLIENT_ID": client_id,
        # Only the web app gets it (never published, like the Secrets Manager secret in AWS).
        "COGNITO_WEB_CLIENT_SECRET": client_secret_value,
        # moto signs tokens with the real AWS issuer but serves the keys itself.
        "COGNITO_ISSUER": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        "COGNITO_JWKS_URL": f"{endpoint_url}/{pool_id}/.well-known/jwks.json",
        **tables,
        "FEEDBACK_QUEUE_URL": queue_url,
        "FEEDBACK_DLQ_URL": dlq_url,
        "CHAT_API_URL": chat_api_url,
        # The managed login (the local authorization server) and the web app's public URL.
        "COGNITO_DOMAIN_URL": auth_url.rstrip("/"),
        "COGNITO_IDENTITY_PROVIDERS": ",".join(LOCAL_IDENTITY_PROVIDERS),
        "WEB_APP_URL": web_app_url.rstrip("/"),
        "LOG_LEVEL": "INFO",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_url,
        **LOCAL_CREDENTIALS_ENV,
    }
    _publish_parameters(_client("ssm", endpoint_url, region), config)
    return config
