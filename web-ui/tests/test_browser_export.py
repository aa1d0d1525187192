"""The static export as Amplify serves it: `reflex export` plus the inline-script move of
`make web-ui-export`, served from a plain static file server with the Amplify header set
(`security_headers.header_set("prod", backend)`), its websocket going to the backend of the
real local stack. Chromium signs in and chats there; the page fixture fails the test on any
Content-Security-Policy violation."""

from __future__ import annotations

import functools
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from conftest import (
    DESKTOP,
    TIMEOUT_MS,
    Screenshots,
    send_message,
    sign_in,
    wait_for_reply,
)
from playwright.sync_api import expect

from local_stack.processes import WEB_UI_BUN, WEB_UI_DIR, WEB_UI_PYTHON, child_env
from web_ui.security_headers import externalize_build, header_set


class _StaticSite(SimpleHTTPRequestHandler):
    """Files as they are, `/route` as `/route.html` (Amplify's rewrite for client routes), and
    the header set on every answer."""

    headers_to_send: dict[str, str] = {}

    def log_message(self, *args):
        pass

    def translate_path(self, path):
        resolved = Path(super().translate_path(path))
        if not resolved.exists() and resolved.with_suffix(".html").is_file():
            return str(resolved.with_suffix(".html"))
        return str(resolved)

    def end_headers(self):
        for name, value in self.headers_to_send.items():
            self.send_header(name, value)
        super().end_headers()


@pytest.fixture(scope="module")
def static_site(stack, tmp_path_factory):
    work = tmp_path_factory.mktemp("export")
    env = child_env(
        {
            "REFLEX_BUN_PATH": WEB_UI_BUN,
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "0",
            "REFLEX_WEB_WORKDIR": work / "web",
            "REFLEX_STATES_WORKDIR": work / "states",
            # The static pages talk to the web-ui backend at its own origin, as on Amplify.
            "REFLEX_API_URL": stack.web_url,
        }
    )
    command = [str(WEB_UI_PYTHON), "-m", "reflex", "export"]
    command += ["--frontend-only", "--no-zip", "--env", "prod"]
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        command, cwd=WEB_UI_DIR, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    site = work / "web" / "build" / "client"
    assert externalize_build(site) > 0
    handler = type(
        "Handler", (_StaticSite,), {"headers_to_send": header_set("prod", stack.web_url)}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_exported_site_runs_under_its_policy(browser, stack, model, static_site, request):
    response = httpx.get(f"{static_site}/signin", timeout=10, follow_redirects=True)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert f"connect-src 'self' {stack.web_url} ws://" in policy
    assert "<script>" not in response.text  # nothing inline is left

    context = browser.new_context(base_url=static_site, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.shots = Screenshots(page, request.node.name)
    violations = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and violations.append(message.text)
        ),
    )
    try:
        sign_in(page, stack.new_user())
        reply = wait_for_reply(page, send_message(page, "Hello from the static site"))
        expect(reply).to_contain_text("Hello from the static site")
        page.shots.take("static-site-chat")
    finally:
        context.close()
    assert violations == []
