"""Unit tests of the state classes, with Cognito replaced by a fake (one function at a time;
the browser tests drive the same handlers against the real local stack)."""

from __future__ import annotations

import json
import re
import time

import pytest
import reflex as rx
from async_run import run
from reflex.istate.data import RouterData
from state_fixtures import drain, fake_access_token, send, substate

from web_ui import sessions
from web_ui.chat_api import ApiError
from web_ui.cognito import AuthError
from web_ui.state import AuthState, ChatMessage, SessionExpired
from web_ui.state import services as state_services
from web_ui.state.models import message_from_api
from web_ui.token_seal import token_seal


def session_record(auth: AuthState) -> sessions.SessionRecord:
    record = run(sessions.session_store().load(auth._session_key))
    assert record is not None
    return record


def expire_access_token(auth: AuthState, expires_at: float) -> None:
    record = session_record(auth)
    record.expires_at = expires_at
    run(sessions.session_store().save(auth._session_key, record))


def test_sign_in_checks_the_address_before_calling_cognito(auth, fake_cognito):
    drain(auth.sign_in({"email": "not an address", "password": "x"}))
    assert auth.email_error == "Enter an e-mail address such as name@example.com."
    assert fake_cognito.calls == []


def test_a_refused_sign_in_shows_the_sentence_on_its_field(auth, fake_cognito):
    fake_cognito.sign_in_error = AuthError(
        "password", "The e-mail address or the password is not right.", "NotAuthorizedException"
    )
    drain(auth.sign_in({"email": "a@example.com", "password": "Wrong-Passw0rd!"}))
    assert auth.password_error == "The e-mail address or the password is not right."
    assert not auth.signed_in
    assert not auth.busy


def test_an_unconfirmed_account_keeps_the_address_for_the_code_form(auth, fake_cognito):
    fake_cognito.sign_in_error = AuthError("email", "not confirmed", "UserNotConfirmedException")
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    assert auth.email_error == "not confirmed"
    assert auth.pending_email == "a@example.com"


def test_tokens_stay_on_the_server(root, auth, fake_cognito):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    assert auth.signed_in
    sent_to_browser = json.dumps(root.dict(), default=str)
    assert "access-1" not in sent_to_browser
    assert "refresh-1" not in sent_to_browser
    assert "sub-1" not in sent_to_browser
    assert "a@example.com" in sent_to_browser


def test_sign_up_lists_the_rules_a_password_misses(auth, fake_cognito):
    drain(auth.sign_up({"email": "a@example.com", "password": "alllowercase"}))
    assert auth.password_error == (
        "The password needs: an upper-case letter; a number; a symbol such as ! ? # or -"
    )
    assert fake_cognito.calls == []


def test_sign_up_carries_the_address_into_the_confirmation_form(auth, fake_cognito):
    auth.type_email("typed@example.com")
    assert auth.email_field == "typed@example.com"
    events = drain(auth.sign_up({"email": "a@example.com", "password": "Good-Passw0rd!x"}))
    assert auth.email_field == auth.pending_email == "a@example.com"
    assert not auth.busy
    assert "/confirm" in str(events[-1])


def test_the_access_token_is_refreshed_shortly_before_it_expires(auth, fake_cognito):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    assert run(auth.access_token()).endswith(".access-1")
    assert fake_cognito.calls == ["sign_in"]
    expire_access_token(auth, time.time() + 30)  # inside the refresh margin
    assert run(auth.access_token()).endswith(".access-2")
    assert fake_cognito.calls == ["sign_in", "refresh"]
    # The SECRET_HASH of a refresh names the user: the pool's username first, then the address.
    assert fake_cognito.refresh_usernames == ("sub-1", "a@example.com")


def test_a_sign_in_with_mfa_asks_for_the_code_then_signs_in(auth, fake_cognito):
    fake_cognito.mfa = True
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    assert auth.mfa_step and not auth.signed_in
    drain(auth.sign_in_with_code({"mfa_code": "12a456"}))
    assert auth.code_error == "Enter the 6-digit code from your authenticator app."
    fake_cognito.mfa_error = AuthError("code", "That code is not right.", "CodeMismatchException")
    drain(auth.sign_in_with_code({"mfa_code": "123 456"}))
    assert auth.code_error == "That code is not right." and not auth.signed_in
    fake_cognito.mfa_error = None
    events = drain(auth.sign_in_with_code({"mfa_code": "123456"}))
    assert fake_cognito.calls[-1] == "answer_mfa session-1 sub-1 123456"
    assert auth.signed_in and auth.user_email == "a@example.com"
    assert not auth.mfa_step and auth._mfa_session == ""
    assert "/" in str(events[-1])


