"""Calls of the chat API on behalf of the signed-in user, shared by the chat and history
states: the user's access token, one refresh and retry on a 401, and one outcome shape."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from ..chat_api import ApiError
from ..cognito import AuthError
from . import services
from .auth import AuthState
from .services import SessionExpired


@dataclasses.dataclass
class ApiCall:
    """What one call gave: its result, or the error to show, or the end of the session (the
    state then sends the user to the sign-in page)."""

    result: Any = None
    error: ApiError | AuthError | None = None
    session_ended: bool = False

    @property
    def not_found(self) -> bool:
        return isinstance(self.error, ApiError) and self.error.code == "not_found"


async def access_token(state: rx.State, *, force_refresh: bool = False) -> str:
    auth = await state.get_state(AuthState)
    return await auth.access_token(force_refresh=force_refresh)


async def call(state: rx.State, method: str, *args: Any) -> Any:
    """A chat API call (a ChatApi method) with the user's token; one refresh and retry on a 401.
    Raises SessionExpired, ApiError or AuthError."""
    api = services.chat_api()
    try:
        return await getattr(api, method)(await access_token(state), *args)
    except ApiError as error:
        if error.status != 401:
            raise
    return await getattr(api, method)(await access_token(state, force_refresh=True), *args)


async def call_api(state: rx.State, method: str, *args: Any) -> ApiCall:
    """`call`, with its outcome as an ApiCall instead of exceptions."""
    try:
        return ApiCall(result=await call(state, method, *args))
    except SessionExpired:
        return ApiCall(session_ended=True)
    except (ApiError, AuthError) as error:
        return ApiCall(error=error)
