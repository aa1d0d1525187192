"""Unit tests of the chat API client's retry policy and SSE parsing, over httpx's mock
transport (the browser tests use the real API)."""

from __future__ import annotations

import json

import httpx
import pytest
from async_run import run
from settings_env import chat_api_settings

from web_ui.chat_api import (
    MAX_RETRY_WAIT_SECONDS,
    SEARCH_MAX_PAGES,
    ApiError,
    ChatApi,
    Download,
    attachment_filename,
    retry_after_seconds,
    retry_wait,
)

SETTINGS = chat_api_settings("http://api.test")
STREAM = (
    'event: meta\ndata: {"conversation_id": "C", "message_id": "M2", "user_message_id": "M1"}\n\n'
    'event: delta\ndata: {"text": "Hel"}\n\n'
    'event: delta\ndata: {"text": "lo"}\n\n'
    'event: done\ndata: {"stop_reason": "end_turn"}\n\n'
)


def error_body(code: str) -> dict:
    return {"error": {"code": code, "message": code, "request_id": "r1"}}


class Script:
    """Answers requests from a list of responses (or exceptions), recording what it saw."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def api(self) -> ChatApi:
        return ChatApi(SETTINGS, transport=httpx.MockTransport(self.handler), sleep=self.sleep)


def sse(text: str = STREAM) -> httpx.Response:
    return httpx.Response(200, text=text, headers={"Content-Type": "text/event-stream"})


def collect(api: ChatApi, conversation_id: str | None = None) -> list:
    async def consume():
        return [event async for event in api.stream_chat("tok", "hi", conversation_id)]

    return run(consume())


def test_stream_yields_the_events_with_the_bearer_token():
    script = Script(sse())
    events = collect(script.api(), "C0")
    assert [name for name, _ in events] == ["meta", "delta", "delta", "done"]
    assert "".join(d["text"] for name, d in events if name == "delta") == "Hello"
    request = script.requests[0]
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.url.path == "/api/v1/chat/stream"
    assert b'"conversation_id":"C0"' in request.content.replace(b" ", b"")


def test_throttling_is_retried_after_retry_after():
    script = Script(
        httpx.Response(429, json=error_body("model_throttled"), headers={"Retry-After": "3"}),
        sse(),
    )
    assert len(collect(script.api())) == 4
    assert script.sleeps == [3.0]


def test_unavailable_every_time_gives_up_after_the_attempts():
    answers = [httpx.Response(503, json=error_body("model_unavailable")) for _ in range(3)]
    script = Script(*answers)
    with pytest.raises(ApiError) as raised:
        collect(script.api())
    assert raised.value.code == "model_unavailable"
    assert raised.value.user_message.startswith("The assistant is unavailable")
    assert len(script.requests) == 3 and len(script.sleeps) == 2


def test_a_refused_connection_is_retried_then_reported():
    script = Script(*[httpx.ConnectError("refused") for _ in range(3)])
    with pytest.raises(ApiError) as raised:
        collect(script.api())
    assert raised.value.code == "network"
    assert len(script.requests) == 3


def test_a_bad_token_is_not_retried():
    script = Script(httpx.Response(401, json=error_body("invalid_token")))
    with pytest.raises(ApiError) as raised:
        collect(script.api())
    assert raised.value.status == 401
    assert len(script.requests) == 1


def test_a_read_timeout_is_not_retried():
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(ApiError) as raised:
        collect(script.api())
    assert raised.value.code == "timeout"
    assert len(script.requests) == 1


def test_an_error_event_reaches_the_caller():
    script = Script(sse('event: error\ndata: {"code": "model_timeout", "message": "x"}\n\n'))
    assert collect(script.api()) == [("error", {"code": "model_timeout", "message": "x"})]


def test_feedback_is_retried_on_503_and_returns_its_id():
    script = Script(
        httpx.Response(503, json=error_body("feedback_unavailable")),
        httpx.Response(202, json={"feedback_id": "F1", "status": "queued"}),
    )
    feedback_id = run(script.api().send_feedback("tok", "C", "M2", "up", "nice"))
    assert feedback_id == "F1"
    assert len(script.requests) == 2


def test_retry_wait_honours_retry_after_up_to_a_cap():
    assert retry_wait(0, "2") == 2.0
    assert retry_wait(0, "3600") == MAX_RETRY_WAIT_SECONDS
    for attempt in range(6):
        assert 0 <= retry_wait(attempt, None) <= MAX_RETRY_WAIT_SECONDS


def test_a_user_limit_is_not_retried_and_keeps_its_retry_after():
    for code in ("rate_limited", "quota_exceeded"):
        script = Script(
            httpx.Response(429, json=error_body(code), headers={"Retry-After": "42"}), sse()
        )
        with pytest.raises(ApiError) as raised:
            collect(script.api())
        assert (raised.value.code, raised.value.retry_after) == (code, 42)
        assert raised.value.is_limit
        assert len(script.requests) == 1 and script.sleeps == []


def test_a_user_limit_on_a_plain_call_is_not_retried_either():
    script = Script(
        httpx.Response(429, json=error_body("rate_limited"), headers={"Retry-After": "7"}),
        httpx.Response(200, json={"conversations": []}),
    )
    with pytest.raises(ApiError) as raised:
        run(script.api().list_conversations("tok"))
    assert raised.value.retry_after == 7 and len(script.requests) == 1


def test_usage_is_read_with_the_token():
    usage = {"tier": "standard", "limits": {}, "used": {}, "resets": {}}
    script = Script(httpx.Response(200, json=usage))
    assert run(script.api().get_usage("tok")) == usage
    assert script.requests[0].url.path == "/api/v1/usage"
    assert script.requests[0].headers["Authorization"] == "Bearer tok"


def test_retry_after_must_be_ascii_digits():
    assert retry_after_seconds("15") == 15
    for bad in (None, "", "soon", "²", "-1", "1.5", "Wed, 21 Oct 2026 07:28:00 GMT"):
        assert retry_after_seconds(bad) is None


def test_a_limit_on_another_call_reads_as_a_plain_sentence():
    assert ApiError("quota_exceeded", "x", status=429).user_message == (
        "You have used today's allowance. Try again tomorrow."
    )
    assert ApiError("rate_limited", "x", status=429).user_message.startswith("You are using")


def test_a_message_sent_again_carries_its_idempotency_key_on_every_attempt():
    script = Script(httpx.Response(503, json=error_body("model_unavailable")), sse())

    async def consume():
        api = script.api()
        return [e async for e in api.stream_chat("tok", "hi", idempotency_key="k-1")]

    assert len(run(consume())) == 4
    assert [r.headers["Idempotency-Key"] for r in script.requests] == ["k-1", "k-1"]
    without = Script(sse())
    collect(without.api())
    assert "Idempotency-Key" not in without.requests[0].headers


def test_regenerate_and_edit_stream_from_their_routes():
    script = Script(sse(), sse())

    async def consume():
        api = script.api()
        regenerated = [e async for e in api.stream_regenerate("tok", "C1")]
        edited = [e async for e in api.stream_edit("tok", "C1", "M1", "new words")]
        return regenerated, edited

    regenerated, edited = run(consume())
    assert [name for name, _ in regenerated] == ["meta", "delta", "delta", "done"]
    assert [name for name, _ in edited] == ["meta", "delta", "delta", "done"]
    regenerate, edit = script.requests
    assert (regenerate.method, regenerate.url.path) == (
        "POST",
        "/api/v1/conversations/C1/regenerate",
    )
    assert regenerate.content == b""  # the route takes no body
    assert edit.url.path == "/api/v1/conversations/C1/edit"
    assert json.loads(edit.content) == {"message_id": "M1", "message": "new words"}


def test_edit_of_an_earlier_message_is_refused_with_the_api_sentence():
    body = {
        "error": {
            "code": "not_last_message",
            "message": "Only the last message can be edited.",
            "request_id": "r",
        }
    }
    script = Script(httpx.Response(409, json=body))

    async def consume():
        return [e async for e in script.api().stream_edit("tok", "C1", "M0", "x")]

    with pytest.raises(ApiError) as raised:
        run(consume())
    assert raised.value.code == "not_last_message"
    assert raised.value.user_message == "Only the last message can be edited."
    assert len(script.requests) == 1


def test_search_follows_the_cursor_until_the_results_are_complete():
    script = Script(
        httpx.Response(200, json={"conversations": [], "next_cursor": "c1"}),
        httpx.Response(
            200, json={"conversations": [{"conversation_id": "A"}], "next_cursor": None}
        ),
    )
    found = run(script.api().search_conversations("tok", "café", limit=10))
    assert [c["conversation_id"] for c in found] == ["A"]
    first, second = script.requests
    assert first.url.params["q"] == "café" and "cursor" not in first.url.params
    assert second.url.params["cursor"] == "c1"


def test_search_reads_a_bounded_number_of_pages():
    pages = [
        httpx.Response(200, json={"conversations": [], "next_cursor": f"c{n}"})
        for n in range(SEARCH_MAX_PAGES + 2)
    ]
    script = Script(*pages)
    assert run(script.api().search_conversations("tok", "x")) == []
    assert len(script.requests) == SEARCH_MAX_PAGES


def test_rename_patches_the_title():
    script = Script(httpx.Response(200, json={"conversation_id": "C1", "title": "Mine"}))
    assert run(script.api().rename_conversation("tok", "C1", "Mine"))["title"] == "Mine"
    request = script.requests[0]
    assert (request.method, request.url.path) == ("PATCH", "/api/v1/conversations/C1")
    assert json.loads(request.content) == {"title": "Mine"}


def test_an_export_is_a_file_named_by_the_api():
    script = Script(
        httpx.Response(
            200,
            content=b"# Title\n",
            headers={
                "Content-Type": "text/markdown; charset=utf-8",
                "Content-Disposition": 'attachment; filename="conversation-C1.md"',
            },
        )
    )
    download = run(script.api().export_conversation("tok", "C1", "markdown"))
    assert download == Download("conversation-C1.md", "text/markdown; charset=utf-8", b"# Title\n")
    assert script.requests[0].url.params["format"] == "markdown"


def test_the_whole_account_is_exported_and_deleted_at_its_routes():
    script = Script(
        httpx.Response(200, json={"user": {}}, headers={"Content-Disposition": "attachment"}),
        httpx.Response(503, json=error_body("storage_unavailable")),
        httpx.Response(204),
    )
    api = script.api()
    download = run(api.export_account("tok"))
    assert download.filename == "my-chat-data.json"  # the header named none
    run(api.delete_account("tok"))  # a 503 is retried: the deletion is idempotent
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("GET", "/api/v1/me/export"),
        ("DELETE", "/api/v1/me"),
        ("DELETE", "/api/v1/me"),
    ]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="conversation-01J.json"', "conversation-01J.json"),
        ('attachment; filename="../../etc/passwd"', "etc-passwd"),
        ('attachment; filename="a b\\"c.md"', "a-b"),  # stops at the quote
        ("attachment", "fallback.json"),
        ('attachment; filename="..."', "fallback.json"),
    ],
)
def test_a_download_name_keeps_only_safe_characters(header, name):
    assert attachment_filename(header, "fallback.json") == name
