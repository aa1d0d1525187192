"""The chat API's client (async httpx): the Server-Sent Events streams (a message, a
regenerated or edited reply), history (list, search, rename, delete), exports, feedback, the
user's usage and the deletion of the account.

Throttling (429), an unavailable dependency (503) and network failures before the stream
starts are retried with exponential backoff, honouring `Retry-After`. Once the first event has
arrived nothing is retried: the API does not store a turn that failed, so the user can send the
message again. A 429 for the user's own limits (`rate_limited`, `quota_exceeded`) is not
retried at all: it is raised at once with its `Retry-After`, and the app waits that long.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from httpx_sse import EventSource

from chatbot_common.wire import LIMIT_CODES

from .settings import Settings

RETRY_STATUSES = (429, 503)
IDEMPOTENCY_HEADER = "Idempotency-Key"
# A search follows the API's cursor (a page can hold few results, or none) this many pages at
# most: each page examines a bounded share of the user's history (docs/chat-api.md).
SEARCH_MAX_PAGES = 5
# A download's file name is used as given only in this alphabet; anything else is replaced.
FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
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
    "idempotency_key_in_use": "Your message was stored by an earlier attempt. Press Retry to "
    "see the reply.",
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


@dataclasses.dataclass(frozen=True)
class Download:
    """A file the API handed out: its name (from Content-Disposition), type and bytes."""

    filename: str
    media_type: str
    content: bytes


def attachment_filename(content_disposition: str, fallback: str) -> str:
    """The file name of a `Content-Disposition: attachment; filename="..."` header, reduced to
    letters, digits, dots, dashes and underscores (no path, no quoting tricks)."""
    match = re.search(r'filename="?([^";]+)"?', content_disposition or "")
    name = FILENAME_UNSAFE.sub("-", match.group(1)).strip(".-") if match else ""
    return name or fallback


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
        self,
        token: str,
        message: str,
        conversation_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yields (event, data) pairs: `meta`, then `delta`s, then `done` or `error`. With an
        `idempotency_key` (the same on every retry of one message) the API stores the turn
        once, however often it is sent."""
        body: dict[str, Any] = {"message": message}
        if conversation_id:
            body["conversation_id"] = conversation_id
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        async for event in self._stream(token, "/chat/stream", body, headers):
            yield event

    async def stream_regenerate(
        self, token: str, conversation_id: str
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A new reply to the conversation's last user message, replacing the last reply once
        it is complete; the events of `stream_chat`."""
        async for event in self._stream(token, f"/conversations/{conversation_id}/regenerate"):
            yield event

    async def stream_edit(
        self, token: str, conversation_id: str, message_id: str, message: str
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The last user message replaced by `message`, and a new reply to it; the events of
        `stream_chat`."""
        body = {"message_id": message_id, "message": message}
        async for event in self._stream(token, f"/conversations/{conversation_id}/edit", body):
            yield event

    async def _stream(
        self,
        token: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A POST answered with Server-Sent Events, with the retry policy of the module."""
        async with self._client(token) as client:
            for attempt in range(self.max_attempts):
                last = attempt == self.max_attempts - 1
                try:
                    async with client.stream(
                        "POST",
                        path,
                        json=body,
                        headers={"Accept": "text/event-stream", **(headers or {})},
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

    async def list_conversations(self, token: str, limit: int = 50) -> list[dict[str, Any]]:
        response = await self._request(token, "GET", "/conversations", params={"limit": limit})
        return response.json()["conversations"]

    async def search_conversations(
        self, token: str, query: str, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The conversations whose title or messages contain `query` (`GET /conversations?q=`),
        most recently active first, each with its `match`; follows `next_cursor` until `limit`
        results or SEARCH_MAX_PAGES pages."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"q": query, "limit": limit}
        for _ in range(SEARCH_MAX_PAGES):
            page = (await self._request(token, "GET", "/conversations", params=params)).json()
            found.extend(page["conversations"])
            if len(found) >= limit or not page.get("next_cursor"):
                break
            params["cursor"] = page["next_cursor"]
        return found[:limit]

    async def rename_conversation(
        self, token: str, conversation_id: str, title: str
    ) -> dict[str, Any]:
        """The conversation's new title (`PATCH /conversations/{id}`); returns its summary."""
        response = await self._request(
            token, "PATCH", f"/conversations/{conversation_id}", json={"title": title}
        )
        return response.json()

    async def get_conversation(self, token: str, conversation_id: str) -> dict[str, Any]:
        response = await self._request(token, "GET", f"/conversations/{conversation_id}")
        return response.json()

    async def delete_conversation(self, token: str, conversation_id: str) -> None:
        await self._request(token, "DELETE", f"/conversations/{conversation_id}")

    async def export_conversation(
        self, token: str, conversation_id: str, export_format: str
    ) -> Download:
        """One conversation as a file: `markdown` or `json`."""
        return await self._download(
            token,
            f"/conversations/{conversation_id}/export",
            {"format": export_format},
            f"conversation.{'md' if export_format == 'markdown' else 'json'}",
        )

    async def export_account(self, token: str) -> Download:
        """Everything stored about the caller, as one JSON file (`GET /me/export`)."""
        return await self._download(token, "/me/export", {}, "my-chat-data.json")

    async def _download(
        self, token: str, path: str, params: dict[str, str], fallback: str
    ) -> Download:
        response = await self._request(token, "GET", path, params=params)
        return Download(
            filename=attachment_filename(response.headers.get("Content-Disposition", ""), fallback),
            media_type=response.headers.get("Content-Type", "application/octet-stream"),
            content=response.content,
        )

    async def delete_account(self, token: str) -> None:
        """Deletes the caller's data and Cognito user (`DELETE /me`); safe to call again."""
        await self._request(token, "DELETE", "/me")

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
