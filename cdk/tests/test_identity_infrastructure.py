from aws_cdk.assertions import Match

from conftest import only


def test_user_pool_signs_in_by_email_with_self_sign_up_and_verification(dev):
    pool = only(dev.template("PlatformStateful"), "AWS::Cognito::UserPool")["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["VerificationMessageTemplate"]["DefaultEmailOption"] == "CONFIRM_WITH_CODE"


def test_password_policy_sets_every_flag(dev):
    pool = only(dev.template("PlatformStateful"), "AWS::Cognito::UserPool")["Properties"]
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 3,
    }


def test_recovery_by_email_only_and_optional_totp_mfa(dev):
    pool = only(dev.template("PlatformStateful"), "AWS::Cognito::UserPool")["Properties"]
    assert pool["AccountRecoverySetting"] == {
        "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
    }
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_threat_protection_is_enforced_in_prod_and_audited_elsewhere(dev, staging, prod):
    def mode(synthesised):
        pool = only(synthesised.template("PlatformStateful"), "AWS::Cognito::UserPool")
        return pool["Properties"]["UserPoolAddOns"]["AdvancedSecurityMode"]

    assert mode(prod) == "ENFORCED"
    assert mode(staging) == "AUDIT"
    assert mode(dev) == "AUDIT"


def test_deletion_protection_in_staging_and_prod_only(dev, staging, prod):
    def protection(synthesised):
        pool = only(synthesised.template("PlatformStateful"), "AWS::Cognito::UserPool")
        return pool["Properties"]["DeletionProtection"], pool["DeletionPolicy"]

    assert protection(prod) == ("ACTIVE", "Retain")
    assert protection(staging) == ("ACTIVE", "Retain")
    assert protection(dev) == ("INACTIVE", "Delete")


def test_app_client_has_no_secret_and_the_frontends_flows(dev):
    dev.template("PlatformStateful").has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "ExplicitAuthFlows": Match.array_equals(
                ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
            ),
            "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": True,
            "AccessTokenValidity": 60,
            "IdTokenValidity": 60,
            "RefreshTokenValidity": 43200,
            "TokenValidityUnits": {
                "AccessToken": "minutes",
                "IdToken": "minutes",
                "RefreshToken": "minutes",
            },
        },
    )


def test_users_group_exists(dev):
    dev.template("PlatformStateful").has_resource_properties(
        "AWS::Cognito::UserPoolGroup", {"GroupName": "users"}
    )
