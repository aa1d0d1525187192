"""The crisis page: where to get help now, and what the assistant does when a message shows
that someone may be at risk (the chat API's protocol, docs/safety.md). Public: no sign-in."""

from __future__ import annotations

import reflex as rx

from ..components.layout import content_page

CRISIS_LINES = (
    ("United States", "Call or text 988 (Suicide & Crisis Lifeline)."),
    ("United Kingdom and Ireland", "Call Samaritans on 116 123, free, day or night."),
    ("Anywhere else", "Find a local helpline at findahelpline.com."),
    ("In immediate danger", "Call your local emergency number or go to the nearest emergency "
     "department."),
)  # fmt: skip

PROTOCOL = (
    (
        "Every message is checked.",
        "Each message you send is checked for signs of suicide or self-harm risk, by rules "
        "that recognise explicit statements and by a classifier that catches indirect ones. "
        "Three distressed messages in a row count as a risk even when no single one names it.",
    ),
    (
        "Distress.",
        "When a message sounds distressed or hopeless, the assistant is asked to respond gently, "
        "ask how you are coping, and mention that talking to someone you trust or a helpline "
        "can help.",
    ),
    (
        "Risk.",
        "When a message suggests thoughts of suicide or self-harm, the assistant is asked to "
        "take it seriously, to ask whether you are safe right now and to encourage you to "
        "contact a crisis line. Its reply always ends with the crisis lines above, whatever "
        "else it says, and a support notice stays on the screen.",
    ),
    (
        "Urgent.",
        "When a message suggests a plan, a means, a time or preparations, or asks for a method, "
        "the assistant is told to say plainly that it is concerned for your safety, to ask "
        "whether you have already done anything, and to urge you to call your emergency number "
        "or a crisis line now. The reply ends with the crisis lines.",
    ),
    (
        "Never a method.",
        "The assistant never gives information about ways, doses, quantities, heights or places "
        "to harm yourself, however the question is framed, and a content filter blocks such "
        "replies.",
    ),
)

LIMITS = (
    "No person reads your conversation as it happens, and the app does not call anyone or "
    "contact emergency services for you. The checks understand English best and can miss "
    "things or raise a false alarm: they are a safety net, not a clinical assessment. If you "
    "are in danger, contact one of the lines above yourself, or ask someone near you to help."
)


def crisis_page() -> rx.Component:
    return content_page(
        "If you are in crisis",
        rx.text(
            "If you are thinking about ending your life or hurting yourself, you "
            "deserve support right now, and you do not have to carry this alone. "
            "Please reach out to a crisis line:",
        ),
        rx.el.ul(
            *[
                rx.el.li(rx.text(rx.text.strong(where + ": "), what))
                for where, what in CRISIS_LINES
            ],
            class_name="crisis-lines",
            id="crisis-lines",
        ),
        rx.text("Talking to someone you trust can help too."),
        rx.heading("What this assistant does", size="4", as_="h2"),
        rx.text(
            "The assistant is an AI, not a person or a therapist. This is how it "
            "responds when a message shows that someone may be at risk:"
        ),
        rx.el.ul(
            *[rx.el.li(rx.text(rx.text.strong(title + " "), text)) for title, text in PROTOCOL],
            class_name="protocol",
            id="crisis-protocol",
        ),
        rx.heading("What it does not do", size="4", as_="h2"),
        rx.text(LIMITS),
    )
