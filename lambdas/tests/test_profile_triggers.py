"""Post confirmation and pre token generation against moto's DynamoDB and Cognito."""

from __future__ import annotations

import json

import pytest
from conftest import STAGE_VARIABLES, cognito_event

from chalicelib import cognito

PROFILES = STAGE_VARIABLES["PROFILES_TABLE"]


def confirmation_event(local_aws, username, sub, email, source="PostConfirmation_ConfirmSignUp"):
    attributes = {
        "sub": sub,
        "email": email,
        "email_verified": "true",
        "cognito:user_status": "CONFIRMED",
    }
    return cognito_event(source, local_aws.pool_id, username, attributes)


def token_event(local_aws, username, sub, email, *, version="1", groups=None):
    event = cognito_event(
        "TokenGeneration_Authentication",
        local_aws.pool_id,
        username,
        {"sub": sub, "email": email, "email_verified": "true"},
        request={
            "groupConfiguration": {
                "groupsToOverride": groups if groups is not None else ["users"],
                "iamRolesToOverride": [],
                "preferredRole": None,
            }
        },
        version=version,
    )
    if version != "1":
        event["request"]["scopes"] = ["openid", "email"]
    return event


def test_confirmation_creates_the_profile_and_adds_the_default_group(client, local_aws, capsys):
    username, sub = local_aws.create_user("Ada@Example.org")
    event = confirmation_event(local_aws, username, sub, "Ada@Example.org")
    assert client.lambda_.invoke("post_confirmation", event).payload == event
    [item] = local_aws.items(PROFILES)
    assert item["user_id"] == {"S": sub}
    assert item["email"] == {"S": "ada@example.org"}  # normalised
    assert item["tier"] == {"S": "free"}
    assert item["created_at"]["S"].endswith("+00:00")
    assert local_aws.groups_of(username) == ["users"]
    logged = capsys.readouterr().out
    assert "profile ready" in logged and "ada@" not in logged.lower()


def test_cognito_retrying_the_trigger_leaves_one_profile(client, local_aws):
    username, sub = local_aws.create_user("ada@example.org")
    event = confirmation_event(local_aws, username, sub, "ada@example.org")
    client.lambda_.invoke("post_confirmation", event)
    first = local_aws.items(PROFILES)
    client.lambda_.invoke("post_confirmation", event)
    assert local_aws.items(PROFILES) == first  # not even created_at changed
    assert local_aws.groups_of(username) == ["users"]


def test_password_reset_confirmation_changes_nothing(client, local_aws):
    username, sub = local_aws.create_user("ada@example.org")
    event = confirmation_event(
        local_aws, username, sub, "ada@example.org", source="PostConfirmation_ConfirmForgotPassword"
    )
    client.lambda_.invoke("post_confirmation", event)
    assert local_aws.items(PROFILES) == []
    assert local_aws.groups_of(username) == []


def test_missing_table_fails_closed(client, local_aws, capsys):
    local_aws.dynamodb.delete_table(TableName=PROFILES)
    username, sub = local_aws.create_user("ada@example.org")
    with pytest.raises(cognito.TriggerRejected) as raised:
        client.lambda_.invoke(
            "post_confirmation", confirmation_event(local_aws, username, sub, "ada@example.org")
        )
    assert str(raised.value) == cognito.SETUP_FAILED
    assert local_aws.groups_of(username) == []  # not let through half-created
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["message"] == "profile setup failed"
    assert line["code"] == "ResourceNotFoundException"


def test_missing_group_fails_closed(client, local_aws):
    local_aws.cognito.delete_group(UserPoolId=local_aws.pool_id, GroupName="users")
    username, sub = local_aws.create_user("ada@example.org")
    with pytest.raises(cognito.TriggerRejected):
        client.lambda_.invoke(
            "post_confirmation", confirmation_event(local_aws, username, sub, "ada@example.org")
        )


