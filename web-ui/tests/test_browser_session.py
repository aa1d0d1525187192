"""Signed in once, signed in everywhere, in headless chromium against the real local stack: a
second tab and a restarted browser open signed in through the HttpOnly session cookie, and
signing out in one tab signs out every tab. The cookie and its endpoints are checked as an
attacker would try them."""

from __future__ import annotations

import re

import httpx
from conftest import DESKTOP, TIMEOUT_MS, Screenshots, send_message, sign_in, wait_for_reply
from playwright.sync_api import expect

from web_ui.sessions import LOCAL_COOKIE

# The sign-in page, reached by the app's own redirect or by a full load (which the server
# answers at /signin/).
SIGN_IN_PAGE = re.compile(r"/signin/?$")


def session_cookie(context) -> dict:
    cookies = [c for c in context.cookies() if c["name"] == LOCAL_COOKIE]
    assert len(cookies) == 1, context.cookies()
    return cookies[0]


def wait_for_session_cookie(page) -> dict:
    """The cookie arrives once the tab has exchanged its sign-in ticket (a moment after the
    chat shows)."""
    for _ in range(50):
        if any(c["name"] == LOCAL_COOKIE for c in page.context.cookies()):
            break
        page.wait_for_timeout(100)
    return session_cookie(page.context)


def open_tab(context, request, name: str):
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.shots = Screenshots(tab, f"{request.node.name}-{name}")
    tab.on("dialog", lambda dialog: dialog.dismiss())
    return tab


def test_a_second_tab_opens_signed_in_and_signing_out_there_signs_out_the_first(
    page, stack, model, request
):
    email = stack.new_user()
    sign_in(page, email)
    cookie = wait_for_session_cookie(page)
    # Script cannot read it, it goes only to this site, and never over another site's request.
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain http on 127.0.0.1 (Secure everywhere else)
    assert cookie["expires"] > 0  # persistent: survives a browser restart
    assert LOCAL_COOKIE not in page.evaluate("document.cookie")
    stored = page.evaluate("JSON.stringify([localStorage, sessionStorage])")
    assert "eyJ" not in stored  # no JWT in the browser's storage

    second = open_tab(page.context, request, "second")
    second.goto("/")
    expect(second.get_by_role("button", name="Sign out")).to_be_visible()
    expect(second.get_by_text(email)).to_be_visible()
    wait_for_reply(second, send_message(second, "Hello from the second tab"))
    second.shots.take("second-tab-signed-in")

    second.get_by_role("button", name="Sign out").click()
    second.wait_for_url(SIGN_IN_PAGE)
    # The first tab is told at once (BroadcastChannel) and leaves the chat.
    page.wait_for_url(SIGN_IN_PAGE)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    page.shots.take("first-tab-signed-out")
    assert not [c for c in page.context.cookies() if c["name"] == LOCAL_COOKIE]
    page.goto("/")
    page.wait_for_url(SIGN_IN_PAGE)  # and cannot come back


def test_a_tab_that_missed_the_sign_out_is_refused_on_its_next_message(page, stack, model, request):
    email = stack.new_user()
    sign_in(page, email)
    cookie = wait_for_session_cookie(page)
    # Another browser holding a copy of the cookie (not told by BroadcastChannel).
    other_context = page.context.browser.new_context(base_url=stack.web_url, viewport=DESKTOP)
    try:
        other_context.add_cookies([cookie])
        other = open_tab(other_context, request, "other")
        other.goto("/")
        expect(other.get_by_role("button", name="Sign out")).to_be_visible()
        # The page's own calls are done (the history, the mood strip, then the usage line):
        # its next call is the message.
        expect(other.get_by_text("No conversations yet.")).to_be_visible()
        expect(other.locator("#usage")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(SIGN_IN_PAGE)
        # The session record is gone: the other browser's next call finds no session.
        other.get_by_label("Message", exact=True).fill("Anyone there?")
        other.get_by_label("Message", exact=True).press("Enter")
        other.wait_for_url(SIGN_IN_PAGE)
        other.shots.take("refused")
    finally:
        other_context.close()


def test_the_session_survives_a_browser_restart(page, stack, model, browser, request):
    email = stack.new_user()
    sign_in(page, email)
    wait_for_session_cookie(page)
    # What a browser keeps on disk when it closes: its persistent cookies and local storage
    # (the tab's session storage, which holds Reflex's client token, is not kept).
    saved = page.context.storage_state()
    restarted = browser.new_context(base_url=stack.web_url, viewport=DESKTOP, storage_state=saved)
    try:
        tab = open_tab(restarted, request, "restarted")
        tab.goto("/")
        expect(tab.get_by_role("button", name="Sign out")).to_be_visible()
        expect(tab.get_by_text(email)).to_be_visible()
        tab.shots.take("after-restart")
        # A visitor on the sign-in page is taken to the chat as well.
        tab.goto("/signin")
        tab.wait_for_url(stack.web_url + "/")
    finally:
        restarted.close()


def test_a_forged_or_stolen_looking_cookie_opens_nothing(browser, stack, request):
    context = browser.new_context(base_url=stack.web_url, viewport=DESKTOP)
    try:
        context.add_cookies(
            [{"name": LOCAL_COOKIE, "value": "A" * 43, "url": stack.web_url, "httpOnly": True}]
        )
        tab = open_tab(context, request, "forged")
        tab.goto("/")
        tab.wait_for_url(SIGN_IN_PAGE)  # an id the server never made is no session
    finally:
        context.close()


def test_the_session_endpoints_refuse_other_sites(stack):
    """A page of another site cannot spend a ticket or sign the user out (CSRF): the endpoints
    want the app's own Origin and the X-Chat-Session header."""
    url = f"{stack.web_url}/_event/session"
    evil = {"Origin": "https://evil.example", "X-Chat-Session": "1"}
    answer = httpx.post(f"{url}/claim", json={"ticket": "t" * 43}, headers=evil, timeout=10)
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    answer = httpx.post(f"{url}/end", headers=evil, timeout=10)
    assert answer.status_code == 403
    no_header = httpx.post(f"{url}/end", headers={"Origin": stack.web_url}, timeout=10)
    assert no_header.status_code == 403
    own = {"Origin": stack.web_url, "X-Chat-Session": "1"}
    unknown = httpx.post(f"{url}/claim", json={"ticket": "t" * 43}, headers=own, timeout=10)
    assert unknown.status_code == 403 and "set-cookie" not in unknown.headers
    get = httpx.get(f"{url}/claim", params={"ticket": "t" * 43}, timeout=10)
    assert 400 <= get.status_code < 500 and "set-cookie" not in get.headers  # POST only
    # The endpoints' answers carry the security headers like every other response.
    assert "content-security-policy" in answer.headers
