"""The mood timeline's state with the chat API replaced by a fake that answers as its contract
says (`GET /me/moods`, `PATCH /me/settings`, a conversation's `emotion_trajectory`); the
browser tests drive the same handlers against the real local stack."""

from __future__ import annotations

import datetime

import pytest
from async_run import run
from state_fixtures import drain, substate

from web_ui import sessions
from web_ui.chat_api import ApiError
from web_ui.mood_summary import LABELS
from web_ui.state import AuthState
from web_ui.state import services as state_services
from web_ui.state.moods import MoodState

OFF = ApiError("mood_timeline_off", "The mood timeline is turned off.", status=409)


def moods_answer(days: int) -> dict:
    today = datetime.date(2026, 12, 2)
    daily = [
        {
            "date": (today - datetime.timedelta(days=offset)).isoformat(),
            "messages": 0,
            "counts": dict.fromkeys(LABELS, 0),
        }
        for offset in range(days - 1, -1, -1)
    ]
    daily[-1]["counts"]["neutral"] = daily[-1]["messages"] = 2
    return {"days": days, "complete": True, "daily": daily}


class FakeMoodApi:
    def __init__(self) -> None:
        self.timeline_on = True
        self.calls: list[tuple] = []
        self.trajectory_error: ApiError | None = None
        self.settings_error: ApiError | None = None

    async def get_moods(self, token, days):
        self.calls.append(("get_moods", days))
        if not self.timeline_on:
            raise OFF
        return moods_answer(days)

    async def get_emotion_trajectory(self, token, conversation_id):
        self.calls.append(("get_emotion_trajectory", conversation_id))
        if self.trajectory_error:
            raise self.trajectory_error
        labels = ("joy", "sadness")
        return {
            "title": "An old chat",
            "trajectory": [
                {"message_id": f"M{n}", "created_at": "2026-12-02T10:00:00.000Z", "label": label}
                for n, label in enumerate(labels)
            ],
        }

    async def update_settings(self, token, changes):
        self.calls.append(("update_settings", changes))
        if self.settings_error:
            raise self.settings_error
        self.timeline_on = changes["mood_timeline"]
        return {"mood_timeline": self.timeline_on}


@pytest.fixture
def api(monkeypatch) -> FakeMoodApi:
    fake = FakeMoodApi()
    monkeypatch.setattr(state_services, "chat_api", lambda: fake)
    return fake


@pytest.fixture
def moods(root, signed_in_chat) -> MoodState:
    return substate(root, MoodState)


def test_the_page_loads_the_days_and_the_open_conversation(moods, signed_in_chat, api):
    signed_in_chat.conversation_id = "C1"
    drain(moods.load_page())
    assert api.calls == [("get_moods", 30), ("get_emotion_trajectory", "C1")]
    assert moods.loaded and moods.enabled and moods.error == ""
    assert len(moods.days) == 30 and moods.week == moods.days[-7:]
    assert moods.summary == "Mostly calm this week; no difficult days."
    assert moods.week_words == "Mostly calm"
    assert [point["label"] for point in moods.trajectory] == ["joy", "sadness"]
    assert moods.trajectory_title == "An old chat"


def test_without_an_open_conversation_there_is_no_trajectory(moods, api):
    drain(moods.load_page())
    assert ("get_moods", 30) in api.calls
    assert not any(call[0] == "get_emotion_trajectory" for call in api.calls)
    assert moods.trajectory == []


def test_a_failed_trajectory_leaves_the_days_drawn(moods, signed_in_chat, api):
    signed_in_chat.conversation_id = "C1"
    api.trajectory_error = ApiError("not_found", "gone", status=404)
    drain(moods.load_page())
    assert len(moods.days) == 30 and moods.summary and moods.trajectory == []
    assert moods.error == ""


def test_a_timeline_turned_off_holds_no_data(moods, api):
    api.timeline_on = False
    drain(moods.load_page())
    assert moods.loaded and not moods.enabled
    assert moods.days == moods.week == moods.trajectory == []
    assert moods.summary == moods.week_words == ""
    drain(moods.load_strip())
    assert not moods.enabled and moods.week == []


def test_the_switch_turns_it_off_and_on(moods, api):
    drain(moods.load_page())
    drain(moods.set_timeline(False))
    assert api.calls[-1] == ("update_settings", {"mood_timeline": False})
    assert not moods.enabled and moods.days == [] and moods.summary == ""
    result = drain(moods.set_timeline(True))
    assert api.calls[-1] == ("update_settings", {"mood_timeline": True})
    assert moods.enabled and result == [MoodState.load_page]


def test_a_refused_switch_changes_nothing(moods, api):
    drain(moods.load_page())
    api.settings_error = ApiError("storage_unavailable", "", status=503)
    drain(moods.set_timeline(False))
    assert moods.enabled and len(moods.days) == 30
    assert moods.error == "Your history cannot be reached right now. Try again in a moment."


def test_the_strip_hides_a_failure(moods, api, monkeypatch):
    async def unreachable(token, days):
        raise ApiError("network", "down")

    monkeypatch.setattr(api, "get_moods", unreachable)
    drain(moods.load_strip())
    assert moods.week == [] and moods.week_words == "" and moods.error == ""


def test_the_strip_leaves_an_ended_session_to_the_chat(root, moods, api, fake_cognito):
    """Signed out in another tab: the strip goes plain without leaving the page; the chat's
    next call sends the user to the sign-in page."""
    drain(moods.load_strip())
    assert moods.week_words == "Mostly calm"
    run(sessions.session_store().delete(substate(root, AuthState)._session_key))
    assert drain(moods.load_strip()) == [None]  # no redirect from the strip
    assert moods.week == [] and moods.week_words == ""


def test_signing_out_forgets_the_timeline(root, moods, api):
    drain(moods.load_page())
    assert moods.days
    drain(substate(root, AuthState).sign_out())
    assert moods.days == moods.week == [] and moods.summary == ""