def test_confirmation_without_sub_is_refused(client, local_aws):
    username, _ = local_aws.create_user("ada@example.org")
    event = confirmation_event(local_aws, username, "", "ada@example.org")
    with pytest.raises(cognito.TriggerRejected):
        client.lambda_.invoke("post_confirmation", event)
    assert local_aws.items(PROFILES) == []


def test_malformed_confirmation_event_is_refused(client, local_aws):
    with pytest.raises(cognito.InvalidEvent):
        client.lambda_.invoke(
            "post_confirmation", {"triggerSource": "PostConfirmation_ConfirmSignUp"}
        )


def _confirmed_user(client, local_aws, email="ada@example.org"):
    username, sub = local_aws.create_user(email)
    client.lambda_.invoke("post_confirmation", confirmation_event(local_aws, username, sub, email))
    return username, sub


def test_v1_token_gets_the_tier_claim_and_nothing_from_the_profile(client, local_aws):
    username, sub = _confirmed_user(client, local_aws)
    local_aws.dynamodb.update_item(
        TableName=PROFILES,
        Key={"user_id": {"S": sub}},
        UpdateExpression="SET tier = :tier",
        ExpressionAttributeValues={":tier": {"S": "plus"}},
    )
    event = token_event(local_aws, username, sub, "ada@example.org")
    response = client.lambda_.invoke("pre_token_generation", event).payload["response"]
    assert response == {"claimsOverrideDetails": {"claimsToAddOrOverride": {"tier": "plus"}}}


def test_v2_token_customises_the_access_token_too(client, local_aws):
    username, sub = _confirmed_user(client, local_aws)
    event = token_event(local_aws, username, sub, "ada@example.org", version="2")
    details = client.lambda_.invoke("pre_token_generation", event).payload["response"][
        "claimsAndScopeOverrideDetails"
    ]
    assert details == {
        "idTokenGeneration": {"claimsToAddOrOverride": {"tier": "free"}},
        "accessTokenGeneration": {"claimsToAddOrOverride": {"tier": "free"}},
    }


def test_a_user_whose_confirmation_trigger_failed_is_repaired_at_sign_in(client, local_aws):
    username, sub = local_aws.create_user("ada@example.org")  # no profile, no group
    event = token_event(local_aws, username, sub, "Ada@example.org", groups=[])
    response = client.lambda_.invoke("pre_token_generation", event).payload["response"]
    details = response["claimsOverrideDetails"]
    assert details["claimsToAddOrOverride"] == {"tier": "free"}
    # Cognito computed the groups before the repair: the token gets the new one too.
    assert details["groupOverrideDetails"]["groupsToOverride"] == ["users"]
    assert details["groupOverrideDetails"]["iamRolesToOverride"] == []
    assert [item["user_id"]["S"] for item in local_aws.items(PROFILES)] == [sub]
    assert local_aws.groups_of(username) == ["users"]


def test_no_token_when_the_profile_cannot_be_read(client, local_aws):
    username, sub = _confirmed_user(client, local_aws)
    local_aws.dynamodb.delete_table(TableName=PROFILES)
    with pytest.raises(cognito.TriggerRejected) as raised:
        client.lambda_.invoke(
            "pre_token_generation", token_event(local_aws, username, sub, "ada@example.org")
        )
    assert str(raised.value) == cognito.SIGN_IN_FAILED


def test_token_event_without_sub_is_refused(client, local_aws):
    username, _ = local_aws.create_user("ada@example.org")
    with pytest.raises(cognito.InvalidEvent):
        client.lambda_.invoke(
            "pre_token_generation", token_event(local_aws, username, "", "ada@example.org")
        )


def test_unknown_token_trigger_source_is_refused(client, local_aws):
    username, sub = _confirmed_user(client, local_aws)
    event = token_event(local_aws, username, sub, "ada@example.org")
    event["triggerSource"] = "TokenGeneration_Something"
    with pytest.raises(cognito.InvalidEvent):
        client.lambda_.invoke("pre_token_generation", event)
