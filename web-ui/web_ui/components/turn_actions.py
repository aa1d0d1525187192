"""Actions on the conversation's last turn: regenerate the reply, or edit the message it
answers (both stream a new reply in place of the old one)."""

from __future__ import annotations

import reflex as rx

from ..state import ChatMessage, ChatState
from .controls import cancel_button, icon_action, inline_field, inline_form


def is_last_reply(message: rx.Var[ChatMessage]) -> rx.Var[bool]:
    return (ChatState.last_reply_id != "") & (message.message_id == ChatState.last_reply_id)


def is_last_user_message(message: rx.Var[ChatMessage]) -> rx.Var[bool]:
    return (ChatState.last_user_id != "") & (message.message_id == ChatState.last_user_id)


def editing(message: rx.Var[ChatMessage]) -> rx.Var[bool]:
    return (ChatState.editing_id != "") & (ChatState.editing_id == message.message_id)


def regenerate_button(message: rx.Var[ChatMessage]) -> rx.Component:
    return rx.cond(
        is_last_reply(message),
        icon_action("refresh-cw", "Regenerate the reply", ChatState.regenerate),
    )


def edit_button(message: rx.Var[ChatMessage]) -> rx.Component:
    return rx.cond(
        is_last_user_message(message) & ~editing(message),
        icon_action("pencil", "Edit your message", ChatState.start_edit(message.message_id)),
    )


def edit_form(message: rx.Var[ChatMessage]) -> rx.Component:
    """The last message in a field: Save sends it in place of the old one and streams a new
    reply; Cancel (or Esc) keeps the turn as it is."""
    return inline_form(
        inline_field(
            rx.text_area,
            "Your message",
            "edit-message",
            "text",
            message.text,
            max_length=4000,
            rows="3",
        ),
        rx.hstack(
            cancel_button(ChatState.cancel_edit, pressed_by_escape=True),
            rx.button("Save and send", type="submit", size="1"),
            spacing="2",
            justify="end",
            width="100%",
        ),
        on_submit=ChatState.edit_last,
        class_name="edit-form",
        spacing="2",
    )
