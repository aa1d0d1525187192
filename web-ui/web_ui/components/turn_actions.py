"""Actions on the conversation's last turn: regenerate the reply, or edit the message it
answers (both stream a new reply in place of the old one)."""

from __future__ import annotations

import reflex as rx

from ..state import ChatMessage, ChatState
from .conversation_tools import ESCAPE_CANCELS


def is_last_reply(message: rx.Var[ChatMessage]) -> rx.Var[bool]:
    return (ChatState.last_reply_id != "") & (message.message_id == ChatState.last_reply_id)


def is_last_user_message(message: rx.Var[ChatMessage]) -> rx.Var[bool]:
    return (ChatState.last_user_id != "") & (message.message_id == ChatState.last_user_id)


def editing(message: rx.Var[ChatMessage]) -> rx.Var[bool]:
    return (ChatState.editing_id != "") & (ChatState.editing_id == message.message_id)


def regenerate_button(message: rx.Var[ChatMessage]) -> rx.Component:
    return rx.cond(
        is_last_reply(message),
        rx.icon_button(
            rx.icon("refresh-cw", size=14),
            variant="ghost",
            color_scheme="gray",
            size="1",
            type="button",
            on_click=ChatState.regenerate,
            custom_attrs={"aria-label": "Regenerate the reply"},
        ),
    )


def edit_button(message: rx.Var[ChatMessage]) -> rx.Component:
    return rx.cond(
        is_last_user_message(message) & ~editing(message),
        rx.icon_button(
            rx.icon("pencil", size=14),
            variant="ghost",
            color_scheme="gray",
            size="1",
            type="button",
            on_click=ChatState.start_edit(message.message_id),
            custom_attrs={"aria-label": "Edit your message"},
        ),
    )


def edit_form(message: rx.Var[ChatMessage]) -> rx.Component:
    """The last message in a field: Save sends it in place of the old one and streams a new
    reply; Cancel (or Esc) keeps the turn as it is."""
    return rx.form(
        rx.vstack(
            rx.el.label("Your message", html_for="edit-message", class_name="visually-hidden"),
            rx.text_area(
                id="edit-message",
                name="text",
                default_value=message.text,
                auto_focus=True,
                max_length=4000,
                rows="3",
                width="100%",
            ),
            rx.hstack(
                rx.button(
                    "Cancel",
                    type="button",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=ChatState.cancel_edit,
                    custom_attrs={"data-cancel": "true"},
                ),
                rx.button("Save and send", type="submit", size="1"),
                spacing="2",
                justify="end",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=ChatState.edit_last,
        width="100%",
        class_name="edit-form",
        custom_attrs=ESCAPE_CANCELS,
    )
