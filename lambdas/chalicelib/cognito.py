"""The Cognito user pool triggers: pre sign-up, post confirmation, pre token generation.

Every trigger fails closed: when it cannot do its job it raises, and Cognito refuses the
operation. Cognito shows the exception's message to the user ("PreSignUp failed with error
<message>."), so messages are short, say what to do, and never carry internals; the details
go to the log instead, without e-mail addresses.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbot_common.environments import SettingsError

from . import aws, logs
from .settings import ProfileSettings, SignUpSettings, normalise_domain

log = logs.get("cognito")

MAX_EMAIL_LENGTH = 254
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")

# What the user reads when the trigger itself is broken (configuration, DynamoDB, Cognito).
UNAVAILABLE = "Sign-up is temporarily unavailable. Please try again later."
SETUP_FAILED = "Your account could not be set up. Please try again in a minute."
SIGN_IN_FAILED = "Signing in is temporarily unavailable. Please try again later."


class TriggerRejected(Exception):
    """The trigger refuses the operation; the message is shown to the user as it is."""


class InvalidEvent(TriggerRejected):
    """The event is not the shape Cognito sends for this trigger."""


# --- events ------------------------------------------------------------------------------------
# Only the fields the triggers read are declared; Cognito may add others (extra="allow").


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: str
    region: str
    user_pool_id: str = Field(alias="userPoolId", min_length=1)
    user_name: str = Field(alias="userName", min_length=1)
    caller_context: dict[str, Any] = Field(default_factory=dict, alias="callerContext")
    response: dict[str, Any] = Field(default_factory=dict)


class _UserRequest(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    user_attributes: dict[str, str] = Field(alias="userAttributes")


class PreSignUpEvent(_Event):
    trigger_source: Literal[
        "PreSignUp_SignUp", "PreSignUp_AdminCreateUser", "PreSignUp_ExternalProvider"
    ] = Field(alias="triggerSource")
    request: _UserRequest


class PostConfirmationEvent(_Event):
    trigger_source: Literal[
        "PostConfirmation_ConfirmSignUp", "PostConfirmation_ConfirmForgotPassword"
    ] = Field(alias="triggerSource")
    request: _UserRequest


class _TokenRequest(_UserRequest):
    group_configuration: dict[str, Any] = Field(default_factory=dict, alias="groupConfiguration")


class PreTokenGenerationEvent(_Event):
    trigger_source: Literal[
        "TokenGeneration_HostedAuth",
        "TokenGeneration_Authentication",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
        "TokenGeneration_RefreshTokens",
    ] = Field(alias="triggerSource")
    request: _TokenRequest


def _parse(model: type[_Event], event: Any) -> _Event:
    try:
        return model.model_validate(event)
    except ValidationError as error:
        # Locations and error types only: the input values may hold an e-mail address.
        problems = [
            {"loc": ".".join(str(part) for part in item["loc"]), "type": item["type"]}
            for item in error.errors()
        ]
        log.error("invalid trigger event", extra={"trigger": model.__name__, "errors": problems})
        raise InvalidEvent("The request could not be processed.") from None


# --- e-mail ------------------------------------------------------------------------------------


def normalise_email(raw: str) -> str:
    """The canonical form of an address: trimmed, NFC, lower case, ASCII (IDNA) domain.

    Raises ValueError for anything that is not one plausible mailbox address.
    """
    address = unicodedata.normalize("NFC", raw.strip()).lower()
    if not address or len(address) > MAX_EMAIL_LENGTH or address.count("@") != 1:
        raise ValueError("not an e-mail address")
    local, domain = address.split("@")
    domain = normalise_domain(domain)
    if not _LOCAL_PART.match(local) or ".." in local or local[0] == "." or local[-1] == ".":
        raise ValueError("unsupported characters before the @")
    if not _DOMAIN.match(domain):
        raise ValueError("not a valid domain")
    return f"{local}@{domain}"


def _matches(domain: str, listed: frozenset[str]) -> bool:
    """The domain or one of its parent domains is on the list."""
    labels = domain.split(".")
    return any(".".join(labels[index:]) in listed for index in range(len(labels) - 1))


def check_sign_up_address(raw: str, settings: SignUpSettings) -> str:
    """The normalised address, or TriggerRejected with the user's message."""
    try:
        address = normalise_email(raw)
    except ValueError:
        raise TriggerRejected("Please enter a valid e-mail address.") from None
    domain = address.rsplit("@", 1)[1]
    if _matches(domain, settings.blocked_domains):
        raise TriggerRejected("Sign-up with an e-mail address at this domain is not allowed.")
    if settings.allowed_domains and not _matches(domain, settings.allowed_domains):
        raise TriggerRejected("Sign-up is limited to e-mail addresses of approved domains.")
    return address


