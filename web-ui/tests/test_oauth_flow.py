"""The web app's OpenID Connect client (web_ui/oauth.py) against the real local managed
login and the real local user pool, over HTTP: the way in, and every refusal of the callback."""

from __future__ import annotations

import dataclasses
import re
import time
import urllib.parse

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from chatbot_common.aws import LOCAL_CREDENTIALS
from local_stack.aws_bootstrap import (
    DEMO_USER_EMAIL,
    FEDERATED_USER_EMAIL,
    bootstrap,
    oauth_client_settings,
)
from local_stack.processes import REPO_ROOT, auth_server_process, free_port, moto_process
from web_ui.cognito import AuthError, CognitoClient, token_username
from web_ui.oauth import (
    CODE_REFUSED,
    EXPIRED_OR_REPLAYED,
    PROVIDER_REFUSED,
    UNVERIFIED_ANSWER,
    FederatedSignIn,
    FederationRefused,
    OAuthSettings,
    load_oauth_settings,
)
from web_ui.settings import SettingsError, load_settings

# Starts servers of its own (moto, the login server): not in `make test-fast`.
pytestmark = [pytest.mark.timeout(120), pytest.mark.stack]

ROOT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
WEB_APP_URL = "http://127.0.0.1:13001"


def _root(process):
    process.argv[0] = str(ROOT_PYTHON)  # the servers need moto and authlib's server side
    return process


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    logs = tmp_path_factory.mktemp("oauth")
    aws_port, auth_port = free_port(), free_port()
    with _root(moto_process(aws_port, log_path=logs / "aws.log")):
        config = bootstrap(
            f"http://127.0.0.1:{aws_port}",
            prefix="chatbot-oauth-test",
            web_app_url=WEB_APP_URL,
            auth_url=f"http://127.0.0.1:{auth_port}",
        )
        with _root(auth_server_process(auth_port, config, log_path=logs / "auth.log")):
            yield config


@pytest.fixture(scope="module")
def oauth_settings(config) -> OAuthSettings:
    found = load_oauth_settings(load_settings(config), config)
    assert found is not None
    return found


@pytest.fixture
def client(oauth_settings) -> FederatedSignIn:
    return FederatedSignIn(oauth_settings)


