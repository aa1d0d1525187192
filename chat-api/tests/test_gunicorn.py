"""The server process: graceful SIGTERM during a stream, and a bad configuration stops it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from local_stack.processes import CHAT_API_DIR, child_env
from support import api_env, iter_sse, open_stream


def _accepts(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def test_sigterm_lets_a_running_stream_finish_then_exits_0(start_api, fresh_user, model):
    server = start_api(GRACEFUL_TIMEOUT="30")
    model.configure(inter_token_ms=80)
    first_delta = threading.Event()
    result: dict = {}

    def stream() -> None:
        with open_stream(
            server.url + "/api/v1", fresh_user, "tell me something long", timeout=60
        ) as response:
            events = []
            for event in iter_sse(response):
                events.append(event)
                if event[0] == "delta":
                    first_delta.set()
            result["events"] = events

    client = threading.Thread(target=stream)
    client.start()
    assert first_delta.wait(30)
    server.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _accepts(server.url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _accepts(server.url), "still accepting connections after SIGTERM"
    client.join(60)
    names = [name for name, _ in result["events"]]
    assert names[0] == "meta" and names[-1] == "done", names
    assert names.count("delta") > 5
    assert server.stop(timeout=30) == 0


def configuration_error(env: dict[str, str]) -> str:
    """Starts Gunicorn with settings it must refuse at start; once it has exited with the
    configuration error's status 2 and no traceback, returns what it wrote to stderr."""
    env["CHAT_API_BIND"] = "127.0.0.1:0"
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "chat_api:create_app()"],
        cwd=CHAT_API_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_missing_setting_stops_gunicorn_with_one_line(stack):
    env = child_env(api_env(stack))
    env.pop("COGNITO_APP_CLIENT_ID")
    assert (
        "chat-api: configuration error: COGNITO_APP_CLIENT_ID is required but not set"
        in configuration_error(env)
    )


@pytest.mark.parametrize("app_env", ["dev", "prod"])
def test_local_jwks_is_refused_outside_local(stack, app_env):
    stderr = configuration_error(child_env(api_env(stack, APP_ENV=app_env)))
    assert f"COGNITO_JWKS_URL must be the issuer's own JWKS when APP_ENV={app_env}" in stderr


def test_a_malformed_extra_client_id_stops_gunicorn_with_one_line(stack):
    env = child_env(api_env(stack, COGNITO_EXTRA_APP_CLIENT_IDS="good,bad id"))
    assert (
        "chat-api: configuration error: COGNITO_EXTRA_APP_CLIENT_IDS: 'bad id' is not a Cognito"
        in configuration_error(env)
    )
