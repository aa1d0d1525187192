"""The mood timeline in words and as chart rows, from answers shaped like the chat API's
`GET /me/moods` (every day of the window listed, empty ones with zero counts)."""

from __future__ import annotations

import datetime

import pytest

from web_ui.mood_summary import (
    LABELS,
    chart_rows,
    describe_moods,
    is_difficult,
    trajectory_rows,
    week_phrase,
)

TODAY = datetime.date(2026, 12, 2)


def timeline(days: int = 30, complete: bool = True, **by_days_ago) -> dict:
    """A /me/moods answer; `d3={"fear": 2}` puts two fearful messages three days ago."""
    daily = []
    for offset in range(days - 1, -1, -1):
        counts = dict.fromkeys(LABELS, 0) | by_days_ago.get(f"d{offset}", {})
        daily.append(
            {
                "date": (TODAY - datetime.timedelta(days=offset)).isoformat(),
                "messages": sum(counts.values()),
                "counts": counts,
            }
        )
    return {"days": days, "complete": complete, "daily": daily}


def test_no_messages_at_all():
    assert describe_moods(timeline()) == (
        "No messages in the last 30 days yet: the timeline fills in as you chat."
    )
    assert week_phrase(timeline()) == ""
    assert describe_moods({}) == "No messages yet: the timeline fills in as you chat."
    assert describe_moods(None) == describe_moods({"daily": "not a list"}) == describe_moods({})


def test_one_day():
    moods = timeline(d0={"neutral": 3})
    assert describe_moods(moods) == "Mostly calm this week; no difficult days."
    assert week_phrase(moods) == "Mostly calm"


def test_one_difficult_day():
    assert describe_moods(timeline(d2={"sadness": 2, "joy": 1})) == (
        "Mostly sad this week; one difficult day."
    )


def test_every_day_negative():
    moods = timeline(d0={"sadness": 2}, d1={"fear": 1, "sadness": 1}, d4={"sadness": 1, "anger": 1})
    assert describe_moods(moods) == "Mostly sad this week; all three days were difficult."


def test_a_mixed_week_and_the_month_before_it():
    moods = timeline(
        d0={"neutral": 2},
        d2={"sadness": 2, "joy": 1},
        d4={"fear": 1, "neutral": 1},  # half negative: difficult
        d6={"joy": 1},
        d7={"joy": 4},  # a day before this week
        d20={"anger": 1},
    )
    assert describe_moods(moods) == (
        "A mixed week, most often calm; two difficult days. "
        "Over the last 30 days: a mix, most often joyful; three of the six days with messages "
        "were difficult."
    )
    assert week_phrase(moods) == "A mixed week"


def test_a_quiet_week_after_busy_ones():
    moods = timeline(d10={"joy": 2}, d12={"surprise": 1, "joy": 1})
    assert describe_moods(moods) == (
        "No messages this week. Over the last 30 days: mostly joyful; none of the two days with "
        "messages were difficult."
    )


def test_one_difficult_day_of_the_month():
    moods = timeline(d0={"joy": 1}, d9={"disgust": 2})
    assert describe_moods(moods).endswith("one of the two days with messages was difficult.")


def test_a_tie_goes_to_the_emotion_shown_latest():
    assert describe_moods(timeline(d3={"joy": 1}, d1={"sadness": 1})).startswith(
        "Mostly sad this week"
    )
    assert describe_moods(timeline(d3={"sadness": 1}, d1={"joy": 1})).startswith(
        "Mostly joyful this week"
    )


def test_an_incomplete_timeline_says_so():
    assert describe_moods(timeline(complete=False, d0={"joy": 1})).endswith(
        "The oldest days may be missing some messages."
    )


@pytest.mark.parametrize(
    ("counts", "difficult"),
    [({"sadness": 1, "joy": 1}, True), ({"fear": 1, "joy": 2}, False), ({}, False)],
)
def test_a_difficult_day_is_at_least_half_negative(counts, difficult):
    assert is_difficult({"date": "2026-12-02", "counts": counts}) is difficult


def test_unknown_labels_and_bad_counts_are_left_out():
    day = {"date": "2026-12-02", "counts": {"joy": 2, "boredom": 9, "fear": "x", "anger": -1}}
    assert describe_moods({"daily": [day]}) == "Mostly joyful this week; no difficult days."


def test_chart_rows():
    rows = chart_rows(timeline(days=7, d0={"joy": 2, "fear": 1}))
    assert len(rows) == 7
    assert rows[-1] == {
        "date": "2026-12-02",
        "day": "2 Dec",
        "weekday": "Wed",
        "messages": 3,
        "joy": 2, "surprise": 0, "neutral": 0, "sadness": 0, "fear": 1, "anger": 0, "disgust": 0,
    }  # fmt: skip
    assert rows[0]["date"] == "2026-11-26" and rows[0]["messages"] == 0
    assert chart_rows({"daily": [{"date": "yesterday"}]}) == []


def test_trajectory_rows():
    trajectory = [
        {"message_id": "A", "created_at": "2026-12-02T10:00:00.000Z", "label": "joy"},
        {"message_id": "B", "created_at": "2026-12-02T10:01:00.000Z", "label": "neutral"},
        {"message_id": "C", "created_at": "2026-12-02T10:02:00.000Z", "label": "sadness"},
        {"message_id": "D", "label": "unknown"},
        {"message_id": "E", "created_at": "2026-12-02T10:03:00.000Z", "label": "sadness"},
        {"message_id": "F", "created_at": "2026-12-02T10:04:00.000Z", "label": "fear"},
    ]
    rows = trajectory_rows(trajectory)
    assert [(r["message"], r["label"], r["tone"], r["change"]) for r in rows] == [
        (1, "joy", 1, "joy"),
        (2, "neutral", 0, "neutral"),
        (3, "sadness", -1, "sadness"),
        (4, "sadness", -1, None),
        (5, "fear", -1, "fear"),
    ]
    assert rows[0]["created_at"] == "2026-12-02T10:00:00.000Z"
    assert trajectory_rows(None) == trajectory_rows({"label": "joy"}) == []
