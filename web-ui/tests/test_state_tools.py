"""Unit tests of regenerate and edit, search, rename, the downloads and the account's
deletion in the state classes, with Cognito and the chat API replaced by fakes (the browser
tests, test_browser_conversation_tools.py and test_browser_account.py, drive the real ones)."""

from __future__ import annotations

import time

import pytest
from state_fixtures import drain, substate
from test_state import META, REFUSAL

from web_ui.chat_api import ApiError, Download
from web_ui.state import (
    AccountState,
    AuthState,
    ChatMessage,
    ChatState,
    ConversationItem,
    ConversationToolsState,
    HistoryState,
)
from web_ui.state import services as state_services
from web_ui.state.account import ACCOUNT_DELETED
from web_ui.state.chat import STREAM_FLUSH_SECONDS
from web_ui.state.conversation_tools import TITLE_RULE
from web_ui.state.turns import EMPTY_EDIT, KEPT_REPLY, KEPT_TURN, last_turn_ids

STORED_TURN = [
    ChatMessage(message_id="M1", role="user", text="old words", emotion="sadness"),
    ChatMessage(message_id="M2", role="assistant", text="old reply", rating="up", rating_sent=True),
]
NEW_META = {**META, "conversation_id": "C1", "message_id": "M3", "user_message_id": "M1"}


class FakeApi:
    """The chat API calls the tools make: streams replay `events`; the rest answer from
    attributes, or raise `error`."""

    def __init__(self, events=(), error: ApiError | None = None) -> None:
        self.events = list(events)
        self.error = error
        self.calls: list[tuple] = []
        self.found: list[dict] = []

    async def _replay(self):
        for event in self.events:
            if callable(event):  # something the user does while the reply streams
                event()
                continue
            yield event
        if self.error:
            raise self.error

    def stream_regenerate(self, token, conversation_id):
        self.calls.append(("regenerate", conversation_id))
        return self._replay()

    def stream_edit(self, token, conversation_id, message_id, message):
        self.calls.append(("edit", conversation_id, message_id, message))
        return self._replay()

    async def _answer(self, call, result=None):
        self.calls.append(call)
        if self.error:
            raise self.error
        return result

    async def list_conversations(self, token):
        return await self._answer(("list",), [])

    async def get_usage(self, token):
        return await self._answer(("usage",), {})

    async def search_conversations(self, token, query):
        return await self._answer(("search", query), self.found)

    async def rename_conversation(self, token, conversation_id, title):
        summary = {"conversation_id": conversation_id, "title": title.strip()}
        return await self._answer(("rename", conversation_id, title), summary)

    async def export_conversation(self, token, conversation_id, export_format):
        download = Download(f"conversation-{conversation_id}.md", "text/markdown", b"# Hi\n")
        return await self._answer(("export", conversation_id, export_format), download)

    async def delete_account(self, token):
        return await self._answer(("delete_account",))


@pytest.fixture
def auth(root, fake_cognito) -> AuthState:
    auth = substate(root, AuthState)
    drain(auth.sign_in({"email": "a@example.com", "password": "Good-Passw0rd!"}))
    return auth


@pytest.fixture
def chat(root, auth) -> ChatState:
    chat = substate(root, ChatState)
    chat.conversation_id = "C1"
    chat.messages = list(STORED_TURN)
    return chat


@pytest.fixture
def tools(root, auth) -> ConversationToolsState:
    return substate(root, ConversationToolsState)


@pytest.fixture
def api(monkeypatch):
    def answer(events=(), error=None) -> FakeApi:
        fake = FakeApi(events, error)
        monkeypatch.setattr(state_services, "chat_api", lambda: fake)
        return fake

    return answer


def regenerate(chat: ChatState) -> list:
    return drain(ChatState.regenerate.fn(chat))


def edit(chat: ChatState, text: str) -> list:
    return drain(ChatState.edit_last.fn(chat, {"text": text}))


