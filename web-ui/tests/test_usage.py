"""The user's limits in the web app: the usage line, the sentence for a refusal, and the state
logic around a 429, with the real chat API client against a small local HTTP server that
answers as the chat API's contract says (the browser tests use the real stack)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from settings_env import chat_api_settings
from state_fixtures import drain, send

from web_ui.chat_api import ChatApi
from web_ui.state import services as state_services
from web_ui.usage import format_wait, limit_message, usage_summary

USAGE = {
    "tier": "standard",
    "limits": {"messages_per_minute": 10, "tokens_per_day": 200000, "concurrent_streams": 2},
    "used": {"messages_this_minute": 3, "tokens_today": 1234, "streams_open": 0},
    "resets": {"minute": "2026-12-01T22:33:00Z", "day": "2026-12-02T00:00:00Z"},
}


def test_the_usage_line():
    assert usage_summary(USAGE) == "3 of 10 messages this minute · 1,234 of 200,000 tokens today"
    assert usage_summary({"limits": {"messages_per_minute": 1}, "used": {}}) == ""
    assert usage_summary({"limits": "odd", "used": None}) == ""


def test_waits_are_rounded_up_in_words():
    assert format_wait(1) == "1 second"
    assert format_wait(0.2) == "1 second"
    assert format_wait(42) == "42 seconds"
    assert format_wait(150) == "3 minutes"
    assert format_wait(3600) == "60 minutes"
    assert format_wait(5 * 3600 + 1) == "6 hours"


def test_a_sentence_for_each_limit():
    assert limit_message("rate_limited", 42, USAGE) == (
        "You have reached your limit of 10 messages a minute; try again in 42 seconds."
    )
    busy = {**USAGE, "used": {**USAGE["used"], "streams_open": 2}}
    assert limit_message("rate_limited", 5, busy) == (
        "You already have 2 replies in progress, the most at one time; try again in 5 seconds."
    )
    assert limit_message("quota_exceeded", 3 * 3600, USAGE) == (
        "You have used today's allowance of 200,000 tokens; try again in 3 hours."
    )
    # Before the usage is known the sentence still says what to do.
    assert limit_message("rate_limited", 30, {}) == (
        "You are sending messages too quickly; try again in 30 seconds."
    )
    assert limit_message("quota_exceeded", 60, {}) == (
        "You have used today's allowance; try again in 60 seconds."
    )


class ContractServer:
    """The chat API's contract for limits on 127.0.0.1: /chat/stream answers a 429 with
    Retry-After and the error code set in `refusal`, or a short stream; /usage the usage."""

    def __init__(self) -> None:
        self.refusal: tuple[str, int] | None = ("rate_limited", 42)
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                server.requests.append(f"GET {self.path}")
                if self.path == "/api/v1/usage":
                    self._json(200, USAGE)
                else:
                    self._json(404, {"error": {"code": "not_found", "message": "no"}})

            def do_POST(self):
                server.requests.append(f"POST {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if server.refusal:
                    code, retry_after = server.refusal
                    body = {"error": {"code": code, "message": "limit", "request_id": "r1"}}
                    self._json(429, body, [("Retry-After", str(retry_after))])
                    return
                stream = (
                    b'event: meta\ndata: {"conversation_id": "C1", "message_id": "M2", '
                    b'"user_message_id": "M1"}\n\n'
                    b'event: delta\ndata: {"text": "Hello"}\n\n'
                    b"event: done\ndata: {}\n\n"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(stream)))
                self.end_headers()
                self.wfile.write(stream)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def sends(self) -> int:
        return sum(1 for request in self.requests if request.startswith("POST"))


@pytest.fixture
def contract(monkeypatch):
    server = ContractServer()
    api = ChatApi(chat_api_settings(server.url))
    monkeypatch.setattr(state_services, "chat_api", lambda: api)
    yield server
    server.stop()


def event_names(events) -> list[str]:
    return [str(getattr(getattr(e, "handler", None), "fn", e)) for e in events if e is not None]


def test_a_rate_limited_message_is_held_back_until_retry_after(signed_in_chat, contract):
    chat = signed_in_chat
    events = send(chat, "hello there")
    assert contract.sends() == 1  # refused once, not retried
    assert chat.messages == []  # nothing was stored, so nothing stays in the conversation
    assert chat.error == "" and not chat.can_retry and not chat.streaming
    assert chat.limit_notice == "You are sending messages too quickly; try again in 42 seconds."
    names = " ".join(event_names(events))
    assert "_set_value" in names  # the words go back into the input
    assert "load_usage" in names

    drain(chat.load_usage())  # the event the handler asked for: the sentence names the limit
    assert chat.usage_summary == "3 of 10 messages this minute · 1,234 of 200,000 tokens today"
    assert chat.limit_notice.startswith("You have reached your limit of 10 messages a minute")

    # Sending again inside Retry-After: the sentence again, and no request at all.
    contract.refusal = None
    send(chat, "hello again")
    send(chat, "and again")
    assert contract.sends() == 1
    assert chat.messages == []
    assert "try again in 4" in chat.limit_notice  # 42 seconds, counting down

    chat._limited_until = time.time() - 1  # Retry-After has passed
    send(chat, "hello at last")
    assert contract.sends() == 2
    assert [m.text for m in chat.messages] == ["hello at last", "Hello"]
    assert chat.limit_notice == ""


def test_a_spent_daily_quota_says_so_with_the_day_s_wait(signed_in_chat, contract):
    chat = signed_in_chat
    contract.refusal = ("quota_exceeded", 3 * 3600)
    drain(chat.load_usage())
    send(chat, "one more please")
    assert contract.sends() == 1
    assert chat.limit_notice == (
        "You have used today's allowance of 200,000 tokens; try again in 3 hours."
    )
    assert chat.messages == []


def test_usage_is_shown_after_a_reply_and_hidden_when_it_cannot_be_read(signed_in_chat, contract):
    chat = signed_in_chat
    contract.refusal = None
    events = send(chat, "hi")
    assert "load_usage" in " ".join(event_names(events))
    drain(chat.load_usage())
    assert chat.usage_summary.startswith("3 of 10 messages")
    contract.stop()  # the API is gone: the line disappears, the chat goes on
    drain(chat.load_usage())
    assert chat.usage_summary == ""
