"""Search, rename, regenerate, edit and export in headless chromium against the real local
stack (the chat API under Gunicorn, the local model, DynamoDB on the local AWS endpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from async_run import run
from conftest import assistant_bubbles, send_message, sign_in, wait_for_reply
from playwright.sync_api import expect
from settings_env import chat_api_settings

from local_stack.harness import ModelControl, new_user
from web_ui.chat_api import ApiError, ChatApi
from web_ui.state.conversation_tools import TITLE_RULE, rename_error


def model_streams(stack) -> int:
    """Streamed replies the local model has written so far."""
    control = ModelControl(stack.model_url)
    try:
        return control.stats().get("converse_stream", 0)
    finally:
        control.close()


def history(page):
    return page.get_by_role("navigation", name="Conversation history")


def history_entry(page, title: str):
    return history(page).get_by_role("button", name=title, exact=True)


def user_bubbles(page):
    return page.locator("[data-role=user]")


def search_box(page):
    return page.get_by_role("searchbox", name="Search conversations")


def new_chat(page) -> None:
    page.get_by_role("button", name="New chat").click()
    expect(user_bubbles(page)).to_have_count(0)


def test_search_finds_an_old_conversation_and_clearing_restores_the_list(page, stack, model):
    sign_in(page, stack.new_user())
    wait_for_reply(
        page, send_message(page, "We planted zucchini in grandmother's garden last evening")
    )
    new_chat(page)
    wait_for_reply(page, send_message(page, "Work has been busy this week"))
    expect(history(page).locator(".conversation-title")).to_have_count(2)

    # A word from the old conversation's message (not its title), in other letters' case:
    # the result shows the words around it.
    search_box(page).fill("EVENING")
    search_box(page).press("Enter")
    results = page.locator("#search-results")
    expect(results.locator(".search-result")).to_have_count(1)
    expect(results).to_contain_text("We planted zucchini in grandmother's garden…")
    expect(results.locator(".search-snippet")).to_contain_text("garden last evening")
    page.shots.take("search-results")
    results.locator(".search-result").click()
    expect(user_bubbles(page).first).to_contain_text("planted zucchini")

    # Accents and case do not matter; text no conversation holds says so.
    search_box(page).fill("GRANDMÖTHER")
    expect(results.locator(".search-result")).to_have_count(1)  # searched as the user types
    search_box(page).fill("kangaroo")
    expect(results).to_contain_text("No conversation contains “kangaroo”.")

    page.get_by_role("button", name="Clear the search").click()
    expect(search_box(page)).to_have_value("")
    expect(page.locator("#search-results")).to_have_count(0)
    expect(history(page).locator(".conversation-title")).to_have_count(2)


def test_rename_in_place_survives_a_reload(page, stack, model):
    sign_in(page, stack.new_user())
    wait_for_reply(page, send_message(page, "Let us talk about my garden today"))
    old_title = "Let us talk about my garden…"
    expect(history_entry(page, old_title)).to_be_visible()

    # Esc keeps the old title.
    page.get_by_role("button", name=f"Rename conversation {old_title}").click()
    field = page.get_by_label("New title")
    expect(field).to_have_value(old_title)
    field.fill("Something else")
    field.press("Escape")
    expect(field).to_have_count(0)
    expect(history_entry(page, old_title)).to_be_visible()

    # A title of only spaces is refused with the API's rule as a sentence; nothing changes.
    page.get_by_role("button", name=f"Rename conversation {old_title}").click()
    field.fill("   ")
    field.press("Enter")
    expect(page.locator("#rename-error")).to_have_text(TITLE_RULE)
    expect(field).to_be_visible()
    page.shots.take("rename-refused")

    field.fill("Garden notes")
    field.press("Enter")
    expect(history_entry(page, "Garden notes")).to_be_visible()
    expect(history_entry(page, old_title)).to_have_count(0)
    page.reload()
    expect(history_entry(page, "Garden notes")).to_be_visible()
    page.shots.take("renamed")


def test_regenerate_replaces_the_reply(page, stack, model):
    sign_in(page, stack.new_user())
    reply = wait_for_reply(page, send_message(page, "Tell me something about the sea"))
    old_id = reply.get_attribute("data-message-id")
    reply.get_by_role("button", name="Good reply").click()
    page.get_by_role("button", name="Send feedback").click()
    expect(reply.get_by_text("Thanks for your feedback.")).to_be_visible()
    streams = model_streams(stack)

    reply.get_by_role("button", name="Regenerate the reply").click()
    expect(assistant_bubbles(page)).to_have_count(1)
    new_reply = assistant_bubbles(page).last
    expect(new_reply).not_to_have_attribute("data-message-id", old_id)
    expect(new_reply).to_have_attribute("aria-busy", "false")
    expect(new_reply).to_contain_text("Tell me something about the sea")
    assert model_streams(stack) == streams + 1  # a new reply was written
    # The old reply's rating went with it.
    expect(new_reply.get_by_role("button", name="Good reply")).to_have_attribute(
        "aria-pressed", "false"
    )
    new_id = new_reply.get_attribute("data-message-id")
    page.shots.take("regenerated")

    page.reload()
    expect(assistant_bubbles(page)).to_have_count(1)
    expect(assistant_bubbles(page).first).to_have_attribute("data-message-id", new_id)
    expect(user_bubbles(page)).to_have_count(1)


def test_a_failed_regeneration_keeps_the_reply_and_says_why(page, stack, model):
    sign_in(page, stack.new_user())
    reply = wait_for_reply(page, send_message(page, "Tell me about lighthouses please"))
    old_id = reply.get_attribute("data-message-id")
    model.model(fault="unavailable")  # the API answers 503 before the stream starts
    reply.get_by_role("button", name="Regenerate the reply").click()
    alert = page.get_by_role("alert").filter(has_text="unavailable")
    expect(alert).to_contain_text("The assistant is unavailable right now.")
    expect(alert).to_contain_text("The earlier reply is kept.")
    expect(alert.get_by_role("button", name="Retry")).to_have_count(0)  # no new message
    expect(assistant_bubbles(page)).to_have_count(1)
    expect(assistant_bubbles(page).last).to_have_attribute("data-message-id", old_id)
    expect(assistant_bubbles(page).last).to_contain_text("Tell me about lighthouses please")
    page.shots.take("regeneration-failed")
    model.reset_model()
    page.reload()
    expect(assistant_bubbles(page)).to_have_count(1)
    expect(assistant_bubbles(page).last).to_have_attribute("data-message-id", old_id)


def test_edit_replaces_the_last_message_and_its_reply(page, stack, model):
    sign_in(page, stack.new_user())
    wait_for_reply(page, send_message(page, "My first message about cats"))
    wait_for_reply(page, send_message(page, "I am worried about the exam"))
    # Only the last message can be edited.
    expect(page.get_by_role("button", name="Edit your message")).to_have_count(1)
    user_bubbles(page).last.get_by_role("button", name="Edit your message").click()
    field = page.get_by_label("Your message", exact=True)
    expect(field).to_have_value("I am worried about the exam")
    field.fill("I am so happy, I passed my exam!")
    page.get_by_role("button", name="Save and send").click()

    expect(user_bubbles(page)).to_have_count(2)
    expect(user_bubbles(page).last).to_contain_text("I am so happy, I passed my exam!")
    expect(user_bubbles(page).last.locator(".emotion")).to_have_text("joy")  # classified again
    reply = wait_for_reply(page, 1)
    expect(reply).to_contain_text("I am so happy, I passed")  # the reply answers the new words
    page.shots.take("edited")

    page.reload()
    expect(user_bubbles(page)).to_have_count(2)
    expect(user_bubbles(page).last).to_contain_text("I am so happy, I passed my exam!")
    expect(page.get_by_text("I am worried about the exam")).to_have_count(0)
    expect(assistant_bubbles(page).last).to_contain_text("I am so happy, I passed")


def download(page, item: str) -> tuple[str, str]:
    """The name and text of the file the export menu's `item` downloads."""
    page.get_by_role("button", name="Export", exact=True).click()
    with page.expect_download() as started:
        page.get_by_role("menuitem", name=item).click()
    file = started.value
    return file.suggested_filename, Path(file.path()).read_text(encoding="utf-8")


