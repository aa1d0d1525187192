"""The web app's Cognito client against the local AWS endpoint (moto, TOTP checking on): the
confidential client's SECRET_HASH, UserContextData on every call that takes it, TOTP enrolment
and the MFA sign-in, the refresh, and the same answer whether or not an account exists.

moto 5.2 has no ResendConfirmationCode (the call answers an error), so "send a new code" is not
driven here; its parameters are built by the same helper as sign-up's."""

from __future__ import annotations

import uuid

import httpx
import pytest
from conftest import PASSWORD, ROOT_PYTHON, Authenticator

from local_stack.aws_bootstrap import bootstrap, create_user
from local_stack.processes import free_port, moto_process
from web_ui.cognito import (
    WRONG_CREDENTIALS,
    WRONG_MFA_CODE,
    AuthError,
    CognitoClient,
    MfaChallenge,
    Tokens,
    UserContext,
    otpauth_uri,
    secret_hash,
    token_username,
)
from web_ui.settings import load_settings

BROWSER = UserContext(ip_address="203.0.113.7")
# The operations that take UserContextData, and those that name a user (SecretHash).
CONTEXT_OPERATIONS = {
    "SignUp",
    "ConfirmSignUp",
    "InitiateAuth",
    "RespondToAuthChallenge",
    "ForgotPassword",
    "ConfirmForgotPassword",
}


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory):
    if not ROOT_PYTHON.exists():
        pytest.fail(f"{ROOT_PYTHON} is missing: run `make .venv/.installed` first")
    port = free_port()
    process = moto_process(port, log_path=tmp_path_factory.mktemp("aws") / "aws.log")
    process.argv[0] = str(ROOT_PYTHON)
    with process:
        url = f"http://127.0.0.1:{port}"
        yield url, bootstrap(url, prefix="chatbot-cognito-test")


class Recorder:
    """The parameters of every Cognito request the client sends (botocore's own hook)."""

    def __init__(self, cognito: CognitoClient) -> None:
        self.calls: list[tuple[str, dict]] = []
        cognito._client.meta.events.register("provide-client-params.cognito-idp", self._record)

    def _record(self, params, model, **_):
        self.calls.append((model.name, dict(params)))

    def of(self, operation: str) -> list[dict]:
        return [params for name, params in self.calls if name == operation]


def web_client(local_aws, *, with_secret: bool = True) -> tuple[CognitoClient, Recorder]:
    _, config = local_aws
    environ = dict(config)
    if not with_secret:
        del environ["COGNITO_WEB_CLIENT_SECRET"]
    cognito = CognitoClient(load_settings(environ))
    return cognito, Recorder(cognito)


def new_user(local_aws) -> str:
    url, config = local_aws
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    create_user(url, config["AWS_REGION"], config["COGNITO_USER_POOL_ID"], email, PASSWORD)
    return email


def test_every_call_naming_a_user_carries_its_secret_hash_and_the_user_context(local_aws):
    _, config = local_aws
    cognito, recorder = web_client(local_aws)
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    assert cognito.sign_up(email, PASSWORD, BROWSER) is True
    cognito.confirm_sign_up(email, "123456", BROWSER)  # moto accepts any code
    tokens = cognito.sign_in(email, PASSWORD, BROWSER)
    assert isinstance(tokens, Tokens)
    cognito.forgot_password(email, BROWSER)
    cognito.confirm_forgot_password(email, "123456", "Another-Passw0rd?", BROWSER)

    expected = secret_hash(
        config["COGNITO_WEB_CLIENT_SECRET"], config["COGNITO_APP_CLIENT_ID"], email
    )
    assert {name for name, _ in recorder.calls} >= CONTEXT_OPERATIONS - {"RespondToAuthChallenge"}
    for name, params in recorder.calls:
        assert params["UserContextData"] == {"IpAddress": "203.0.113.7"}, name
        if name == "InitiateAuth":
            assert params["AuthParameters"]["SECRET_HASH"] == expected
        else:
            assert params["SecretHash"] == expected, name


def test_encoded_device_data_travels_with_the_address(local_aws):
    cognito, recorder = web_client(local_aws)
    email = new_user(local_aws)
    cognito.sign_in(email, PASSWORD, UserContext(ip_address="198.51.100.2", encoded_data="e30="))
    [params] = recorder.of("InitiateAuth")
    assert params["UserContextData"] == {"IpAddress": "198.51.100.2", "EncodedData": "e30="}


