"""JSON log lines on stdout (chatbot_common.logs: one event a line, which CloudWatch keeps as
one event), each with the Lambda invocation's request id.

Callers pass structured fields with `extra=`; nothing personal (e-mail addresses, comments,
message bodies) is ever passed at INFO.
"""

from __future__ import annotations

import logging
import os

from chatbot_common import logs

LOGGER_NAME = "chatbot_auth"


def bind(context) -> None:
    """Tag the following log lines with this invocation's Lambda request id."""
    logs.bind_request_id(getattr(context, "aws_request_id", None))


def configure(stream: str = "stdout") -> logging.Logger:
    """The app's logger with one JSON handler; safe to call more than once."""
    return logs.configure(LOGGER_NAME, level=os.environ.get("LOG_LEVEL", "INFO"), stream=stream)


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
