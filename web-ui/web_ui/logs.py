"""The web app backend's logs: JSON lines on stderr through chatbot_common.logs, the format of
the chat API's and the Lambdas' lines, so one CloudWatch query reads all three. The level is
LOG_LEVEL (the Copilot manifest sets it; an unknown value means INFO).

A line about a failed chat API call carries that call's request id (the API's `X-Request-ID`),
which finds the API's own lines for it. Nothing personal (e-mail addresses, message texts,
tokens) is ever logged.
"""

from __future__ import annotations

import logging
import os

from chatbot_common import logs

LOGGER_NAME = "web_ui"


def configure() -> logging.Logger:
    """The `web_ui` logger (and its children, `web_ui.<module>`) with one JSON handler on
    stderr; safe to call more than once."""
    return logs.configure(LOGGER_NAME, level=os.environ.get("LOG_LEVEL", "INFO"), stream="stderr")


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