def test_an_expired_mfa_step_starts_the_sign_in_again(auth, fake_cognito):
    fake_cognito.mfa = True
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    fake_cognito.mfa_error = AuthError("form", "too long", "NotAuthorizedException")
    drain(auth.sign_in_with_code({"mfa_code": "123456"}))
    assert auth.form_error == "too long" and not auth.mfa_step


def test_the_code_step_without_a_challenge_asks_for_the_password(auth, fake_cognito):
    drain(auth.sign_in_with_code({"mfa_code": "123456"}))
    assert auth.form_error == "Enter your e-mail address and password again."
    assert fake_cognito.calls == []


def test_a_revoked_refresh_token_ends_the_session(auth, fake_cognito):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    fake_cognito.refresh_error = AuthError("form", "ended", "NotAuthorizedException")
    with pytest.raises(SessionExpired):
        run(auth.access_token(force_refresh=True))
    assert not auth.signed_in
    assert auth._session_key == ""


def test_the_chat_page_sends_visitors_to_the_sign_in_form(auth):
    event = run(auth.require_sign_in())
    assert event.handler.fn.__name__ == rx.redirect("/signin").handler.fn.__name__
    assert "/signin" in str(event.args)


def test_meta_sets_ids_emotion_and_the_safety_notice(chat):
    chat.messages = [ChatMessage(role="user", text="hi"), ChatMessage(role="assistant")]
    chat._apply_meta(
        {
            "conversation_id": "C1",
            "message_id": "M2",
            "user_message_id": "M1",
            "emotion": {"label": "sadness", "scores": {}},
            "safety": {"flagged": True, "category": "self_harm"},
        }
    )
    user, reply = chat.messages
    assert (chat.conversation_id, user.message_id, reply.message_id) == ("C1", "M1", "M2")
    assert user.emotion == "sadness"
    assert user.safety_flagged and chat.safety_notice


def test_meta_without_safety_shows_no_notice(chat):
    chat.messages = [ChatMessage(role="user", text="hi"), ChatMessage(role="assistant")]
    chat._apply_meta({"conversation_id": "C1", "message_id": "M2", "user_message_id": "M1"})
    assert not chat.safety_notice


def test_a_failure_before_any_text_removes_the_empty_reply(chat):
    chat.messages = [ChatMessage(role="user", text="hi"), ChatMessage(role="assistant")]
    chat._fail("The assistant is unavailable right now.")
    assert [m.role for m in chat.messages] == ["user"]
    assert chat.error == "The assistant is unavailable right now."
    assert chat.can_retry


def test_a_failure_mid_reply_keeps_the_partial_text_marked(chat):
    chat.messages = [
        ChatMessage(role="user", text="hi"),
        ChatMessage(role="assistant", text="Hello the", streaming=True),
    ]
    chat._fail("lost")
    assert chat.messages[-1].text == "Hello the"
    assert chat.messages[-1].stopped and not chat.messages[-1].streaming


def test_retry_takes_the_failed_turn_off_and_sends_it_again(chat):
    chat.messages = [ChatMessage(role="user", text="first"), ChatMessage(role="user", text="again")]
    chat._retry_text = "again"
    event = chat.retry()
    assert [m.text for m in chat.messages] == ["first"]
    assert event.handler.fn.__name__ == "send"
    assert "again" in str(event.args)


def test_choosing_a_rating_opens_the_comment_box_without_sending(chat):
    chat.messages = [ChatMessage(role="assistant", message_id="M2", text="hello")]
    chat.choose_rating("M2", "down")
    assert chat.feedback_for == "M2"
    assert chat.messages[0].rating == "down" and not chat.messages[0].rating_sent
    chat.cancel_feedback()
    assert chat.messages[0].rating == "" and chat.feedback_for == ""


def test_a_stored_rating_is_shown_as_given():
    rated = message_from_api(
        {
            "message_id": "M2",
            "role": "assistant",
            "text": "hello",
            "created_at": "2026-01-01T00:00:00Z",
            "feedback": {"rating": "down", "comment": None},
        }
    )
    assert (rated.rating, rated.rating_sent) == ("down", True)
    unrated = message_from_api({"message_id": "M3", "role": "assistant", "text": "hi"})
    assert (unrated.rating, unrated.rating_sent) == ("", False)


REFUSAL = "Sorry, I can't help with that request. Please rephrase it, or ask about something else."
META = {
    "conversation_id": "C9",
    "message_id": "M2",
    "user_message_id": "M1",
    "emotion": {"label": "neutral", "scores": {}},
    "safety": {"flagged": False, "category": None},
}


class FakeChatApi:
    """Replays one chat stream: its events, then optionally an ApiError."""

    def __init__(self, events: list[tuple[str, dict]], error: ApiError | None = None) -> None:
        self.events = events
        self.error = error
        self.sent: list[tuple[str, str | None]] = []
        self.keys: list[str | None] = []

    async def stream_chat(self, token, message, conversation_id=None, *, idempotency_key=None):
        self.sent.append((message, conversation_id))
        self.keys.append(idempotency_key)
        for event in self.events:
            yield event
        if self.error:
            raise self.error