def test_the_refresh_needs_and_carries_the_secret_hash(local_aws):
    email = new_user(local_aws)
    cognito, recorder = web_client(local_aws)
    tokens = cognito.sign_in(email, PASSWORD)
    refreshed = cognito.refresh(tokens.refresh_token, token_username(tokens.access_token), email)
    assert refreshed.access_token and refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token == tokens.refresh_token
    assert all("SECRET_HASH" in p["AuthParameters"] for p in recorder.of("InitiateAuth"))

    # Without the secret the local endpoint refuses the refresh, as AWS does.
    public, _ = web_client(local_aws, with_secret=False)
    with pytest.raises(AuthError) as refused:
        public.refresh(tokens.refresh_token, email)
    assert refused.value.code == "NotAuthorizedException"
    assert refused.value.message == "Your session has ended. Sign in again."


def test_a_revoked_refresh_token_ends_the_session(local_aws):
    email = new_user(local_aws)
    cognito, _ = web_client(local_aws)
    tokens = cognito.sign_in(email, PASSWORD)
    cognito.global_sign_out(tokens.access_token)
    with pytest.raises(AuthError) as refused:
        cognito.refresh(tokens.refresh_token, token_username(tokens.access_token), email)
    assert refused.value.code == "NotAuthorizedException"


def test_the_same_answer_whether_or_not_an_account_exists(local_aws):
    cognito, _ = web_client(local_aws)
    existing = new_user(local_aws)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"

    # Sign-up: an address with an account answers like a new one ("a code is expected").
    assert cognito.sign_up(existing, PASSWORD, BROWSER) is True
    # Reset and resend: an unknown address answers like a known one (nothing raised).
    assert cognito.forgot_password(unknown, BROWSER) is None
    assert cognito.forgot_password(existing, BROWSER) is None

    # Sign-in: an unknown address and a wrong password are one sentence on one field.
    refusals = []
    for email, password in ((unknown, PASSWORD), (existing, "Not-the-Passw0rd!")):
        with pytest.raises(AuthError) as refused:
            cognito.sign_in(email, password, BROWSER)
        refusals.append((refused.value.field, refused.value.message))
    assert refusals == [("password", WRONG_CREDENTIALS)] * 2

    # A reset code for an unknown address is simply "not right".
    with pytest.raises(AuthError) as refused:
        cognito.confirm_forgot_password(unknown, "123456", "Another-Passw0rd?", BROWSER)
    assert refused.value.field == "code"
    assert "not right" in refused.value.message


def test_totp_enrolment_then_a_sign_in_needs_the_apps_code(local_aws):
    email = new_user(local_aws)
    cognito, recorder = web_client(local_aws)
    tokens = cognito.sign_in(email, PASSWORD, BROWSER)
    assert cognito.totp_enabled(tokens.access_token) is False

    secret = cognito.start_totp(tokens.access_token)
    totp = Authenticator(secret)
    uri = otpauth_uri(secret, email)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    with pytest.raises(AuthError) as refused:
        cognito.verify_totp(tokens.access_token, totp.wrong_code())
    assert (refused.value.field, refused.value.message) == ("code", WRONG_MFA_CODE)
    assert cognito.totp_enabled(tokens.access_token) is False

    cognito.verify_totp(tokens.access_token, totp.now())
    assert cognito.totp_enabled(tokens.access_token) is True

    challenge = cognito.sign_in(email, PASSWORD, BROWSER)
    assert isinstance(challenge, MfaChallenge)
    with pytest.raises(AuthError) as refused:
        cognito.answer_mfa(challenge, totp.wrong_code(), BROWSER)
    assert (refused.value.field, refused.value.message) == ("code", WRONG_MFA_CODE)

    challenge = cognito.sign_in(email, PASSWORD, BROWSER)
    signed_in = cognito.answer_mfa(challenge, totp.now(), BROWSER)
    assert isinstance(signed_in, Tokens) and signed_in.access_token
    [*_, answer] = recorder.of("RespondToAuthChallenge")
    assert answer["ChallengeResponses"]["SECRET_HASH"]
    assert answer["UserContextData"] == {"IpAddress": "203.0.113.7"}

    # Turned off, the password alone signs in again.
    cognito.set_totp(signed_in.access_token, enabled=False)
    assert isinstance(cognito.sign_in(email, PASSWORD), Tokens)


def test_a_refreshed_token_is_accepted_by_the_chat_api(stack):
    """The chat API checks the access token's client_id: the confidential client's tokens,
    and those of its refresh, pass."""
    config = stack.config
    email = stack.new_user()
    cognito = CognitoClient(load_settings(config))
    tokens = cognito.sign_in(email, PASSWORD)
    refreshed = cognito.refresh(tokens.refresh_token, token_username(tokens.access_token), email)
    for token in (tokens.access_token, refreshed.access_token):
        response = httpx.get(
            f"{config['CHAT_API_URL']}/api/v1/conversations",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
