"""Federated sign-in in headless chromium: the web app, the local managed login and the chat
API, all real, on the stack of conftest.py."""

from __future__ import annotations

import re

from conftest import send_message, wait_for_reply
from playwright.sync_api import expect

from local_stack.aws_bootstrap import FEDERATED_USER_EMAIL
from web_ui.oauth import EXPIRED_OR_REPLAYED


def test_federated_user_signs_in_chats_and_signs_out_of_both(page, stack, model):
    auth_url = stack.config["COGNITO_DOMAIN_URL"]
    page.goto("/signin")
    page.shots.take("sign-in-options")
    page.get_by_role("button", name="Continue with Google").click()
    # The managed login (another origin), reached by navigation, not by a form post.
    page.wait_for_url(re.compile(re.escape(auth_url) + r"/oauth2/authorize\?.*"))
    expect(page.get_by_role("heading", name="Sign in with Google")).to_be_visible()
    page.shots.take("managed-login")
    page.get_by_role("button", name="Continue as Federated Test User").click()

    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert "/oauth/callback" not in page.url and "code=" not in page.url
    expect(page.get_by_text(FEDERATED_USER_EMAIL)).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()
    reply = wait_for_reply(page, send_message(page, "I finally passed my driving test!"))
    expect(reply).not_to_be_empty()
    page.shots.take("chat")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/signin/?$"))
    expect(page.get_by_role("button", name="Continue with Google")).to_be_visible()
    # The managed login's session ended too: it asks again instead of signing in silently.
    page.get_by_role("button", name="Continue with Google").click()
    page.wait_for_url(re.compile(re.escape(auth_url) + r"/oauth2/authorize\?.*"))
    expect(page.get_by_role("button", name="Continue as Federated Test User")).to_be_visible()
    page.shots.take("asked-again")


def test_a_forged_callback_shows_a_refusal_and_signs_nobody_in(page, stack):
    page.goto("/oauth/callback?code=stolen-code&state=forged-state")
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text=EXPIRED_OR_REPLAYED)).to_be_visible()
    page.shots.take("refused")
    page.goto("/")
    page.wait_for_url(re.compile(r".*/signin/?$"))
