"""The chat page: the top bar, the history sidebar, the conversation and the composer."""

from __future__ import annotations

import reflex as rx

from ..components.browser import shortcuts
from ..components.composer import composer
from ..components.controls import callout_when
from ..components.conversation_tools import export_menu
from ..components.layout import ai_note, crisis_link, theme_switch
from ..components.messages import message_bubble
from ..components.mood_chart import mood_strip
from ..components.sidebar import sidebar
from ..state import AuthState, ChatState

SAFETY_NOTICE = (
    "You are not alone. If you are thinking about harming yourself, please reach out now: "
    "in the US call or text 988, in the UK and Ireland call Samaritans on 116 123, or find a "
    "local helpline at findahelpline.com. In immediate danger, call your local emergency number."
)


def chat_page() -> rx.Component:
    return rx.box(
        rx.el.header(
            rx.hstack(
                rx.icon_button(
                    rx.icon("menu", size=18),
                    variant="ghost",
                    class_name="menu-button",
                    on_click=ChatState.toggle_sidebar,
                    custom_attrs={
                        "aria-label": "Show conversation history",
                        "aria-expanded": rx.cond(ChatState.sidebar_open, "true", "false"),
                    },
                ),
                rx.heading("Emotion-aware chat", size="4", as_="h1"),
                align="center",
            ),
            rx.hstack(
                mood_strip(),
                rx.text(AuthState.user_email, size="2", color_scheme="gray", class_name="who"),
                export_menu(),
                rx.link("Security", href="/security", size="2"),
                theme_switch(),
                rx.button("Sign out", variant="soft", size="2", on_click=AuthState.sign_out),
                align="center",
            ),
            class_name="topbar",
        ),
        rx.box(
            sidebar(),
            rx.el.main(
                rx.auto_scroll(
                    rx.cond(
                        ChatState.messages.length() == 0,
                        rx.center(
                            rx.text(
                                "How are you feeling today? Say anything to start.",
                                color_scheme="gray",
                            ),
                            class_name="empty",
                        ),
                    ),
                    rx.foreach(ChatState.messages, message_bubble),
                    class_name="messages",
                    custom_attrs={"aria-live": "polite"},
                    id="messages",
                ),
                rx.cond(
                    ChatState.safety_notice,
                    rx.callout(
                        rx.text(
                            SAFETY_NOTICE + " ",
                            crisis_link("How this assistant responds", id="crisis-link-safety"),
                        ),
                        icon="heart_handshake",
                        color_scheme="orange",
                        role="note",
                        class_name="safety",
                    ),
                ),
                rx.cond(
                    ChatState.error != "",
                    rx.callout(
                        rx.hstack(
                            rx.text(ChatState.error),
                            rx.cond(
                                ChatState.can_retry,
                                rx.button(
                                    "Retry", size="1", on_click=ChatState.retry, type="button"
                                ),
                            ),
                            align="center",
                            justify="between",
                            width="100%",
                            wrap="wrap",
                        ),
                        icon="triangle_alert",
                        color_scheme="red",
                        role="alert",
                    ),
                ),
                callout_when(
                    ChatState.limit_notice,
                    icon="clock",
                    color_scheme="amber",
                    role="status",
                    id="limit-notice",
                ),
                composer(),
                ai_note(),
                rx.cond(
                    ChatState.usage_summary != "",
                    rx.text(
                        ChatState.usage_summary,
                        size="1",
                        color_scheme="gray",
                        id="usage",
                        class_name="usage",
                        custom_attrs={"aria-label": "Your usage"},
                    ),
                ),
                class_name="chat",
            ),
            class_name="layout",
        ),
        shortcuts(),
        class_name="app",
    )