@pytest.fixture
def replay(monkeypatch):
    """Makes the next chat streams replay the given events (and error)."""

    def stream(events, error=None) -> FakeChatApi:
        fake = FakeChatApi(events, error)
        monkeypatch.setattr(state_services, "chat_api", lambda: fake)
        return fake

    return stream


def test_a_guardrail_error_mid_stream_replaces_the_partial_reply(signed_in_chat, replay):
    chat = signed_in_chat
    replay(
        [
            ("meta", META),
            ("delta", {"text": "Sorry, the model "}),
            ("delta", {"text": "cannot answer"}),
            ("error", {"code": "guardrail_intervened", "message": REFUSAL}),
        ]
    )
    send(chat, "something the guardrail blocks")
    user, reply = chat.messages
    assert user.text == "something the guardrail blocks"
    assert reply.text == REFUSAL  # nothing of the blocked reply is left
    assert not reply.stopped and not reply.streaming
    assert reply.message_id == ""  # not stored, so it cannot be rated
    assert chat.error == "" and not chat.can_retry
    assert chat.conversation_id == ""  # the new conversation was never stored


def test_a_guardrail_refusal_before_the_stream_is_shown_as_the_reply(signed_in_chat, replay):
    chat = signed_in_chat
    replay([], ApiError("guardrail_intervened", REFUSAL, status=422))
    send(chat, "blocked at once")
    assert [(m.role, m.text) for m in chat.messages] == [
        ("user", "blocked at once"),
        ("assistant", REFUSAL),
    ]
    assert chat.error == ""


def test_other_errors_mid_stream_keep_the_partial_reply_marked(signed_in_chat, replay):
    chat = signed_in_chat
    chat.conversation_id = "C1"
    replay(
        [
            ("meta", {**META, "conversation_id": "C1"}),
            ("delta", {"text": "Hello the"}),
            ("error", {"code": "model_unavailable", "message": "down"}),
        ]
    )
    send(chat, "hi")
    reply = chat.messages[-1]
    assert reply.text == "Hello the" and reply.stopped
    assert chat.error == "The assistant is unavailable right now. Try again in a moment."
    assert chat.can_retry and chat.conversation_id == "C1"


def test_a_failed_first_turn_is_retried_as_a_new_conversation(signed_in_chat, replay):
    chat = signed_in_chat
    replay([("meta", META), ("error", {"code": "model_error", "message": "broke"})])
    send(chat, "hi")
    assert chat.conversation_id == ""
    fake = replay([("meta", META), ("delta", {"text": "Hello"}), ("done", {})])
    send(chat, "hi")
    assert fake.sent == [("hi", "")]
    assert chat.conversation_id == "C9"
    assert chat.messages[-1].text == "Hello" and chat.messages[-1].message_id == "M2"


def test_a_stream_that_ends_without_done_is_a_failure(signed_in_chat, replay):
    chat = signed_in_chat
    replay([("meta", META), ("delta", {"text": "Hel"})])
    send(chat, "hi")
    assert chat.can_retry and chat.conversation_id == ""
    assert chat.messages[-1].stopped


def test_the_session_record_holds_only_sealed_tokens(auth, fake_cognito):
    """What the stores keep is no usable token: the tab's state has only the session's key,
    the session record the sealed tokens; the handlers open them."""
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    record = session_record(auth)
    assert record.access_token and record.refresh_token and record.email == "a@example.com"
    assert "access-1" not in record.access_token and "refresh-1" not in record.refresh_token
    assert run(auth.access_token()) == fake_access_token("access-1")
    expire_access_token(auth, 0)  # expired: the refresh sends the opened refresh token
    assert run(auth.access_token()) == fake_access_token("access-2")
    assert fake_cognito.calls == ["sign_in", "refresh"]
    assert "access-2" not in session_record(auth).access_token  # sealed again when stored


def test_a_token_sealed_under_another_secret_ends_the_session(auth, fake_cognito):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    record = session_record(auth)
    record.refresh_token = record.refresh_token[:-4] + "AAAA"  # altered, or another key's
    run(sessions.session_store().save(auth._session_key, record))
    with pytest.raises(SessionExpired):
        run(auth.access_token(force_refresh=True))
    assert not auth.signed_in
    assert fake_cognito.calls == ["sign_in"]  # nothing was sent to Cognito


