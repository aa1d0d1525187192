from aws_cdk.assertions import Match

from conftest import only, resources_of


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
            "AccessTokenValidity": 15,
            "IdTokenValidity": 15,
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


def _clients(synthesised) -> dict[str, dict]:
    clients = resources_of(synthesised.template("PlatformStateful"), "AWS::Cognito::UserPoolClient")
    return {c["Properties"]["ClientName"]: c["Properties"] for c in clients.values()}


def test_access_tokens_live_15_minutes_at_most(dev, prod):
    for synthesised in (dev, prod):
        for name, client in _clients(synthesised).items():
            assert client["TokenValidityUnits"]["AccessToken"] == "minutes", name
            assert client["AccessTokenValidity"] <= 15, name
            assert client["IdTokenValidity"] <= 15, name


def test_the_web_backend_has_a_confidential_client_whose_secret_is_in_secrets_manager(prod):
    client = _clients(prod)["chatbot-prod-web-backend"]
    assert client["GenerateSecret"] is True
    assert client["EnablePropagateAdditionalUserContextData"] is True
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["EnableTokenRevocation"] is True
    template = prod.template("PlatformStateful")
    client_id = next(
        logical
        for logical, resource in resources_of(template, "AWS::Cognito::UserPoolClient").items()
        if resource["Properties"]["ClientName"] == "chatbot-prod-web-backend"
    )
    secrets = resources_of(template, "AWS::SecretsManager::Secret")
    (secret,) = [
        s["Properties"]
        for s in secrets.values()
        if s["Properties"].get("Name") == "/chatbot/prod/secrets/cognito-web-backend-client"
    ]
    rendered = str(secret["SecretString"])
    assert client_id in rendered and "client_secret" in rendered
    tags = {t["Key"]: t["Value"] for t in secret["Tags"]}
    assert tags["copilot-application"] == "chatbot" and tags["copilot-environment"] == "prod"


def test_ses_sends_the_mail_in_staging_and_prod_with_dkim_in_route_53(dev, staging, prod):
    for synthesised, domain in (
        (staging, "staging.chatbot.muykol.com"),
        (prod, "chatbot.muykol.com"),
    ):
        template = synthesised.template("PlatformStateful")
        pool = only(template, "AWS::Cognito::UserPool")["Properties"]
        email = pool["EmailConfiguration"]
        assert email["EmailSendingAccount"] == "DEVELOPER"
        assert email["From"] == f"Chatbot <no-reply@{domain}>"
        ((set_id, configuration_set),) = resources_of(
            template, "AWS::SES::ConfigurationSet"
        ).items()
        assert configuration_set["Properties"]["Name"] == f"chatbot-{synthesised.env}-auth-mail"
        assert email["ConfigurationSet"] == {"Ref": set_id}
        identity = only(template, "AWS::SES::EmailIdentity")["Properties"]
        assert identity["EmailIdentity"] == domain
        # Easy DKIM signing is SES's default; only a disabled one would appear here.
        assert identity.get("DkimAttributes", {}).get("SigningEnabled", True) is True
        records = resources_of(template, "AWS::Route53::RecordSet").values()
        dkim = [r for r in records if r["Properties"]["Type"] == "CNAME"]
        assert len(dkim) == 3  # Easy DKIM's three tokens
        assert all("DkimDNSTokenName" in str(r["Properties"]["Name"]) for r in dkim)
    dev_pool = only(dev.template("PlatformStateful"), "AWS::Cognito::UserPool")["Properties"]
    assert dev_pool.get("EmailConfiguration", {}).get("EmailSendingAccount", "COGNITO_DEFAULT") == (
        "COGNITO_DEFAULT"
    )
    assert not resources_of(dev.template("PlatformStateful"), "AWS::SES::EmailIdentity")


def test_a_web_acl_limits_sign_up_sign_in_and_resend_code_per_address(prod):
    template = prod.template("PlatformStateless")
    acl = only(template, "AWS::WAFv2::WebACL")["Properties"]
    assert acl["Name"] == "chatbot-prod-cognito"
    limited = {}
    for rule in acl["Rules"]:
        rate = rule["Statement"].get("RateBasedStatement")
        if rate:
            assert rule["Action"] == {"Block": {}}
            assert rate["AggregateKeyType"] == "IP"
            match = rate["ScopeDownStatement"]["ByteMatchStatement"]
            assert match["FieldToMatch"] == {"SingleHeader": {"Name": "x-amz-target"}}
            assert match["PositionalConstraint"] == "EXACTLY"
            limited[match["SearchString"].rsplit(".", 1)[1]] = rate["Limit"]
    assert {"SignUp", "InitiateAuth", "ResendConfirmationCode"} <= set(limited)
    assert all(10 <= limit <= 300 for limit in limited.values())
    association = only(template, "AWS::WAFv2::WebACLAssociation")["Properties"]
    assert "UserPool" in str(association["ResourceArn"])


def test_totp_is_the_one_second_factor(prod):
    pool = only(prod.template("PlatformStateful"), "AWS::Cognito::UserPool")["Properties"]
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_the_public_app_client_allows_no_oauth_flow(dev, staging, prod):
    """The public client signs in through the Cognito API only; no implicit grant and no
    callback URL is left for anyone to use with its id."""
    for synthesised in (dev, staging, prod):
        clients = synthesised.template("PlatformStateful").find_resources(
            "AWS::Cognito::UserPoolClient", {"Properties": {"GenerateSecret": False}}
        )
        (public,) = clients.values()
        properties = public["Properties"]
        assert properties["AllowedOAuthFlowsUserPoolClient"] is False
        assert "AllowedOAuthFlows" not in properties
        assert "CallbackURLs" not in properties
