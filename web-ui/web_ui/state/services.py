"""What every state class shares: the backend's clients (made once per process), the routes,
the end of a session, and the sentence a user sees for an error."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from .. import logs
from ..chat_api import ApiError, ChatApi
from ..cognito import AuthError, CognitoClient
from ..oauth import federation
from ..settings import Settings, SettingsError, load_settings

SIGN_IN_ROUTE = "/signin"
CHAT_ROUTE = "/"
SECURITY_ROUTE = "/security"

log = logs.get("services")


@functools.cache
def settings() -> Settings:
    return load_settings()


@functools.cache
def cognito() -> CognitoClient:
    return CognitoClient(settings())


@functools.cache
def chat_api() -> ChatApi:
    return ChatApi(settings())


def check_settings() -> None:
    """Called when the backend starts: sets up the JSON logs, then a bad configuration stops
    it with one log line."""
    logs.configure()
    try:
        settings()
        federation()
    except SettingsError as error:
        log.error(f"configuration error: {error}")
        # Straight out, without a traceback from the server's lifespan handler.
        os._exit(2)


class SessionExpired(Exception):
    """The user has to sign in again (refresh token revoked or expired)."""


def user_message(error: Exception) -> str:
    """The sentence shown for a failed call (the clients already word their errors). A failed
    chat API call is logged with the API's request id; an error nobody worded, with its
    traceback. A refusal of Cognito's (a wrong password) is the user's to read, not logged."""
    if isinstance(error, ApiError):
        # The user's own limits are expected refusals, not trouble.
        log.log(
            logging.INFO if error.is_limit else logging.WARNING,
            "chat API call failed",
            extra={"code": error.code, "status": error.status, "request_id": error.request_id},
        )
        return error.user_message
    if isinstance(error, AuthError):
        return error.message
    log.error("unexpected error", exc_info=error)
    return "Something went wrong. Try again."


async def cognito_call(call: Callable[..., Any], *args: Any) -> tuple[Any, AuthError | None]:
    """Runs one Cognito call in a thread (boto3 blocks): (result, None), or (None, the refusal)
    for the state to show where it belongs."""
    try:
        return await asyncio.to_thread(call, *args), None
    except AuthError as error:
        return None, error
