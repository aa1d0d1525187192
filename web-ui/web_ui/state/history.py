"""The history sidebar: the user's conversations, most recently active first, and their
deletion (search and rename: conversation_tools.py)."""

from __future__ import annotations

import reflex as rx

from .api import call_api
from .models import ConversationItem, conversation_from_api
from .services import SIGN_IN_ROUTE, user_message


class HistoryState(rx.State):
    conversations: list[ConversationItem] = []
    history_error: str = ""

    def _session_ended(self):
        self.reset()
        return rx.redirect(SIGN_IN_ROUTE)

    @rx.event
    async def load_history(self):
        """The sidebar's list of conversations, most recently active first."""
        self.history_error = ""
        outcome = await call_api(self, "list_conversations")
        if outcome.session_ended:
            return self._session_ended()
        if outcome.error:
            self.history_error = user_message(outcome.error)
            return None
        self.conversations = [conversation_from_api(item) for item in outcome.result]
        return None

    @rx.event
    async def delete_conversation(self, conversation_id: str):
        from .chat import ChatState

        chat = await self.get_state(ChatState)
        if chat.streaming:
            return None
        outcome = await call_api(self, "delete_conversation", conversation_id)
        if outcome.session_ended:
            return self._session_ended()
        if outcome.error and not outcome.not_found:  # already gone is what the user wanted
            self.history_error = user_message(outcome.error)
            return None
        self.conversations = [c for c in self.conversations if c.conversation_id != conversation_id]
        if chat.conversation_id == conversation_id:
            chat.new_conversation()
        return None
