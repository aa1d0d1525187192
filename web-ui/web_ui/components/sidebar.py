"""The history sidebar (a drawer on a phone), with its search box and rename fields."""

from __future__ import annotations

import reflex as rx

from ..state import ChatState, ConversationItem, ConversationToolsState, HistoryState
from .controls import alert_text, icon_action
from .conversation_tools import rename_button, rename_form, renaming, search_box, search_results


def conversation_row(item: rx.Var[ConversationItem]) -> rx.Component:
    active = ChatState.conversation_id == item.conversation_id
    return rx.cond(renaming(item), rename_form(item), conversation_entry(item, active))


def conversation_entry(item: rx.Var[ConversationItem], active: rx.Var[bool]) -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.text(item.title, trim="end", class_name="conversation-title"),
            variant=rx.cond(active, "soft", "ghost"),
            color_scheme="gray",
            class_name="conversation-open",
            on_click=ChatState.open_conversation(item.conversation_id),
            custom_attrs={"aria-current": rx.cond(active, "true", "false")},
        ),
        rename_button(item),
        icon_action(
            "trash-2",
            "Delete conversation " + item.title,
            HistoryState.delete_conversation(item.conversation_id),
            color_scheme="red",
        ),
        width="100%",
        align="center",
        spacing="1",
        class_name="conversation",
    )


SHORTCUTS = (
    ("Ctrl+Shift+O", "new chat"),
    ("/ or Shift+Esc", "write a message"),
    ("Esc", "stop a reply, or cancel a rename or an edit"),
)


def shortcuts_help() -> rx.Component:
    """The keyboard shortcuts (components/browser.js), at the foot of the sidebar."""
    return rx.el.details(
        rx.el.summary("Keyboard shortcuts"),
        rx.el.dl(
            *[rx.fragment(rx.el.dt(rx.el.kbd(keys)), rx.el.dd(what)) for keys, what in SHORTCUTS],
        ),
        class_name="shortcuts-help",
        id="shortcuts-help",
    )


def sidebar() -> rx.Component:
    return rx.el.nav(
        rx.button(
            rx.icon("plus", size=16),
            "New chat",
            on_click=ChatState.new_conversation,
            width="100%",
            disabled=ChatState.streaming,
            id="new-chat",
            title="New chat (Ctrl+Shift+O)",
            custom_attrs={"aria-keyshortcuts": "Control+Shift+O Meta+Shift+O"},
        ),
        rx.heading("History", size="2", as_="h2", color_scheme="gray"),
        search_box(),
        alert_text(HistoryState.history_error),
        rx.cond(
            ConversationToolsState.searched != "",
            search_results(),
            rx.cond(
                HistoryState.conversations.length() > 0,
                rx.vstack(rx.foreach(HistoryState.conversations, conversation_row), spacing="1"),
                rx.text("No conversations yet.", size="2", color_scheme="gray"),
            ),
        ),
        shortcuts_help(),
        class_name=rx.cond(ChatState.sidebar_open, "sidebar open", "sidebar"),
        custom_attrs={"aria-label": "Conversation history"},
    )
