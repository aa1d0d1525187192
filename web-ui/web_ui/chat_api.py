"""The chat API's client (async httpx): the Server-Sent Events stream, history, feedback and
the user's usage.

Throttling (429), an unavailable dependency (503) and network failures before the stream
starts are retried with exponential backoff, honouring `Retry-After`. Once the first event has
arrived nothing is retried: the API does not store a turn that failed, so the user can send the
message again. A 429 for the user's own limits (`rate_limited`, `quota_exceeded`) is not
retried at all: it is raised at once with its `Retry-After`, and the app waits that long.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from httpx_sse import EventSource

from chatbot_common.wire import LIMIT_CODES

from .settings import Settings

RETRY_STATUSES = (429, 503)
BACKOFF_BASE_SECONDS = 0.5
MAX_RETRY_WAIT_SECONDS = 10.0
# Connection failures that happen before the request reached the API: safe to send again.
RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

FRIENDLY_MESSAGES = {
    "model_throttled": "The assistant is busy right now. Wait a moment and try again.",
    "model_unavailable": "The assistant is unavailable right now. Try again in a moment.",
    "model_timeout": "The assistant took too long to answer. Try again.",
    "model_error": "The assistant could not answer this message. Try again or rephrase it.",
    "storage_unavailable": "Your history cannot be reached right now. Try again in a moment.",
    "feedback_unavailable": "Your rating could not be saved right now. Try again in a moment.",
    "not_found": "This conversation no longer exists.",
    # A refused chat message gets a sentence with the limit and the wait (usage.py); these are
    # for the other calls.
    "rate_limited": "You are using the chat very quickly. Wait a minute and try again.",
    "quota_exceeded": "You have used today's allowance. Try again tomorrow.",
    "invalid_token": "Your session has ended. Sign in again.",
    "network": "The chat service cannot be reached. Check your connection and try again.",
    "timeout": "The chat service took too long to answer. Try again.",
}


class ApiError(Exception):
    """A failed call: the API's error code and a sentence for the user."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 0,
        request_id: str = "",
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        # Seconds the server asked the client to wait (its Retry-After), when it gave them.
        self.retry_after = retry_after

    @property
    def is_limit(self) -> bool:
        return self.code in LIMIT_CODES

    @property
    def user_message(self) -> str:
        return FRIENDLY_MESSAGES.get(self.code, self.message or "Something went wrong.")


def retry_wait(attempt: int, retry_after: str | None) -> float:
    """Seconds to wait before attempt `attempt + 1`: the server's Retry-After when it gives
    one (in seconds), else exponential backoff with full jitter; never more than the cap."""
    seconds = retry_after_seconds(retry_after)
    if seconds is not None:
        return min(float(seconds), MAX_RETRY_WAIT_SECONDS)
    ceiling = min(BACKOFF_BASE_SECONDS * 2**attempt, MAX_RETRY_WAIT_SECONDS)
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


def retry_after_seconds(value: str | None) -> int | None:
    """Retry-After in seconds (the API sends an integer); None when absent or not a number."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


async def _error_from_response(response: httpx.Response) -> ApiError:
    await response.aread()
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    try:
        error = response.json()["error"]
        return ApiError(
            error.get("code", "http_error"),
            error.get("message", ""),
            status=response.status_code,
            request_id=error.get("request_id", ""),
            retry_after=retry_after,
        )
    except (ValueError, KeyError, TypeError):
        return ApiError(
            "http_error",
            f"HTTP {response.status_code}",
            status=response.status_code,
            retry_after=retry_after,
        )


async def _limit_error(response: httpx.Response) -> ApiError | None:
    """The refusal, when a 429 is about the user's own limits (not retried)."""
    if response.status_code != 429:
        return None
    error = await _error_from_response(response)
    return error if error.is_limit else None


Sleep = Callable[[float], Awaitable[None]]


