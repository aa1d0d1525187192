"""The web app in headless chromium against the real local stack (Cognito on moto, the chat API
under Gunicorn, the local model server): every flow a user goes through, and the failures."""

from __future__ import annotations

import time
import uuid

from conftest import (
    PASSWORD,
    PHONE,
    assistant_bubbles,
    fill_email,
    send_message,
    sign_in,
    wait_for_reply,
)
from playwright.sync_api import expect

NEW_PASSWORD = "Another-Passw0rd?"


def history(page):
    return page.get_by_role("navigation", name="Conversation history")


def history_entry(page, title: str):
    return history(page).get_by_role("button", name=title, exact=True)


def test_sign_up_confirm_chat_feedback_reload_delete_and_sign_out(page, stack, model):
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/signup")
    expect(page.get_by_text("At least 12 characters")).to_be_visible()  # rules shown up front
    fill_email(page, email)
    page.get_by_label("Password").fill(PASSWORD)
    page.shots.take("sign-up")
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url("**/confirm")
    expect(page.get_by_label("E-mail address")).to_have_value(email)
    page.get_by_label("Confirmation code").fill("123456")  # moto accepts any code
    page.shots.take("confirm")
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url("**/signin")
    expect(page.get_by_role("status")).to_contain_text("Your account is confirmed")
    page.shots.take("confirmed")
    sign_in(page, email)
    page.shots.take("empty-chat")

    before = send_message(page, "I am so happy, I passed my exam!")
    reply = wait_for_reply(page, before)
    expect(reply).to_contain_text("I am so happy, I passed")  # the responder quotes it
    user_message = page.locator("[data-role=user]").last
    expect(user_message.locator(".emotion")).to_have_text("joy")
    expect(history_entry(page, "I am so happy, I passed…")).to_be_visible()
    page.shots.take("reply")

    reply.get_by_role("button", name="Good reply").click()
    expect(reply.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Comment (optional)").fill("Kind and to the point")
    page.shots.take("feedback-comment")
    page.get_by_role("button", name="Send feedback").click()
    expect(reply.get_by_text("Thanks for your feedback.")).to_be_visible()
    expect(reply.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "true")
    feedback = _stored_feedback(stack, reply.get_attribute("data-message-id"))
    assert feedback["rating"] == {"S": "up"}
    assert feedback["comment"] == {"S": "Kind and to the point"}
    assert feedback["emotion"] == {"S": "joy"}

    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("[data-role=user]")).to_contain_text("I am so happy, I passed my exam!")
    expect(page.locator("[data-role=user] .emotion")).to_have_text("joy")
    expect(assistant_bubbles(page)).to_have_count(1)
    # The rating is stored with the reply, so the reloaded page shows it as given.
    reloaded = assistant_bubbles(page).first
    expect(reloaded.get_by_role("button", name="Good reply")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(reloaded.get_by_role("button", name="Bad reply")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(reloaded.get_by_text("Thanks for your feedback.")).to_be_visible()
    expect(history_entry(page, "I am so happy, I passed…")).to_be_visible()
    page.shots.take("after-reload")

    page.get_by_role("button", name="Delete conversation I am so happy, I passed…").click()
    expect(history(page).get_by_text("No conversations yet.")).to_be_visible()
    expect(page.locator("[data-role=user]")).to_have_count(0)
    page.shots.take("deleted")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/")
    page.wait_for_url("**/signin")  # the chat is closed to a signed-out browser


def _stored_feedback(stack, message_id: str) -> dict:
    """The feedback table's row for a reply, once the ingestion has written it."""
    dynamodb = stack.aws("dynamodb")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = dynamodb.scan(
            TableName=stack.config["FEEDBACK_TABLE"],
            FilterExpression="message_id = :id",
            ExpressionAttributeValues={":id": {"S": message_id}},
        )["Items"]
        if items:
            return items[0]
        time.sleep(0.5)
    raise AssertionError(f"no feedback row for reply {message_id} in the feedback table")


def test_sign_up_errors_reach_the_user(page, stack):
    page.goto("/signup")
    # An address the browser's own check lets through, and a password that breaks the rules.
    page.get_by_label("E-mail address").fill("name@example")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#email-error")).to_contain_text("Enter an e-mail address")
    expect(page.locator("#password-error")).to_contain_text("at least 12 characters")

    # Cognito refuses the password (a rule the page does not check): its sentence, on the field.
    page.get_by_label("E-mail address").fill(f"new-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("x" * 100 + "Aa1!")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-error")).to_have_text(
        "The password does not meet the rules listed below the field."
    )


def test_reset_a_forgotten_password(page, stack):
    email = stack.new_user()
    page.goto("/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/reset")
    fill_email(page, email)
    page.get_by_role("button", name="Send a reset code").click()
    expect(page.get_by_role("status")).to_contain_text("reset code is on its way")
    page.get_by_label("Code from the e-mail").fill("123456")
    page.get_by_label("New password").fill("weak")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#password-error")).to_contain_text("an upper-case letter")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.shots.take("new-password")
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url("**/signin")
    expect(page.get_by_role("status")).to_have_text(
        "Your password is changed. Sign in with the new one."
    )
    sign_in(page, email, NEW_PASSWORD)


def test_api_failure_shows_error_and_retry_sends_again(page, stack, model):
    sign_in(page, stack.new_user())
    model.model(fault="unavailable")  # every model request fails: the API answers 503
    send_message(page, "What a surprise, I did not expect that!")
    alert = page.get_by_role("alert").filter(has_text="unavailable")
    expect(alert).to_have_text(
        "The assistant is unavailable right now. Try again in a moment.Retry"
    )
    expect(assistant_bubbles(page)).to_have_count(0)  # no empty reply left behind
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()
    page.shots.take("api-error")

    model.reset_model()
    page.get_by_role("button", name="Retry").click()
    reply = wait_for_reply(page, 0)
    expect(reply).to_contain_text("What a surprise")
    expect(page.locator("[data-role=user]")).to_have_count(1)  # sent again, not twice
    expect(alert).to_have_count(0)


def test_a_model_timeout_shows_its_error(page, stack, model):
    sign_in(page, stack.new_user())
    model.model(ttft_ms=6000)  # longer than the API's read timeout
    send_message(page, "Are you there?")
    expect(page.get_by_role("alert")).to_contain_text(
        "The assistant took too long to answer. Try again."
    )
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()


def test_a_throttled_request_is_retried_after_retry_after(page, stack, model):
    sign_in(page, stack.new_user())
    model.model(fault="throttle", fault_count=1)  # the first request is throttled (429)
    before = send_message(page, "I feel calm today")
    reply = wait_for_reply(page, before)
    expect(reply).to_contain_text("I feel calm today")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_stop_ends_a_streaming_reply(page, stack, model):
    sign_in(page, stack.new_user())
    model.model(inter_token_ms=300)  # a slow model: the reply arrives word by word
    before = send_message(page, "Tell me something about the sea")
    reply = assistant_bubbles(page).nth(before)
    expect(reply).to_have_attribute("aria-busy", "true")
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()  # no second message meanwhile
    expect(reply.locator("p")).not_to_be_empty()  # part of the reply is on screen already
    page.shots.take("streaming")
    page.get_by_role("button", name="Stop").click()
    expect(reply).to_have_attribute("aria-busy", "false")
    expect(reply.get_by_text("(stopped)")).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()


def test_markdown_in_a_reply_is_rendered(page, stack, model):
    sign_in(page, stack.new_user())
    # The local model ends its reply with a Markdown passage when the message mentions Markdown.
    reply = wait_for_reply(page, send_message(page, "Could you answer in Markdown?"))
    expect(reply.locator("strong")).to_have_text("Markdown")
    expect(reply.locator("li")).to_have_text(["a list item with inline code", "a second item"])
    expect(reply.locator("li code")).to_have_text("inline code")
    expect(reply).not_to_contain_text("**")
    expect(reply).not_to_contain_text("`")
    page.shots.take("markdown")


def test_a_reply_the_guardrail_blocks_mid_stream_becomes_the_refusal(page, stack, model):
    sign_in(page, stack.new_user())
    # The model streams its blocked text, then the guardrail stops the reply.
    model.model(fault="guardrail", fault_count=1)
    reply = wait_for_reply(page, send_message(page, "Tell me how to pick a lock"))
    expect(reply.locator(".reply-text")).to_have_text(
        "Sorry, I can't help with that request. Please rephrase it, or ask about something else."
    )
    expect(reply.get_by_text("(stopped)")).to_have_count(0)
    expect(reply.get_by_role("button", name="Good reply")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
    page.shots.take("guardrail-refusal")
    # The refused first turn was not stored: the next message starts the conversation.
    before = send_message(page, "Tell me about lighthouses instead")
    expect(wait_for_reply(page, before)).to_contain_text("Tell me about lighthouses instead")
    expect(history_entry(page, "Tell me about lighthouses instead")).to_be_visible()


def test_safety_notice_when_the_api_marks_a_message(page, stack, model):
    sign_in(page, stack.new_user())
    before = send_message(page, "I want to kill myself")
    wait_for_reply(page, before)
    notice = page.get_by_role("note")
    expect(notice).to_contain_text("You are not alone")
    page.shots.take("safety")


def test_history_open_and_new_conversation(page, stack, model):
    sign_in(page, stack.new_user())
    wait_for_reply(page, send_message(page, "First conversation about cats"))
    page.get_by_role("button", name="New chat").click()
    expect(page.locator("[data-role=user]")).to_have_count(0)
    wait_for_reply(page, send_message(page, "Second conversation about dogs"))
    titles = history(page).locator(".conversation-title")
    expect(titles).to_have_text(
        ["Second conversation about dogs", "First conversation about cats"]
    )  # newest first
    history_entry(page, "First conversation about cats").click()
    expect(page.locator("[data-role=user]")).to_have_count(1)
    expect(page.locator("[data-role=user]")).to_contain_text("First conversation about cats")


def test_phone_sized_screen(page, stack, model):
    page.set_viewport_size(PHONE)
    sign_in(page, stack.new_user())
    wait_for_reply(page, send_message(page, "Hello from a small screen"))
    expect(history(page)).to_be_hidden()  # the history is a drawer on a phone
    page.shots.take("phone-chat")
    page.get_by_role("button", name="Show conversation history").click()
    expect(history_entry(page, "Hello from a small screen")).to_be_visible()
    page.shots.take("phone-history")
    history_entry(page, "Hello from a small screen").click()
    expect(history(page)).to_be_hidden()


def test_keyboard_alone_signs_in_and_chats(page, stack, model):
    email = stack.new_user()
    page.goto("/signin")
    expect(page.get_by_label("E-mail address")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    page.keyboard.type("Typing only, no mouse at all")
    page.keyboard.press("Enter")
    reply = wait_for_reply(page, 0)
    expect(reply).to_contain_text("Typing only, no mouse at all")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()  # ready for the next message
