"""What the user does with conversations besides chatting: search the history, rename a
conversation in place, and download one (or all their data) as a file.

Tokens never reach the browser, so a download is fetched here, with the user's token, and
handed to the browser as the file's bytes (rx.download)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from ..chat_api import ApiError, Download
from .api import call_api
from .history import HistoryState
from .models import conversation_from_api
from .services import SIGN_IN_ROUTE, user_message

EXPORT_FORMATS = ("markdown", "json")
TITLE_RULE = "A title needs 1 to 120 characters, not only spaces."
NOTHING_FOUND = "No conversation contains “{query}”."


@dataclasses.dataclass
class SearchResult:
    """A conversation the search found, with the words around the match."""

    conversation_id: str
    title: str
    snippet: str = ""


def result_from_api(item: dict) -> SearchResult:
    conversation = conversation_from_api(item)
    match = item.get("match") or {}
    snippet = match.get("snippet", "") if match.get("field") == "message" else ""
    return SearchResult(conversation.conversation_id, conversation.title, snippet)


def rename_error(error: Exception) -> str:
    """The sentence for a refused rename: the API's rule for titles, or the usual one."""
    if isinstance(error, ApiError) and error.code == "validation_error":
        return TITLE_RULE
    return user_message(error)


class ConversationToolsState(rx.State):
    """The history's search box and rename field, and the downloads."""

    search_query: str = ""
    # The query the results answer ("" while the sidebar shows the whole history).
    searched: str = ""
    search_results: list[SearchResult] = []
    search_error: str = ""
    renaming_id: str = ""
    rename_error: str = ""
    export_error: str = ""

    def _session_ended(self):
        self.reset()
        return rx.redirect(SIGN_IN_ROUTE)

    @rx.var
    def search_notice(self) -> str:
        if self.searched and not self.search_results and not self.search_error:
            return NOTHING_FOUND.format(query=self.searched)
        return ""

    @rx.event
    async def type_query(self, value: str):
        """on_change of the search box (debounced in the browser): searches as the user
        types; an emptied box shows the whole history again."""
        self.search_query = value
        return await self._search()

    @rx.event
    async def search(self, form_data: dict):
        """Enter in the search box."""
        self.search_query = form_data.get("query", self.search_query) or ""
        return await self._search()

    @rx.event
    def clear_search(self):
        self.search_query = self.searched = self.search_error = ""
        self.search_results = []

    async def _search(self):
        query = self.search_query.strip()
        if not query:
            self.clear_search()
            return None
        # The API's limit; longer text could match nothing it could also show.
        outcome = await call_api(self, "search_conversations", query[:100])
        if outcome.session_ended:
            return self._session_ended()
        self.searched = query
        if outcome.error:
            self.search_error = user_message(outcome.error)
            self.search_results = []
            return None
        self.search_error = ""
        self.search_results = [result_from_api(item) for item in outcome.result]
        return None

    @rx.event
    def start_rename(self, conversation_id: str):
        self.renaming_id = conversation_id
        self.rename_error = ""

    @rx.event
    def cancel_rename(self):
        self.renaming_id = self.rename_error = ""

    @rx.event
    async def save_rename(self, form_data: dict):
        """Enter in the rename field: the API cleans and checks the title; a refusal is shown
        under the field, which stays open with what was typed."""
        conversation_id = self.renaming_id
        if not conversation_id:
            return None
        title = form_data.get("title") or ""
        outcome = await call_api(self, "rename_conversation", conversation_id, title)
        if outcome.session_ended:
            return self._session_ended()
        if outcome.error:
            self.rename_error = rename_error(outcome.error)
            return None
        new_title = conversation_from_api(outcome.result).title
        history = await self.get_state(HistoryState)
        history.conversations = [
            dataclasses.replace(item, title=new_title)
            if item.conversation_id == conversation_id
            else item
            for item in history.conversations
        ]
        self.search_results = [
            dataclasses.replace(item, title=new_title)
            if item.conversation_id == conversation_id
            else item
            for item in self.search_results
        ]
        self.renaming_id = self.rename_error = ""
        return None

    @rx.event
    async def export_conversation(self, export_format: str):
        """The open conversation as a Markdown or JSON file."""
        from .chat import ChatState

        chat = await self.get_state(ChatState)
        if export_format not in EXPORT_FORMATS or not chat.conversation_id:
            return None
        return await self._download("export_conversation", chat.conversation_id, export_format)

    @rx.event
    async def export_account(self):
        """Everything stored about the user, as one JSON file."""
        return await self._download("export_account")

    async def _download(self, method: str, *args: str):
        self.export_error = ""
        outcome = await call_api(self, method, *args)
        if outcome.session_ended:
            return self._session_ended()
        if outcome.error:
            self.export_error = user_message(outcome.error)
            return None
        download: Download = outcome.result
        media_type = download.media_type.split(";")[0].strip() or "application/octet-stream"
        return rx.download(data=download.content, filename=download.filename, mime_type=media_type)
