"""Cognito user-pool calls (boto3 `cognito-idp`) and their errors as plain sentences.

Every call here is one of the pool's public operations (sign-up, confirm, initiate auth,
forgot password, MFA, global sign-out), which Cognito accepts unsigned: the web app needs no
AWS credentials of its own to sign people in.

The web app's app client is confidential: when a client secret is configured, every call that
names a user carries its SECRET_HASH. Every call Cognito's threat protection scores carries the
user's UserContextData (the browser's address and, when the page collected it, its encoded
device data), so risk decisions see the person and not the web app's own address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
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


@dataclass(frozen=True)
class MfaChallenge:
    """Sign-in needs the code of the user's authenticator app (SOFTWARE_TOKEN_MFA)."""

    session: str
    username: str  # the name Cognito wants in the challenge's answer


@dataclass(frozen=True)
class UserContext:
    """Who is behind a request, for Cognito's threat protection (UserContextData)."""

    ip_address: str = ""
    encoded_data: str = ""  # from Amazon's advanced-security script in the browser, if any

    def as_parameter(self) -> dict[str, str]:
        data = {}
        if self.ip_address:
            data["IpAddress"] = self.ip_address
        if self.encoded_data:
            data["EncodedData"] = self.encoded_data
        return data


def secret_hash(client_secret: str, client_id: str, username: str) -> str:
    """Cognito's SECRET_HASH: Base64(HMAC-SHA256(key=client secret, username + client id))."""
    digest = hmac.new(
        client_secret.encode(), (username + client_id).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def token_username(access_token: str) -> str:
    """The `username` claim of a Cognito access token (the pool's internal name for the user),
    read without checking the signature: it only names the user in a SECRET_HASH; Cognito
    itself checks the token it issued."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    username = claims.get("username") if isinstance(claims, dict) else None
    return username if isinstance(username, str) else ""


def otpauth_uri(secret: str, account: str, issuer: str = "Emotion-aware chat") -> str:
    """The otpauth:// URI that authenticator apps read (also what a QR code would carry)."""
    label = urllib.parse.quote(f"{issuer}:{account}")
    query = urllib.parse.urlencode({"secret": secret, "issuer": issuer})
    return f"otpauth://totp/{label}?{query}"


WRONG_CREDENTIALS = "The e-mail address or the password is not right."
UNREACHABLE = "The sign-in service cannot be reached right now. Try again in a moment."
WRONG_CODE = "That code is not right. Check the e-mail and try again."
WRONG_MFA_CODE = "That code is not right. Enter the current code from your authenticator app."

# (operation or "*", Cognito error code) -> (field, sentence). No sentence says whether an
# account exists: sign-up, reset and resend answer an unknown or a known address alike (see
# the state), and a code for an address without an account is simply "not right".
_MESSAGES = {
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
    ("sign_in_mfa", "CodeMismatchException"): ("code", WRONG_MFA_CODE),
    ("sign_in_mfa", "NotAuthorizedException"): (
        "form",
        "The sign-in took too long. Enter your password again.",
    ),
    ("verify_totp", "CodeMismatchException"): ("code", WRONG_MFA_CODE),
    ("verify_totp", "EnableSoftwareTokenMFAException"): ("code", WRONG_MFA_CODE),
    ("*", "CodeMismatchException"): ("code", WRONG_CODE),
    ("confirm", "UserNotFoundException"): ("code", WRONG_CODE),
    ("confirm", "NotAuthorizedException"): ("code", WRONG_CODE),
    ("reset", "UserNotFoundException"): ("code", WRONG_CODE),
    # Cognito answers CodeMismatch for an address without an account; moto ResourceNotFound.
    ("reset", "ResourceNotFoundException"): ("code", WRONG_CODE),
    ("*", "ExpiredCodeException"): (
        "code",
        "That code has expired. Ask for a new one and try again.",
    ),
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


# Refusals that would tell a visitor whether an address has an account: the operation answers
# as it does for any address (Cognito's PreventUserExistenceErrors does the same for sign-in,
# reset and resend, but sign-up still reports an existing address).
_ACCOUNT_EXISTENCE_CODES = {
    "sign_up": {"UsernameExistsException"},
    "forgot": {"UserNotFoundException"},
    "resend": {"UserNotFoundException", "InvalidParameterException"},
}


class CognitoClient:
    """The user pool's public operations for one app client (public or confidential)."""

    def __init__(self, settings: Settings) -> None:
        self.client_id = settings.app_client_id
        self._client_secret = settings.app_client_secret
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

    def _hash(self, username: str) -> str | None:
        if not self._client_secret:
            return None
        return secret_hash(self._client_secret, self.client_id, username)

    def _user_params(self, username: str, context: UserContext | None) -> dict:
        """ClientId, Username, SecretHash and UserContextData of a call naming a user."""
        params = {"ClientId": self.client_id, "Username": username}
        if (hashed := self._hash(username)) is not None:
            params["SecretHash"] = hashed
        if context is not None and context.as_parameter():
            params["UserContextData"] = context.as_parameter()
        return params

    def _auth_params(self, username: str, **values: str) -> dict[str, str]:
        """AuthParameters / ChallengeResponses with the SECRET_HASH when there is a secret."""
        params = dict(values)
        if (hashed := self._hash(username)) is not None:
            params["SECRET_HASH"] = hashed
        return params

    @staticmethod
    def _context(context: UserContext | None) -> dict:
        if context is None or not context.as_parameter():
            return {}
        return {"UserContextData": context.as_parameter()}

    def _neutral(self, operation: str, method: str, **params) -> dict | None:
        """A call whose "account exists" / "no such account" refusal is answered as success."""
        try:
            return self._call(operation, method, **params)
        except AuthError as error:
            if error.code in _ACCOUNT_EXISTENCE_CODES.get(operation, ()):
                return None
            raise

    def sign_up(self, email: str, password: str, context: UserContext | None = None) -> bool:
        """Registers the user; True when a confirmation code is expected (not yet confirmed).

        An address that already has an account gets the same answer as a new one."""
        response = self._neutral(
            "sign_up",
            "sign_up",
            **self._user_params(email, context),
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        return response is None or not response.get("UserConfirmed", False)

    def confirm_sign_up(self, email: str, code: str, context: UserContext | None = None) -> None:
        self._call(
            "confirm", "confirm_sign_up", **self._user_params(email, context),
            ConfirmationCode=code,
        )  # fmt: skip

    def resend_code(self, email: str, context: UserContext | None = None) -> None:
        self._neutral("resend", "resend_confirmation_code", **self._user_params(email, context))

    def sign_in(
        self, email: str, password: str, context: UserContext | None = None
    ) -> Tokens | MfaChallenge:
        response = self._call(
            "sign_in",
            "initiate_auth",
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters=self._auth_params(email, USERNAME=email, PASSWORD=password),
            **self._context(context),
        )
        if "AuthenticationResult" in response:
            return _tokens(response["AuthenticationResult"])
        if response.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
            parameters = response.get("ChallengeParameters") or {}
            return MfaChallenge(
                session=response["Session"],
                # Cognito names the user by its internal username here when it knows one.
                username=parameters.get("USER_ID_FOR_SRP") or parameters.get("USERNAME") or email,
            )
        # Another challenge (SMS, new password) this app does not offer.
        raise AuthError(
            "form",
            "This account needs a sign-in step the web app does not support.",
            code=response.get("ChallengeName", ""),
        )

    def answer_mfa(
        self, challenge: MfaChallenge, code: str, context: UserContext | None = None
    ) -> Tokens:
        """Completes a SOFTWARE_TOKEN_MFA sign-in with the authenticator app's code."""
        response = self._call(
            "sign_in_mfa",
            "respond_to_auth_challenge",
            ClientId=self.client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge.session,
            ChallengeResponses=self._auth_params(
                challenge.username,
                USERNAME=challenge.username,
                SOFTWARE_TOKEN_MFA_CODE=code,
            ),
            **self._context(context),
        )
        if "AuthenticationResult" not in response:
            raise AuthError(
                "form",
                "This account needs a sign-in step the web app does not support.",
                code=response.get("ChallengeName", ""),
            )
        return _tokens(response["AuthenticationResult"])

    def refresh(self, refresh_token: str, *usernames: str) -> Tokens:
        """REFRESH_TOKEN_AUTH. With a client secret, the hash is over the user's name: AWS
        takes the pool's internal username (the access token's `username` claim), the local
        endpoint the name used at sign-in; the first of `usernames` that Cognito accepts wins.
        """
        candidates = [name for name in dict.fromkeys(usernames) if name] or [""]
        if not self._client_secret:
            candidates = candidates[:1]
        for index, username in enumerate(candidates):
            parameters = {"REFRESH_TOKEN": refresh_token}
            if self._client_secret:
                parameters = self._auth_params(username, **parameters)
            try:
                response = self._call(
                    "refresh",
                    "initiate_auth",
                    ClientId=self.client_id,
                    AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters=parameters,
                )
            except AuthError as error:
                if error.code != "NotAuthorizedException" or index == len(candidates) - 1:
                    raise
                continue
            return _tokens(response["AuthenticationResult"], refresh_token)
        raise AssertionError("unreachable")  # pragma: no cover

    def forgot_password(self, email: str, context: UserContext | None = None) -> None:
        self._neutral("forgot", "forgot_password", **self._user_params(email, context))

    def confirm_forgot_password(
        self, email: str, code: str, password: str, context: UserContext | None = None
    ) -> None:
        self._call(
            "reset",
            "confirm_forgot_password",
            **self._user_params(email, context),
            ConfirmationCode=code,
            Password=password,
        )

    def global_sign_out(self, access_token: str) -> None:
        """Revokes every refresh token of the user (all devices)."""
        self._call("sign_out", "global_sign_out", AccessToken=access_token)

    # --- TOTP (authenticator app) enrolment, with the signed-in user's access token ----------

    def totp_enabled(self, access_token: str) -> bool:
        user = self._call("mfa_status", "get_user", AccessToken=access_token)
        return "SOFTWARE_TOKEN_MFA" in (user.get("UserMFASettingList") or [])

    def start_totp(self, access_token: str) -> str:
        """A new TOTP secret for the user (Base32), not active until verified."""
        response = self._call("start_totp", "associate_software_token", AccessToken=access_token)
        return response["SecretCode"]

    def verify_totp(self, access_token: str, code: str) -> None:
        """Checks the app's first code, then makes TOTP the user's sign-in step."""
        response = self._call(
            "verify_totp",
            "verify_software_token",
            AccessToken=access_token,
            UserCode=code,
            FriendlyDeviceName="Authenticator app",
        )
        if response.get("Status") != "SUCCESS":
            raise AuthError("code", WRONG_MFA_CODE, code="EnableSoftwareTokenMFAException")
        self.set_totp(access_token, enabled=True)

    def set_totp(self, access_token: str, *, enabled: bool) -> None:
        self._call(
            "set_totp",
            "set_user_mfa_preference",
            AccessToken=access_token,
            SoftwareTokenMfaSettings={"Enabled": enabled, "PreferredMfa": enabled},
        )


def _tokens(result: dict, refresh_token: str | None = None) -> Tokens:
    return Tokens(
        access_token=result["AccessToken"],
        id_token=result.get("IdToken", ""),
        # REFRESH_TOKEN_AUTH returns no new refresh token unless rotation is on.
        refresh_token=result.get("RefreshToken") or refresh_token or "",
        expires_at=time.time() + int(result.get("ExpiresIn", 3600)),
    )
