"""The mood timeline: the user's emotions over the last 30 days as a chart with plain words
under it, the open conversation's trajectory, and the switch that turns the timeline off."""

from __future__ import annotations

import reflex as rx

from ..components.layout import content_page
from ..components.mood_chart import mood_bars, trajectory_line
from ..state.moods import TIMELINE_DAYS, MoodState

PRIVACY_NOTE = (
    "Only you see this timeline: it is made from your own messages when you open it, and it is "
    "never shown to anyone else, operators included."
)
OFF_NOTE = (
    "The mood timeline is off, so nothing of it is shown. Your messages keep their emotion, "
    "which shapes the assistant's replies. Turn the switch above on to see the timeline again."
)


def timeline_switch() -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.switch(
                checked=MoodState.enabled,
                on_change=MoodState.set_timeline,
                disabled=MoodState.busy | ~MoodState.loaded,
                id="mood-timeline-switch",
            ),
            rx.text("Show my mood timeline", size="2"),
            align="center",
            spacing="2",
        ),
        html_for="mood-timeline-switch",
    )


def trajectory_section() -> rx.Component:
    return rx.vstack(
        rx.heading("This conversation", size="4", as_="h2"),
        rx.cond(
            MoodState.trajectory.length() > 0,
            rx.vstack(
                rx.text(MoodState.trajectory_title, size="2", color_scheme="gray"),
                rx.box(
                    trajectory_line(MoodState.trajectory),
                    id="mood-trajectory",
                    class_name="mood-chart",
                    width="100%",
                    custom_attrs={
                        "role": "img",
                        "aria-label": "The emotion of each of your messages in this conversation",
                    },
                ),
                width="100%",
            ),
            rx.text(
                "Open a conversation in the chat to see how its mood moved, message by message.",
                size="2",
                color_scheme="gray",
                id="mood-trajectory-empty",
            ),
        ),
        width="100%",
    )


def timeline() -> rx.Component:
    return rx.vstack(
        rx.heading(f"The last {TIMELINE_DAYS} days", size="4", as_="h2"),
        rx.box(
            mood_bars(MoodState.days),
            id="mood-chart",
            class_name="mood-chart",
            width="100%",
            custom_attrs={"role": "img", "aria-label": "Your messages per day, by emotion"},
        ),
        rx.text(MoodState.summary, id="mood-summary", size="3"),
        rx.text(
            "A difficult day is one on which at least half of your messages were angry, "
            "disgusted, fearful or sad. Days are in UTC.",
            size="1",
            color_scheme="gray",
        ),
        trajectory_section(),
        spacing="3",
        width="100%",
    )


def moods_page() -> rx.Component:
    return content_page(
        "Your mood timeline",
        rx.text(PRIVACY_NOTE, size="2", color_scheme="gray"),
        timeline_switch(),
        rx.cond(
            MoodState.error != "",
            rx.callout(MoodState.error, icon="triangle_alert", color_scheme="red"),
        ),
        rx.cond(
            MoodState.loaded,
            rx.cond(
                MoodState.enabled,
                timeline(),
                rx.callout(OFF_NOTE, icon="eye_off", id="mood-timeline-off"),
            ),
            rx.cond(MoodState.error == "", rx.spinner(size="2")),
        ),
        spacing="4",
        card_class="content-card mood-card",
    )
