"""The local managed login over HTTP: a real moto server, the bootstrap, and the authorization
server process, driven as the web app's OAuth client would drive Cognito."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import urllib.parse

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import KeySet

from local_stack.aws_bootstrap import (
    DEMO_USER_EMAIL,
    DEMO_USER_PASSWORD,
    FEDERATED_USER_EMAIL,
    bootstrap,
    secret_hash,
)
from local_stack.processes import auth_server_process, free_port

# On the harness's local AWS endpoint (so `make test-fast` leaves these tests out), with a
# login server of their own.
pytestmark = pytest.mark.timeout(120)

WEB_APP_URL = "http://127.0.0.1:13000"
CALLBACK = WEB_APP_URL + "/oauth/callback"
SIGNED_OUT = WEB_APP_URL + "/signin"


@pytest.fixture(scope="module")
def stack(local_aws_endpoint, local_stack_logs):
    auth_port = free_port()
    config = bootstrap(
        local_aws_endpoint,
        prefix="chatbot-auth-test",
        web_app_url=WEB_APP_URL,
        auth_url=f"http://127.0.0.1:{auth_port}",
    )
    with auth_server_process(auth_port, config, log_path=local_stack_logs / "local-auth.log"):
        yield config


@pytest.fixture
def browser(stack):
    with httpx.Client(base_url=stack["COGNITO_DOMAIN_URL"], timeout=10) as client:
        yield client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(config, **overrides) -> dict:
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": config["COGNITO_APP_CLIENT_ID"],
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "_verifier": verifier,
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def _query(params: dict) -> str:
    return urllib.parse.urlencode({k: v for k, v in params.items() if not k.startswith("_")})


def sign_in(browser, params: dict, form: dict) -> httpx.Response:
    """Open the sign-in page of an authorization request and submit `form` on it."""
    page = browser.get("/oauth2/authorize?" + _query(params))
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return browser.post("/oauth2/authorize?" + _query(params), data={"csrf": csrf, **form})


def code_from(response: httpx.Response, params: dict) -> str:
    assert response.status_code == 302, response.text
    location = urllib.parse.urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["state"] == params["state"]
    return query["code"]


def exchange(config, code: str, verifier: str, **extra) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        **extra,
    }
    return httpx.post(
        config["COGNITO_DOMAIN_URL"] + "/oauth2/token",
        data=data,
        auth=(config["COGNITO_APP_CLIENT_ID"], config["COGNITO_WEB_CLIENT_SECRET"]),
        timeout=10,
    )


def verified_claims(config, token: str) -> dict:
    keys = KeySet.import_key_set(httpx.get(config["COGNITO_JWKS_URL"], timeout=10).json())
    return jwt.decode(token, keys, algorithms=["RS256"]).claims


def cognito(config):
    return boto3.client(
        "cognito-idp",
        endpoint_url=config["AWS_ENDPOINT_URL"],
        region_name=config["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_discovery_names_the_pool_as_issuer(stack):
    found = httpx.get(stack["COGNITO_DOMAIN_URL"] + "/.well-known/openid-configuration").json()
    assert found["issuer"] == stack["COGNITO_ISSUER"]
    assert found["authorization_endpoint"] == stack["COGNITO_DOMAIN_URL"] + "/oauth2/authorize"
    assert found["token_endpoint"] == stack["COGNITO_DOMAIN_URL"] + "/oauth2/token"
    assert found["jwks_uri"] == stack["COGNITO_JWKS_URL"]
    assert found["code_challenge_methods_supported"] == ["S256"]


def test_password_sign_in_hands_out_the_pools_tokens(stack, browser):
    params = authorize_params(stack)
    response = sign_in(browser, params, {"email": DEMO_USER_EMAIL, "password": DEMO_USER_PASSWORD})
    tokens = exchange(stack, code_from(response, params), params["_verifier"]).json()

    id_claims = verified_claims(stack, tokens["id_token"])
    assert id_claims["iss"] == stack["COGNITO_ISSUER"]
    assert id_claims["aud"] == stack["COGNITO_APP_CLIENT_ID"]
    assert id_claims["nonce"] == params["nonce"]
    assert id_claims["email"] == DEMO_USER_EMAIL
    assert id_claims["exp"] > id_claims["iat"]
    access = verified_claims(stack, tokens["access_token"])
    assert access["token_use"] == "access"
    assert access["client_id"] == stack["COGNITO_APP_CLIENT_ID"]
    assert access["sub"] == id_claims["sub"]
    # The pool itself accepts the access token (the chat API's check is the same JWKS).
    user = cognito(stack).get_user(AccessToken=tokens["access_token"])
    assert user["Username"] == access["username"]


def test_the_federated_test_user_signs_in_through_a_provider(stack, browser):
    params = authorize_params(stack, identity_provider="Google")
    page = browser.get("/oauth2/authorize?" + _query(params))
    assert "Sign in with Google" in page.text and 'name="email"' not in page.text
    # The form's answer redirects to the app: its origin is the one other form target.
    policy = page.headers["content-security-policy"]
    assert f"form-action 'self' {WEB_APP_URL};" in policy and "script-src" not in policy
    response = sign_in(browser, params, {"federated": "Google"})
    tokens = exchange(stack, code_from(response, params), params["_verifier"]).json()
    claims = verified_claims(stack, tokens["id_token"])
    assert claims["email"] == FEDERATED_USER_EMAIL
    assert claims["identities"][0]["providerName"] == "Google"


def test_a_code_is_used_once(stack, browser):
    params = authorize_params(stack)
    code = code_from(
        sign_in(browser, params, {"email": DEMO_USER_EMAIL, "password": DEMO_USER_PASSWORD}),
        params,
    )
    assert exchange(stack, code, params["_verifier"]).status_code == 200
    again = exchange(stack, code, params["_verifier"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_a_wrong_code_verifier_is_refused(stack, browser):
    params = authorize_params(stack)
    code = code_from(
        sign_in(browser, params, {"email": DEMO_USER_EMAIL, "password": DEMO_USER_PASSWORD}),
        params,
    )
    refused = exchange(stack, code, pkce_pair()[0])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"redirect_uri": "https://evil.example/oauth/callback"}, "callback URL is not registered"),
        ({"redirect_uri": CALLBACK + "/"}, "callback URL is not registered"),
        ({"redirect_uri": None}, "callback URL is not registered"),
        ({"client_id": "not-a-client"}, "not registered here"),
        ({"code_challenge": None}, "code_challenge"),
        ({"nonce": None}, "nonce"),
        ({"identity_provider": "<script>alert(1)</script>"}, "is not a sign-in option"),
    ],
)
def test_bad_authorization_requests_get_a_page_and_no_redirect(stack, browser, overrides, message):
    response = browser.get("/oauth2/authorize?" + _query(authorize_params(stack, **overrides)))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert message in response.text
    assert "<script>" not in response.text


def test_a_replayed_nonce_is_refused(stack, browser):
    params = authorize_params(stack)
    code_from(
        sign_in(browser, params, {"email": DEMO_USER_EMAIL, "password": DEMO_USER_PASSWORD}),
        params,
    )
    replay = browser.get("/oauth2/authorize?" + _query({**params, "state": "another"}))
    assert replay.status_code == 400
    assert "location" not in replay.headers


def test_a_wrong_password_shows_the_form_again(stack, browser):
    params = authorize_params(stack)
    response = sign_in(browser, params, {"email": DEMO_USER_EMAIL, "password": "Wrong-Passw0rd!"})
    assert response.status_code == 401
    assert "password is wrong" in response.text


def test_a_sign_in_form_without_its_csrf_token_is_refused(stack, browser):
    params = authorize_params(stack)
    response = browser.post(
        "/oauth2/authorize?" + _query(params),
        data={"email": DEMO_USER_EMAIL, "password": DEMO_USER_PASSWORD},
    )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_single_sign_on_until_logout(stack, browser):
    params = authorize_params(stack)
    sign_in(browser, params, {"email": DEMO_USER_EMAIL, "password": DEMO_USER_PASSWORD})
    # Signed in at the managed login: the next request gets a code without a form.
    again = authorize_params(stack)
    code = code_from(browser.get("/oauth2/authorize?" + _query(again)), again)
    assert exchange(stack, code, again["_verifier"]).status_code == 200

    client_id = stack["COGNITO_APP_CLIENT_ID"]
    refused = browser.get(
        "/logout?" + urllib.parse.urlencode({"client_id": client_id, "logout_uri": CALLBACK})
    )
    assert refused.status_code == 400  # not a registered sign-out URL
    out = browser.get(
        "/logout?" + urllib.parse.urlencode({"client_id": client_id, "logout_uri": SIGNED_OUT})
    )
    assert out.status_code == 302 and out.headers["location"] == SIGNED_OUT
    after = authorize_params(stack)
    page = browser.get("/oauth2/authorize?" + _query(after))
    assert page.status_code == 200 and 'name="password"' in page.text


def test_revocation_ends_the_refresh_token(stack, browser):
    params = authorize_params(stack)
    code = code_from(
        sign_in(browser, params, {"email": DEMO_USER_EMAIL, "password": DEMO_USER_PASSWORD}),
        params,
    )
    tokens = exchange(stack, code, params["_verifier"]).json()
    assert refresh(stack, tokens["refresh_token"])["AuthenticationResult"]["AccessToken"]
    client_id, secret = stack["COGNITO_APP_CLIENT_ID"], stack["COGNITO_WEB_CLIENT_SECRET"]
    unauthenticated = httpx.post(
        stack["COGNITO_DOMAIN_URL"] + "/oauth2/revoke", data={"token": tokens["refresh_token"]}
    )
    assert unauthenticated.status_code in (400, 401)
    revoked = httpx.post(
        stack["COGNITO_DOMAIN_URL"] + "/oauth2/revoke",
        data={"token": tokens["refresh_token"]},
        auth=(client_id, secret),
    )
    assert revoked.status_code == 200
    with pytest.raises(ClientError, match="NotAuthorized"):
        refresh(stack, tokens["refresh_token"])


def refresh(config, refresh_token: str) -> dict:
    client_id, secret = config["COGNITO_APP_CLIENT_ID"], config["COGNITO_WEB_CLIENT_SECRET"]
    return cognito(config).initiate_auth(
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={
            "REFRESH_TOKEN": refresh_token,
            # moto hashes over the name used at sign-in
            "SECRET_HASH": secret_hash(secret, client_id, DEMO_USER_EMAIL),
        },
    )