def through_managed_login(url: str, form: dict | None = None) -> httpx.Response:
    """What the browser does at the managed login: open the page, submit it."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(url)
        if page.status_code != 200:
            return page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        federated = re.search(r'name="federated" value="([^"]+)"', page.text)
        data = form or {"federated": federated.group(1)}
        return browser.post(url, data={"csrf": csrf, **data})


def callback_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urllib.parse.urlsplit(response.headers["location"])
    assert location.path == "/oauth/callback"
    return dict(urllib.parse.parse_qsl(location.query))


def test_settings_come_from_the_stack(oauth_settings, config):
    assert oauth_settings.redirect_uri == WEB_APP_URL + "/oauth/callback"
    assert oauth_settings.issuer == config["COGNITO_ISSUER"]
    assert oauth_settings.buttons == ["google", "organisation"]
    assert oauth_settings.provider_for("organisation") == "Organisation"
    assert oauth_settings.provider_for("facebook") is None


def test_settings_outside_local_trust_only_the_pools_issuer(config):
    env = {**config, "APP_ENV": "prod", "CHAT_API_URL": "https://api.example.com"}
    with pytest.raises(SettingsError, match="user pool's own"):
        load_oauth_settings(load_settings(env), env)
    env.pop("COGNITO_ISSUER"), env.pop("COGNITO_JWKS_URL")
    with pytest.raises(SettingsError, match="https"):
        load_oauth_settings(load_settings(env), env)
    env.update(COGNITO_DOMAIN_URL="https://auth.example.com", WEB_APP_URL="https://example.com")
    found = load_oauth_settings(load_settings(env), env)
    assert found.jwks_url == found.issuer + "/.well-known/jwks.json"
    assert load_oauth_settings(load_settings(env), {**env, "COGNITO_DOMAIN_URL": ""}) is None


def test_the_authorization_request_carries_pkce_state_nonce_and_provider(client, oauth_settings):
    url, pending = client.begin("Google")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["state"] == pending.state
    assert query["nonce"] == pending.nonce
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] and pending.code_verifier not in url
    assert query["identity_provider"] == "Google"
    assert query["redirect_uri"] == oauth_settings.redirect_uri
    assert query["client_id"] == oauth_settings.client_id
    _, other = client.begin("Google")
    assert other.state != pending.state and other.nonce != pending.nonce


def test_the_federated_user_signs_in(client, config):
    url, pending = client.begin("Google")
    result = client.finish(pending, callback_params(through_managed_login(url)))
    assert result.email == FEDERATED_USER_EMAIL
    assert result.claims["aud"] == config["COGNITO_APP_CLIENT_ID"]
    assert result.claims["identities"][0]["providerName"] == "Google"
    assert result.tokens.refresh_token and result.tokens.expires_at > time.time()
    # The access token is the pool's: Cognito's own API accepts it.
    import boto3

    pool = boto3.session.Session(**LOCAL_CREDENTIALS).client(
        "cognito-idp", region_name=config["AWS_REGION"], endpoint_url=config["AWS_ENDPOINT_URL"]
    )
    attributes = pool.get_user(AccessToken=result.tokens.access_token)["UserAttributes"]
    assert {"Name": "email", "Value": FEDERATED_USER_EMAIL} in attributes


def refused(call, *args) -> FederationRefused:
    with pytest.raises(FederationRefused) as caught:
        call(*args)
    return caught.value


def test_a_wrong_state_is_refused_before_any_exchange(client):
    url, pending = client.begin("Google")
    params = callback_params(through_managed_login(url))
    error = refused(client.finish, pending, {**params, "state": "forged"})
    assert (error.message, error.reason) == (EXPIRED_OR_REPLAYED, "state")
    # The code was not spent on the forged callback: the genuine one still works.
    assert client.finish(pending, params).email == FEDERATED_USER_EMAIL


def test_a_callback_without_a_pending_sign_in_is_refused(client):
    url, _ = client.begin("Google")
    params = callback_params(through_managed_login(url))
    assert refused(client.finish, None, params).reason == "state"


def test_a_replayed_callback_is_refused(client):
    url, pending = client.begin("Google")
    params = callback_params(through_managed_login(url))
    client.finish(pending, params)
    # Even with the pending sign-in still at hand, the code is single use.
    error = refused(client.finish, pending, params)
    assert (error.message, error.reason) == (CODE_REFUSED, "code")


def test_an_old_pending_sign_in_is_refused(client):
    url, pending = client.begin("Google")
    params = callback_params(through_managed_login(url))
    stale = dataclasses.replace(pending, started_at=time.time() - 3600)
    assert refused(client.finish, stale, params).reason == "state"


def test_a_wrong_nonce_is_refused(client):
    url, pending = client.begin("Google")
    params = callback_params(through_managed_login(url))
    error = refused(client.finish, dataclasses.replace(pending, nonce="another"), params)
    assert (error.message, error.reason) == (UNVERIFIED_ANSWER, "id_token")


def test_a_wrong_code_verifier_is_refused(client):
    url, pending = client.begin("Google")
    params = callback_params(through_managed_login(url))
    forged = dataclasses.replace(pending, code_verifier="x" * 64)
    assert refused(client.finish, forged, params).reason == "code"


def test_an_error_from_the_provider_is_refused(client):
    _, pending = client.begin("Google")
    params = {"state": pending.state, "error": "access_denied"}
    error = refused(client.finish, pending, params)
    assert (error.message, error.reason) == (PROVIDER_REFUSED, "provider")


def test_an_unregistered_callback_url_is_refused_by_the_managed_login(oauth_settings):
    elsewhere = dataclasses.replace(oauth_settings, web_app_url="https://evil.example")
    url, _ = FederatedSignIn(elsewhere).begin("Google")
    page = httpx.get(url, timeout=10)
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "callback URL is not registered" in page.text


def test_an_id_token_for_another_audience_is_refused(client, config, oauth_settings):
    # A second app client of the same pool, registered with the same callback URL.
    import boto3

    pool = boto3.session.Session(**LOCAL_CREDENTIALS).client(
        "cognito-idp", region_name=config["AWS_REGION"], endpoint_url=config["AWS_ENDPOINT_URL"]
    )
    other = pool.create_user_pool_client(
        UserPoolId=config["COGNITO_USER_POOL_ID"],
        ClientName="another-app",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        **oauth_client_settings(WEB_APP_URL),
    )["UserPoolClient"]
    other_settings = dataclasses.replace(
        oauth_settings, client_id=other["ClientId"], client_secret=other["ClientSecret"]
    )
    other_client = FederatedSignIn(other_settings)
    url, pending = other_client.begin("Google")
    their_token = other_client.finish(pending, callback_params(through_managed_login(url)))
    assert their_token.claims["aud"] == other["ClientId"]
    # The same ID token, presented to the web app's client, names another audience.
    error = refused(client.validate_id_token, their_token.tokens.id_token, pending.nonce)
    assert error.reason == "id_token"


def test_an_id_token_signed_with_another_key_is_refused(client, config):
    now = int(time.time())
    claims = {
        "iss": config["COGNITO_ISSUER"],
        "aud": config["COGNITO_APP_CLIENT_ID"],
        "sub": "someone",
        "email": DEMO_USER_EMAIL,
        "token_use": "id",
        "nonce": "n-1",
        "iat": now,
        "exp": now + 600,
    }
    forged = jwt.encode(
        {"alg": "RS256", "kid": "dummy"}, claims, RSAKey.generate_key(2048, private=True)
    )
    assert refused(client.validate_id_token, forged, "n-1").reason == "id_token"


def test_sign_out_urls(client, oauth_settings):
    logout = urllib.parse.urlsplit(client.logout_url())
    query = dict(urllib.parse.parse_qsl(logout.query))
    assert logout.path == "/logout"
    assert query == {
        "client_id": oauth_settings.client_id,
        "logout_uri": WEB_APP_URL + "/signin",
    }
    response = httpx.get(client.logout_url(), timeout=10)
    assert response.status_code == 302 and response.headers["location"] == WEB_APP_URL + "/signin"


def test_revocation_ends_the_refresh_token(client, config):
    url, pending = client.begin("Google")
    result = client.finish(pending, callback_params(through_managed_login(url)))
    cognito = CognitoClient(load_settings(config))
    names = (token_username(result.tokens.access_token), FEDERATED_USER_EMAIL)
    assert cognito.refresh(result.tokens.refresh_token, *names).access_token
    client.revoke(result.tokens.refresh_token)
    with pytest.raises(AuthError) as caught:
        cognito.refresh(result.tokens.refresh_token, *names)
    assert caught.value.code == "NotAuthorizedException"