# --- triggers ----------------------------------------------------------------------------------


# The username Cognito gives a user who first signs in through an identity provider:
# "<provider name>_<the provider's subject>", e.g. "Google_1234567890".
_EXTERNAL_USERNAME = re.compile(r"^(?P<provider>[^_\s]+)_(?P<subject>\S+)$")
# Cognito's provider name for the pool's own users.
NATIVE_PROVIDER = "Cognito"


def _is_verified(attributes: dict[str, str]) -> bool:
    return str(attributes.get("email_verified", "")).lower() == "true"


def _native_users_with_email(pool_id: str, email: str) -> list[dict]:
    """The pool's own (not federated) users whose e-mail is `email`."""
    # `email` is normalised: no quote or backslash can reach the filter expression.
    users = aws.cognito().list_users(UserPoolId=pool_id, Filter=f'email = "{email}"', Limit=10)[
        "Users"
    ]
    return [user for user in users if user.get("UserStatus") != "EXTERNAL_PROVIDER"]


def link_federated_user(parsed: PreSignUpEvent, email: str) -> str | None:
    """Link a first federated sign-in to the pool's user with the same verified e-mail.

    Returns the linked user's username, or None when there is nobody to link to (a new
    person) or the provider did not vouch for the address (an unverified e-mail could name
    somebody else's account). The federated identity then signs in as that user: same `sub`,
    same profile, same `tier`, one history.
    """
    identity = _EXTERNAL_USERNAME.match(parsed.user_name)
    if identity is None or not _is_verified(parsed.request.user_attributes):
        return None
    candidates = _native_users_with_email(parsed.user_pool_id, email)
    if not candidates:
        return None
    # A confirmed account wins over one still waiting for its code.
    candidates.sort(key=lambda user: user.get("UserStatus") != "CONFIRMED")
    destination = candidates[0]["Username"]
    aws.cognito().admin_link_provider_for_user(
        UserPoolId=parsed.user_pool_id,
        DestinationUser={"ProviderName": NATIVE_PROVIDER, "ProviderAttributeValue": destination},
        SourceUser={
            "ProviderName": identity["provider"],
            "ProviderAttributeName": "Cognito_Subject",
            "ProviderAttributeValue": identity["subject"],
        },
    )
    return destination


def pre_sign_up(event: dict, settings_source) -> dict:
    """Refuse blocked (or not allowed) domains; auto-confirm where the stage allows it; link a
    federated sign-in to the existing account with the same verified e-mail.

    Cognito does not let this trigger rewrite attributes, so the normalised address decides
    (`User@Blocked.COM.` is blocked like `user@blocked.com`) and is what the profile stores.
    """
    parsed = _parse(PreSignUpEvent, event)
    try:
        settings = settings_source()
    except SettingsError as error:
        log.error("configuration error", extra={"trigger": "pre_sign_up", "error": str(error)})
        raise TriggerRejected(UNAVAILABLE) from None
    email = parsed.request.user_attributes.get("email")
    if not email:
        log.info("sign-up refused", extra={"reason": "no_email", "source": parsed.trigger_source})
        raise TriggerRejected("An e-mail address is required.")
    try:
        check_sign_up_address(email, settings)
    except TriggerRejected:
        log.info(
            "sign-up refused", extra={"reason": "domain_policy", "source": parsed.trigger_source}
        )
        raise
    response = dict(event.get("response") or {})
    if parsed.trigger_source == "PreSignUp_ExternalProvider":
        try:
            linked = link_federated_user(parsed, normalise_email(email))
        except (ClientError, BotoCoreError) as error:
            # Fail closed: a second account would split the person's history.
            log.error(
                "federated link failed",
                extra=aws.error_fields(error),
            )
            raise TriggerRejected(UNAVAILABLE) from None
        log.info(
            "federated sign-up accepted",
            extra={
                "provider": parsed.user_name.split("_", 1)[0],
                "linked": linked is not None,
                "email_verified": _is_verified(parsed.request.user_attributes),
            },
        )
        return {**event, "response": response}
    auto_confirm = settings.auto_confirm and parsed.trigger_source == "PreSignUp_SignUp"
    response["autoConfirmUser"] = auto_confirm
    # A confirmed but unverified address could not receive a password reset.
    response["autoVerifyEmail"] = auto_confirm
    log.info(
        "sign-up accepted",
        extra={"source": parsed.trigger_source, "auto_confirmed": auto_confirm},
    )
    return {**event, "response": response}


