"""The mood timeline in headless chromium against the real local stack: a week of messages
drawn as a chart with words under it, the strip in the chat's header, the open conversation's
trajectory, the light and dark themes, and the switch that turns the timeline off.

A week of history cannot be waited for: the earlier messages are written straight into the
conversations table, shaped as the chat API stores them (chat_api/store.py), into the
conversation the test has just started in the browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from conftest import DESKTOP, PHONE, send_message, sign_in, wait_for_reply
from playwright.sync_api import expect

from local_stack.harness import new_user
from web_ui.mood_summary import LABELS

# Days ago -> the emotions of that day's messages (today's message is sent in the browser).
# Difficult days (at least half negative): one and three days ago, and twelve days ago.
EARLIER_DAYS = {
    1: ["sadness", "sadness"],
    2: ["neutral", "neutral", "neutral"],
    3: ["fear", "sadness"],
    4: ["neutral", "neutral"],
    5: ["neutral", "neutral"],
    6: ["joy"],
    12: ["anger"],
}
HAPPY_MESSAGE = "I passed my exam, I am so happy and delighted!"
_ULID = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(when: datetime, n: int) -> str:
    """A message id of `when` (a ULID: 48 bits of milliseconds, then 80 bits), distinct per n."""
    value = (int(when.timestamp() * 1000) << 80) | n
    return "".join(_ULID[(value >> shift) & 31] for shift in range(125, -1, -5))


def _conversation_id(stack, sub: str) -> str:
    """The user's only conversation, from the table's per-user index."""
    items = stack.aws("dynamodb").query(
        TableName=stack.config["CONVERSATIONS_TABLE"],
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USER#{sub}"}},
    )["Items"]
    assert len(items) == 1, items
    return items[0]["conversation_id"]["S"]


def backdate_messages(stack, sub: str, conversation_id: str, days: dict[int, list[str]]) -> None:
    now = datetime.now(UTC)
    for days_ago, labels in days.items():
        for n, label in enumerate(labels):
            # Midday of that UTC day, a minute apart: the same day whatever the hour now is.
            day = (now - timedelta(days=days_ago)).replace(hour=12, minute=n, second=0)
            stack.put_message(
                user_sub=sub,
                conversation_id=conversation_id,
                message_id=_ulid(day, n),
                text=f"a {label} message",
                created_at=day.isoformat(timespec="milliseconds")[:-6] + "Z",
                emotion=label,
            )


def bars(page, chart: str):
    return page.locator(f"{chart} .recharts-bar-rectangle")


def test_a_week_of_messages_is_drawn_with_words(page, stack, model):
    user = new_user(stack)  # signed in over the API too, for the id the table keys use
    sign_in(page, user.email)
    wait_for_reply(page, send_message(page, HAPPY_MESSAGE))
    today = page.locator("[data-role=user] .emotion").last.inner_text()
    assert today in LABELS and today not in ("anger", "disgust", "fear", "sadness")
    backdate_messages(stack, user.sub, _conversation_id(stack, user.sub), EARLIER_DAYS)

    # The header's strip: the last week as small bars and its tone, linking to the page.
    page.reload()
    strip = page.get_by_role("link", name="Your mood this week: Mostly calm")
    expect(strip).to_be_visible()
    expect(bars(page, "#mood-strip")).not_to_have_count(0)
    page.shots.take("mood-strip")
    page.set_viewport_size(PHONE)  # the bars and words give way to the icon: the header fits
    expect(page.locator("#mood-strip .recharts-wrapper")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    strip.click()
    page.wait_for_url("**/moods")

    # One bar segment per day and emotion with messages: seven earlier ones (two emotions three
    # days ago) and today's.
    segments = sum(len(set(labels)) for labels in EARLIER_DAYS.values()) + 1
    expect(bars(page, "#mood-chart")).to_have_count(segments)
    expect(page.locator("#mood-chart .recharts-legend-item")).to_have_count(len(LABELS))
    expect(page.locator("#mood-summary")).to_have_text(
        "Mostly calm this week; two difficult days. Over the last 30 days: mostly calm; three "
        "of the eight days with messages were difficult."
    )
    # The open conversation's trajectory: a point per user message, oldest first.
    messages = sum(len(labels) for labels in EARLIER_DAYS.values()) + 1
    trajectory = page.locator("#mood-trajectory")
    expect(trajectory.locator(".recharts-line-dot")).to_have_count(messages)
    # The emotions are named where they change, from twelve days ago to today.
    changes = trajectory.locator(".recharts-label-list text")
    expect(changes.first).to_have_text("anger")  # twelve days ago
    expect(changes.last).to_have_text(today)
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    page.shots.take("mood-timeline-light")

    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    expect(bars(page, "#mood-chart")).to_have_count(segments)
    page.shots.take("mood-timeline-dark")


def test_the_timeline_can_be_turned_off_and_on(page, stack, model):
    user = new_user(stack)
    page.set_viewport_size(PHONE)
    sign_in(page, user.email)
    # On a phone the strip is an icon that still names the link, and the header fits.
    expect(page.get_by_role("link", name="Mood timeline", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    expect(page.locator("#mood-strip")).to_have_text("Mood timeline")  # nothing this week yet
    page.goto("/moods")
    expect(page.locator("#mood-summary")).to_have_text(
        "No messages in the last 30 days yet: the timeline fills in as you chat."
    )
    page.goto("/")
    wait_for_reply(page, send_message(page, HAPPY_MESSAGE))
    expect(bars(page, "#mood-strip")).not_to_have_count(0)  # refreshed after the reply
    page.locator("#mood-strip").click()
    expect(bars(page, "#mood-chart")).to_have_count(1)

    switch = page.get_by_role("switch", name="Show my mood timeline")
    expect(switch).to_be_checked()
    switch.click()
    expect(page.locator("#mood-timeline-off")).to_be_visible()
    expect(switch).not_to_be_checked()
    expect(page.locator("#mood-chart, #mood-summary, #mood-trajectory")).to_have_count(0)
    # Stored on the user's profile (through the chat API), so it holds after a reload.
    profile = stack.aws("dynamodb").get_item(
        TableName=stack.config["PROFILES_TABLE"], Key={"user_id": {"S": user.sub}}
    )["Item"]
    assert profile["mood_timeline"] == {"BOOL": False}
    page.reload()
    expect(page.locator("#mood-timeline-off")).to_be_visible()
    expect(page.locator("#mood-chart, #mood-summary, #mood-trajectory")).to_have_count(0)
    expect(page.locator(".recharts-wrapper")).to_have_count(0)
    page.shots.take("mood-timeline-off")
    page.goto("/")
    expect(page.get_by_role("link", name="Mood timeline (off)")).to_have_text("Mood timeline (off)")
    expect(page.locator("#mood-strip .recharts-wrapper")).to_have_count(0)

    # On again: the page draws the timeline again.
    page.goto("/moods")
    page.get_by_role("switch", name="Show my mood timeline").click()
    expect(bars(page, "#mood-chart")).to_have_count(1)
    expect(page.locator("#mood-summary")).to_contain_text("this week")


def test_the_timeline_needs_a_sign_in(page, stack):
    page.goto("/moods")
    page.wait_for_url("**/signin")
    expect(page.locator("#mood-chart, #mood-summary")).to_have_count(0)
