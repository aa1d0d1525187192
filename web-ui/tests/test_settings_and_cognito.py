"""Unit tests of the settings and of Cognito's errors as sentences."""

from __future__ import annotations

import base64
import json
import re

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from settings_env import GOOD_ENV as GOOD

from chatbot_common.environments import SettingsError
from web_ui.cognito import (
    auth_error,
    otpauth_uri,
    password_checks,
    secret_hash,
    token_username,
)
from web_ui.settings import load_settings


def test_settings_from_the_contract_variables():
    settings = load_settings(GOOD)
    assert settings.chat_api_url == "http://127.0.0.1:8080"
    assert settings.aws_endpoint_url == "http://127.0.0.1:4566"
    assert settings.app_client_secret is None  # a public client: no SECRET_HASH


def test_the_client_secret_is_read_and_never_printed():
    settings = load_settings({**GOOD, "COGNITO_WEB_CLIENT_SECRET": " s3cret-value "})
    assert settings.app_client_secret == "s3cret-value"
    assert "s3cret-value" not in repr(settings)


def test_secret_hash_is_the_documented_hmac():
    # The value of `printf userclient | openssl dgst -sha256 -hmac secret -binary | base64`.
    assert secret_hash("secret", "client", "user") == "wvW87lzZoI+qQCVGmWVBJLlucdJ65huAVP1z+0MgA6E="


def test_token_username_reads_the_claim_and_survives_garbage():
    payload = base64.urlsafe_b64encode(json.dumps({"username": "abc-123"}).encode()).rstrip(b"=")
    assert token_username(f"h.{payload.decode()}.s") == "abc-123"
    assert token_username("not a token") == ""
    assert token_username("a.!!!.b") == ""


def test_the_otpauth_uri_names_the_account_and_carries_the_secret():
    uri = otpauth_uri("JBSWY3DPEHPK3PXP", "a+b@example.com")
    assert uri == (
        "otpauth://totp/Emotion-aware%20chat%3Aa%2Bb%40example.com"
        "?secret=JBSWY3DPEHPK3PXP&issuer=Emotion-aware+chat"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CHAT_API_URL": ""}, "CHAT_API_URL is not set"),
        ({"COGNITO_APP_CLIENT_ID": ""}, "COGNITO_APP_CLIENT_ID is not set"),
        ({"COGNITO_USER_POOL_ID": "eu-west-1_AbC"}, "not a user pool id of region us-east-1"),
        ({"APP_ENV": "prod"}, "CHAT_API_URL must use https when APP_ENV=prod"),
        ({"CHAT_API_URL": "ftp://x"}, "is not an http(s) URL"),
        ({"CHAT_API_MAX_ATTEMPTS": "0"}, "CHAT_API_MAX_ATTEMPTS >= 1"),
    ],
)
def test_a_bad_setting_is_one_clear_line(change, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings({**GOOD, **change})


def test_production_reaches_the_chat_api_by_its_service_connect_name():
    """Inside the VPC the web-ui backend calls http://chat-api:8080; any other plain-http host
    in staging or prod would cross a network it does not own."""
    for env in ("staging", "prod"):
        internal = load_settings({**GOOD, "APP_ENV": env, "CHAT_API_URL": "http://chat-api:8080"})
        assert internal.chat_api_url == "http://chat-api:8080"
        for outside in ("http://api.chatbot.muykol.com", "http://localhost:8080"):
            with pytest.raises(SettingsError, match="must use https"):
                load_settings({**GOOD, "APP_ENV": env, "CHAT_API_URL": outside})


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "raw"}}, "InitiateAuth")


def assert_sentence_on_field(operation: str, code: str, field: str, start: str) -> None:
    error = auth_error(operation, client_error(code))
    assert error.field == field
    assert error.message.startswith(start)
    assert "raw" not in error.message  # Cognito's own wording never reaches the user


@pytest.mark.parametrize(
    ("operation", "code", "field", "start"),
    [
        ("sign_in", "NotAuthorizedException", "password", "The e-mail address or the password"),
        ("sign_in", "UserNotFoundException", "password", "The e-mail address or the password"),
        ("confirm", "UserNotFoundException", "code", "That code is not right"),
        ("reset", "UserNotFoundException", "code", "That code is not right"),
        ("sign_in_mfa", "CodeMismatchException", "code", "That code is not right. Enter the"),
        ("verify_totp", "EnableSoftwareTokenMFAException", "code", "That code is not right"),
        ("confirm", "CodeMismatchException", "code", "That code is not right"),
    ],
)
def test_cognito_errors_become_sentences_on_their_field(operation, code, field, start):
    assert_sentence_on_field(operation, code, field, start)


@pytest.mark.parametrize("operation", ["sign_in", "sign_up", "confirm", "reset"])
@pytest.mark.parametrize(
    ("code", "field", "start"),
    [
        ("InvalidPasswordException", "password", "The password does not meet"),
        ("ExpiredCodeException", "code", "That code has expired"),
        ("TooManyRequestsException", "form", "Too many attempts"),
        ("SomethingNewException", "form", "Something went wrong"),
    ],
)
def test_some_errors_read_the_same_whatever_the_operation(operation, code, field, start):
    assert_sentence_on_field(operation, code, field, start)


def test_an_unreachable_cognito_is_a_form_error():
    error = auth_error("sign_in", EndpointConnectionError(endpoint_url="http://x"))
    assert error.field == "form"
    assert "cannot be reached" in error.message


def test_password_checks():
    assert all(password_checks("Abcdefghij-1").values())
    assert password_checks("abcdefghij-1")["upper"] is False
    assert password_checks("Abcdefghij1")["symbol"] is False
    assert password_checks("Ab-1")["length"] is False


def test_an_unknown_environment_stops_the_web_app_and_unset_is_local():
    # The check and its sentence are chatbot_common.environments' (tested there).
    with pytest.raises(SettingsError, match=r"^APP_ENV='qa' must be one of"):
        load_settings({**GOOD, "APP_ENV": "qa"})
    assert load_settings({k: v for k, v in GOOD.items() if k != "APP_ENV"}).app_env == "local"
