"""Hostile text and heavy use through the real stack: markup and script URLs in messages (typed
by the user, quoted back by the model, stored, and shown again from history) never become
elements; the security headers of the running web app; the usage line and a reached limit.

The local model quotes the start of each message in its reply, so every payload reaches the
page twice: in the user's bubble and as model output."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import PASSWORD, assistant_bubbles, send_message, sign_in, wait_for_reply
from playwright.sync_api import expect

from local_stack.aws_bootstrap import sign_in as sign_in_tokens
from web_ui.security_headers import header_set

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<form action=https://evil.example><button>Go</button></form>",
    "[x](javascript:alert(1)) ![pic](https://evil.example/p.png) [site](https://example.com)",
]
# Elements that no message may ever create.
FORBIDDEN = "img, iframe, form, script, object, embed, svg image, video, audio"


def check_messages_are_inert(page) -> None:
    messages = page.locator("#messages")
    expect(messages.locator("[data-role=user]")).to_have_count(len(PAYLOADS))
    expect(messages.locator(FORBIDDEN)).to_have_count(0)
    expect(page.locator("a[href^='javascript:' i]")).to_have_count(0)
    expect(page.locator("[srcdoc], [onerror]")).to_have_count(0)
    # The markup is shown as the text it is, in the user's bubble and in the quoting reply.
    first_user = messages.locator("[data-role=user]").first
    expect(first_user).to_contain_text("<img src=x onerror=alert(1)>")
    expect(messages.locator("[data-role=assistant]").first).to_contain_text("<img src=x")
    # The refused link is plain text; the image is its description; a web link stays a link
    # that opens apart from the app.
    last_user = messages.locator("[data-role=user]").last
    expect(last_user.locator("a[href]")).to_have_count(1)
    expect(last_user.get_by_text("x", exact=True)).to_be_visible()
    expect(last_user.locator(".md-image")).to_have_text("[image: pic]")
    site = messages.locator("a", has_text="site")
    expect(site).to_have_count(2)  # in the user's bubble and in the reply
    for index in range(2):
        expect(site.nth(index)).to_have_attribute("href", "https://example.com")
        expect(site.nth(index)).to_have_attribute("rel", "noopener noreferrer")
        expect(site.nth(index)).to_have_attribute("target", "_blank")


def test_markup_in_messages_stays_text_live_and_from_history(page, stack, model):
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
    page.add_init_script("window.__alerts = 0; window.alert = () => { window.__alerts += 1; };")
    sign_in(page, stack.new_user())
    for payload in PAYLOADS:
        wait_for_reply(page, send_message(page, payload))
    check_messages_are_inert(page)
    page.shots.take("markup-live")

    page.reload()  # the conversation comes back from the API, as stored
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    check_messages_are_inert(page)
    page.get_by_role("button", name="New chat").click()
    expect(page.locator("[data-role=user]")).to_have_count(0)
    page.get_by_role("navigation", name="Conversation history").get_by_role("button").filter(
        has_text="<img src=x"
    ).click()
    check_messages_are_inert(page)
    page.shots.take("markup-from-history")

    assert page.evaluate("window.__alerts") == 0
    assert "evil.example" not in hosts  # no image or form request left the browser
    assert hosts == {"127.0.0.1"}


def test_markdown_of_the_user_is_rendered_too(page, stack, model):
    sign_in(page, stack.new_user())
    wait_for_reply(page, send_message(page, "I feel **great** and `calm` today"))
    user = page.locator("[data-role=user]").last
    expect(user.locator("strong")).to_have_text("great")
    expect(user.locator("code")).to_have_text("calm")


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = dict(attrs)

    def handle_data(self, data):
        if self._open is not None and "src" not in self._open and data.strip():
            self.inline.append(data[:80])

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


def test_every_response_carries_the_security_headers(stack):
    expected = header_set("local", stack.web_url)
    policy = expected["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    with httpx.Client(base_url=stack.web_url, timeout=10, follow_redirects=True) as client:
        pages = ["/", "/signin", "/signup", "/confirm", "/reset", "/no-such-page"]
        responses = [client.get(path) for path in pages]
        assets = {
            link
            for response in responses
            for link in _script_sources(response.text)
            if link.startswith("/assets/")
        }
        responses += [client.get(path) for path in sorted(assets)[:5]]
        responses += [client.get("/ping"), client.get("/styles.css")]
        for response in [r for final in responses for r in (*final.history, final)]:
            for name, value in expected.items():
                assert response.headers.get(name) == value, (response.url, name)
            # Plain HTTP on 127.0.0.1: no HSTS, which would pin the browser to HTTPS.
            assert "strict-transport-security" not in response.headers
        for response in responses[: len(pages)]:
            parser = _Scripts()
            parser.feed(response.text)
            assert parser.inline == [], (response.url, parser.inline)
            assert "<script" in response.text


def _script_sources(html: str) -> list[str]:
    sources = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attributes = dict(attrs)
            if tag == "script" and attributes.get("src"):
                sources.append(attributes["src"])

    Collect().feed(html)
    return sources


def _usage_from_the_api(stack, email: str) -> dict | None:
    """The user's GET /usage straight from the chat API; None while the API has none."""
    tokens = sign_in_tokens(
        stack.aws_url,
        stack.config["AWS_REGION"],
        stack.config["COGNITO_APP_CLIENT_ID"],
        email,
        PASSWORD,
    )
    response = httpx.get(
        f"{stack.config['CHAT_API_URL']}/api/v1/usage",
        headers={"Authorization": f"Bearer {tokens['AccessToken']}"},
        timeout=10,
    )
    if response.status_code in (404, 405):
        return None
    response.raise_for_status()
    return response.json()


def test_usage_is_shown_and_a_reached_limit_is_a_plain_message(page, stack, model):
    email = stack.new_user()
    usage = _usage_from_the_api(stack, email)
    if usage is None:
        pytest.skip("this chat API has no GET /api/v1/usage (per-user limits) yet")
    per_minute = usage["limits"]["messages_per_minute"]
    sign_in(page, email)
    wait_for_reply(page, send_message(page, "Counting my messages"))
    expect(page.locator("#usage")).to_contain_text(f"of {per_minute:,} messages this minute")
    # Send until the API refuses one for the per-minute limit (within that one minute).
    for number in range(per_minute + 1):
        if page.locator("#limit-notice").count():
            break
        before = send_message(page, f"Message number {number}")
        expect(
            page.locator("#limit-notice").or_(assistant_bubbles(page).nth(before))
        ).to_be_visible()
        expect(page.get_by_label("Message", exact=True)).to_be_enabled()
    notice = page.locator("#limit-notice")
    expect(notice).to_contain_text(
        re.compile(
            rf"You have reached your limit of {per_minute:,} messages a minute; "
            r"try again in \d+ seconds?\."
        )
    )
    page.shots.take("limit-reached")
    # The refused message was not stored: it is back in the input, not in the conversation.
    refused = page.get_by_label("Message", exact=True).input_value()
    assert refused.startswith("Message number")
    expect(page.locator("[data-role=user]", has_text=refused)).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
