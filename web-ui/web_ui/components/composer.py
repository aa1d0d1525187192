"""The message input with Send, or Stop while a reply streams."""

from __future__ import annotations

import reflex as rx

from ..state import ChatState


def composer() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.label("Message", html_for="message", class_name="visually-hidden"),
            rx.input(
                id="message",
                name="message",
                placeholder="Write a message and press Enter",
                auto_focus=True,
                disabled=ChatState.streaming,
                max_length=4000,
                auto_complete="off",
                size="3",
                class_name="message-input",
                custom_attrs={"aria-keyshortcuts": "Shift+Escape /"},
            ),
            rx.cond(
                ChatState.streaming,
                rx.button(
                    rx.icon("square", size=14),
                    "Stop",
                    type="button",
                    size="3",
                    color_scheme="red",
                    variant="soft",
                    on_click=ChatState.stop,
                    id="stop-reply",
                    custom_attrs={"aria-keyshortcuts": "Escape"},
                ),
                rx.button(rx.icon("send", size=16), "Send", type="submit", size="3"),
            ),
            width="100%",
            spacing="2",
        ),
        on_submit=ChatState.send,
        reset_on_submit=True,
        width="100%",
    )
