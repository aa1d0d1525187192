"""The smoke test of a deployed environment: health, then a throw-away user chats once through
the public API, deletes its conversation and is deleted."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid

from chatbot_common import aws, contract
from deploy.steps import DeployError, environment


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
    return ssm.get_parameter(Name=contract.ssm_parameter_name(key, env))["Parameter"]["Value"]


def _wait_for_health(base_url: str, attempts: int) -> dict | None:
    for attempt in range(1, attempts + 1):
        status, body = _http("GET", f"{base_url}/api/v1/health")
        if status == 200:
            return body
        if attempt == attempts:
            raise DeployError(f"GET {base_url}/api/v1/health answered {status} {attempts} times")
        time.sleep(min(2 * attempt, 10))
    return None


def _sign_in(cognito, user_pool_id: str, client_id: str, email: str, password: str) -> str:
    """The user's access token. The web app's client is confidential: its secret signs the
    sign-in (SECRET_HASH)."""
    parameters = {"USERNAME": email, "PASSWORD": password}
    secret = cognito.describe_user_pool_client(UserPoolId=user_pool_id, ClientId=client_id)[
        "UserPoolClient"
    ].get("ClientSecret")
    if secret:
        digest = hmac.new(secret.encode(), (email + client_id).encode(), hashlib.sha256)
        parameters["SECRET_HASH"] = base64.b64encode(digest.digest()).decode()
    return cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters
    )["AuthenticationResult"]["AccessToken"]


def smoke(
    base_url: str, user_pool_id: str, client_id: str, *, region: str, attempts: int = 10
) -> list[str]:
    """Health, then sign up a throw-away user, chat once, delete the conversation and the user.

    Returns the lines of a report; raises DeployError on the first failed check. The user is
    removed whatever happens after it was created.
    """
    base_url = base_url.rstrip("/")
    report = [f"health: 200 {_wait_for_health(base_url, attempts)}"]
    cognito = aws.client("cognito-idp", region=region)
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
        token = _sign_in(cognito, user_pool_id, client_id, email, password)
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
        ssm = aws.client("ssm", region=region)
        user_pool_id = user_pool_id or _parameter(ssm, env, "COGNITO_USER_POOL_ID")
        client_id = client_id or _parameter(ssm, env, "COGNITO_APP_CLIENT_ID")
    url = args.url or f"https://api.{settings['domain_name']}"
    return smoke(url, user_pool_id, client_id, region=args.region or region)
