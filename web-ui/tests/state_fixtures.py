"""The state unit tests' fakes and fixtures, a pytest plugin (see conftest.py): the root
state with its auth and chat substates, a fake Cognito, a signed-in chat, and the helpers that
run event handlers to their end outside Reflex's event loop."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
import reflex as rx
from async_run import run

from web_ui.cognito import AuthError, MfaChallenge, Tokens, UserContext
from web_ui.state import AuthState, ChatState
from web_ui.state import services as state_services


def fake_access_token(name: str, username: str = "sub-1") -> str:
    """A JWT-shaped token whose payload names the user (as Cognito's `username` claim)."""
    payload = base64.urlsafe_b64encode(json.dumps({"username": username}).encode()).decode()
    return f"header.{payload.rstrip('=')}.{name}"


class FakeCognito:
    def __init__(self, *, sign_in_error: AuthError | None = None, refresh_error=None):
        self.calls: list[str] = []
        self.sign_in_error = sign_in_error
        self.refresh_error = refresh_error
        self.mfa = False
        self.mfa_error: AuthError | None = None
        self.refresh_usernames: tuple[str, ...] = ()
        self.contexts: list[UserContext] = []

    def sign_in(self, email, password, context=None):
        self.calls.append("sign_in")
        self.contexts.append(context)
        if self.sign_in_error:
            raise self.sign_in_error
        if self.mfa:
            return MfaChallenge(session="session-1", username="sub-1")
        return Tokens(fake_access_token("access-1"), "id-1", "refresh-1", time.time() + 3600)

    def answer_mfa(self, challenge, code, context=None):
        self.calls.append(f"answer_mfa {challenge.session} {challenge.username} {code}")
        if self.mfa_error:
            raise self.mfa_error
        return Tokens(fake_access_token("access-1"), "id-1", "refresh-1", time.time() + 3600)

    def refresh(self, refresh_token, *usernames):
        self.calls.append("refresh")
        self.refresh_usernames = usernames
        if self.refresh_error:
            raise self.refresh_error
        return Tokens(fake_access_token("access-2"), "id-2", refresh_token, time.time() + 3600)

    def sign_up(self, email, password, context=None):
        self.calls.append("sign_up")
        return True

    def global_sign_out(self, access_token):
        self.calls.append(f"global_sign_out {access_token.rsplit('.', 1)[-1]}")


@pytest.fixture
def fake_cognito(monkeypatch):
    fake = FakeCognito()
    monkeypatch.setattr(state_services, "cognito", lambda: fake)
    return fake


@pytest.fixture
def root():
    return rx.State(_reflex_internal_init=True)


def substate(root, cls):
    return root.get_substate(cls.get_full_name().split(".")[1:])


@pytest.fixture
def auth(root) -> AuthState:
    return substate(root, AuthState)


@pytest.fixture
def chat(root) -> ChatState:
    return substate(root, ChatState)


def drain(handler_result) -> list:
    """Runs an event handler (coroutine, async generator or plain) to its end."""

    async def consume():
        if hasattr(handler_result, "__aiter__"):
            return [item async for item in handler_result]
        if asyncio.iscoroutine(handler_result):
            return [await handler_result]
        return [handler_result]

    return run(consume())


def send(chat: ChatState, text: str) -> list:
    """Runs the background event `send` to its end, in the test (Reflex forbids calling it)."""
    return drain(ChatState.send.fn(chat, {"message": text}))


@pytest.fixture
def signed_in_chat(auth, chat, fake_cognito) -> ChatState:
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    return chat
