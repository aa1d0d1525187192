"""A message of the conversation: the user's words with their emotion, and a reply with its
feedback controls."""

from __future__ import annotations

import reflex as rx

from ..markdown import safe_markdown
from ..state import ChatMessage, ChatState
from .browser import local_time
from .controls import alert_text, cancel_button, icon_action
from .turn_actions import edit_button, edit_form, editing, regenerate_button

EMOTION_COLORS = {
    "anger": "red",
    "disgust": "grass",
    "fear": "purple",
    "joy": "amber",
    "neutral": "gray",
    "sadness": "blue",
    "surprise": "cyan",
}


def emotion_chip(emotion: rx.Var[str]) -> rx.Component:
    return rx.match(
        emotion,
        *[
            (label, rx.badge(label, color_scheme=color, variant="soft", class_name="emotion"))
            for label, color in EMOTION_COLORS.items()
        ],
        rx.badge(emotion, variant="soft", class_name="emotion"),
    )


def feedback_controls(message: rx.Var[ChatMessage]) -> rx.Component:
    def thumb(rating: str, icon: str, label: str) -> rx.Component:
        chosen = message.rating == rating
        return rx.icon_button(
            rx.icon(icon, size=16),
            variant=rx.cond(chosen, "solid", "ghost"),
            color_scheme=rx.cond(chosen, "iris", "gray"),
            size="1",
            type="button",
            disabled=message.rating_sent,
            on_click=ChatState.choose_rating(message.message_id, rating),
            custom_attrs={"aria-label": label, "aria-pressed": rx.cond(chosen, "true", "false")},
        )

    return rx.vstack(
        rx.hstack(
            thumb("up", "thumbs-up", "Good reply"),
            thumb("down", "thumbs-down", "Bad reply"),
            rx.cond(
                message.rating_sent,
                rx.text("Thanks for your feedback.", size="1", color_scheme="gray"),
            ),
            spacing="2",
            align="center",
        ),
        rx.cond(
            (ChatState.feedback_for == message.message_id) & ~message.rating_sent,
            rx.form(
                rx.vstack(
                    rx.el.label("Comment (optional)", html_for="comment", class_name="field-label"),
                    rx.text_area(
                        id="comment", name="comment", max_length=1000, rows="2", width="100%"
                    ),
                    alert_text(ChatState.feedback_error),
                    rx.hstack(
                        rx.button("Send feedback", type="submit", size="1"),
                        cancel_button(ChatState.cancel_feedback),
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=ChatState.send_feedback,
                reset_on_submit=True,
                width="100%",
            ),
        ),
        spacing="2",
        width="100%",
    )


def copy_button(message: rx.Var[ChatMessage]) -> rx.Component:
    """Copies the reply's text (its Markdown source) to the clipboard, in the browser."""
    copied = (ChatState.copied_id != "") & (ChatState.copied_id == message.message_id)
    return rx.hstack(
        icon_action(
            "copy",
            "Copy the reply",
            [rx.set_clipboard(message.text), ChatState.mark_copied(message.message_id)],
            class_name="copy-reply",
        ),
        rx.cond(copied, rx.text("Copied", size="1", color_scheme="gray", role="status")),
        align="center",
        spacing="1",
    )


def reply_actions(message: rx.Var[ChatMessage]) -> rx.Component:
    return rx.hstack(
        copy_button(message),
        regenerate_button(message),
        local_time(value=message.created_at, class_name="time"),
        align="center",
        spacing="2",
    )


def message_bubble(message: rx.Var[ChatMessage]) -> rx.Component:
    return rx.cond(
        message.role == "user",
        rx.box(
            rx.cond(
                editing(message),
                edit_form(message),
                rx.vstack(
                    safe_markdown(message.text, class_name="user-text"),
                    rx.hstack(
                        edit_button(message),
                        rx.cond(message.emotion != "", emotion_chip(message.emotion)),
                        local_time(value=message.created_at, class_name="time"),
                        align="center",
                        spacing="2",
                    ),
                    align="end",
                    spacing="1",
                ),
            ),
            class_name="bubble user",
            custom_attrs={"data-role": "user"},
        ),
        rx.box(
            rx.cond(
                message.text == "",
                rx.hstack(rx.spinner(size="1"), rx.text("Thinking…", size="2"), align="center"),
                safe_markdown(message.text, class_name="reply-text"),
            ),
            rx.cond(message.stopped, rx.text("(stopped)", size="1", color_scheme="gray")),
            rx.cond(~message.streaming & (message.text != ""), reply_actions(message)),
            rx.cond(
                (message.message_id != "") & ~message.streaming & ~message.stopped,
                feedback_controls(message),
            ),
            class_name="bubble assistant",
            custom_attrs={
                "data-role": "assistant",
                "data-message-id": message.message_id,
                "aria-busy": rx.cond(message.streaming, "true", "false"),
            },
        ),
    )
