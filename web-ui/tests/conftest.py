"""Fixtures: the real local stack (moto, the local model server, the chat API under Gunicorn)
and the web app in prod mode, on free 127.0.0.1 ports, driven by Debian's chromium.

The stack's servers run with the repository's root venv (the chat API's dependencies); the web
app runs with this venv, exactly as `make run` starts it.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from local_stack.harness import (
    PASSWORD,
    ROOT_PYTHON,
    LocalStack,
    ModelControl,
    new_user,
    with_stack_python,
)
from local_stack.processes import (
    auth_server_process,
    chat_api_process,
    feedback_runner_process,
    free_port,
    reflex_process,
)

# The local stack's fixtures (local_stack, model_control, signed_in_user): one harness for
# every component's tests; and the state unit tests' fakes and fixtures.
pytest_plugins = ["local_stack.pytest_plugin", "state_fixtures"]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000

expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Stack(LocalStack):
    """The local stack with the chat API, the feedback ingestion and the web app on top."""

    web_url: str = ""

    def model(self, **settings) -> None:
        """Sets the local model server's latency and faults (its /_local/config)."""
        ModelControl(self.model_url).configure(**settings)

    def reset_model(self) -> None:
        ModelControl(self.model_url).reset()

    def new_user(self) -> str:
        """The e-mail address of a new confirmed user (password PASSWORD), not signed in."""
        return new_user(self, signed_in=False).email


@pytest.fixture(scope="session")
def api_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def web_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def auth_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def local_stack_options(api_port, web_port, auth_port) -> dict:
    return {
        "prefix": "chatbot-web-test",
        "chat_api_url": f"http://127.0.0.1:{api_port}",
        # The app client's callback and sign-out URLs, and the local managed login's address.
        "web_app_url": f"http://127.0.0.1:{web_port}",
        "auth_url": f"http://127.0.0.1:{auth_port}",
    }


@pytest.fixture(scope="session")
def stack(local_stack, api_port, web_port, auth_port, tmp_path_factory) -> Stack:
    if not ROOT_PYTHON.exists():
        pytest.fail(f"{ROOT_PYTHON} is missing: run `make .venv/.installed` first")
    logs, config = local_stack.logs, local_stack.config
    started = []
    try:
        # The local managed login, for the federated sign-in.
        auth = auth_server_process(auth_port, config, log_path=logs / "auth.log")
        started.append(with_stack_python(auth).start())
        # One model attempt per request: an injected fault reaches the web app at once.
        # A short read timeout: a slow model becomes the API's 504 within seconds.
        # A guardrail (any id locally): the model server's `guardrail` fault then intervenes.
        api_env = {
            **config,
            "WEB_CONCURRENCY": "1",
            "BEDROCK_MAX_ATTEMPTS": "1",
            "BEDROCK_READ_TIMEOUT": "3",
            "BEDROCK_GUARDRAIL_ID": "gr-web-test",
            "BEDROCK_GUARDRAIL_VERSION": "1",
            # Titles stay the first words of a conversation, which the tests look for in the
            # history; the model's titles are tested over HTTP (chat-api/tests).
            "TITLE_MAX_TOKENS": "0",
        }
        api = chat_api_process(api_port, api_env, log_path=logs / "chat-api.log")
        started.append(with_stack_python(api).start())
        # The feedback ingestion (the Chalice SQS consumer, in its own venv) fills the table.
        feedback = feedback_runner_process(config, log_path=logs / "feedback-ingestion.log")
        started.append(feedback.start())
        web = reflex_process(
            web_port,
            config,
            work_dir=tmp_path_factory.mktemp("reflex"),
            extra_env={"CHAT_API_MAX_ATTEMPTS": "2"},
            log_path=logs / "web.log",
        )
        started.append(web.start(240))
        yield Stack(**vars(local_stack), web_url=f"http://127.0.0.1:{web_port}")
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture(scope="session")
def browser() -> Browser:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium chromium-driver")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # the screenshots of this run only
    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root (CI), where chromium's sandbox cannot start.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Screenshots:
    """Keeps a screenshot of each page a test visits, as a test artifact."""

    def __init__(self, page: Page, test_name: str) -> None:
        self.page = page
        self.prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", test_name).strip("-")
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(self, step: str) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser, stack, request) -> Page:
    context = browser.new_context(base_url=stack.web_url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.shots = Screenshots(page, request.node.name)
    # Every test also checks that the Content-Security-Policy blocked nothing the app needs
    # (chromium reports each blocked script, style, connection or frame on the console) and
    # that no dialog opened (a dialog would be script run from a message).
    page.csp_violations = []
    page.dialogs = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and page.csp_violations.append(message.text)
        ),
    )
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    page.shots.take("end")
    context.close()
    assert page.csp_violations == [], "the Content-Security-Policy blocked part of the app"
    assert page.dialogs == [], "a dialog opened"


@pytest.fixture
def model(stack):
    stack.reset_model()
    yield stack
    stack.reset_model()


def fill_email(page: Page, email: str) -> None:
    """Fills the e-mail field once it keeps what was typed: an e-mail address the page state
    carries (the one just confirmed or reset) can arrive after the first keystrokes and
    replace them, which a person would see too (docs/web-ui.md)."""
    field = page.get_by_label("E-mail address")
    for _ in range(10):
        field.fill(email)
        page.wait_for_timeout(300)
        if field.input_value() == email:
            break
    expect(field).to_have_value(email)


def submit_sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fills the sign-in form the page shows and sends it; whether it succeeds is the
    caller's to check."""
    fill_email(page, email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/signin")
    submit_sign_in(page, email, password)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The page is hydrated and the input is ready for typing.
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()


def assistant_bubbles(page: Page):
    return page.locator("[data-role=assistant]")


def send_message(page: Page, text: str) -> int:
    """Types a message and presses Enter; returns the number of replies shown before."""
    before = assistant_bubbles(page).count()
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")
    return before


def wait_for_reply(page: Page, before: int):
    """The reply after `before` earlier ones, once it has finished streaming."""
    expect(assistant_bubbles(page)).to_have_count(before + 1)
    reply = assistant_bubbles(page).last
    expect(reply).to_have_attribute("aria-busy", "false")
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()
    return reply


class Authenticator(pyotp.TOTP):
    """What an authenticator app computes from a TOTP key (RFC 6238: SHA-1, 6 digits, 30 s).

    The local endpoint hands every user one fixed 60-bit key, shorter than pyotp's default
    minimum of 112 bits (Cognito's own keys are far longer), so the minimum is lifted here."""

    min_secret_length_bits = 0

    def wrong_code(self) -> str:
        """A 6-digit code valid neither now nor in the neighbouring windows."""
        valid = {self.at(time.time() + offset) for offset in (-30, 0, 30)}
        return next(code for code in ("000000", "111111", "222222") if code not in valid)
