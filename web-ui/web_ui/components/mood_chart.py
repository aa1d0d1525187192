"""The mood timeline's charts (recharts, drawn in the browser as SVG): a stacked bar per day by
emotion, the same bars small in the chat header's strip, and a conversation's trajectory as a
line from negative to pleasant. Colours are the emotion chips' Radix colours, so they follow the
light and dark themes."""

from __future__ import annotations

import reflex as rx

from ..mood_summary import LABELS
from ..state.moods import MOODS_ROUTE, MoodState
from .messages import EMOTION_COLORS

# The trajectory's y axis: the tone of each message in words instead of -1, 0 and 1.
TONE_TICKS = "(tone) => (tone > 0 ? 'pleasant' : tone < 0 ? 'negative' : 'neutral')"


def _fill(label: str) -> str:
    return f"var(--{EMOTION_COLORS[label]}-9)"


def _bars() -> list[rx.Component]:
    # No animation: the bars are drawn at once (and reduced motion is respected for free).
    return [
        rx.recharts.bar(
            data_key=label,
            name=label,
            stack_id="moods",
            fill=_fill(label),
            is_animation_active=False,
        )
        for label in LABELS
    ]


def _axis_text() -> dict:
    return {"fill": "var(--gray-11)", "fontSize": 12}


def mood_bars(days: rx.Var, *, height: int = 280) -> rx.Component:
    """Messages per day, stacked by emotion, with the axes, a legend and a tooltip."""
    return rx.recharts.bar_chart(
        *_bars(),
        rx.recharts.cartesian_grid(vertical=False, stroke="var(--gray-5)"),
        rx.recharts.x_axis(data_key="day", tick=_axis_text(), min_tick_gap=12),
        rx.recharts.y_axis(allow_decimals=False, tick=_axis_text(), width=32),
        rx.recharts.graphing_tooltip(
            content_style={
                "background": "var(--color-panel-solid)",
                "border": "1px solid var(--gray-6)",
                "color": "var(--gray-12)",
            },
            cursor={"fill": "var(--gray-a3)"},
        ),
        rx.recharts.legend(icon_type="square", icon_size=10),
        data=days,
        height=height,
        bar_category_gap="15%",
    )


def mood_sparkbars(week: rx.Var) -> rx.Component:
    """The last week as seven small stacked bars, for the chat's header."""
    return rx.recharts.bar_chart(
        *_bars(),
        data=week,
        width=84,
        height=28,
        bar_category_gap="12%",
        margin={"top": 2, "right": 0, "bottom": 0, "left": 0},
    )


def trajectory_line(points: rx.Var, *, height: int = 180) -> rx.Component:
    """The emotion of each user message of one conversation, in order; each change of
    emotion is named above its point."""
    return rx.recharts.line_chart(
        rx.recharts.line(
            rx.recharts.label_list(
                data_key="change", position="top", offset=8, fill="var(--gray-11)"
            ),
            data_key="tone",
            name="tone",
            type_="linear",
            stroke="var(--accent-9)",
            dot={"r": 4, "fill": "var(--accent-9)"},
            is_animation_active=False,
        ),
        rx.recharts.x_axis(data_key="message", tick=_axis_text(), allow_decimals=False),
        rx.recharts.y_axis(
            domain=[-1.5, 1.5],
            ticks=[-1, 0, 1],
            tick=_axis_text(),
            tick_formatter=TONE_TICKS,
            width=64,
        ),
        rx.recharts.cartesian_grid(vertical=False, stroke="var(--gray-5)"),
        data=points,
        height=height,
        margin={"top": 20, "right": 16, "bottom": 0, "left": 0},
    )


def mood_strip() -> rx.Component:
    """The chat header's link to the timeline: an icon, then the last week as small bars and
    its tone in words, or only the link's name while the timeline is off or the week has no
    messages. A phone's header keeps the icon alone; the link keeps its name for screen
    readers."""
    wide_only = ["none", "none", "flex"]
    has_week = MoodState.enabled & (MoodState.week_words != "")
    plain_name = rx.cond(MoodState.enabled, "Mood timeline", "Mood timeline (off)")
    return rx.link(
        rx.hstack(
            rx.icon("chart-column", size=16),
            rx.cond(
                has_week,
                rx.el.div(
                    rx.hstack(
                        rx.box(mood_sparkbars(MoodState.week), class_name="mood-spark"),
                        rx.text(MoodState.week_words, as_="span", size="1"),
                        align="center",
                        spacing="2",
                    ),
                    # A plain element: Radix's `.rt-Box` would override the display.
                    display=wide_only,
                ),
                rx.text(plain_name, as_="span", size="2", display=wide_only),
            ),
            align="center",
            spacing="1",
        ),
        href=MOODS_ROUTE,
        id="mood-strip",
        underline="none",
        custom_attrs={
            "aria-label": rx.cond(
                has_week, "Your mood this week: " + MoodState.week_words, plain_name
            ),
        },
    )
