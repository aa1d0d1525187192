"""The Cognito user pool people sign up to, and the app client the web app signs in with."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

import nag

USERS_GROUP = "users"
ACCESS_TOKEN_VALIDITY = cdk.Duration.minutes(60)
ID_TOKEN_VALIDITY = cdk.Duration.minutes(60)
REFRESH_TOKEN_VALIDITY = cdk.Duration.days(30)


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
    ) -> None:
        super().__init__(scope, id_)
        enforced = threat_protection == "ENFORCED"
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
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=ACCESS_TOKEN_VALIDITY,
            id_token_validity=ID_TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            auth_session_validity=cdk.Duration.minutes(3),
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