def test_export_downloads_the_conversation(page, stack, model):
    sign_in(page, stack.new_user())
    reply = wait_for_reply(page, send_message(page, "Export this little talk about tea"))
    reply_text = reply.locator(".reply-text").inner_text().strip()

    name, markdown = download(page, "This conversation as Markdown")
    assert name.startswith("conversation-") and name.endswith(".md")
    conversation_id = name.removeprefix("conversation-").removesuffix(".md")
    assert "Export this little talk about tea" in markdown
    assert "## You" in markdown and "## Assistant" in markdown
    assert reply_text.split("\n")[0][:40] in markdown

    name, text = download(page, "This conversation as JSON")
    assert name == f"conversation-{conversation_id}.json"
    exported = json.loads(text)
    assert exported["conversation_id"] == conversation_id
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"]
    assert exported["messages"][0]["text"] == "Export this little talk about tea"
    assert exported["messages"][0]["emotion"]["label"]

    name, text = download(page, "All my data (JSON)")
    assert name == "my-chat-data.json"
    everything = json.loads(text)
    assert [c["conversation_id"] for c in everything["conversations"]] == [conversation_id]
    page.shots.take("exported")


def test_a_new_chat_has_nothing_to_export_yet(page, stack, model):
    sign_in(page, stack.new_user())
    page.get_by_role("button", name="Export", exact=True).click()
    expect(page.get_by_role("menuitem", name="This conversation as Markdown")).to_have_attribute(
        "aria-disabled", "true"
    )
    page.keyboard.press("Escape")


