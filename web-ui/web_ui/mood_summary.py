"""The mood timeline in words and as chart rows, from the chat API's answers
(`GET /api/v1/me/moods` and a conversation's `emotion_trajectory`).

A difficult day is a day on which at least half of the user's messages carried a negative
emotion (anger, disgust, fear or sadness: the API's `negative_share`).
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

# Bottom to top in the stacked bars: the pleasant and neutral emotions first.
LABELS = ("joy", "surprise", "neutral", "sadness", "fear", "anger", "disgust")
NEGATIVE = frozenset({"anger", "disgust", "fear", "sadness"})
MOOD_WORDS = {
    "anger": "angry",
    "disgust": "put off",
    "fear": "anxious",
    "joy": "joyful",
    "neutral": "calm",
    "sadness": "sad",
    "surprise": "surprised",
}
# Where a message sits on the trajectory's line: pleasant above, negative below.
TONES = {label: -1 if label in NEGATIVE else 0 for label in LABELS} | {"joy": 1}
DIFFICULT_SHARE = 0.5
# Above this share of messages the period is "mostly" its dominant emotion; below, "mixed".
MOSTLY_SHARE = 0.5
WEEK_DAYS = 7
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _spelled(number: int) -> str:
    return _NUMBER_WORDS[number] if number < len(_NUMBER_WORDS) else str(number)


def _count(number: int, word: str) -> str:
    return f"{_spelled(number)} {word}{'' if number == 1 else 's'}"


def _days(moods: Any) -> list[dict[str, Any]]:
    daily = moods.get("daily") if isinstance(moods, dict) else None
    if not isinstance(daily, list):
        return []
    return [day for day in daily if isinstance(day, dict) and isinstance(day.get("date"), str)]


def _messages(day: dict[str, Any]) -> int:
    value = day.get("messages")
    return value if isinstance(value, int) and value > 0 else 0


def _counts(day: dict[str, Any]) -> Counter:
    counts = day.get("counts") if isinstance(day.get("counts"), dict) else {}
    return Counter(
        {
            label: n
            for label, n in counts.items()
            if label in LABELS and isinstance(n, int) and not isinstance(n, bool) and n > 0
        }
    )


def is_difficult(day: dict[str, Any]) -> bool:
    counts = _counts(day)
    total = sum(counts.values())
    return bool(total) and sum(counts[label] for label in NEGATIVE) / total >= DIFFICULT_SHARE


def _tone(days: list[dict[str, Any]]) -> tuple[bool, str]:
    """(whether one emotion has at least half of the messages, that emotion's word). A tie
    goes to the emotion shown on the latest day (as the API's dominant does)."""
    totals: Counter = Counter()
    latest: dict[str, int] = {}
    for position, day in enumerate(days):
        counts = _counts(day)
        totals.update(counts)
        latest.update(dict.fromkeys(counts, position))
    label = max(totals, key=lambda name: (totals[name], latest[name]))
    return totals[label] / sum(totals.values()) >= MOSTLY_SHARE, MOOD_WORDS[label]


def _difficult(days: list[dict[str, Any]]) -> str:
    hard = sum(1 for day in days if is_difficult(day))
    if hard and hard == len(days) > 1:
        return f"all {_spelled(hard)} days were difficult"
    return _count(hard, "difficult day")


def describe_moods(moods: Any) -> str:
    """The timeline in plain words, e.g. "Mostly calm this week; two difficult days." Only
    days with messages count (a quiet day is neither good nor difficult)."""
    days = _days(moods)
    active = [day for day in days if _counts(day)]
    if not active:
        window = f" in the last {len(days)} days" if days else ""
        return f"No messages{window} yet: the timeline fills in as you chat."
    week = [day for day in days[-WEEK_DAYS:] if _counts(day)]
    if week:
        mostly, word = _tone(week)
        tone = f"Mostly {word} this week" if mostly else f"A mixed week, most often {word}"
        sentences = [f"{tone}; {_difficult(week)}."]
    else:
        sentences = ["No messages this week."]
    if len(days) > WEEK_DAYS and len(active) > len(week):
        mostly, word = _tone(active)
        hard = sum(1 for day in active if is_difficult(day))
        share = "none" if not hard else "all" if hard == len(active) else _spelled(hard)
        sentences.append(
            f"Over the last {len(days)} days: {'mostly' if mostly else 'a mix, most often'} "
            f"{word}; {share} of the "
            f"{_count(len(active), 'day')} with messages {'was' if hard == 1 else 'were'} "
            "difficult."
        )
    if isinstance(moods, dict) and moods.get("complete") is False:
        sentences.append("The oldest days may be missing some messages.")
    return " ".join(sentences)


def week_phrase(moods: Any) -> str:
    """The week in two or three words for the chat's header ("Mostly calm"); empty without
    messages this week."""
    week = [day for day in _days(moods)[-WEEK_DAYS:] if _counts(day)]
    if not week:
        return ""
    mostly, word = _tone(week)
    return f"Mostly {word}" if mostly else "A mixed week"


def chart_rows(moods: Any) -> list[dict[str, Any]]:
    """One row per day for the stacked bars: its date, short names and a count per emotion."""
    rows = []
    for day in _days(moods):
        try:
            when = datetime.date.fromisoformat(day["date"])
        except ValueError:
            continue
        counts = _counts(day)
        rows.append(
            {
                "date": day["date"],
                "day": f"{when.day} {when:%b}",
                "weekday": f"{when:%a}",
                "messages": _messages(day),
                **{label: counts.get(label, 0) for label in LABELS},
            }
        )
    return rows


def trajectory_rows(trajectory: Any) -> list[dict[str, Any]]:
    """One point per user message of a conversation, oldest first: its place, emotion, tone
    (1 joy, 0 neutral or surprise, -1 negative) and `change`, the emotion where it differs from
    the message before, else None (the chart names only the changes, which keeps its labels
    apart)."""
    if not isinstance(trajectory, list):
        return []
    points = [p for p in trajectory if isinstance(p, dict) and p.get("label") in TONES]
    rows = []
    for n, point in enumerate(points, start=1):
        label = point["label"]
        rows.append(
            {
                "message": n,
                "label": label,
                "tone": TONES[label],
                "change": label if n == 1 or points[n - 2]["label"] != label else None,
                "created_at": point.get("created_at") or "",
            }
        )
    return rows
