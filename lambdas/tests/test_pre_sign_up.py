from __future__ import annotations

import json

import pytest
from conftest import STAGE_VARIABLES, pre_sign_up_event

from chalicelib import cognito
from chalicelib.settings import ConfigurationError, SignUpSettings


def invoke(client, event):
    return client.lambda_.invoke("pre_sign_up", event).payload


def test_accepts_and_auto_confirms_where_the_stage_says_so(client):
    assert STAGE_VARIABLES["AUTO_CONFIRM_USERS"] == "true"
    response = invoke(client, pre_sign_up_event("Ada@Example.org"))["response"]
    assert response["autoConfirmUser"] is True
    assert response["autoVerifyEmail"] is True
    assert response["autoVerifyPhone"] is False  # untouched


def test_admin_created_users_are_checked_but_not_auto_confirmed(client):
    event = pre_sign_up_event("ada@example.org", source="PreSignUp_AdminCreateUser")
    response = invoke(client, event)["response"]
    assert response["autoConfirmUser"] is False


@pytest.mark.parametrize(
    "email",
    [
        "someone@mailinator.com",
        "Someone@MAILINATOR.COM",  # case
        " someone@mailinator.com. ",  # spaces and the root dot
        "someone@eu.mailinator.com",  # a subdomain of a blocked domain
    ],
)
def test_blocked_domains_are_refused_in_every_spelling(client, email, capsys):
    with pytest.raises(cognito.TriggerRejected) as raised:
        invoke(client, pre_sign_up_event(email))
    assert str(raised.value) == "Sign-up with an e-mail address at this domain is not allowed."
    logged = capsys.readouterr().out
    assert "domain_policy" in logged and "someone" not in logged.lower()


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "two@@example.org", "a b@example.org", "x@localhost", "x@-bad.org"]
)
def test_malformed_addresses_are_refused(client, email):
    event = pre_sign_up_event(email)
    with pytest.raises(cognito.TriggerRejected, match="e-mail address"):
        invoke(client, event)


def test_missing_email_attribute_is_refused(client):
    event = pre_sign_up_event("x@example.org")
    del event["request"]["userAttributes"]["email"]
    with pytest.raises(cognito.TriggerRejected, match="An e-mail address is required."):
        invoke(client, event)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda e: e.pop("userPoolId"),
        lambda e: e.update(triggerSource="PostConfirmation_ConfirmSignUp"),
        lambda e: e["request"].pop("userAttributes"),
        lambda e: e["request"].update(userAttributes="ada@example.org"),
    ],
)
def test_events_not_shaped_like_cognitos_are_refused(client, breakage, capsys):
    event = pre_sign_up_event("ada@example.org")
    breakage(event)
    with pytest.raises(cognito.InvalidEvent):
        invoke(client, event)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["message"] == "invalid trigger event"
    assert "ada@" not in json.dumps(lines)


def settings_with(**environ) -> SignUpSettings:
    return SignUpSettings.from_env({"APP_ENV": "prod", **environ})


def test_allow_list_admits_only_its_domains_and_their_subdomains():
    rules = settings_with(SIGNUP_ALLOWED_DOMAINS="example.org, Corp.Example")
    assert cognito.check_sign_up_address("a@example.org", rules) == "a@example.org"
    assert cognito.check_sign_up_address("A@Eng.CORP.example", rules) == "a@eng.corp.example"
    with pytest.raises(cognito.TriggerRejected, match="approved domains"):
        cognito.check_sign_up_address("a@example.com", rules)
    # A look-alike that merely ends with the same letters is not a subdomain.
    with pytest.raises(cognito.TriggerRejected):
        cognito.check_sign_up_address("a@notexample.org", rules)


def test_block_list_wins_over_allow_list():
    rules = settings_with(
        SIGNUP_ALLOWED_DOMAINS="example.org", SIGNUP_BLOCKED_DOMAINS="temp.example.org"
    )
    with pytest.raises(cognito.TriggerRejected, match="not allowed"):
        cognito.check_sign_up_address("a@temp.example.org", rules)


def test_international_domains_are_compared_in_their_ascii_form():
    rules = settings_with(SIGNUP_BLOCKED_DOMAINS="xn--bcher-kva.example")
    with pytest.raises(cognito.TriggerRejected):
        cognito.check_sign_up_address("leser@BÜCHER.example", rules)


def test_prod_never_auto_confirms(monkeypatch):
    event = pre_sign_up_event("ada@example.org")
    response = cognito.pre_sign_up(event, lambda: settings_with(AUTO_CONFIRM_USERS="false"))
    assert response["response"]["autoConfirmUser"] is False
    with pytest.raises(ConfigurationError, match="AUTO_CONFIRM_USERS"):
        settings_with(AUTO_CONFIRM_USERS="true")


def test_broken_configuration_refuses_sign_up_without_revealing_it():
    def broken():
        return SignUpSettings.from_env(
            {"APP_ENV": "prod", "SIGNUP_BLOCKED_DOMAINS": "not a domain"}
        )

    with pytest.raises(cognito.TriggerRejected) as raised:
        cognito.pre_sign_up(pre_sign_up_event("ada@example.org"), broken)
    assert str(raised.value) == cognito.UNAVAILABLE