def test_every_sign_in_starts_a_new_session_with_a_one_time_ticket(auth, fake_cognito):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    first_key, first_ticket = auth._session_key, auth.session_ticket
    assert first_ticket and first_key and first_ticket not in first_key
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    assert auth._session_key != first_key and auth.session_ticket != first_ticket
    # The earlier session of this tab is gone: nothing fixed before a sign-in outlives it.
    assert run(sessions.session_store().load(first_key)) is None
    store = sessions.session_store()
    sealed = run(store.take_ticket(sessions.key_of(auth.session_ticket)))
    assert sessions.key_of(token_seal().open(sealed)) == auth._session_key
    assert run(store.take_ticket(sessions.key_of(auth.session_ticket))) == ""  # used once


def test_signing_out_in_one_tab_ends_the_session_of_every_tab(auth, fake_cognito):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    other_tab = substate(rx.State(_reflex_internal_init=True), AuthState)
    other_tab._session_key = auth._session_key  # adopted from the cookie (browser tests)
    assert run(other_tab.access_token()) == fake_access_token("access-1")
    run(auth.sign_out())
    assert fake_cognito.calls[-1] == "global_sign_out access-1"  # the opened token
    assert auth.session_ended and not auth.session_ticket
    with pytest.raises(SessionExpired):
        run(other_tab.access_token())
    assert not other_tab.signed_in and other_tab._session_key == ""


def test_sign_out_after_a_long_idle_revokes_with_a_fresh_token(auth, fake_cognito):
    """An expired access token cannot call GlobalSignOut: it is refreshed first, so the refresh
    token is revoked rather than left valid."""
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    expire_access_token(auth, 0)
    run(auth.sign_out())
    assert fake_cognito.calls == ["sign_in", "refresh", "global_sign_out access-2"]
    assert not auth.signed_in


def new_tab(cookie: str, origin: str, host: str = "127.0.0.1:3000") -> AuthState:
    """A fresh tab's state, as the websocket's handshake describes it."""
    tab = substate(rx.State(_reflex_internal_init=True), AuthState)
    headers = {"cookie": cookie, "origin": origin, "host": host}
    tab.router = RouterData.from_router_data({"headers": headers})
    return tab


def signed_in_cookie(auth: AuthState) -> str:
    """The cookie the browser got for the tab's sign-in ticket."""
    sealed = run(sessions.session_store().take_ticket(sessions.key_of(auth.session_ticket)))
    return f"{sessions.LOCAL_COOKIE}={token_seal().open(sealed)}"


def test_a_new_tab_adopts_the_session_its_cookie_names(auth, fake_cognito):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    tab = new_tab(signed_in_cookie(auth), "http://127.0.0.1:3000")
    assert tab.signed_in is False
    event = run(tab.require_sign_in())
    assert "restore" in str(event)  # the chat opens
    assert tab.signed_in and tab.user_email == "a@example.com"
    assert tab._session_key == auth._session_key
    assert run(tab.access_token()) == fake_access_token("access-1")


@pytest.mark.parametrize(
    ("cookie_of", "origin"),
    [
        (lambda auth: signed_in_cookie(auth), "https://evil.example"),  # hijacked websocket
        (lambda auth: signed_in_cookie(auth), ""),
        (lambda auth: f"{sessions.LOCAL_COOKIE}={'A' * 43}", "http://127.0.0.1:3000"),
        (lambda auth: f"other={signed_in_cookie(auth).split('=', 1)[1]}", "http://127.0.0.1:3000"),
    ],
)
def test_a_tab_adopts_no_session_from_elsewhere(auth, fake_cognito, cookie_of, origin):
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    tab = new_tab(cookie_of(auth), origin)
    event = run(tab.require_sign_in())
    assert "/signin" in str(event.args)
    assert not tab.signed_in and tab._session_key == ""


def test_a_retried_message_keeps_its_idempotency_key(signed_in_chat, replay):
    """The API stores a turn once per key: Retry of a failed send (which may have been stored
    before its stream broke) sends the same key; the next message a new one."""
    chat = signed_in_chat
    fake = replay([("meta", META), ("delta", {"text": "Hel"})])  # broke before `done`
    send(chat, "hi")
    drain(chat.retry())
    send(chat, "hi")
    first, retried = fake.keys
    assert first and first == retried
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", first)  # the API's Idempotency-Key format
    fake = replay([("meta", META), ("delta", {"text": "Hello"}), ("done", {})])
    send(chat, "hi")
    send(chat, "hi")  # the same words again, after a stored turn: a new message
    assert fake.keys[0] == first and fake.keys[1] not in (None, first)


def test_another_conversation_gets_a_new_idempotency_key(signed_in_chat, replay):
    chat = signed_in_chat
    fake = replay([("meta", META), ("error", {"code": "model_error", "message": "broke"})])
    send(chat, "hi")
    chat.new_conversation()
    send(chat, "hi")
    assert fake.keys[0] != fake.keys[1]
