"""Two-step sign-in (TOTP) and the same answer with or without an account, in headless chromium
against the local stack: Cognito on moto with a confidential app client and TOTP checking on,
codes computed as an authenticator app computes them."""

from __future__ import annotations

import re
import urllib.parse
import uuid

from conftest import (
    PASSWORD,
    Authenticator,
    assistant_bubbles,
    fill_email,
    send_message,
    sign_in,
    submit_sign_in,
    wait_for_reply,
)
from playwright.sync_api import expect

from local_stack.aws_bootstrap import DEMO_USER_EMAIL, DEMO_USER_PASSWORD
from web_ui.cognito import WRONG_CREDENTIALS, WRONG_MFA_CODE


def test_enrol_an_authenticator_app_then_sign_in_with_its_code(page, stack, model):
    email = stack.new_user()
    sign_in(page, email)
    page.get_by_role("link", name="Security").click()
    page.wait_for_url("**/security")
    expect(page.locator("#totp-status")).to_have_text("Off: your password alone signs you in.")
    page.get_by_role("button", name="Set up an authenticator app").click()

    # The key as text, as the otpauth:// link an authenticator app opens, ...
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z2-7]+=*", secret)
    uri = page.locator("#totp-uri").get_attribute("href")
    parts = urllib.parse.urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert urllib.parse.parse_qs(parts.query)["secret"] == [secret]
    assert email in urllib.parse.unquote(parts.path)
    # ... and as a QR code drawn in the page (inline SVG, nothing fetched).
    expect(page.locator("#totp-qr svg path")).not_to_have_count(0)
    page.shots.take("totp-key")
    totp = Authenticator(secret)

    page.get_by_label("Code from your authenticator app").fill(totp.wrong_code())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.locator("#totp_code-error")).to_have_text(WRONG_MFA_CODE)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("status")).to_contain_text("Two-step sign-in is on.")
    expect(page.locator("#totp-status")).to_contain_text("On: signing in asks for the code")
    page.shots.take("totp-on")

    page.get_by_role("link", name="Back to the chat").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")

    # Password first, then the app's code: a wrong code is refused with a clear sentence.
    submit_sign_in(page, email)
    code_field = page.get_by_label("Code from your authenticator app")
    expect(code_field).to_be_focused()
    page.shots.take("mfa-step")
    code_field.fill(totp.wrong_code())
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.locator("#mfa_code-error")).to_have_text(WRONG_MFA_CODE)
    expect(page).to_have_url(re.compile(r"/signin/?$"))
    page.shots.take("mfa-wrong-code")

    code_field.fill(totp.now())
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The tokens of the MFA sign-in are the chat API's tokens too.
    reply = wait_for_reply(page, send_message(page, "Signed in with two steps, feeling safe"))
    expect(reply).to_contain_text("Signed in with two steps")
    expect(assistant_bubbles(page)).to_have_count(1)

    # Turned off again, the password alone signs in.
    page.get_by_role("link", name="Security").click()
    page.get_by_role("button", name="Turn off two-step sign-in").click()
    expect(page.get_by_role("status")).to_have_text("Two-step sign-in is off.")
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    sign_in(page, email)


def test_the_demo_user_of_make_run_signs_in_through_the_confidential_client(page, stack, model):
    sign_in(page, DEMO_USER_EMAIL, DEMO_USER_PASSWORD)
    expect(page.get_by_text(DEMO_USER_EMAIL)).to_be_visible()
    reply = wait_for_reply(page, send_message(page, "Hello from the demo account"))
    expect(reply).to_contain_text("Hello from the demo account")


def test_the_security_page_is_closed_to_a_signed_out_browser(page, stack):
    page.goto("/security")
    page.wait_for_url("**/signin")


def test_sign_in_says_the_same_for_an_unknown_address_and_a_wrong_password(page, stack):
    existing = stack.new_user()
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    shown = []
    for email, password in ((unknown, PASSWORD), (existing, "Not-the-Passw0rd!")):
        page.goto("/signin")
        submit_sign_in(page, email, password)
        # The sentence stands next to the password field, which is marked invalid.
        error = page.locator("#password-error")
        expect(error).to_be_visible()
        expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
        expect(page).to_have_url(re.compile(r"/signin/?$"))
        shown.append(error.inner_text())
    assert shown == [WRONG_CREDENTIALS, WRONG_CREDENTIALS]


def _sign_up_answer(page, email: str) -> str:
    page.goto("/signup")
    fill_email(page, email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/confirm")
    notice = page.get_by_role("status")
    expect(notice).to_be_visible()
    return notice.inner_text().replace(email, "<email>")


def test_sign_up_answers_the_same_for_an_address_with_an_account(page, stack):
    new = f"new-{uuid.uuid4().hex[:8]}@example.com"
    answer_new = _sign_up_answer(page, new)
    page.shots.take("sign-up-new")
    answer_taken = _sign_up_answer(page, stack.new_user())
    page.shots.take("sign-up-taken")
    assert answer_new == answer_taken
    expect(page.locator("#email-error")).to_have_count(0)


def _reset_answer(page, email: str) -> str:
    """Asks for a reset code from the reset page's e-mail step; returns the notice shown."""
    fill_email(page, email)
    page.get_by_role("button", name="Send a reset code").click()
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("reset code")
    expect(page.get_by_label("Code from the e-mail")).to_be_visible()
    return notice.inner_text().replace(email, "<email>")


def test_a_reset_answers_the_same_for_an_unknown_address(page, stack):
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/reset")
    answer_unknown = _reset_answer(page, unknown)
    page.get_by_role("button", name="Use another e-mail address").click()
    answer_known = _reset_answer(page, stack.new_user())
    assert answer_unknown == answer_known
    # The code step for an unknown address: the code is simply "not right".
    page.get_by_role("button", name="Use another e-mail address").click()
    _reset_answer(page, unknown)
    page.get_by_label("Code from the e-mail").fill("123456")
    page.get_by_label("New password").fill("Another-Passw0rd?")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#code-error")).to_contain_text("That code is not right.")