def _profile_item(user_id: str, email: str, settings: ProfileSettings) -> dict:
    return {
        "user_id": {"S": user_id},
        "email": {"S": email},
        "tier": {"S": settings.default_tier},
        "created_at": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")},
    }


def provision_user(pool_id: str, username: str, user_id: str, email: str, settings) -> bool:
    """Create the profile (once) and put the user in the default group; True if created now.

    Both steps are idempotent, so Cognito's retries and a later repair are harmless.
    """
    created = True
    try:
        aws.dynamodb().put_item(
            TableName=settings.profiles_table,
            Item=_profile_item(user_id, email, settings),
            ConditionExpression="attribute_not_exists(user_id)",
        )
    except ClientError as error:
        if aws.error_code(error) != "ConditionalCheckFailedException":
            raise
        created = False  # a retry, or a repair of a user whose group step failed
    # Adding a member twice is not an error in Cognito.
    aws.cognito().admin_add_user_to_group(
        UserPoolId=pool_id, Username=username, GroupName=settings.default_group
    )
    return created


def post_confirmation(event: dict, settings_source) -> dict:
    parsed = _parse(PostConfirmationEvent, event)
    if parsed.trigger_source != "PostConfirmation_ConfirmSignUp":
        return event  # a password reset: the profile exists already
    attributes = parsed.request.user_attributes
    user_id = attributes.get("sub")
    try:
        email = normalise_email(attributes.get("email", ""))
    except ValueError:
        email = None
    if not user_id or email is None:
        log.error("confirmed user without sub or valid e-mail", extra={"user_id": user_id})
        raise TriggerRejected(SETUP_FAILED)
    try:
        settings = settings_source()
        created = provision_user(parsed.user_pool_id, parsed.user_name, user_id, email, settings)
    except (SettingsError, ClientError, BotoCoreError) as error:
        log.error(
            "profile setup failed",
            extra={"user_id": user_id, **aws.error_fields(error)},
        )
        raise TriggerRejected(SETUP_FAILED) from None
    log.info("profile ready", extra={"user_id": user_id, "profile_created": created})
    return event


def _load_tier(user_id: str, settings: ProfileSettings) -> str | None:
    item = (
        aws.dynamodb()
        .get_item(
            TableName=settings.profiles_table,
            Key={"user_id": {"S": user_id}},
            ProjectionExpression="tier",
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return None
    return item.get("tier", {}).get("S") or settings.default_tier


def pre_token_generation(event: dict, settings_source) -> dict:
    """Add the `tier` claim (and nothing else from the profile).

    A user without a profile (the post confirmation trigger failed after Cognito confirmed
    them) is set up here first; if that fails too, no token is issued.
    """
    parsed = _parse(PreTokenGenerationEvent, event)
    user_id = parsed.request.user_attributes.get("sub")
    if not user_id:
        raise InvalidEvent("The request could not be processed.")
    group_configuration = parsed.request.group_configuration
    groups = list(group_configuration.get("groupsToOverride") or [])
    repaired = False
    try:
        settings = settings_source()
        tier = _load_tier(user_id, settings)
        if tier is None:
            email = normalise_email(parsed.request.user_attributes.get("email", ""))
            provision_user(parsed.user_pool_id, parsed.user_name, user_id, email, settings)
            log.warning("profile repaired at sign-in", extra={"user_id": user_id})
            tier = settings.default_tier
            repaired = settings.default_group not in groups
    except (SettingsError, ClientError, BotoCoreError, ValueError) as error:
        log.error(
            "token claims unavailable",
            extra={"user_id": user_id, **aws.error_fields(error)},
        )
        raise TriggerRejected(SIGN_IN_FAILED) from None
    claims = {"tier": tier}
    response = dict(event.get("response") or {})
    if parsed.version == "1":
        # Version 1 events customise the ID token only.
        details = {"claimsToAddOrOverride": claims}
    else:
        # Version 2 (and later) can also customise the access token, which the chat API reads.
        details = {
            "idTokenGeneration": {"claimsToAddOrOverride": claims},
            "accessTokenGeneration": {"claimsToAddOrOverride": claims},
        }
    if repaired:
        # Cognito read the groups before the repair added the user to the default one. The
        # override replaces the whole group configuration, so the IAM roles are carried over.
        details["groupOverrideDetails"] = {
            **{key: value for key, value in group_configuration.items() if value is not None},
            "groupsToOverride": [*groups, settings.default_group],
        }
    response[
        "claimsOverrideDetails" if parsed.version == "1" else "claimsAndScopeOverrideDetails"
    ] = details
    log.info(
        "token claims added",
        extra={
            "user_id": user_id,
            "source": parsed.trigger_source,
            "event_version": parsed.version,
        },
    )
    return {**event, "response": response}
