"""The history's search box and results, renaming a conversation in place, and the export
menu of the chat's top bar."""

from __future__ import annotations

import reflex as rx

from ..state import ChatState, ConversationItem, ConversationToolsState, SearchResult
from .controls import alert_text, cancel_button, icon_action, inline_field, inline_form

SEARCH_INPUT = "history-search"


def search_box() -> rx.Component:
    """Searches as the user types (after a pause) and on Enter; emptying it, or its clear
    button, shows the whole history again."""
    return rx.form(
        rx.hstack(
            rx.el.label(
                "Search conversations", html_for=SEARCH_INPUT, class_name="visually-hidden"
            ),
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                id=SEARCH_INPUT,
                name="query",
                type="search",
                placeholder="Search conversations",
                max_length=100,
                auto_complete="off",
                size="2",
                width="100%",
                on_change=ConversationToolsState.type_query.debounce(400),
            ),
            rx.cond(
                ConversationToolsState.searched != "",
                icon_action(
                    "x",
                    "Clear the search",
                    [rx.set_value(SEARCH_INPUT, ""), ConversationToolsState.clear_search],
                    size="2",
                ),
            ),
            align="center",
            spacing="1",
            width="100%",
        ),
        on_submit=ConversationToolsState.search,
        width="100%",
        custom_attrs={"role": "search"},
    )


def search_result_row(item: rx.Var[SearchResult]) -> rx.Component:
    return rx.button(
        rx.vstack(
            rx.text(item.title, class_name="conversation-title"),
            rx.cond(
                item.snippet != "",
                rx.text(item.snippet, size="1", color_scheme="gray", class_name="search-snippet"),
            ),
            align="start",
            spacing="0",
            width="100%",
        ),
        variant="ghost",
        color_scheme="gray",
        class_name="conversation-open search-result",
        on_click=ChatState.open_conversation(item.conversation_id),
    )


def search_results() -> rx.Component:
    return rx.vstack(
        alert_text(ConversationToolsState.search_error),
        rx.cond(
            ConversationToolsState.search_notice != "",
            rx.text(ConversationToolsState.search_notice, size="2", color_scheme="gray"),
        ),
        rx.foreach(ConversationToolsState.search_results, search_result_row),
        spacing="1",
        width="100%",
        id="search-results",
        custom_attrs={"aria-label": "Search results"},
    )


def rename_button(item: rx.Var[ConversationItem]) -> rx.Component:
    return icon_action(
        "pencil",
        "Rename conversation " + item.title,
        ConversationToolsState.start_rename(item.conversation_id),
    )


def rename_form(item: rx.Var[ConversationItem]) -> rx.Component:
    """The title as an editable field: Enter saves, Esc or Cancel keeps the old title."""
    return inline_form(
        inline_field(
            rx.input,
            "New title",
            "rename-title",
            "title",
            item.title,
            auto_complete="off",
            size="2",
        ),
        alert_text(ConversationToolsState.rename_error, size="1", id="rename-error"),
        rx.hstack(
            rx.button("Save", type="submit", size="1"),
            cancel_button(ConversationToolsState.cancel_rename, pressed_by_escape=True),
            spacing="2",
        ),
        on_submit=ConversationToolsState.save_rename,
        class_name="rename-form",
        spacing="1",
    )


def renaming(item: rx.Var[ConversationItem]) -> rx.Var[bool]:
    return ConversationToolsState.renaming_id == item.conversation_id


def export_menu() -> rx.Component:
    """Downloads: the open conversation as Markdown or JSON, and all of the user's data."""
    no_conversation = ChatState.conversation_id == ""
    return rx.hstack(
        rx.menu.root(
            rx.menu.trigger(
                rx.button(
                    rx.icon("download", size=14),
                    rx.el.span("Export", class_name="export-label"),
                    variant="soft",
                    size="2",
                    custom_attrs={"aria-label": "Export"},
                ),
            ),
            rx.menu.content(
                rx.menu.item(
                    "This conversation as Markdown",
                    on_select=ConversationToolsState.export_conversation("markdown"),
                    disabled=no_conversation,
                ),
                rx.menu.item(
                    "This conversation as JSON",
                    on_select=ConversationToolsState.export_conversation("json"),
                    disabled=no_conversation,
                ),
                rx.menu.separator(),
                rx.menu.item("All my data (JSON)", on_select=ConversationToolsState.export_account),
            ),
        ),
        alert_text(ConversationToolsState.export_error, size="1"),
        align="center",
        spacing="2",
    )
