"""The Cognito user pool people sign up to, its app clients, the e-mail it sends through SES,
and the WAF web ACL in front of its API."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

import nag
import waf_rules
from config import Federation
from dns.infrastructure import alias_record

USERS_GROUP = "users"
# A stolen access token stays valid after sign-out until it expires (Cognito revokes refresh
# tokens, not access tokens): 15 minutes bounds that; the web app refreshes before expiry.
ACCESS_TOKEN_VALIDITY = cdk.Duration.minutes(15)
ID_TOKEN_VALIDITY = cdk.Duration.minutes(15)
REFRESH_TOKEN_VALIDITY = cdk.Duration.days(30)
# The Cognito API actions a browser or a bot can call without a token, and the requests each
# address may make in 5 minutes. The web-ui backend calls them from the NAT gateways'
# addresses, so the limits leave room for many users behind each address (docs/cdk.md).
COGNITO_RATE_LIMITS = {
    "SignUp": 100,
    "InitiateAuth": 300,
    "ResendConfirmationCode": 50,
    "ForgotPassword": 50,
}


class SesSender(Construct):
    """The domain's SES identity (Easy DKIM, its CNAME records in the hosted zone), a
    configuration set, and the from address Cognito sends with. Cognito's own sender is
    limited to 50 e-mails a day: bots hitting sign-up would use it up for everyone."""

    def __init__(self, scope: Construct, id_: str, *, zone: route53.IHostedZone, name_prefix: str):
        super().__init__(scope, id_)
        self.domain_name = zone.zone_name
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=f"{name_prefix}-auth-mail",
            reputation_metrics=True,
            sending_enabled=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        self.identity = ses.EmailIdentity(
            self,
            "Identity",
            identity=ses.Identity.public_hosted_zone(zone),
            configuration_set=self.configuration_set,
            mail_from_domain=f"mail.{zone.zone_name}",
        )

    @property
    def from_email(self) -> str:
        return f"no-reply@{self.domain_name}"


def _sign_in_settings() -> dict:
    """What both app clients share: password sign-in (SRP or plain over TLS), no hint whether an
    account exists, revocable refresh tokens and the same token lifetimes."""
    return {
        "auth_flows": cognito.AuthFlow(user_srp=True, user_password=True),
        "prevent_user_existence_errors": True,
        "enable_token_revocation": True,
        "access_token_validity": ACCESS_TOKEN_VALIDITY,
        "id_token_validity": ID_TOKEN_VALIDITY,
        "refresh_token_validity": REFRESH_TOKEN_VALIDITY,
        "auth_session_validity": cdk.Duration.minutes(3),
    }


class UserPool(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        threat_protection: str,
        deletion_protection: bool,
        removal_policy: cdk.RemovalPolicy,
        ses_sender: SesSender | None = None,
        backend_client_secret_name: str,
    ) -> None:
        super().__init__(scope, id_)
        enforced = threat_protection == "ENFORCED"
        email = (
            cognito.UserPoolEmail.with_ses(
                from_email=ses_sender.from_email,
                from_name="Chatbot",
                ses_verified_domain=ses_sender.domain_name,
                configuration_set_name=ses_sender.configuration_set.configuration_set_name,
            )
            if ses_sender
            else None
        )
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{name_prefix}-users",
            sign_in_aliases=cognito.SignInAliases(email=True, username=False, phone=False),
            sign_in_case_sensitive=False,
            self_sign_up_enabled=True,
            auto_verify=cognito.AutoVerifiedAttrs(email=True, phone=False),
            user_verification=cognito.UserVerificationConfig(
                email_style=cognito.VerificationEmailStyle.CODE
            ),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            email=email,
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False, email=False),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION
                if enforced
                else cognito.StandardThreatProtectionMode.AUDIT_ONLY
            ),
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        if ses_sender:
            # Cognito checks the identity when the pool is updated to send through it.
            self.user_pool.node.add_dependency(ses_sender.identity)
        nag.acknowledge(
            self.user_pool,
            "COG2",
            "MFA is optional (TOTP only) by product decision: a public, self sign-up chatbot "
            "where mandatory MFA would block most sign-ups; threat protection covers risky "
            "sign-ins and users can enrol an authenticator app.",
        )
        if not enforced:
            nag.acknowledge(
                self.user_pool,
                "COG3",
                "Threat protection runs in audit mode outside prod so testers are not blocked "
                "while risk scores are observed; prod enforces it (checked by the config).",
            )
        self.client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=f"{name_prefix}-web",
            generate_secret=False,  # the web app's sign-in runs where a secret cannot be kept
            # No OAuth on the public client: CDK's defaults would allow the implicit grant and a
            # placeholder callback URL. Federated sign-in uses the backend client's code flow.
            disable_o_auth=True,
            **_sign_in_settings(),
        )
        # The confidential client of the web-ui backend, which signs users in on the server:
        # its secret never leaves AWS (Secrets Manager, read by the web-ui tasks), and it may
        # send the user's address and device (UserContextData) for threat protection.
        self.backend_client = self.user_pool.add_client(
            "WebBackendClient",
            user_pool_client_name=f"{name_prefix}-web-backend",
            generate_secret=True,
            enable_propagate_additional_user_context_data=True,
            **_sign_in_settings(),
        )
        self.backend_client_secret = secretsmanager.Secret(
            self,
            "WebBackendClientSecret",
            secret_name=backend_client_secret_name,
            description="Id and secret of the web-ui backend's Cognito app client",
            secret_object_value={
                "client_id": cdk.SecretValue.unsafe_plain_text(
                    self.backend_client.user_pool_client_id
                ),
                # CloudFormation's own attribute: no custom resource reads it at deploy time.
                "client_secret": cdk.SecretValue.resource_attribute(
                    self.backend_client.node.default_child.attr_client_secret
                ),
            },
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        nag.acknowledge(
            self.backend_client_secret,
            "SMG4",
            "An app client secret cannot be rotated in place: a new client replaces the old "
            "one, which an operator does with a release of the web-ui service (docs/cdk.md).",
        )
        cognito.CfnUserPoolGroup(
            self,
            "UsersGroup",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=USERS_GROUP,
            description="Every confirmed user (added by the post confirmation trigger).",
        )

    @property
    def issuer(self) -> str:
        return self.user_pool.user_pool_provider_url


def _rate_rule(action: str, limit: int, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    """Blocks an address that sends more than `limit` requests of `action` in 5 minutes."""
    target = f"AWSCognitoIdentityProviderService.{action}"
    return waf_rules.rate_per_ip(
        f"{action}RatePerIp",
        priority,
        limit=limit,
        scope_down=waf_rules.header_is("x-amz-target", target),
    )


class UserPoolFirewall(Construct):
    """A regional WAF web ACL on the user pool's API: per-address rate limits on sign-up,
    sign-in, resend-code and forgot-password, AWS's IP reputation list and known bad inputs."""

    def __init__(self, scope: Construct, id_: str, *, name_prefix: str, user_pool_arn: str):
        super().__init__(scope, id_)
        rules = [
            _rate_rule(action, limit, priority)
            for priority, (action, limit) in enumerate(COGNITO_RATE_LIMITS.items())
        ]
        # Known bad inputs (Log4j lookups among them) and addresses with a bad reputation.
        for priority, group in enumerate(
            ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet"),
            start=10,
        ):
            rules.append(waf_rules.managed_group(group, priority))
        self.web_acl = waf_rules.regional_web_acl(
            self,
            name=f"{name_prefix}-cognito",
            rules=rules,
            association_id="UserPoolAssociation",
            resource_arn=user_pool_arn,
        )


