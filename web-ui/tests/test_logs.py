"""The web app backend's logs: JSON lines on stderr (chatbot_common.logs), the configuration
error among them, and failed calls logged with the chat API's request id."""

from __future__ import annotations

import json
import logging
import os

import pytest
from settings_env import GOOD_ENV as GOOD

from web_ui import logs
from web_ui.chat_api import ApiError
from web_ui.cognito import AuthError
from web_ui.oauth import federation
from web_ui.state import services


class Exited(Exception):
    """Raised in place of os._exit, which would end the test run."""


@pytest.fixture
def fresh(monkeypatch):
    """The settings read again from this test's environment, the logs set up again."""

    def clear() -> None:
        services.settings.cache_clear()
        federation.cache_clear()

    for name in (*GOOD, "COGNITO_DOMAIN_URL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    clear()
    yield monkeypatch
    clear()
    logging.getLogger(logs.LOGGER_NAME).handlers.clear()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_bad_setting_stops_the_backend_with_one_json_line(fresh, capsys):
    fresh.setenv("APP_ENV", "qa")

    def exit_(status: int):
        raise Exited(status)

    fresh.setattr(os, "_exit", exit_)
    with pytest.raises(Exited) as exited:
        services.check_settings()
    assert exited.value.args == (2,)
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = json_lines(captured.err)
    assert line["level"] == "ERROR"
    assert line["logger"] == "web_ui.services"
    assert line["message"].startswith("configuration error: APP_ENV='qa' must be one of")


def test_good_settings_start_quietly(fresh, capsys):
    services.check_settings()
    assert capsys.readouterr() == ("", "")


def test_a_failed_chat_api_call_is_logged_with_the_apis_request_id(fresh, capsys):
    logs.configure()
    error = ApiError("model_unavailable", "down", status=503, request_id="req-42")
    assert services.user_message(error) == error.user_message
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-42"
    assert (line["code"], line["status"]) == ("model_unavailable", 503)
    assert "down" not in json.dumps(line)  # the API's words stay with the user


def test_the_users_own_limits_are_info_and_a_level_hides_them(fresh, capsys):
    limited = ApiError("rate_limited", "slow down", status=429, request_id="req-7")
    logs.configure()
    services.user_message(limited)
    (line,) = json_lines(capsys.readouterr().err)
    assert (line["level"], line["code"]) == ("INFO", "rate_limited")
    fresh.setenv("LOG_LEVEL", "warning")
    logs.configure()
    services.user_message(limited)
    assert capsys.readouterr().err == ""


def test_an_unworded_error_is_logged_with_its_traceback_and_a_refusal_is_not(fresh, capsys):
    logs.configure()
    try:
        raise KeyError("surprise")
    except KeyError as error:
        assert services.user_message(error) == "Something went wrong. Try again."
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "ERROR"
    assert "KeyError: 'surprise'" in line["exception"]
    services.user_message(AuthError("password", "The password is wrong."))
    assert capsys.readouterr().err == ""