class ChatApi:
    """One user's calls to the chat API; `token` is the Cognito access token."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = settings.chat_api_url + "/api/v1"
        self.max_attempts = settings.api_max_attempts
        self.timeout = httpx.Timeout(settings.api_timeout_seconds, connect=5.0)
        self._transport = transport
        self._sleep = sleep

    def _client(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.timeout,
            transport=self._transport,
            # The API is reached directly (a private network in AWS, loopback locally).
            trust_env=False,
        )

    async def _request(self, token: str, method: str, path: str, **kwargs) -> httpx.Response:
        """A JSON call with the retry policy; raises ApiError on any failure."""
        async with self._client(token) as client:
            for attempt in range(self.max_attempts):
                last = attempt == self.max_attempts - 1
                try:
                    response = await client.request(method, path, **kwargs)
                except RETRY_ERRORS as error:
                    if last:
                        raise ApiError("network", str(error)) from error
                    await self._sleep(retry_wait(attempt, None))
                    continue
                except httpx.TimeoutException as error:
                    raise ApiError("timeout", str(error)) from error
                except httpx.HTTPError as error:
                    raise ApiError("network", str(error)) from error
                if limit := await _limit_error(response):
                    raise limit
                if response.status_code in RETRY_STATUSES and not last:
                    await self._sleep(retry_wait(attempt, response.headers.get("Retry-After")))
                    continue
                if response.status_code >= 400:
                    raise await _error_from_response(response)
                return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def stream_chat(
        self, token: str, message: str, conversation_id: str | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yields (event, data) pairs: `meta`, then `delta`s, then `done` or `error`."""
        body: dict[str, Any] = {"message": message}
        if conversation_id:
            body["conversation_id"] = conversation_id
        async with self._client(token) as client:
            for attempt in range(self.max_attempts):
                last = attempt == self.max_attempts - 1
                try:
                    async with client.stream(
                        "POST",
                        "/chat/stream",
                        json=body,
                        headers={"Accept": "text/event-stream"},
                    ) as response:
                        if limit := await _limit_error(response):
                            raise limit
                        if response.status_code in RETRY_STATUSES and not last:
                            wait = retry_wait(attempt, response.headers.get("Retry-After"))
                            await response.aclose()
                            await self._sleep(wait)
                            continue
                        if response.status_code >= 400:
                            raise await _error_from_response(response)
                        async for event in EventSource(response).aiter_sse():
                            yield event.event, json.loads(event.data) if event.data else {}
                        return
                except RETRY_ERRORS as error:
                    if last:
                        raise ApiError("network", str(error)) from error
                    await self._sleep(retry_wait(attempt, None))
                except httpx.TimeoutException as error:
                    raise ApiError("timeout", str(error)) from error
                except httpx.HTTPError as error:
                    raise ApiError("network", str(error)) from error

    async def get_usage(self, token: str) -> dict[str, Any]:
        """The caller's limits, what is used and when it resets (`GET /usage`)."""
        response = await self._request(token, "GET", "/usage")
        return response.json()

    async def get_moods(self, token: str, days: int) -> dict[str, Any]:
        """The caller's emotions per day (`GET /me/moods`); ApiError `mood_timeline_off` (409)
        when the user turned the timeline off."""
        response = await self._request(token, "GET", "/me/moods", params={"days": days})
        return response.json()

    async def get_emotion_trajectory(self, token: str, conversation_id: str) -> dict[str, Any]:
        """A conversation's title and `emotion_trajectory` (one message page of one, since only
        the trajectory is wanted)."""
        response = await self._request(
            token, "GET", f"/conversations/{conversation_id}", params={"limit": 1}
        )
        body = response.json()
        return {"title": body.get("title"), "trajectory": body.get("emotion_trajectory")}

    async def update_settings(self, token: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Changes the caller's settings (`PATCH /me/settings`); returns all of them."""
        response = await self._request(token, "PATCH", "/me/settings", json=changes)
        return response.json()

    async def list_conversations(self, token: str, limit: int = 50) -> list[dict[str, Any]]:
        response = await self._request(token, "GET", "/conversations", params={"limit": limit})
        return response.json()["conversations"]

    async def get_conversation(self, token: str, conversation_id: str) -> dict[str, Any]:
        response = await self._request(token, "GET", f"/conversations/{conversation_id}")
        return response.json()

    async def delete_conversation(self, token: str, conversation_id: str) -> None:
        await self._request(token, "DELETE", f"/conversations/{conversation_id}")

    async def send_feedback(
        self,
        token: str,
        conversation_id: str,
        message_id: str,
        rating: str,
        comment: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "conversation_id": conversation_id,
            "message_id": message_id,
            "rating": rating,
        }
        if comment:
            body["comment"] = comment
        response = await self._request(token, "POST", "/feedback", json=body)
        return response.json().get("feedback_id", "")
