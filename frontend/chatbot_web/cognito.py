"""Cognito user-pool calls (boto3 `cognito-idp`) and their errors as plain sentences.

Every call here is one of the pool's public operations (sign-up, confirm, initiate auth,
forgot password, global sign-out), which Cognito accepts unsigned: the web app needs no AWS
credentials of its own to sign people in.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .settings import Settings

# The user pool's password policy (the same rules as the pool's PasswordPolicy); shown before
# submitting and checked in the browser's session so a bad password costs no round trip.
PASSWORD_MIN_LENGTH = 12
PASSWORD_RULES = (
    ("length", f"At least {PASSWORD_MIN_LENGTH} characters"),
    ("lower", "A lower-case letter"),
    ("upper", "An upper-case letter"),
    ("digit", "A number"),
    ("symbol", "A symbol such as ! ? # or -"),
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def password_checks(password: str) -> dict[str, bool]:
    """Which of PASSWORD_RULES the password meets, by rule key."""
    return {
        "length": len(password) >= PASSWORD_MIN_LENGTH,
        "lower": any(c.islower() for c in password),
        "upper": any(c.isupper() for c in password),
        "digit": any(c.isdigit() for c in password),
        "symbol": any(not c.isalnum() and not c.isspace() for c in password),
    }


def email_is_valid(email: str) -> bool:
    return bool(_EMAIL.match(email))


class AuthError(Exception):
    """A Cognito refusal as a sentence for the user, and the form field it concerns."""

    def __init__(self, field: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.field = field  # "email", "password", "code" or "form"
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str
    refresh_token: str
    expires_at: float  # time.time() when the access token expires


WRONG_CREDENTIALS = "The e-mail address or the password is not right."
UNREACHABLE = "The sign-in service cannot be reached right now. Try again in a moment."

# (operation or "*", Cognito error code) -> (field, sentence)
_MESSAGES = {
    ("sign_up", "UsernameExistsException"): (
        "email",
        "An account with this e-mail address already exists. Sign in instead.",
    ),
    ("*", "InvalidPasswordException"): (
        "password",
        "The password does not meet the rules listed below the field.",
    ),
    ("sign_in", "NotAuthorizedException"): ("password", WRONG_CREDENTIALS),
    ("sign_in", "UserNotFoundException"): ("password", WRONG_CREDENTIALS),
    ("sign_in", "PasswordResetRequiredException"): (
        "password",
        "This account needs a new password. Use “Forgot your password?” to set one.",
    ),
    ("sign_in", "UserNotConfirmedException"): (
        "email",
        "This account is not confirmed yet. Enter the code we e-mailed you.",
    ),
    ("refresh", "NotAuthorizedException"): ("form", "Your session has ended. Sign in again."),
    ("*", "CodeMismatchException"): (
        "code",
        "That code is not right. Check the e-mail and try again.",
    ),
    ("*", "ExpiredCodeException"): (
        "code",
        "That code has expired. Ask for a new one and try again.",
    ),
    ("*", "UserNotFoundException"): ("email", "There is no account with this e-mail address."),
    ("*", "TooManyRequestsException"): (
        "form",
        "Too many attempts in a short time. Wait a minute and try again.",
    ),
    ("*", "LimitExceededException"): (
        "form",
        "Too many attempts in a short time. Wait a few minutes and try again.",
    ),
    ("*", "TooManyFailedAttemptsException"): (
        "form",
        "Too many failed attempts. Wait a few minutes and try again.",
    ),
    ("*", "InvalidParameterException"): ("email", "Check the e-mail address and try again."),
}


def auth_error(operation: str, error: Exception) -> AuthError:
    """The user-facing AuthError for a boto3 error raised by `operation`."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        found = _MESSAGES.get((operation, code)) or _MESSAGES.get(("*", code))
        if found:
            return AuthError(*found, code=code)
        return AuthError("form", "Something went wrong. Try again in a moment.", code=code)
    return AuthError("form", UNREACHABLE, code=type(error).__name__)


class CognitoClient:
    """The user pool's public operations for one app client."""

    def __init__(self, settings: Settings) -> None:
        self.client_id = settings.app_client_id
        self._client = boto3.session.Session().client(
            "cognito-idp",
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            config=Config(
                signature_version=botocore.UNSIGNED,
                connect_timeout=3,
                read_timeout=10,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def _call(self, operation: str, method: str, **params):
        try:
            return getattr(self._client, method)(**params)
        except (ClientError, BotoCoreError) as error:
            raise auth_error(operation, error) from error

    def sign_up(self, email: str, password: str) -> bool:
        """Registers the user; True when a confirmation code was sent (not yet confirmed)."""
        response = self._call(
            "sign_up",
            "sign_up",
            ClientId=self.client_id,
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        return not response.get("UserConfirmed", False)

    def confirm_sign_up(self, email: str, code: str) -> None:
        self._call(
            "confirm", "confirm_sign_up", ClientId=self.client_id, Username=email,
            ConfirmationCode=code,
        )  # fmt: skip

    def resend_code(self, email: str) -> None:
        self._call("resend", "resend_confirmation_code", ClientId=self.client_id, Username=email)

    def sign_in(self, email: str, password: str) -> Tokens:
        response = self._call(
            "sign_in",
            "initiate_auth",
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        if "AuthenticationResult" not in response:
            # A challenge (MFA, new password) this app does not offer.
            raise AuthError(
                "form",
                "This account needs a sign-in step the web app does not support yet.",
                code=response.get("ChallengeName", ""),
            )
        return _tokens(response["AuthenticationResult"])

    def refresh(self, refresh_token: str) -> Tokens:
        response = self._call(
            "refresh",
            "initiate_auth",
            ClientId=self.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
        return _tokens(response["AuthenticationResult"], refresh_token)

    def forgot_password(self, email: str) -> None:
        self._call("forgot", "forgot_password", ClientId=self.client_id, Username=email)

    def confirm_forgot_password(self, email: str, code: str, password: str) -> None:
        self._call(
            "reset",
            "confirm_forgot_password",
            ClientId=self.client_id,
            Username=email,
            ConfirmationCode=code,
            Password=password,
        )

    def global_sign_out(self, access_token: str) -> None:
        """Revokes every refresh token of the user (all devices)."""
        self._call("sign_out", "global_sign_out", AccessToken=access_token)


def _tokens(result: dict, refresh_token: str | None = None) -> Tokens:
    return Tokens(
        access_token=result["AccessToken"],
        id_token=result.get("IdToken", ""),
        # REFRESH_TOKEN_AUTH returns no new refresh token unless rotation is on.
        refresh_token=result.get("RefreshToken") or refresh_token or "",
        expires_at=time.time() + int(result.get("ExpiresIn", 3600)),
    )