def test_the_client_sends_a_message_once_per_idempotency_key_and_names_the_refusals(
    stack, model, api_port
):
    """The web app's client against the real chat API (no browser): a message sent again with
    its key is answered with the stored turn, not stored twice; an edit of an earlier message
    and an empty title are refused with sentences the app shows."""
    user = new_user(stack)
    api = ChatApi(chat_api_settings(f"http://127.0.0.1:{api_port}"))

    async def send(text: str, conversation_id: str | None = None, key: str | None = None):
        return [
            e async for e in api.stream_chat(user.token, text, conversation_id, idempotency_key=key)
        ]

    async def scenario():
        first = await send("Store me only once", key="web-test-key-1")
        again = await send("Store me only once", key="web-test-key-1")
        meta, replayed = dict(first)["meta"], dict(again)["meta"]
        assert [name for name, _ in again] == ["meta", "delta", "done"]
        assert (replayed["conversation_id"], replayed["message_id"]) == (
            meta["conversation_id"],
            meta["message_id"],
        )
        conversation_id = meta["conversation_id"]
        await send("A second message", conversation_id)
        stored = await api.get_conversation(user.token, conversation_id)
        assert [m["text"] for m in stored["messages"] if m["role"] == "user"] == [
            "Store me only once",
            "A second message",
        ]
        with pytest.raises(ApiError) as refused:
            [
                e
                async for e in api.stream_edit(
                    user.token, conversation_id, meta["user_message_id"], "x"
                )
            ]
        assert refused.value.code == "not_last_message" and refused.value.user_message
        with pytest.raises(ApiError) as refused:
            await api.rename_conversation(user.token, conversation_id, " \t ")
        assert rename_error(refused.value) == TITLE_RULE

    run(scenario())
