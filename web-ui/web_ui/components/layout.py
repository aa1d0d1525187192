"""What every page shows: the note that the assistant is an AI, the link to the crisis page,
and the switch between the light and the dark theme (which follows the system until the user
chooses)."""

from __future__ import annotations

import reflex as rx

from .controls import icon_action

CRISIS_ROUTE = "/crisis"
AI_NOTE = (
    "You are talking with an AI assistant, not a person or a therapist. It can be wrong, and "
    "it cannot help in an emergency."
)


def crisis_link(text: str = "If you are in crisis", **props) -> rx.Component:
    return rx.link(text, href=CRISIS_ROUTE, id=props.pop("id", None), **props)


def ai_note() -> rx.Component:
    """The permanent note under the chat's input."""
    return rx.text(
        AI_NOTE + " ",
        crisis_link("If you are in crisis, get help now.", id="crisis-link-note"),
        size="1",
        color_scheme="gray",
        id="ai-note",
        class_name="ai-note",
    )


def theme_switch() -> rx.Component:
    """Light or dark: follows `prefers-color-scheme` until the user picks one (kept in the
    browser's local storage by Reflex's color mode)."""
    return icon_action(
        rx.color_mode_cond(rx.icon("moon", size=16), rx.icon("sun", size=16)),
        rx.color_mode_cond("Use the dark theme", "Use the light theme"),
        rx.toggle_color_mode,
        size="2",
        id="theme-switch",
    )


def site_footer() -> rx.Component:
    return rx.el.footer(
        rx.text(AI_NOTE, size="1", color_scheme="gray"),
        rx.hstack(
            crisis_link("Crisis support", id="crisis-link-footer", size="1"),
            theme_switch(),
            align="center",
            spacing="3",
        ),
        class_name="site-footer",
    )


def centered_page(card: rx.Component) -> rx.Component:
    """A page of one card (sign-in, security, crisis), with the footer under it."""
    return rx.center(
        rx.vstack(card, site_footer(), align="center", width="100%"),
        class_name="auth-page",
    )


def content_page(
    title: str, *body: rx.Component, spacing: str = "3", card_class: str = "content-card"
) -> rx.Component:
    """A page beside the chat (moods, security, crisis): one card that starts with the way back
    to the chat and the page's heading."""
    return centered_page(
        rx.card(
            rx.vstack(
                rx.link("Back to the chat", href="/", size="2"),
                rx.heading(title, size="6", as_="h1"),
                *body,
                spacing=spacing,
                width="100%",
            ),
            class_name=card_class,
        )
    )
