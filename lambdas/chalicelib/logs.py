"""JSON log lines on stdout (CloudWatch keeps one event per line).

Callers pass structured fields with `extra=`; nothing personal (e-mail addresses, comments,
message bodies) is ever passed at INFO. The Lambda request id is added to every line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

LOGGER_NAME = "chatbot_auth"
_request_id: ContextVar[str | None] = ContextVar("aws_request_id", default=None)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def bind(context) -> None:
    """Tag the following log lines with this invocation's Lambda request id."""
    _request_id.set(getattr(context, "aws_request_id", None))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id.get()
        if request_id:
            line["aws_request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (it may be replaced after import)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def configure(stream=None) -> logging.Logger:
    """The app's logger with one JSON handler; safe to call more than once."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)
    logger.propagate = False  # the Lambda runtime's root handler would print it twice
    return logger


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
