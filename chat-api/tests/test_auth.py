"""Every token defect is refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import boto3
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from support import User, moto_key, new_user


def _assert_refused(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["code"] == "invalid_token"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_real_cognito_access_token_is_accepted(api, alice):
    response = api.get("/conversations", headers=alice.headers)
    assert response.status_code == 200


def test_a_minted_token_with_correct_claims_is_accepted(api, mint_token):
    # The control for the defect tests below: the same minting with nothing wrong passes.
    response = api.get("/conversations", headers={"Authorization": f"Bearer {mint_token()}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer not.a.jwt"}, id="garbage"),
    ],
)
def test_missing_or_malformed_header(api, headers):
    _assert_refused(api.get("/conversations", headers=headers))


DEFECTS = {
    "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "not-yet-valid": {"nbf": int(time.time()) + 3600},
    "wrong-issuer": {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
    "wrong-client": {"client_id": "someone-elses-client"},
    "no-client": {"client_id": None},
    "id-token-use": {"token_use": "id"},
    "no-token-use": {"token_use": None},
    "no-exp": {"exp": None},
    "no-sub": {"sub": None},
}


@pytest.mark.parametrize("claims", DEFECTS.values(), ids=DEFECTS.keys())
def test_defective_claims(api, mint_token, claims):
    token = mint_token(**claims)
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


def test_a_client_id_list_holding_the_app_client_is_refused(api, stack, mint_token):
    # Cognito writes one client id; a list naming the app client among others is not one.
    token = mint_token(client_id=[stack.config["COGNITO_APP_CLIENT_ID"], "someone-elses-client"])
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


def test_expiry_within_the_leeway_is_accepted(api, mint_token):
    token = mint_token(exp=int(time.time()) - 5)
    assert (
        api.get("/conversations", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def test_a_real_id_token_is_refused(api, alice):
    _assert_refused(
        api.get("/conversations", headers={"Authorization": f"Bearer {alice.id_token}"})
    )


def test_tampered_signature(api, alice):
    header, payload, signature = alice.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    tampered = ".".join([header, _b64(claims), signature])
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {tampered}"}))


def test_signed_by_another_key_with_the_pools_kid(api, mint_token):
    token = mint_token(key=RSAKey.generate_key(2048, parameters={"kid": "dummy"}))
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


def test_unknown_kid(api, mint_token):
    token = mint_token(
        key=RSAKey.generate_key(2048, parameters={"kid": "rotated-away"}),
        header={"kid": "rotated-away"},
    )
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


def test_alg_none(api, alice):
    _, payload, _ = alice.token.split(".")
    unsigned = f"{_b64({'alg': 'none', 'kid': 'dummy'})}.{payload}."
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {unsigned}"}))


def test_hs256_with_the_public_key_as_secret(api, alice):
    # The classic algorithm confusion: an HMAC signed with the pool's public key as the secret.
    _, payload, _ = alice.token.split(".")
    header = _b64({"alg": "HS256", "kid": "dummy"})
    secret = moto_key().as_pem(private=False)
    signature = (
        base64.urlsafe_b64encode(
            hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        .decode()
        .rstrip("=")
    )
    token = f"{header}.{payload}.{signature}"
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/chat"),
        ("POST", "/chat/stream"),
        ("GET", "/conversations"),
        ("GET", "/conversations/01JBZZZZZZZZZZZZZZZZZZZZZZ"),
        ("DELETE", "/conversations/01JBZZZZZZZZZZZZZZZZZZZZZZ"),
        ("POST", "/feedback"),
        ("GET", "/usage"),
    ],
)
def test_every_user_endpoint_requires_a_token(api, method, path):
    _assert_refused(api.request(method, path, json={"message": "hi"}))


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/openapi.json"])
def test_public_endpoints_need_no_token(api, path):
    assert api.get(path).status_code == 200


# --- tokens of other app clients of the same pool ---------------------------------------------


def _public_client(stack, name: str) -> str:
    """Creates another public app client of the local pool, as the CDK app creates several."""
    config = stack.config
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=stack.aws_url,
        region_name=config["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client = cognito.create_user_pool_client(
        UserPoolId=config["COGNITO_USER_POOL_ID"],
        ClientName=f"{name}-{uuid.uuid4().hex[:8]}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    return client["UserPoolClient"]["ClientId"]


@pytest.fixture(scope="module")
def second_client_user(stack) -> User:
    """A user signed in through a second app client of the pool (as the web-ui backend's)."""
    return new_user(stack, client_id=_public_client(stack, "second"))


@pytest.fixture(scope="module")
def third_client_user(stack) -> User:
    return new_user(stack, client_id=_public_client(stack, "third"))


def _client_id(user: User) -> str:
    return jwt.decode(user.token, moto_key()).claims["client_id"]


def test_a_second_clients_token_is_refused_unless_configured(api, stack, second_client_user):
    # The shared server is started with COGNITO_APP_CLIENT_ID alone.
    assert _client_id(second_client_user) != stack.config["COGNITO_APP_CLIENT_ID"]
    _assert_refused(api.get("/conversations", headers=second_client_user.headers))


def test_configured_extra_clients_are_accepted_and_no_other(
    start_api, stack, alice, second_client_user, third_client_user
):
    server = start_api(COGNITO_EXTRA_APP_CLIENT_IDS=f" {_client_id(second_client_user)} ")
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as api:
        second = api.get("/conversations", headers=second_client_user.headers)
        assert second.status_code == 200, second.text
        # COGNITO_APP_CLIENT_ID still counts; a third client of the same pool does not.
        assert api.get("/conversations", headers=alice.headers).status_code == 200
        _assert_refused(api.get("/conversations", headers=third_client_user.headers))
        # The second client's user is a user like any other: the chat itself works.
        chat = api.post("/chat", headers=second_client_user.headers, json={"message": "Hello"})
        assert chat.status_code == 200, chat.text


def test_several_extra_clients_are_accepted(
    start_api, mint_token, second_client_user, third_client_user
):
    ids = f"{_client_id(second_client_user)},{_client_id(third_client_user)}"
    server = start_api(COGNITO_EXTRA_APP_CLIENT_IDS=ids)
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as api:
        for user in (second_client_user, third_client_user):
            assert api.get("/conversations", headers=user.headers).status_code == 200
        # A client id the pool does not have, on a token signed by the pool's key: refused.
        forged = mint_token(client_id="notaclientofthepool")
        _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {forged}"}))
