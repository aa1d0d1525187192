"""The account section of the security page in headless chromium against the real local
stack: all of one's data as a file, and "Delete my account", which signs the user out in
every tab, after which the address cannot sign in again."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import (
    TIMEOUT_MS,
    send_message,
    sign_in,
    submit_sign_in,
    wait_for_reply,
)
from playwright.sync_api import expect

from web_ui.state.account import ACCOUNT_DELETED, DELETED_ITEMS

SIGN_IN_PAGE = re.compile(r"/signin/?$")
WRONG_CREDENTIALS = "The e-mail address or the password is not right."


def open_security_page(page) -> None:
    page.get_by_role("link", name="Security").click()
    page.wait_for_url("**/security")
    expect(page.get_by_role("heading", name="Delete your account")).to_be_visible()


def test_download_all_my_data_from_the_security_page(page, stack, model):
    email = stack.new_user()
    sign_in(page, email)
    wait_for_reply(page, send_message(page, "A note to keep in my data"))
    open_security_page(page)
    with page.expect_download() as started:
        page.get_by_role("button", name="Download all my data").click()
    file = started.value
    assert file.suggested_filename == "my-chat-data.json"
    everything = json.loads(Path(file.path()).read_text(encoding="utf-8"))
    (conversation,) = everything["conversations"]
    assert conversation["messages"][0]["text"] == "A note to keep in my data"


def test_delete_my_account_signs_out_every_tab_and_the_user_cannot_sign_in(page, stack, model):
    email = stack.new_user()
    sign_in(page, email)
    wait_for_reply(page, send_message(page, "Something I said before leaving"))
    second = page.context.new_page()  # another tab of the same browser, signed in too
    second.set_default_timeout(TIMEOUT_MS)
    second.goto("/")
    expect(second.get_by_role("button", name="Sign out")).to_be_visible()

    open_security_page(page)
    # Cancel in the confirmation changes nothing.
    page.get_by_role("button", name="Delete my account").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    for item in DELETED_ITEMS:
        expect(dialog).to_contain_text(item)
    page.wait_for_timeout(400)  # the dialog's opening animation, for the screenshot
    page.shots.take("delete-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/security/?$"))

    page.get_by_role("button", name="Delete my account").click()
    page.get_by_role("alertdialog").get_by_role(
        "button", name="Delete my account and my data"
    ).click()
    page.wait_for_url(SIGN_IN_PAGE)
    expect(page.get_by_role("status")).to_have_text(ACCOUNT_DELETED)
    page.shots.take("account-deleted")
    second.wait_for_url(SIGN_IN_PAGE)  # the other tab is signed out as well
    page.goto("/")
    page.wait_for_url(SIGN_IN_PAGE)

    # The address and password no longer sign in.
    submit_sign_in(page, email)
    expect(page.get_by_text(WRONG_CREDENTIALS)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.shots.take("cannot-sign-in")