def test_only_a_stored_complete_last_turn_can_be_regenerated_or_edited():
    assert last_turn_ids(STORED_TURN) == ("M1", "M2")
    stopped = [STORED_TURN[0], ChatMessage(message_id="M2", role="assistant", stopped=True)]
    refused = [STORED_TURN[0], ChatMessage(role="assistant", text=REFUSAL)]
    for messages in ([], STORED_TURN[:1], stopped, refused, [*STORED_TURN, STORED_TURN[0]]):
        assert last_turn_ids(messages) == ("", "")


def test_regenerate_replaces_the_last_reply(chat, api):
    fake = api([("meta", NEW_META), ("delta", {"text": "a new reply"}), ("done", {})])
    assert chat.last_reply_id == "M2"
    events = regenerate(chat)
    assert fake.calls[0] == ("regenerate", "C1")
    user, reply = chat.messages
    assert (user.message_id, user.text) == ("M1", "old words")
    assert (reply.message_id, reply.text, reply.rating) == ("M3", "a new reply", "")
    assert not chat.streaming and chat.error == ""
    assert chat.last_reply_id == "M3"
    assert "load_history" in str(events)
    assert "load_strip" in str(events)


def test_a_failed_regeneration_keeps_the_stored_turn(chat, api):
    api([("meta", NEW_META), ("delta", {"text": "half"})], ApiError("model_error", "x"))
    regenerate(chat)
    assert chat.messages == STORED_TURN
    assert chat.error.startswith("The assistant could not answer")
    assert chat.error.endswith(KEPT_REPLY)
    assert not chat.can_retry  # Retry would send a new message


def test_a_refused_regeneration_keeps_the_stored_turn_and_says_why(chat, api):
    api([("meta", NEW_META), ("error", {"code": "guardrail_intervened", "message": REFUSAL})])
    regenerate(chat)
    assert chat.messages == STORED_TURN
    assert chat.error == f"{REFUSAL} {KEPT_REPLY}"


def test_a_stopped_regeneration_keeps_the_stored_turn(chat, api):
    def press_stop():
        chat.stop()
        time.sleep(STREAM_FLUSH_SECONDS * 2)  # the next delta is shown, and the stop seen

    api([("meta", NEW_META), press_stop, ("delta", {"text": "a"}), ("done", {})])
    regenerate(chat)
    assert chat.messages == STORED_TURN


def test_a_regeneration_refused_for_a_limit_keeps_the_turn_and_holds_back(chat, api):
    fake = api(error=ApiError("rate_limited", "x", status=429, retry_after=30))
    regenerate(chat)
    assert chat.messages == STORED_TURN  # _hold_for_limit's removal is undone
    assert "try again in 30 seconds" in chat.limit_notice
    regenerate(chat)  # inside the Retry-After: nothing is sent
    assert fake.calls == [("regenerate", "C1")]


def test_edit_replaces_the_message_and_the_reply(chat, api):
    sadness_to_joy = {**NEW_META, "emotion": {"label": "joy", "scores": {}}}
    fake = api([("meta", sadness_to_joy), ("delta", {"text": "glad"}), ("done", {})])
    chat.start_edit("M1")
    assert chat.editing_id == "M1"
    edit(chat, "  new words  ")
    assert fake.calls[0] == ("edit", "C1", "M1", "new words")
    user, reply = chat.messages
    assert (user.message_id, user.text, user.emotion) == ("M1", "new words", "joy")
    assert (reply.message_id, reply.text) == ("M3", "glad")
    assert chat.editing_id == ""


def test_an_empty_edit_is_refused_before_anything_is_sent(chat, api):
    fake = api()
    chat.start_edit("M1")
    edit(chat, "   ")
    assert fake.calls == [] and chat.error == EMPTY_EDIT
    assert chat.messages == STORED_TURN and chat.editing_id == "M1"


def test_an_earlier_message_cannot_be_put_into_the_edit_form(chat):
    chat.messages = [*STORED_TURN, ChatMessage(message_id="M4", role="user", text="later")]
    chat.start_edit("M1")
    assert chat.editing_id == ""


