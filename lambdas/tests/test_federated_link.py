"""One account per person: the pre sign-up trigger links a first federated sign-in to the
pool's user with the same verified e-mail. The user pool is moto's (in process); moto does not
implement AdminLinkProviderForUser, so that one call is recorded where botocore would send it,
after botocore has checked its parameters against the Cognito API's model."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.awsrequest import AWSResponse
from conftest import PROJECT_DIR, STAGE_VARIABLES, cognito_event

from chalicelib import aws, cognito

APP_VARIABLES = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())[
    "environment_variables"
]
LINK_EVENT = "before-call.cognito-identity-provider.AdminLinkProviderForUser"


@pytest.fixture
def links(local_aws):
    """Every AdminLinkProviderForUser request the trigger makes (its serialised body)."""
    calls: list[dict] = []

    def record(params, **_):
        # `params` is the request as it would go on the wire: target and JSON body.
        assert params["headers"]["X-Amz-Target"].endswith(".AdminLinkProviderForUser")
        calls.append(json.loads(params["body"]))
        return AWSResponse("https://cognito-idp.local", 200, {}, None), {}

    aws.cognito().meta.events.register(LINK_EVENT, record)
    return calls


def federated_event(pool_id: str, email: str, *, verified="true", provider="Google"):
    subject = str(uuid.uuid4().int)[:21]
    event = cognito_event(
        "PreSignUp_ExternalProvider",
        pool_id,
        f"{provider}_{subject}",
        {"email": email, "email_verified": verified},
        request={"validationData": None},
    )
    event["response"] = {"autoConfirmUser": False, "autoVerifyEmail": False}
    return event, subject


def invoke(client, name, event):
    return client.lambda_.invoke(name, event).payload


def test_a_verified_email_of_an_existing_user_is_linked_to_that_user(client, local_aws, links):
    username, _ = local_aws.create_user("ada@example.org")
    event, subject = federated_event(local_aws.pool_id, "Ada@Example.org")
    invoke(client, "pre_sign_up", event)
    assert links == [
        {
            "UserPoolId": local_aws.pool_id,
            "DestinationUser": {"ProviderName": "Cognito", "ProviderAttributeValue": username},
            "SourceUser": {
                "ProviderName": "Google",
                "ProviderAttributeName": "Cognito_Subject",
                "ProviderAttributeValue": subject,
            },
        }
    ]


def test_an_enterprise_provider_is_linked_under_its_own_name(client, local_aws, links):
    local_aws.create_user("grace@example.org")
    event, _ = federated_event(local_aws.pool_id, "grace@example.org", provider="Contoso-SSO")
    invoke(client, "pre_sign_up", event)
    assert links[0]["SourceUser"]["ProviderName"] == "Contoso-SSO"


def test_an_unverified_email_is_never_linked(client, local_aws, links):
    local_aws.create_user("ada@example.org")
    event, _ = federated_event(local_aws.pool_id, "ada@example.org", verified="false")
    invoke(client, "pre_sign_up", event)
    assert links == []


def test_a_new_person_is_not_linked(client, local_aws, links):
    local_aws.create_user("someone.else@example.org")
    event, _ = federated_event(local_aws.pool_id, "new.person@example.org")
    response = invoke(client, "pre_sign_up", event)["response"]
    assert links == []
    assert response == {"autoConfirmUser": False, "autoVerifyEmail": False}


def test_the_domain_policy_applies_to_federated_sign_ins(client, local_aws, links):
    local_aws.create_user("someone@mailinator.com")
    event, _ = federated_event(local_aws.pool_id, "someone@mailinator.com")
    with pytest.raises(cognito.TriggerRejected, match="not allowed"):
        invoke(client, "pre_sign_up", event)
    assert links == []


def test_a_failed_link_refuses_the_sign_in(client, local_aws):
    # Cognito refuses the link (here: throttled); a second account must not be made instead.
    def throttled(**_):
        error = {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}
        return AWSResponse("https://cognito-idp.local", 400, {}, None), error

    aws.cognito().meta.events.register(LINK_EVENT, throttled)
    local_aws.create_user("ada@example.org")
    event, _ = federated_event(local_aws.pool_id, "ada@example.org")
    with pytest.raises(cognito.TriggerRejected) as raised:
        invoke(client, "pre_sign_up", event)
    assert str(raised.value) == cognito.UNAVAILABLE


def test_a_new_federated_user_gets_a_profile_and_the_tier_claim(client, local_aws):
    # Cognito sends no post confirmation for federated users: their first token makes the
    # profile, exactly like a local user's whose setup was missed.
    username, sub = local_aws.create_user("new.person@example.org")
    event = cognito_event(
        "TokenGeneration_HostedAuth",
        local_aws.pool_id,
        username,
        {"sub": sub, "email": "new.person@example.org", "identities": "[]"},
        request={"groupConfiguration": {"groupsToOverride": []}},
        version="2",
    )
    response = invoke(client, "pre_token_generation", event)["response"]
    details = response["claimsAndScopeOverrideDetails"]
    assert details["accessTokenGeneration"]["claimsToAddOrOverride"] == {
        "tier": APP_VARIABLES["DEFAULT_TIER"]
    }
    profiles = local_aws.items(STAGE_VARIABLES["PROFILES_TABLE"])
    assert [item["user_id"]["S"] for item in profiles] == [sub]
    assert local_aws.groups_of(username) == ["users"]
