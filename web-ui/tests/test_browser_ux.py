"""The chat's everyday comforts in headless chromium against the real local stack: the dark
theme (following the system, and switched by hand), the copy button, message times, keyboard
shortcuts, the AI note and the crisis page."""

from __future__ import annotations

import re

from conftest import (
    ARTIFACTS,
    assistant_bubbles,
    send_message,
    sign_in,
    wait_for_reply,
)
from playwright.sync_api import expect

CRISIS_LINES = ("988", "116 123", "findahelpline.com", "emergency number")


def background_of(page) -> tuple[int, ...]:
    color = page.evaluate("getComputedStyle(document.querySelector('.app')).backgroundColor")
    if color in ("", "rgba(0, 0, 0, 0)"):
        color = page.evaluate(
            "getComputedStyle(document.querySelector('.radix-themes')).backgroundColor"
        )
    return tuple(int(part) for part in re.findall(r"\d+", color)[:3])


def is_dark(rgb: tuple[int, ...]) -> bool:
    return sum(rgb) / 3 < 80


def test_the_dark_theme_follows_the_system_and_can_be_switched(page, stack, model):
    page.emulate_media(color_scheme="dark")  # the system's setting: prefers-color-scheme
    sign_in(page, stack.new_user())
    wait_for_reply(page, send_message(page, "Hello in the dark"))
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    assert is_dark(background_of(page))
    path = page.shots.take("dark-mode")
    assert path.parent == ARTIFACTS and path.exists()

    # Switched by hand: light, and still light after a reload (kept in local storage).
    page.get_by_role("button", name="Use the light theme").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    assert not is_dark(background_of(page))
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    page.shots.take("switched-to-light")


def test_a_light_system_gets_the_light_theme(page, stack):
    page.emulate_media(color_scheme="light")
    page.goto("/signin")
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    expect(page.get_by_role("button", name="Use the dark theme")).to_be_visible()


def test_copy_a_reply_and_see_when_messages_were_sent(page, stack, model):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.web_url)
    sign_in(page, stack.new_user())
    reply = wait_for_reply(page, send_message(page, "Please say something to copy"))
    reply.get_by_role("button", name="Copy the reply").click()
    expect(reply.get_by_text("Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Please say something to copy" in copied  # the local model echoes the message
    assert copied.strip() == reply.locator(".reply-text").inner_text().strip()
    # Each message shows its time, as a machine-readable <time> in the reader's zone.
    times = page.locator("[data-role] time")
    expect(times).to_have_count(2)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", times.first.get_attribute("datetime")
    )
    expect(times.first).to_have_text(re.compile(r"^\d{1,2}:\d\d"))
    # After a reload the stored messages carry the chat API's times.
    page.reload()
    expect(page.locator("[data-role] time")).to_have_count(2)
    page.shots.take("copied")


def test_keyboard_shortcuts(page, stack, model):
    sign_in(page, stack.new_user())
    help_box = page.locator("#shortcuts-help")
    help_box.get_by_text("Keyboard shortcuts").click()  # listed at the foot of the sidebar
    for keys in ("Ctrl+Shift+O", "/ or Shift+Esc", "Esc"):
        expect(help_box.locator("kbd", has_text=keys).first).to_be_visible()
    box = page.get_by_label("Message", exact=True)
    wait_for_reply(page, send_message(page, "First message"))
    page.locator("h1").click()  # the focus leaves the input
    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the key opened the input and typed nothing
    page.locator("h1").click()
    page.keyboard.press("Shift+Escape")
    expect(box).to_be_focused()

    # Esc stops a streaming reply.
    model.model(inter_token_ms=300)
    before = send_message(page, "Tell me a long story about the sea and the wind")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    page.keyboard.press("Escape")
    reply = wait_for_reply(page, before)
    expect(reply).to_contain_text("(stopped)")
    model.reset_model()

    # Ctrl+Shift+O starts a new chat.
    page.keyboard.press("Control+Shift+O")
    expect(page.locator("[data-role=user]")).to_have_count(0)
    expect(assistant_bubbles(page)).to_have_count(0)


def test_the_ai_note_and_the_crisis_page(page, stack, model):
    page.goto("/signin")
    footer = page.locator("footer")
    expect(footer).to_contain_text("not a person or a therapist")
    footer.get_by_role("link", name="Crisis support").click()
    page.wait_for_url("**/crisis")
    expect(page.get_by_role("heading", name="If you are in crisis")).to_be_visible()
    for line in CRISIS_LINES:
        expect(page.locator("#crisis-lines")).to_contain_text(line)
    protocol = page.locator("#crisis-protocol")
    expect(protocol).to_contain_text("always ends with the crisis lines")
    expect(protocol).to_contain_text("never gives information about ways")
    expect(page.get_by_text("does not call anyone")).to_be_visible()
    page.shots.take("crisis-page")

    sign_in(page, stack.new_user())
    note = page.locator("#ai-note")
    expect(note).to_contain_text("AI assistant, not a person or a therapist")
    # The safety notice links to the protocol.
    wait_for_reply(page, send_message(page, "I want to kill myself"))
    safety = page.locator(".safety")
    expect(safety).to_contain_text("You are not alone")
    safety.get_by_role("link", name="How this assistant responds").click()
    page.wait_for_url("**/crisis")
    page.go_back()
    expect(page.locator("#ai-note")).to_be_visible()  # on the chat page, always
