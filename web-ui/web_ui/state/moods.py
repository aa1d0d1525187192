"""The mood timeline: the user's emotions over the last 30 days (the /moods page), the last
week (the strip in the chat's header), the open conversation's trajectory, and the switch
that turns the timeline off.

The chat API serves the timeline to the signed-in caller only and refuses it
(`mood_timeline_off`) once the user turned it off; the state then holds none of the data.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from ..mood_summary import (
    WEEK_DAYS,
    chart_rows,
    describe_moods,
    trajectory_rows,
    week_phrase,
)
from .api import ApiCall, call_api
from .services import SIGN_IN_ROUTE, user_message

MOODS_ROUTE = "/moods"
TIMELINE_DAYS = 30
TIMELINE_OFF = "mood_timeline_off"


class MoodState(rx.State):
    # Whether the timeline is on; known from the first answer of the API (`loaded`).
    enabled: bool = True
    loaded: bool = False
    busy: bool = False
    error: str = ""
    # The /moods page: a row per day (chart_rows) and the words under the chart.
    days: list[dict[str, Any]] = []
    summary: str = ""
    # The chat header's strip: the last week's rows and its tone in two words.
    week: list[dict[str, Any]] = []
    week_words: str = ""
    # The open conversation's trajectory (trajectory_rows) and its title.
    trajectory: list[dict[str, Any]] = []
    trajectory_title: str = ""

    def _clear_data(self) -> None:
        self.days, self.week, self.trajectory = [], [], []
        self.summary = self.week_words = self.trajectory_title = ""

    def _failed(self, outcome: ApiCall) -> tuple[bool, Any]:
        """(False, None) when the call succeeded; else (True, what the handler returns): the
        sign-in page when the session ended; nothing of the data when the timeline is off,
        with the error's sentence for any other failure."""
        if outcome.session_ended:
            self.reset()
            return True, rx.redirect(SIGN_IN_ROUTE)
        if outcome.error is None:
            self.enabled = self.loaded = True
            return False, None
        self._clear_data()
        if getattr(outcome.error, "code", "") == TIMELINE_OFF:
            self.enabled, self.loaded = False, True
        else:
            self.error = user_message(outcome.error)
        return True, None

    @rx.event
    async def load_strip(self):
        """The last week for the chat's header: after sign-in and after each reply. The chat
        works without it, so a failure, even the end of the session (the chat's next call
        handles that), only leaves the strip plain."""
        outcome = await call_api(self, "get_moods", WEEK_DAYS)
        if outcome.session_ended:
            self._clear_data()
            return
        failed, _ = self._failed(outcome)
        self.error = ""
        if failed:
            return
        self.week = chart_rows(outcome.result)
        self.week_words = week_phrase(outcome.result)

    @rx.event
    async def load_page(self):
        """on_load of /moods: the last 30 days and the open conversation's trajectory."""
        self.error = ""
        outcome = await call_api(self, "get_moods", TIMELINE_DAYS)
        failed, result = self._failed(outcome)
        if failed:
            return result
        self.days = chart_rows(outcome.result)
        self.summary = describe_moods(outcome.result)
        self.week = self.days[-WEEK_DAYS:]
        self.week_words = week_phrase(outcome.result)
        return await self._load_trajectory()

    async def _load_trajectory(self):
        from .chat import ChatState

        self.trajectory, self.trajectory_title = [], ""
        conversation_id = (await self.get_state(ChatState)).conversation_id
        if not conversation_id:
            return None
        outcome = await call_api(self, "get_emotion_trajectory", conversation_id)
        if outcome.error and getattr(outcome.error, "code", "") != TIMELINE_OFF:
            return None  # deleted meanwhile or unreachable: the days are drawn without it
        failed, result = self._failed(outcome)
        if failed:
            return result
        self.trajectory = trajectory_rows(outcome.result.get("trajectory"))
        self.trajectory_title = outcome.result.get("title") or "Untitled"
        return None

    @rx.event
    async def set_timeline(self, on: bool):
        """The switch: stored on the user's profile through the API (`PATCH /me/settings`).
        Off, the state drops every figure at once; on, the page loads them again."""
        if self.busy:
            return None
        self.busy = True
        self.error = ""
        outcome = await call_api(self, "update_settings", {"mood_timeline": bool(on)})
        self.busy = False
        if outcome.session_ended:
            self.reset()
            return rx.redirect(SIGN_IN_ROUTE)
        if outcome.error:
            self.error = user_message(outcome.error)
            return None
        self.enabled = bool(outcome.result.get("mood_timeline"))
        self._clear_data()
        if self.enabled:
            return MoodState.load_page
        return None