def test_the_api_refusing_an_edit_keeps_the_turn(chat, api):
    api(error=ApiError("not_last_message", "Only the last message can be edited.", status=409))
    edit(chat, "new words")
    assert chat.messages == STORED_TURN
    assert chat.error == f"Only the last message can be edited. {KEPT_TURN}"


def test_search_shows_the_matches_and_an_empty_box_the_history(tools, api):
    fake = api()
    fake.found = [
        {"conversation_id": "C1", "title": "Café", "match": {"field": "title", "snippet": "x"}},
        {"conversation_id": "C2", "title": "Other", "match": {"field": "message", "snippet": "…a"}},
    ]
    drain(tools.search({"query": "  cafe "}))
    assert fake.calls == [("search", "cafe")]
    assert [(r.title, r.snippet) for r in tools.search_results] == [("Café", ""), ("Other", "…a")]
    assert tools.searched == "cafe" and tools.search_notice == ""
    drain(tools.type_query(""))
    assert tools.searched == "" and tools.search_results == []
    assert len(fake.calls) == 1  # an empty box asks nothing


def test_a_search_without_results_says_so(tools, api):
    api()
    drain(tools.type_query("zebra"))
    assert tools.search_notice == "No conversation contains “zebra”."


def test_a_failed_search_says_so_and_shows_no_stale_results(tools, api):
    fake = api()
    fake.found = [{"conversation_id": "C1", "title": "Tea"}]
    drain(tools.type_query("tea"))
    api(error=ApiError("storage_unavailable", "x", status=503))
    drain(tools.type_query("coffee"))
    assert tools.search_error == "Your history cannot be reached right now. Try again in a moment."
    assert tools.search_results == [] and tools.search_notice == ""


def test_a_rename_updates_the_history_and_a_refusal_is_a_sentence(root, tools, api):
    history = substate(root, HistoryState)
    history.conversations = [ConversationItem("C1", "Old", ""), ConversationItem("C2", "B", "")]
    tools.start_rename("C1")
    api(error=ApiError("validation_error", "The request body is not valid.", status=422))
    drain(tools.save_rename({"title": "x" * 121}))
    assert tools.rename_error == TITLE_RULE and tools.renaming_id == "C1"
    assert history.conversations[0].title == "Old"
    fake = api()
    drain(tools.save_rename({"title": " New title "}))
    assert fake.calls == [("rename", "C1", " New title ")]
    assert [c.title for c in history.conversations] == ["New title", "B"]
    assert tools.renaming_id == "" and tools.rename_error == ""


def test_an_export_hands_the_browser_the_file(root, chat, tools, api):
    fake = api()
    event = drain(tools.export_conversation("markdown"))[0]
    assert fake.calls == [("export", "C1", "markdown")]
    assert "_download" in str(event) and "conversation-C1.md" in str(event)
    assert drain(tools.export_conversation("pdf")) == [None]  # not a format: nothing asked
    assert len(fake.calls) == 1


def test_a_failed_export_is_a_sentence_and_no_file(chat, tools, api):
    api(error=ApiError("not_found", "x", status=404))
    assert drain(tools.export_conversation("json")) == [None]
    assert tools.export_error == "This conversation no longer exists."


def test_a_deleted_account_ends_the_session_with_a_sentence(root, auth, api, fake_cognito):
    account = substate(root, AccountState)
    api(error=ApiError("storage_unavailable", "x", status=503))
    drain(account.delete_account())
    assert account.delete_error.startswith("Your account could not be deleted completely.")
    assert auth.signed_in  # nothing ended: the user can try again
    fake = api()
    events = drain(account.delete_account())
    assert fake.calls == [("delete_account",)]
    assert not auth.signed_in and auth.session_ended
    assert auth.notice == ACCOUNT_DELETED
    assert "/signin" in str(events[-1])
