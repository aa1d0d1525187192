"""Federated sign-in in every environment: the identity providers, the managed login's domain
(certificate, alias record) and the web-ui backend client's OAuth settings."""

import json

import pytest
from aws_cdk.assertions import Match

import config as config_module
from conftest import resources_of


def _env(name):
    return config_module.load(name, config_module.cdk_json_context())


@pytest.fixture(params=["dev", "staging", "prod"])
def each(request, synthesised):
    return _env(request.param), synthesised[request.param]


def test_google_is_a_provider_with_its_secret_from_secrets_manager(each):
    settings, synthesised = each
    template = synthesised.template("PlatformStateful")
    providers = resources_of(template, "AWS::Cognito::UserPoolIdentityProvider")
    google = next(
        p["Properties"] for p in providers.values() if p["Properties"]["ProviderType"] == "Google"
    )
    details = google["ProviderDetails"]
    assert details["client_id"] == settings.federation.google_client_id
    secret = json.dumps(details["client_secret"])
    assert f"secretsmanager:/chatbot/{settings.name}/secrets/google-oauth-client-secret" in secret
    assert details["authorize_scopes"] == "openid email profile"
    assert google["AttributeMapping"] == {
        "email": "email",
        "email_verified": "email_verified",
        "name": "name",
    }


def test_the_enterprise_provider_follows_the_configuration(each):
    settings, synthesised = each
    template = synthesised.template("PlatformStateful")
    providers = resources_of(template, "AWS::Cognito::UserPoolIdentityProvider")
    others = [
        p["Properties"] for p in providers.values() if p["Properties"]["ProviderType"] != "Google"
    ]
    enterprise = settings.federation.enterprise
    if enterprise is None:
        assert others == []
        return
    (provider,) = others
    assert provider["ProviderName"] == enterprise.name
    assert provider["ProviderType"] == enterprise.type
    assert provider["AttributeMapping"] == {
        "email": enterprise.email_attribute,
        "name": enterprise.name_attribute,
    }
    if enterprise.type == "SAML":
        assert provider["ProviderDetails"]["MetadataURL"] == enterprise.metadata_url
    else:
        assert provider["ProviderDetails"]["oidc_issuer"] == enterprise.metadata_url
        assert provider["ProviderDetails"]["client_id"] == enterprise.client_id
        assert "enterprise-oidc-client-secret" in json.dumps(
            provider["ProviderDetails"]["client_secret"]
        )


def test_the_managed_login_runs_on_the_auth_subdomain_with_its_certificate_and_alias(each):
    settings, synthesised = each
    template = synthesised.template("PlatformStateful")
    template.has_resource_properties(
        "AWS::Cognito::UserPoolDomain",
        {
            "Domain": f"auth.{settings.domain_name}",
            "CustomDomainConfig": {"CertificateArn": Match.any_value()},
            "ManagedLoginVersion": 2,
        },
    )
    template.has_resource_properties(
        "AWS::CertificateManager::Certificate",
        {"DomainName": f"auth.{settings.domain_name}", "ValidationMethod": "DNS"},
    )
    assert synthesised.stack("PlatformStateful").region == "us-east-1"
    template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": f"auth.{settings.domain_name}.",
            "Type": "A",
            "AliasTarget": Match.object_like({"DNSName": Match.any_value()}),
        },
    )


def test_the_web_backend_client_uses_the_code_grant_with_exact_urls(each):
    settings, synthesised = each
    template = synthesised.template("PlatformStateful")
    clients = resources_of(template, "AWS::Cognito::UserPoolClient")
    backend = next(
        c["Properties"]
        for c in clients.values()
        if c["Properties"]["ClientName"] == f"chatbot-{settings.name}-web-backend"
    )
    assert backend["GenerateSecret"] is True
    assert backend["AllowedOAuthFlowsUserPoolClient"] is True
    assert backend["AllowedOAuthFlows"] == ["code"]  # no implicit grant
    assert backend["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert backend["CallbackURLs"] == [f"https://{settings.domain_name}/oauth/callback"]
    assert backend["LogoutURLs"] == [f"https://{settings.domain_name}/signin"]
    expected = ["COGNITO", "Google"]
    if settings.federation.enterprise:
        expected.append(settings.federation.enterprise.name)
    assert backend["SupportedIdentityProviders"] == expected
    # The client is created after the providers it names.
    client_id = next(
        logical
        for logical, c in clients.items()
        if c["Properties"]["ClientName"] == f"chatbot-{settings.name}-web-backend"
    )
    depends = synthesised.template_json("PlatformStateful")["Resources"][client_id]["DependsOn"]
    providers = resources_of(template, "AWS::Cognito::UserPoolIdentityProvider")
    assert set(providers) <= set(depends)


def test_the_pre_sign_up_function_may_link_identities(dev):
    template = dev.template("PlatformStateless")
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "LinkFederatedSignIn",
                                "Action": [
                                    "cognito-idp:ListUsers",
                                    "cognito-idp:AdminLinkProviderForUser",
                                ],
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize(
    "federation, problem",
    [
        ({"google_client_id": "not-google"}, "google_client_id"),
        (
            {
                "google_client_id": "1-a.apps.googleusercontent.com",
                "enterprise_provider": {
                    "name": "Org",
                    "type": "OIDC",
                    "metadata_url": "https://idp.example.com",
                    "attributes": {"email": "email"},
                },
            },
            "client_id",
        ),
        (
            {
                "google_client_id": "1-a.apps.googleusercontent.com",
                "enterprise_provider": {
                    "name": "Org",
                    "type": "SAML",
                    "metadata_url": "http://idp.example.com/metadata",
                    "attributes": {"email": "email"},
                },
            },
            "metadata_url",
        ),
        (
            {
                "google_client_id": "1-a.apps.googleusercontent.com",
                "enterprise_provider": {
                    "name": "Google",
                    "type": "SAML",
                    "metadata_url": "https://idp.example.com/metadata",
                    "attributes": {"email": "email"},
                },
            },
            "name",
        ),
    ],
)
def test_bad_federation_settings_are_refused(federation, problem):
    raw = dict(config_module.cdk_json_context()["chatbot:environments"]["dev"])
    raw["federation"] = federation
    with pytest.raises(config_module.SettingsError, match=problem):
        config_module.from_mapping("dev", raw, environ={})


def test_a_certificate_outside_us_east_1_is_refused():
    raw = dict(config_module.cdk_json_context()["chatbot:environments"]["dev"])
    federation = {
        "google_client_id": "1-a.apps.googleusercontent.com",
        "certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/abc",
    }
    with pytest.raises(config_module.SettingsError, match="us-east-1"):
        config_module.from_mapping("dev", {**raw, "federation": federation}, environ={})