# Secrets Manager names of the identity providers' client secrets. An operator stores each
# value before the deploy that first needs it (docs/cdk.md); CloudFormation resolves it.
GOOGLE_CLIENT_SECRET_NAME = "/chatbot/{env}/secrets/google-oauth-client-secret"  # noqa: S105
ENTERPRISE_CLIENT_SECRET_NAME = "/chatbot/{env}/secrets/enterprise-oidc-client-secret"  # noqa: S105
# The web app's callback and where the managed login's sign-out returns to.
OAUTH_CALLBACK_PATH = "/oauth/callback"
# The hosted zone of every CloudFront distribution, the target of alias records to one.
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
SIGNED_OUT_PATH = "/signin"


class ManagedLogin(Construct):
    """Federated sign-in: Google and an optional enterprise OIDC or SAML provider in the user
    pool, the managed login on `auth.<domain>` (certificate in us-east-1, alias record), and
    the web-ui backend's client set up for the authorization-code grant (the web app always
    sends PKCE, state and nonce) with the exact callback and sign-out URLs."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        user_pool: UserPool,
        federation: Federation,
        zone: route53.IHostedZone,
        auth_domain_name: str,
        web_app_url: str,
    ) -> None:
        super().__init__(scope, id_)
        pool = user_pool.user_pool
        google = cognito.UserPoolIdentityProviderGoogle(
            self,
            "Google",
            user_pool=pool,
            client_id=federation.google_client_id,
            client_secret_value=cdk.SecretValue.secrets_manager(
                GOOGLE_CLIENT_SECRET_NAME.format(env=environment)
            ),
            scopes=["openid", "email", "profile"],
            attribute_mapping=cognito.AttributeMapping(
                email=cognito.ProviderAttribute.GOOGLE_EMAIL,
                email_verified=cognito.ProviderAttribute.GOOGLE_EMAIL_VERIFIED,
                fullname=cognito.ProviderAttribute.GOOGLE_NAME,
            ),
        )
        providers = [cognito.UserPoolClientIdentityProvider.COGNITO]
        providers.append(cognito.UserPoolClientIdentityProvider.GOOGLE)
        self.provider_names = ["Google"]
        self.providers: list[Construct] = [google]
        enterprise = federation.enterprise
        if enterprise is not None:
            # What the provider gets whichever protocol it speaks.
            shared = {
                "user_pool": pool,
                "name": enterprise.name,
                "attribute_mapping": cognito.AttributeMapping(
                    email=cognito.ProviderAttribute.other(enterprise.email_attribute),
                    fullname=cognito.ProviderAttribute.other(enterprise.name_attribute),
                ),
            }
            if enterprise.type == "OIDC":
                provider = cognito.UserPoolIdentityProviderOidc(
                    self,
                    "Enterprise",
                    client_id=enterprise.client_id,
                    client_secret=cdk.SecretValue.secrets_manager(
                        ENTERPRISE_CLIENT_SECRET_NAME.format(env=environment)
                    ).unsafe_unwrap(),
                    issuer_url=enterprise.metadata_url,
                    scopes=["openid", "email", "profile"],
                    attribute_request_method=cognito.OidcAttributeRequestMethod.GET,
                    **shared,
                )
            else:
                provider = cognito.UserPoolIdentityProviderSaml(
                    self,
                    "Enterprise",
                    metadata=cognito.UserPoolIdentityProviderSamlMetadata.url(
                        enterprise.metadata_url
                    ),
                    idp_signout=True,
                    **shared,
                )
            providers.append(cognito.UserPoolClientIdentityProvider.custom(enterprise.name))
            self.provider_names.append(enterprise.name)
            self.providers.append(provider)

        # Cognito takes the managed login's certificate from us-east-1 only.
        if federation.certificate_arn:
            self.certificate = acm.Certificate.from_certificate_arn(
                self, "Certificate", federation.certificate_arn
            )
        elif cdk.Stack.of(self).region == "us-east-1":
            self.certificate = acm.Certificate(
                self,
                "Certificate",
                domain_name=auth_domain_name,
                validation=acm.CertificateValidation.from_dns(zone),
            )
        else:
            raise ValueError(
                f"federation: the stack is in {cdk.Stack.of(self).region}; issue a certificate "
                f"for {auth_domain_name} in us-east-1 and set federation.certificate_arn"
            )
        self.domain = pool.add_domain(
            "Domain",
            custom_domain=cognito.CustomDomainOptions(
                domain_name=auth_domain_name, certificate=self.certificate
            ),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )
        # The alias points at the domain's CloudFront distribution.
        alias_record(
            self,
            "Alias",
            zone=zone,
            domain_name=auth_domain_name,
            target_dns_name=self.domain.cloud_front_endpoint,
            target_zone_id=CLOUDFRONT_HOSTED_ZONE_ID,
        )
        self.domain_url = f"https://{auth_domain_name}"

        # The web-ui backend's confidential client (user_pool.backend_client) gets the code
        # grant through L1 overrides: its L2 was created without OAuth settings.
        client = user_pool.backend_client.node.default_child
        client.add_property_override("AllowedOAuthFlowsUserPoolClient", True)
        client.add_property_override("AllowedOAuthFlows", ["code"])
        client.add_property_override("AllowedOAuthScopes", ["openid", "email", "profile"])
        client.add_property_override("CallbackURLs", [web_app_url + OAUTH_CALLBACK_PATH])
        client.add_property_override("LogoutURLs", [web_app_url + SIGNED_OUT_PATH])
        client.add_property_override(
            "SupportedIdentityProviders", [provider.name for provider in providers]
        )
        for provider in self.providers:
            user_pool.backend_client.node.add_dependency(provider)
